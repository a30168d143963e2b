"""The counts a directive's documents are built from, whatever the fleet's size.

A document meant to be read says how many endpoints, per org unit, state, platform and product;
it names hosts only in a bounded sample (the per-host annex lists them all). So the documents
are built from :class:`FleetCounts` (endpoints per group, counted in SQL by
:mod:`evict.store.reports`) and :class:`FoundSummary` (what the findings say, gathered in one
pass over the hosts that hold matched software), never from the fleet held whole.

Both can also be computed from host lines and findings held in memory
(:meth:`FleetCounts.from_lines`, :func:`summarise_found`): a small fleet's documents, and the
tests that check the two ways give the same documents row for row.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from evict.matching.interface import Finding
from evict.model.observations import Ident, Kind
from evict.model.records import FleetRow
from evict.model.states import GONE, PENDING, PRESENT, UNCONCLUDED
from evict.report.fleet import ReportLine

SAMPLE = 100
"""Hosts a document names in one table at most; the per-host annex lists them all."""


@runtime_checkable
class QueryableLines(Protocol):
    """Host lines read from the store, which can also be asked for a few of them."""

    def sample(self, states: Collection[str] | None, limit: int) -> list[ReportLine]:
        """The first ``limit`` lines in one of ``states`` (any when None), in stored order."""

    def named(self, hosts: Collection[str]) -> dict[str, ReportLine]:
        """The lines of the hosts named, by host."""


@dataclass(frozen=True, slots=True)
class Group:
    """Endpoints of one org unit in one state, on one platform, holding the same products."""

    org_unit: str
    state: str
    platform: str
    products: tuple[str, ...]
    seen: bool
    """Whether the hosts have checked in (an enrolled host never inventoried has not)."""
    hosts: int

    @property
    def assessed(self) -> bool:
        """Whether an inventory was evaluated and can be concluded from (not pending, not
        incomplete or stale, and seen)."""
        return self.state != PENDING and self.state not in UNCONCLUDED and self.seen


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """Endpoints per group, and per removal state and the day they reached it."""

    groups: tuple[Group, ...]
    cleared_on: tuple[tuple[str, dt.date, int], ...] = ()
    """``(state, day, endpoints)`` for the :data:`GONE` states: when each got there (UTC)."""

    @classmethod
    def from_lines(cls, lines: Iterable[ReportLine]) -> FleetCounts:
        """Count host lines held in memory (or streamed once), as the store counts in SQL."""
        groups: Counter[tuple[str, str, str, tuple[str, ...], bool]] = Counter()
        cleared: Counter[tuple[str, dt.date]] = Counter()
        for line in lines:
            r = line.row
            groups[(r.org_unit, r.state, r.platform, r.products, r.last_seen is not None)] += 1
            if r.state in GONE and r.since is not None:
                cleared[(r.state, r.since.date())] += 1
        return cls.of(groups, cleared)

    @classmethod
    def of(
        cls,
        groups: Mapping[tuple[str, str, str, tuple[str, ...], bool], int],
        cleared: Mapping[tuple[str, dt.date], int],
    ) -> FleetCounts:
        """Counts from ``(org unit, state, platform, products, seen) -> hosts`` and
        ``(state, day) -> hosts``, in a stable order."""
        return cls(
            tuple(Group(*key, n) for key, n in sorted(groups.items()) if n),
            tuple((s, d, n) for (s, d), n in sorted(cleared.items()) if n),
        )

    def hosts(self, states: Iterable[str] | None = None) -> int:
        """Endpoints in any of ``states`` (all of them when None)."""
        wanted = None if states is None else frozenset(states)
        return sum(g.hosts for g in self.groups if wanted is None or g.state in wanted)

    def states(self, states: Iterable[str] | None = None) -> Counter[str]:
        """Endpoints per state (only ``states``, when given)."""
        wanted = None if states is None else frozenset(states)
        out: Counter[str] = Counter()
        for g in self.groups:
            if wanted is None or g.state in wanted:
                out[g.state] += g.hosts
        return out

    def by_unit(self) -> dict[str, Counter[str]]:
        """Org unit -> state -> endpoints."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for g in self.groups:
            out[g.org_unit][g.state] += g.hosts
        return out

    def products(self, states: Iterable[str]) -> dict[str, Counter[str]]:
        """Product -> org unit -> endpoints holding it in one of ``states``."""
        wanted = frozenset(states)
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for g in self.groups:
            if g.state in wanted:
                for p in g.products:
                    out[p][g.org_unit] += g.hosts
        return out

    def holding(self, states: Iterable[str], products: Iterable[str]) -> int:
        """Endpoints in one of ``states`` holding any of ``products``."""
        wanted, among = frozenset(states), frozenset(products)
        return sum(g.hosts for g in self.groups if g.state in wanted and among & set(g.products))

    def cleared_after(self, day: dt.date) -> Counter[str]:
        """Endpoints per :data:`GONE` state that reached it after ``day``."""
        out: Counter[str] = Counter()
        for state, on, n in self.cleared_on:
            if on > day:
                out[state] += n
        return out


