"""Discontinue future use: deny lists built from the catalog for one directive.

BOD 17-01 asks agencies to "remove and discontinue present and future use" of Kaspersky
products; OMB M-23-13 to "disallow installations" of TikTok and "prohibit internet traffic" to
it. From the directive's vendors and their products this builds: AppLocker publisher deny rules
for the vendors' code-signing subjects, apt pinning and dnf excludes for their packages, and DNS
RPZ, hosts-file and Squid deny lists for their network endpoints. Pure functions of the catalog.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from evict import __version__
from evict.catalog.interface import Catalog, NetworkEndpoint, Publisher, VendorID
from evict.neutral import json_dumps, one_line
from evict.remediation.interface import RemediationError

_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+\-]*$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)+$")
"""A host name or ``*.domain`` (the catalog schema's rule, checked again where it becomes a zone,
a proxy ACL or a hosts line)."""
_NAMESPACE = uuid.UUID("6b3c1c55-3f41-4c4e-9a57-0ad0c1c0e5b1")
"""Rule ids are UUIDv5 of the publisher under this namespace: the same input, the same XML."""

# The default rules Windows proposes for the Exe collection: without allow rules, an enforced
# collection blocks every program that no rule allows.
_DEFAULT_EXE_RULES = (
    (
        "921cc481-6e17-4653-8f75-050b80acca20",
        "(Default Rule) All files located in the Program Files folder",
        "Allows members of the Everyone group to run applications that are located in the "
        "Program Files folder.",
        "S-1-1-0",
        "%PROGRAMFILES%\\*",
    ),
    (
        "a61c8b2c-a319-4cd0-9690-d2177cad7b51",
        "(Default Rule) All files located in the Windows folder",
        "Allows members of the Everyone group to run applications that are located in the "
        "Windows folder.",
        "S-1-1-0",
        "%WINDIR%\\*",
    ),
    (
        "fd686d83-a829-4351-8ff4-27c7de5755d2",
        "(Default Rule) All files",
        "Allows members of the local Administrators group to run all applications.",
        "S-1-5-32-544",
        "*",
    ),
)


class BlockError(RemediationError):
    """A deny list that cannot be built (an unknown format)."""


@dataclass(frozen=True, slots=True)
class BlockList:
    """What a directive bans, as the deny lists need it."""

    directive: str
    title: str
    vendors: tuple[VendorID, ...]
    publishers: tuple[Publisher, ...]
    packages: tuple[str, ...]
    """Package names and globs (``kesl*``), none covered by another."""
    endpoints: tuple[NetworkEndpoint, ...]


def block_list(catalog: Catalog, directive_id: str) -> BlockList:
    """The deny list of ``directive_id``: its vendors' signers, packages and endpoints."""
    directive = catalog.directive(directive_id)
    vendors = directive.vendors
    products = [
        p
        for p in catalog.products
        if p.vendor in vendors and p.id not in directive.excluded_products
    ]
    publishers: list[Publisher] = []
    globs: list[str] = []
    for b in catalog.blocking:
        if b.vendor in vendors:
            publishers.extend(b.publishers)
            globs.extend(b.packages)
    names = [
        value
        for p in products
        for r in p.rules
        if r.field == "name" and r.kinds == ("package",)
        for value in r.equals
        if _PACKAGE_NAME.fullmatch(value)
    ]
    packages = list(dict.fromkeys(globs))
    packages += [
        n
        for n in dict.fromkeys(names)
        if n not in packages and not any(fnmatch.fnmatchcase(n, g) for g in globs)
    ]
    endpoints: dict[str, NetworkEndpoint] = {}
    for p in products:
        for e in p.network:
            endpoints.setdefault(e.host, e)
    return BlockList(
        directive.id,
        directive.title,
        vendors,
        tuple(publishers),
        tuple(sorted(packages)),
        tuple(sorted(endpoints.values(), key=lambda e: e.host)),
    )


def _hosts(endpoints: tuple[NetworkEndpoint, ...]) -> list[str]:
    """The endpoints' host names; :class:`BlockError` for one that is not a host name."""
    for e in endpoints:
        if not _HOST.fullmatch(e.host):
            raise BlockError(f"network endpoint {one_line(e.host)[:200]!r} is not a host name")
    return [e.host for e in endpoints]


def _domains(endpoints: tuple[NetworkEndpoint, ...]) -> list[str]:
    """Each endpoint's domain (``*.`` dropped), without one already covered by a parent."""
    bases = sorted({h.removeprefix("*.") for h in _hosts(endpoints)}, key=lambda h: h.count("."))
    kept: list[str] = []
    for host in bases:
        if not any(host == k or host.endswith("." + k) for k in kept):
            kept.append(host)
    return sorted(kept)


def _comment(block: BlockList, marker: str) -> str:
    return (
        f"{marker} evict {__version__}: {one_line(block.directive)} ({one_line(block.title)})\n"
        f"{marker} vendors: {one_line(', '.join(block.vendors))}; generated from the evict "
        "catalog\n"
    )


