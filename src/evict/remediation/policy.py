"""An organisation's replacement policy, and what makes a host a coverage gap.

The policy names the approved protection products (by default every catalog product of category
``protection``) and those a plan may install where a host has none (by default only a built-in
one, Microsoft Defender on Windows, which a plan merely enables). A host whose covered
protective product (an antivirus) is present, and so about to be removed, and that has no
approved protection is a *coverage gap*. Pure functions: the catalog and the policy are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evict._yaml import read_small_yaml
from evict.catalog.interface import (
    PROTECTION_CATEGORY,
    PROTECTIVE_CATEGORIES,
    Catalog,
    ProductID,
)
from evict.remediation.interface import PolicyError

MAX_POLICY_BYTES = 1024 * 1024
"""A policy file larger than this is refused: a real one is a few lines."""


@dataclass(frozen=True, slots=True)
class Policy:
    """Which protection products count, and which a plan may install.

    :param approved: the approved protection product ids; None means every catalog product of
        category ``protection``.
    :param install: products a plan may install on a host that has no approved protection, in
        order of preference; built-in ones (Defender on Windows) may always be enabled.
    """

    approved: tuple[ProductID, ...] | None = None
    install: tuple[ProductID, ...] = ()

    def approved_ids(self, catalog: Catalog) -> frozenset[ProductID]:
        """The approved product ids, against ``catalog``."""
        if self.approved is None:
            return frozenset(p.id for p in catalog.protection_products())
        return frozenset(self.approved)

    def override(self, approved: Sequence[str] = (), install: Sequence[str] = ()) -> Policy:
        """This policy with the command line's ``--approved`` and ``--install`` on top."""
        return Policy(
            tuple(ProductID(a) for a in approved) if approved else self.approved,
            tuple(ProductID(i) for i in install) if install else self.install,
        )

    def check(self, catalog: Catalog, where: str = "policy") -> Policy:
        """Raise :class:`PolicyError` if a named product is not a protection product."""
        protection = {p.id for p in catalog.protection_products()}
        for key, ids in (("approved", self.approved or ()), ("install", self.install)):
            for pid in ids:
                if pid not in protection:
                    known = ", ".join(sorted(protection))
                    raise PolicyError(
                        where, f"{key}: {pid!r} is not a protection product (one of: {known})"
                    )
        return self


def load_policy(path: Path, catalog: Catalog) -> Policy:
    """Read a policy YAML file (``approved: [...]``, ``install: [...]``); raise :class:`PolicyError`
    naming the file and line on anything else."""

    _, data = read_small_yaml(path, max_bytes=MAX_POLICY_BYTES, error=PolicyError, what="a policy")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(str(path), "the top level must be a mapping", line=1)
    unknown = sorted(set(data) - {"approved", "install"})
    if unknown:
        raise PolicyError(str(path), f"unknown key {unknown[0]!r} (known: approved, install)")
    lists: dict[str, tuple[ProductID, ...]] = {}
    for key in ("approved", "install"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(str(path), f"{key} must be a list of product ids", where=key)
        lists[key] = tuple(ProductID(v) for v in value)
    approved = lists["approved"] if "approved" in data else None
    return Policy(approved, lists["install"]).check(catalog, str(path))


def protection_present(
    present: Iterable[ProductID], catalog: Catalog, policy: Policy
) -> tuple[ProductID, ...]:
    """The approved protection products among the products present on a host."""
    approved = policy.approved_ids(catalog)
    return tuple(sorted({p for p in present if p in approved}))


def protective(products: Iterable[ProductID], catalog: Catalog) -> tuple[ProductID, ...]:
    """The covered products among ``products`` that protect the host (antivirus, EDR)."""
    category = {p.id: p.category for p in catalog.products}
    return tuple(
        p
        for p in dict.fromkeys(products)
        if category.get(p) in PROTECTIVE_CATEGORIES and category.get(p) != PROTECTION_CATEGORY
    )


def coverage_gap(
    covered: Iterable[ProductID],
    present: Iterable[ProductID],
    catalog: Catalog,
    policy: Policy,
) -> bool:
    """Whether removing the host's covered protective products would leave it unprotected.

    :param covered: the covered products found on the host (about to be removed).
    :param present: every product recognised on the host (approved protection among them).
    """
    return bool(protective(covered, catalog)) and not protection_present(present, catalog, policy)
