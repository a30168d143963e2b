"""Read what a directive's reports are built from out of the fleet store.

The one place the reports touch the store: the endpoints counted per org unit, state, platform
and products (in SQL: :mod:`evict.store.reports`), the host lines (the same rows as the fleet
CSV, with the directive's clock, read a page at a time whenever they are iterated, or a few of
them for a document's sample), each host's current findings with their evidence (its links to
matched software, grouped by the matcher as the host page does) and the approved protection it
runs, read a page at a time and counted in one pass (:class:`~evict.report.counts.FoundSummary`),
the inventory sources that reported, and the directive's waivers. Nothing is held per host:
everything after this is pure (:mod:`evict.report.directives`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evict._util import prefetched
from evict.catalog.interface import CatalogLookupError, Directive
from evict.compliance.determinations import Determination, apply_determinations
from evict.matching.engine import Matcher
from evict.matching.interface import Finding, Hit, linked_findings
from evict.model.observations import HostID, Observation
from evict.model.records import FleetRow
from evict.report.counts import FleetCounts, HostFound, summarise_found
from evict.report.directives import MethodCount, NetworkCount, ReportInputs
from evict.report.fleet import ReportLine, report_lines
from evict.report.profile import Profile
from evict.store.network import NetworkStore
from evict.store.reports import Census, ReportQueries
from evict.store.store import Store

PAGE = 1000
"""Hosts read per page."""
BUILT = 10_000
"""Distinct sets of matched software whose findings are kept while a report reads the fleet
(a fleet has few: the same products in a few versions)."""


class FleetLines:
    """The report lines of a directive's hosts, read from the store each time they are iterated.

    Nothing is held: each pass reads the fleet in keyset pages (:meth:`Store.fleet_rows`) and
    applies the directive's clock line by line, so a report of a million hosts iterates them in
    the memory of one page. ``len()`` is counted in SQL.
    """

    def __init__(
        self,
        store: Store,
        directive: Directive,
        *,
        org_id: int | None,
        unit_id: int | None,
        today: dt.date,
    ) -> None:
        self.store = store
        self.directive = directive
        self.org_id = org_id
        self.unit_id = unit_id
        self.today = today
        self._len: int | None = None

    def __iter__(self) -> Iterator[ReportLine]:
        rows = self.store.fleet_rows(self.directive.id, org_id=self.org_id, unit_id=self.unit_id)
        return report_lines(rows, self.directive, today=self.today)

    def __len__(self) -> int:
        if self._len is None:
            counts = self.store.fleet_counts(
                self.directive.id, org_id=self.org_id, unit_id=self.unit_id
            )
            self._len = sum(n for *_, n in counts)
        return self._len

    def __contains__(self, item: object) -> bool:
        return any(line == item for line in self)

    def _queries(self) -> ReportQueries:
        return ReportQueries(
            self.store, self.directive.id, org_id=self.org_id, unit_id=self.unit_id
        )

    def sample(self, states: Collection[str] | None, limit: int) -> list[ReportLine]:
        """The first ``limit`` lines in one of ``states`` (any when None), in stored order:
        one query, however large the fleet."""
        if states is None:
            rows = []
            for row in self.store.fleet_rows(
                self.directive.id, org_id=self.org_id, unit_id=self.unit_id, page=limit
            ):
                rows.append(row)
                if len(rows) >= limit:
                    break
        else:
            rows = self._queries().in_states(states, limit)
        return list(report_lines(rows, self.directive, today=self.today))

    def named(self, hosts: Collection[str]) -> dict[str, ReportLine]:
        """The lines of the hosts named (those in scope), by host."""
        rows = self._queries().named(hosts).values()
        return {
            line.row.host: line for line in report_lines(rows, self.directive, today=self.today)
        }

    def census(self) -> Census:
        """Endpoints per org unit, state, platform and products, per removal state and day,
        and per inventory source family: counted in SQL, in one pass."""
        return self._queries().census()


class FleetFindings:
    """Each host's findings for a directive and the approved protection it runs, read from the
    store a page at a time each time they are iterated: only the hosts linked to software a
    rule for a product other than approved protection fired on (the rest have no finding; the
    protection that matters is the one on hosts holding a covered product)."""

    def __init__(
        self,
        store: Store,
        matcher: Matcher,
        directive: Directive,
        *,
        org_id: int,
        unit_id: int | None,
        protection: frozenset[str],
        determinations: dict[str, Determination],
    ) -> None:
        self.store = store
        self.matcher = matcher
        self.directive = directive
        self.org_id = org_id
        self.unit_id = unit_id
        self.protection = protection
        self.determinations = determinations

    def __iter__(self) -> Iterator[HostFound]:
        # a scan of the fleet, in whichever thread iterates it (see Store.scanning)
        with self.store.scanning():
            yield from self._hosts()

    def _hosts(self) -> Iterator[HostFound]:
        matched = self.store.matched_software(self.matcher.catalog.version)
        queries = ReportQueries(
            self.store, self.directive.id, org_id=self.org_id, unit_id=self.unit_id
        )
        # only hosts holding software some rule for a product other than approved protection
        # fired on can have a finding: a fleet where most hosts run the approved antivirus is
        # not read whole (protection is looked up among these hosts' links)
        candidates = sorted(
            sid
            for sid, (_, hits) in matched.items()
            if any(h.product not in self.protection for h in hits)
        )
        # Hosts holding the same matched software (same versions, same sources) have the same
        # findings: they are built once per such set, and each host gets its own copy.
        built: dict[tuple[tuple[int, str, str], ...], tuple[tuple[Finding, ...], tuple[str, ...]]]
        built = {}

        def read() -> Iterator[tuple[list[tuple[int, FleetRow]], dict[int, Any]]]:
            # in a thread of its own: its reads are marked as a scan there (the small cache)
            with self.store.scanning():
                for page in queries.holding(candidates, page=PAGE):
                    yield page, self.store.host_links([h for h, _ in page], matched.keys())

        # the next page is read while this one's findings are built
        for page, links in prefetched(read()):
            for host_id, row in page:
                held = tuple(sorted(links.get(host_id, ())))
                known = built.get(held)
                if known is None:
                    if len(built) >= BUILT:
                        built.clear()
                    known = built[held] = self._found(held, matched)
                found, protected = known
                if found or protected:
                    host = HostID(row.host)
                    mine = tuple(dataclasses.replace(f, host=host) for f in found)
                    yield HostFound(row, mine, protected)

    def _found(
        self,
        held: Sequence[tuple[int, str, str]],
        matched: Mapping[int, tuple[Observation, tuple[Hit, ...]]],
    ) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
        """The findings (for no host in particular) and approved protection of a host holding
        the software links ``held``."""
        pairs = linked_findings(held, matched)
        protected = {h.product for _, hits in pairs for h in hits if h.product in self.protection}
        found = apply_determinations(
            self.matcher.findings(HostID(""), pairs, directives=[self.directive]),
            self.determinations,
        )
        return tuple(found), tuple(sorted(protected))


def gather(
    store: Store,
    matcher: Matcher,
    directive: Directive,
    *,
    org_id: int,
    unit_id: int | None = None,
    protection: frozenset[str],
    today: dt.date,
    generated_at: dt.datetime,
    profile: Profile | None = None,
) -> ReportInputs:
    """Everything the reports of ``directive`` need, for an organisation or one of its units.

    :param matcher: the compiled catalog the worker matched with: findings come from its stored
        matches for this catalog version.
    :param protection: product ids that count as approved protection.
    """
    catalog = matcher.catalog
    org = store.org_by_id(org_id)
    units = store.units(org_id)
    scope = next((u.name for u in units if u.id == unit_id), None) if unit_id else None
    lines = FleetLines(store, directive, org_id=org_id, unit_id=unit_id, today=today)
    determinations = tuple(store.determinations(org_id, revoked=True))
    in_force = {d.question: d for d in determinations if not d.revoked}
    found = FleetFindings(
        store,
        matcher,
        directive,
        org_id=org_id,
        unit_id=unit_id,
        protection=protection,
        determinations=in_force,
    )
    # The pass over the hosts holding findings and the census read different tables: they
    # run at once (each statement lets go of the GIL while the database works).
    with ThreadPoolExecutor(1, thread_name_prefix="evict-findings") as pool:
        summary = pool.submit(summarise_found, found)
        census = lines.census()
        methods = tuple(MethodCount(unit, family, n) for unit, family, n in census.families)
        waivers = tuple(
            w for w in store.waivers(org_id, unit_id=unit_id) if w.directive == directive.id
        )
        network = network_counts(store, matcher, directive, org_id, unit_id, protection)
        found_summary = summary.result()
    return ReportInputs(
        catalog=catalog,
        directive=directive,
        organisation=org.name,
        units=tuple(u.name for u in units if unit_id is None or u.id == unit_id),
        lines=lines,
        today=today,
        generated_at=generated_at,
        approved=protection,
        methods=methods,
        waivers=waivers,
        start=store.adoptions(org_id).get(directive.id),
        scope=scope,
        profile=profile or Profile(),
        determinations=determinations,
        network=network,
        counts=FleetCounts.of(census.groups, census.cleared),
        found=found_summary,
        found_hosts=found,
    )


def network_counts(
    store: Store,
    matcher: Matcher,
    directive: Directive,
    org_id: int,
    unit_id: int | None,
    protection: frozenset[str],
) -> tuple[NetworkCount, ...]:
    """The directive's covered products found by network evidence: enrolled endpoints with
    vendor traffic, and (for the whole organisation only) unmanaged devices."""

    catalog = matcher.catalog
    network = NetworkStore(store)

    def covered(product: str) -> bool:
        if product in protection:
            return False
        try:
            found = catalog.product(product)
        except CatalogLookupError:
            return False
        return directive in catalog.directives_for(found, embedded=False)

    hosts = network.hosts_by_product(org_id, unit_id=unit_id)
    unmanaged: dict[str, list[int]] = {}
    if unit_id is None:
        for d in network.unmanaged(org_id):
            for p in d.products:
                counts = unmanaged.setdefault(p, [0, 0])
                counts[0] += 1
                counts[1] += d.only_blocked
    out = []
    for product in sorted(set(hosts) | set(unmanaged)):
        if not covered(product):
            continue
        h, hb = hosts.get(product, (0, 0))
        u, ub = unmanaged.get(product, [0, 0])
        out.append(NetworkCount(product, h, u, hb + ub))
    return tuple(out)