def render_applocker(block: BlockList) -> str:
    """An AppLocker policy: publisher deny rules for the vendors' signers, in an Exe collection
    that keeps Windows' default allow rules (merge it with ``Set-AppLockerPolicy -Merge``)."""
    rules: list[str] = []
    for rid, name, description, sid, path in _DEFAULT_EXE_RULES:
        rules.append(
            f"    <FilePathRule Id={quoteattr(rid)} Name={quoteattr(name)} "
            f"Description={quoteattr(description)} UserOrGroupSid={quoteattr(sid)} "
            'Action="Allow">\n'
            f"      <Conditions>\n        <FilePathCondition Path={quoteattr(path)} />\n"
            "      </Conditions>\n    </FilePathRule>"
        )
    for publisher in block.publishers:
        if not publisher.name.isprintable():
            raise BlockError(
                f"code-signing subject {one_line(publisher.name)[:200]!r} has characters an "
                "AppLocker policy cannot hold"
            )
        rid = str(uuid.uuid5(_NAMESPACE, publisher.name))
        name = one_line(f"evict {block.directive}: deny everything signed by {publisher.name}")
        description = one_line(f"Discontinue use ({block.title}); source: {publisher.source}")
        rules.append(
            f"    <FilePublisherRule Id={quoteattr(rid)} Name={quoteattr(name)} "
            f'Description={quoteattr(description)} UserOrGroupSid="S-1-1-0" Action="Deny">\n'
            "      <Conditions>\n"
            f"        <FilePublisherCondition PublisherName={quoteattr(publisher.name)} "
            'ProductName="*" BinaryName="*">\n'
            '          <BinaryVersionRange LowSection="*" HighSection="*" />\n'
            "        </FilePublisherCondition>\n"
            "      </Conditions>\n    </FilePublisherRule>"
        )
    note = re.sub("-{2,}", "-", _comment(block, "").replace("\n ", "\n").strip())
    if not block.publishers:
        note += "\nThe catalog names no code-signing subject for these vendors: no deny rule."
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"<!-- {note} -->\n"
        '<AppLockerPolicy Version="1">\n'
        '  <RuleCollection Type="Exe" EnforcementMode="Enabled">\n'
        + "\n".join(rules)
        + "\n  </RuleCollection>\n</AppLockerPolicy>\n"
    )


def render_apt_preferences(block: BlockList) -> str:
    """An apt preferences file (``/etc/apt/preferences.d/``) that pins the packages away."""
    out = _comment(block, "#")
    if not block.packages:
        return out + "# The catalog names no Debian package for these vendors.\n"
    return (
        out
        + f"\nExplanation: evict: {one_line(block.directive)} forbids installing these packages\n"
        + f"Package: {' '.join(block.packages)}\n"
        + "Pin: release *\n"
        + "Pin-Priority: -1\n"
    )


def render_dnf(block: BlockList) -> str:
    """The ``excludepkgs=`` line for the ``[main]`` section of ``/etc/dnf/dnf.conf``."""
    out = _comment(block, "#") + "# add to the [main] section of /etc/dnf/dnf.conf\n"
    if not block.packages:
        return out + "# The catalog names no RPM package for these vendors.\n"
    return out + f"excludepkgs={','.join(block.packages)}\n"


def render_dns_rpz(block: BlockList, *, serial: int) -> str:
    """A DNS response-policy zone: each endpoint and everything below it answers NXDOMAIN.

    :param serial: the SOA serial (``YYYYMMDDnn``); the command line derives it from today.
    """
    lines = [
        _comment(block, ";").rstrip("\n"),
        "$TTL 300",
        f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 604800 300 )",
        "@ IN NS localhost.",
    ]
    for domain in _domains(block.endpoints):
        lines.append(f"{domain} CNAME .")
        lines.append(f"*.{domain} CNAME .")
    return "\n".join(lines) + "\n"


def render_hosts(block: BlockList) -> str:
    """Hosts-file lines (``0.0.0.0 host``); wildcard endpoints need DNS RPZ or the proxy."""
    out = [_comment(block, "#").rstrip("\n")]
    for e in block.endpoints:
        _hosts((e,))
        if e.host.startswith("*."):
            out.append(f"# {e.host}: a hosts file cannot block a wildcard; use dns-rpz or squid")
        else:
            out.append(f"0.0.0.0 {e.host}")
    return "\n".join(out) + "\n"


def render_squid(block: BlockList) -> str:
    """A Squid ACL denying the endpoints and everything below them."""
    out = [_comment(block, "#").rstrip("\n")]
    domains = _domains(block.endpoints)
    if not domains:
        return "\n".join([*out, "# The catalog names no network endpoint."]) + "\n"
    out.extend(f"acl evict_blocked dstdomain .{domain}" for domain in domains)
    out.append("http_access deny evict_blocked")
    return "\n".join(out) + "\n"


def render_json(block: BlockList) -> str:
    """Everything the other formats are built from, as JSON."""
    document = {
        "evict_version": __version__,
        "directive": block.directive,
        "title": block.title,
        "vendors": list(block.vendors),
        "publishers": [{"name": p.name, "source": p.source} for p in block.publishers],
        "packages": list(block.packages),
        "endpoints": [
            {"host": e.host, "purpose": e.purpose, "source": e.source} for e in block.endpoints
        ],
    }
    return json_dumps(document) + "\n"


BLOCK_FORMATS: dict[str, Callable[[BlockList], str]] = {
    "applocker": render_applocker,
    "apt-preferences": render_apt_preferences,
    "dnf": render_dnf,
    "hosts": render_hosts,
    "squid": render_squid,
    "json": render_json,
}
"""Formats that need nothing but the block list; ``dns-rpz`` also needs a serial."""


def render_block(block: BlockList, fmt: str, *, serial: int = 1) -> str:
    """Render ``block`` in ``fmt`` (``dns-rpz`` uses ``serial``)."""
    if fmt == "dns-rpz":
        return render_dns_rpz(block, serial=serial)
    render = BLOCK_FORMATS.get(fmt)
    if render is None:
        known = ", ".join([*BLOCK_FORMATS, "dns-rpz"])
        raise BlockError(f"unknown block format {fmt!r}; one of: {known}")
    return render(block)
