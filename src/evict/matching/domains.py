"""Host names against the catalog's network endpoints, on label boundaries.

A catalog endpoint ``kaspersky-labs.com`` stands for that name and every name below it
(``x.ksn.kaspersky-labs.com``), as the DNS RPZ and Squid deny lists built from the same data block
them; ``*.upd.kaspersky.com`` stands for the names strictly below ``upd.kaspersky.com``. A name
matches only on a label boundary: ``notkaspersky-labs.com`` and ``kaspersky-labs.com.example.net``
do not. Each distinct name is looked up by walking its suffixes in a hash table, so the cost is
a few dictionary look-ups per distinct name, whatever the number of endpoints.

The Public Suffix List (the ``publicsuffixlist`` package, whose wheel ships the list; it is never
fetched at run time) guards the catalog: an endpoint that is itself a public suffix (``com``,
``co.uk``, ``github.io``) would match half the Internet and is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from evict.catalog.interface import Catalog, NetworkEndpoint, ProductID

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_\-]{0,61}[a-z0-9_])?$")


@functools.cache
def _psl() -> object:
    # publicsuffixlist reads its list of ~9,000 suffixes on import: only when logs are matched
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def is_public_suffix(name: str) -> bool:
    """Whether ``name`` is a public suffix (``com``, ``co.uk``, ``blogspot.com``) by the PSL."""
    psl = _psl()
    return bool(psl.is_public(name))  # type: ignore[attr-defined]


def registrable_domain(name: str) -> str | None:
    """The registrable domain of ``name`` (``kaspersky-labs.com`` for ``x.ksn.kaspersky-labs.com``),
    or None when ``name`` is a public suffix or not below one."""
    psl = _psl()
    value = psl.privatesuffix(name)  # type: ignore[attr-defined]
    return str(value) if value else None


def normalize_name(value: str) -> str:
    """A host name as logs write it, made comparable: lower case, no trailing dot, no port.

    Returns ``""`` for anything that is not a plausible DNS name (an address, a URL, binary junk),
    so that hostile log text never reaches the index as something else.
    """
    name = value.strip().lower().rstrip(".")
    if name.startswith("[") or name.count(":") > 1:
        return ""  # an IPv6 literal
    host, sep, port = name.partition(":")
    if sep and port.isdigit():
        name = host
    if not name or len(name) > 253 or "." not in name:
        return ""
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return ""
    if labels[-1].isdigit():
        return ""  # an IPv4 address
    return name


@dataclass(frozen=True, slots=True)
class EndpointMatch:
    """A name that matched: the product the endpoint belongs to, and the endpoint."""

    product: ProductID
    endpoint: NetworkEndpoint


class DomainIndex:
    """The catalog's network endpoints, ready to match host names on label boundaries.

    :param endpoints: ``(product, endpoint)`` pairs; endpoints that are public suffixes or not
        valid host names are left out and listed in :attr:`refused`.
    """

    def __init__(self, endpoints: Iterable[tuple[ProductID, NetworkEndpoint]]) -> None:
        self._at_or_below: dict[str, list[EndpointMatch]] = {}
        self._below: dict[str, list[EndpointMatch]] = {}
        self.refused: list[tuple[NetworkEndpoint, str]] = []
        """Endpoints not indexed, with the reason."""
        for product, endpoint in endpoints:
            host = endpoint.host.lower()
            wildcard = host.startswith("*.")
            base = host.removeprefix("*.")
            if is_public_suffix(base):
                self.refused.append((endpoint, f"{base} is a public suffix"))
                continue
            if normalize_name(base) != base:
                self.refused.append((endpoint, "not a host name"))
                continue
            table = self._below if wildcard else self._at_or_below
            entries = table.setdefault(base, [])
            if not any(e.product == product for e in entries):
                entries.append(EndpointMatch(product, endpoint))

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> DomainIndex:
        """Index every product's network endpoints."""
        return cls((p.id, e) for p in catalog.products for e in p.network)

    def __len__(self) -> int:
        return len(self._at_or_below) + len(self._below)

    def needles(self) -> list[str]:
        """Every indexed endpoint's domain (``*.`` dropped): a name that matches contains one."""
        return sorted(set(self._at_or_below) | set(self._below))

    def match(self, name: str) -> tuple[EndpointMatch, ...]:
        """The endpoints ``name`` falls under, the most specific first; ``()`` when none.

        ``name`` is normalised first (:func:`normalize_name`).
        """
        name = normalize_name(name)
        if not name:
            return ()
        found: list[EndpointMatch] = []
        suffix = name
        first = True
        while True:
            hits = self._at_or_below.get(suffix)
            if hits:
                found.extend(hits)
            if not first:
                hits = self._below.get(suffix)
                if hits:
                    found.extend(hits)
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1 :]
            first = False
        seen: set[ProductID] = set()
        out: list[EndpointMatch] = []
        for m in found:
            if m.product not in seen:
                seen.add(m.product)
                out.append(m)
        return tuple(out)

    def match_many(self, names: Iterable[str]) -> dict[str, tuple[EndpointMatch, ...]]:
        """Match each distinct name once; only names that matched are in the result."""
        out: dict[str, tuple[EndpointMatch, ...]] = {}
        for name in set(names):
            hits = self.match(name)
            if hits:
                out[name] = hits
        return out