@dataclass(frozen=True, slots=True)
class HostFound:
    """One host's findings for a directive and the approved protection it runs."""

    row: FleetRow
    findings: tuple[Finding, ...]
    protection: tuple[str, ...] = ()


ItemKey = tuple[str, str, str]
"""A covered article: ``(product, installed name, version)``."""

_ARTICLE_KINDS = (Kind.PROGRAM, Kind.PACKAGE, Kind.APP, Kind.SBOM_COMPONENT)
_MODEL_KEYS = (Ident.PRODUCT_CODE, Ident.PACKAGE_ID, Ident.BUNDLE_ID, Ident.PURL, Ident.CPE)

NAMED = 10
"""Hosts an embedded article's description names at most."""


@dataclass(slots=True)
class ItemCount:
    """A covered article (FAR 52.204-23) and the endpoints it was found on, counted."""

    product: str
    name: str
    version: str
    vendor: str
    supplier: str
    model: str
    embedded: bool
    states: Counter[str] = field(default_factory=Counter)
    """Endpoints per state."""
    org_units: set[str] = field(default_factory=set)
    named: list[str] = field(default_factory=list)
    """The first :data:`NAMED` host names, sorted."""

    @property
    def hosts(self) -> int:
        """Endpoints the article was found on."""
        return sum(self.states.values())

    def add(self, row: FleetRow) -> None:
        """Count one more endpoint holding the article."""
        self.states[row.state] += 1
        self.org_units.add(row.org_unit)
        name = row.hostname or row.host
        if name not in self.named:
            self.named.append(name)
            self.named.sort()
            del self.named[NAMED:]


ProtectionKey = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]
"""``(org unit, state, platform, products, approved protection present)``."""


@dataclass
class FoundSummary:
    """What the findings of a directive say, counted in one pass over the hosts holding them.

    Only the hosts that hold a finding or run approved protection take part; the rest of the
    fleet is in :class:`FleetCounts`.
    """

    identified_by: Counter[str] = field(default_factory=Counter)
    """Inventory source -> endpoints with a finding evidenced by it."""
    items: dict[ItemKey, ItemCount] = field(default_factory=dict)
    """The covered articles (findings awaiting a determination left out)."""
    protected: Counter[ProtectionKey] = field(default_factory=Counter)
    """Endpoints holding a covered product (:data:`PRESENT`) that run approved protection."""
    protection: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Host -> approved protection present, for the first :data:`SAMPLE` such endpoints (the
    hosts a document names)."""

    def add(self, found: HostFound) -> None:
        """Take one host's findings into the counts."""
        row = found.row
        if found.protection and row.state in PRESENT:
            self.protected[
                (row.org_unit, row.state, row.platform, row.products, found.protection)
            ] += 1
        if found.protection and row.state in PRESENT and len(self.protection) < SAMPLE:
            self.protection[row.host] = found.protection
        if found.findings:
            self.identified_by.update(
                {e.observation.source for f in found.findings for e in f.evidence}
            )
        for f in found.findings:
            if f.needs_determination:
                continue  # not a covered article until the organisation determines so
            evidence = sorted(
                f.evidence,
                key=lambda e: (
                    e.observation.kind not in _ARTICLE_KINDS,
                    not e.observation.version,
                    e.observation.name,
                ),
            )
            o = evidence[0].observation
            key = (str(f.product), o.name, o.version)
            item = self.items.get(key)
            if item is None:
                idents = dict(o.identifiers)
                item = self.items[key] = ItemCount(
                    str(f.product),
                    o.name,
                    o.version,
                    str(f.vendor),
                    idents.get(Ident.SUPPLIER) or o.publisher,
                    next((idents[k] for k in _MODEL_KEYS if k in idents), ""),
                    f.embedded,
                )
            # one finding per product and host: a host counts once per article
            item.add(row)


def summarise_found(found: Iterable[HostFound]) -> FoundSummary:
    """One pass over the hosts' findings (in stored order)."""
    summary = FoundSummary()
    for host in found:
        summary.add(host)
    return summary


def found_in_memory(
    lines: Iterable[ReportLine],
    findings: Mapping[str, tuple[Finding, ...]],
    protection: Mapping[str, tuple[str, ...]],
) -> Iterable[HostFound]:
    """The hosts of ``lines`` (in their order) that hold findings or protection."""
    for line in lines:
        host = line.row.host
        if host in findings or host in protection:
            yield HostFound(line.row, findings.get(host, ()), protection.get(host, ()))
