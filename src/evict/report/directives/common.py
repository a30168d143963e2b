"""What every directive's documents share: their inputs, the counts and samples they are built
from, and the sections more than one report carries.

Each builder takes :class:`ReportInputs` (the endpoints counted per org unit, state, platform and
products, what the findings say, the inventory sources that reported, the waivers, the
organisation profile, ``today``) and returns a :class:`~evict.report.interface.Document` whose
sections and fields carry the directive's own numbering and names. Documents meant to be read
count; they name hosts only in a bounded sample (:data:`~evict.report.counts.SAMPLE`) that says
so, and the per-host annex (the hosts report) lists them all.

Every document also lists the directive's questions of scope and the organisation's
determinations (:func:`determinations_section`): endpoints whose findings wait for a
determination are their own group, counted neither as impacted nor as clean, and an attestation
that none were found is never made while one is open.

Counts of endpoints come from the same host states as the fleet CSV, so a report and the CSV
never disagree. Nothing here reads a clock, a file or a database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from evict.catalog.interface import Catalog, CatalogLookupError, Directive, Milestone
from evict.compliance.determinations import Determination, question_products
from evict.compliance.milestones import current_milestone
from evict.matching.interface import Finding
from evict.model.records import WaiverInfo
from evict.model.states import ALL_STATES, GONE, PENDING, PRESENT, UNCONCLUDED, State
from evict.report.counts import (
    SAMPLE,
    FleetCounts,
    FoundSummary,
    HostFound,
    QueryableLines,
    found_in_memory,
    summarise_found,
)
from evict.report.fleet import ReportLine, Summary, summarise, summarise_counts
from evict.report.interface import (
    CATALOG_REPORTS,
    Document,
    Field,
    ReportKind,
    Section,
    Table,
    Value,
)
from evict.report.profile import Profile

ALL_UNITS = "all org units"

BOD = "BOD 17-01"
FAR = "FAR 52.204-23"


@dataclass(frozen=True, slots=True)
class MethodCount:
    """How many endpoints of one org unit an inventory source reported for."""

    org_unit: str
    source: str
    """A source family: ``osquery``, ``reg``, ``intune``, ``cyclonedx``, ``files``, ..."""
    hosts: int


@dataclass(frozen=True, slots=True)
class NetworkCount:
    """What network logs showed of one covered product (see :mod:`evict.server.network`)."""

    product: str
    hosts: int
    """Enrolled endpoints whose traffic reached the product's endpoints."""
    unmanaged: int
    """Devices no enrolled host accounts for (the whole organisation's)."""
    blocked: int = 0
    """Of the two, those whose every request was refused by a block list."""


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """Everything a report is built from, for one directive and one organisation (or unit)."""

    catalog: Catalog
    directive: Directive
    organisation: str
    units: tuple[str, ...]
    """Every org unit in scope, with hosts or not."""
    lines: Collection[ReportLine]
    """One per host, as the fleet CSV has them (a tuple, or the store's lines read on each pass:
    :class:`evict.service.report_inputs.FleetLines`)."""
    today: dt.date
    generated_at: dt.datetime
    findings: Mapping[str, tuple[Finding, ...]] = field(default_factory=dict)
    """Host identifier -> this directive's findings in its current inventory, with evidence."""
    protection: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Host identifier -> approved protection products present."""
    approved: frozenset[str] = frozenset()
    """The product ids that count as approved protection (the replacement policy)."""
    methods: tuple[MethodCount, ...] = ()
    waivers: tuple[WaiverInfo, ...] = ()
    """This directive's waivers, revoked and expired ones included."""
    start: dt.date | None = None
    """The organisation's own start date for the directive, if it adopted it late."""
    scope: str | None = None
    """The org unit reported on; None for the whole organisation."""
    profile: Profile = field(default_factory=Profile)
    determinations: tuple[Determination, ...] = ()
    """The organisation's determinations of questions of scope, revoked ones included."""
    network: tuple[NetworkCount, ...] = ()
    """Covered products found by network evidence (network logs), this directive's only."""
    counts: FleetCounts | None = None
    """Endpoints per org unit, state, platform and products, counted in SQL (None: counted
    from ``lines``)."""
    found: FoundSummary | None = None
    """What the findings say, counted in one pass over the hosts holding them (None: counted
    from ``findings`` and ``protection``)."""
    found_hosts: Iterable[HostFound] | None = None
    """The hosts holding findings or protection, streamed from the store on each pass (None:
    from ``findings`` and ``protection``)."""


def _milestone(directive: Directive, kind: ReportKind) -> Milestone | None:
    for m in directive.milestones:
        if CATALOG_REPORTS.get(m.report) is kind:
            return m
    return None


def _due(m: Milestone, inputs: ReportInputs) -> dt.date:
    """A milestone's due date on the organisation's clock; a recurring one's next occurrence."""
    due = m.first_due(inputs.start or inputs.directive.start)
    if m.repeat_days and due < inputs.today:
        periods = -(-(inputs.today - due).days // m.repeat_days)
        due += dt.timedelta(days=periods * m.repeat_days)
    return due


def add_business_days(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days`` business days (Monday to Friday; federal holidays are not known)."""
    out = day
    while days > 0:
        out += dt.timedelta(days=1)
        if out.weekday() < 5:
            days -= 1
    return out


def _document(
    inputs: ReportInputs, kind: ReportKind, title: str, submit_to: str, sections: list[Section]
) -> Document:
    m = _milestone(inputs.directive, kind)
    if m is not None:
        milestone, due = m.name, _due(m, inputs)
    else:
        status = current_milestone(inputs.directive, today=inputs.today, start=inputs.start)
        milestone, due = str(status.to_json()["name"]), status.due
    return Document(
        kind=kind,
        title=title,
        directive=inputs.directive.id,
        directive_title=inputs.directive.title,
        authority=" ".join(inputs.directive.authority.split()),
        organisation=inputs.profile.agency or inputs.organisation,
        scope=inputs.scope or ALL_UNITS,
        today=inputs.today,
        generated_at=inputs.generated_at,
        milestone=milestone,
        due=due,
        catalog_version=inputs.catalog.version,
        submit_to=submit_to,
        sections=tuple(sections),
    )


# -- counting, shared by the reports -------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _product_name(catalog: Catalog, product: str) -> str:
    for p in catalog.products:
        if p.id == product:
            return p.name
    return product


def _category(catalog: Catalog, product: str) -> str:
    for p in catalog.products:
        if p.id == product:
            return p.category
    return "unidentified"


def _branded(inputs: ReportInputs) -> str:
    names = []
    for vendor in inputs.directive.vendors:
        try:
            names.append(inputs.catalog.vendor(vendor).name)
        except CatalogLookupError:
            names.append(str(vendor))
    return " / ".join(names) + "-branded products"


def _counts(inputs: ReportInputs) -> FleetCounts:
    """The fleet's counts: the store's (SQL), else counted from the lines in memory."""
    return inputs.counts if inputs.counts is not None else FleetCounts.from_lines(inputs.lines)


def host_summary(inputs: ReportInputs) -> Summary:
    """The hosts report's summary: from the counts made in SQL when the inputs have them (no
    pass over the fleet), else from the lines."""
    if inputs.counts is None:
        return summarise(inputs.lines, inputs.directive, today=inputs.today, start=inputs.start)
    return summarise_counts(
        ((g.org_unit, g.state, g.hosts) for g in inputs.counts.groups),
        inputs.directive,
        today=inputs.today,
        start=inputs.start,
    )


def found_hosts(inputs: ReportInputs) -> Iterable[HostFound]:
    """The hosts holding findings or protection, in stored order."""
    if inputs.found_hosts is not None:
        return inputs.found_hosts
    return found_in_memory(inputs.lines, inputs.findings, inputs.protection)


def _found(inputs: ReportInputs) -> FoundSummary:
    """What the findings say: gathered from the store, else counted from the mappings."""
    if inputs.found is not None:
        return inputs.found
    return summarise_found(found_hosts(inputs))


def _sample(inputs: ReportInputs, states: Collection[str] | None) -> list[ReportLine]:
    """The first :data:`SAMPLE` host lines in one of ``states`` (any state when None), in
    stored order: the hosts a document names, the per-host annex holding them all."""
    limit = SAMPLE
    lines = inputs.lines
    if isinstance(lines, QueryableLines):
        return lines.sample(states, limit)
    out = []
    for line in lines:
        if states is None or line.row.state in states:
            out.append(line)
            if len(out) >= limit:
                break
    return out


def _lines_of(inputs: ReportInputs, hosts: Collection[str]) -> dict[str, ReportLine]:
    """The lines of the hosts named (those in scope)."""
    lines = inputs.lines
    if isinstance(lines, QueryableLines):
        return lines.named(hosts)
    return {line.row.host: line for line in lines if line.row.host in hosts}


def _sampled(shown: int, total: int, noun: str = "endpoint") -> tuple[str, ...]:
    """The statement under a table that names only a sample of its hosts."""
    if shown >= total:
        return ()
    return (
        f"The first {shown} of {_count(total, noun)} are listed here; every one is in the "
        "per-host annex (the hosts report, CSV and JSON Lines).",
    )


def assessed(line: ReportLine) -> bool:
    """Whether an inventory of the host has been evaluated and can be concluded from (a host
    enrolled but never inventoried is not assessed, whatever its state says; nor is one whose
    inventory is incomplete or stale)."""
    return (
        line.row.state != PENDING
        and line.row.state not in UNCONCLUDED
        and line.row.last_seen is not None
    )


@dataclass(frozen=True, slots=True)
class _Unit:
    name: str
    hosts: int
    assessed: int
    impacted: int
    """Endpoints where a covered product is present."""
    cleared: int
    """Endpoints where one was found and has been removed."""
    unconcluded: int = 0
    """Endpoints whose inventory is incomplete or stale: nothing can be said of them."""
    methods: tuple[str, ...] = ()
    """The inventory methods that reported for these endpoints."""
    undetermined: int = 0
    """Endpoints whose only findings wait for a determination of a question of scope."""


def _method_names(families: Iterable[str]) -> tuple[str, ...]:
    """Source families as the methods a statement names: ``Endpoint agent (osquery)``."""
    return tuple(f"{METHODS[f][0]} ({f})" if f in METHODS else f for f in sorted(set(families)))


def _units(inputs: ReportInputs) -> list[_Unit]:
    """Per org unit in scope: endpoints, assessed, with a product present, cleared."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for g in _counts(inputs).groups:
        unit = counts[g.org_unit]
        unit["hosts"] += g.hosts
        unit["assessed"] += g.hosts if g.assessed else 0
        unit["impacted"] += g.hosts if g.state in PRESENT else 0
        unit["cleared"] += g.hosts if g.state in GONE else 0
        unit["unconcluded"] += g.hosts if g.state in UNCONCLUDED else 0
        unit["undetermined"] += g.hosts if g.state == State.NEEDS_DETERMINATION.value else 0
    families: dict[str, set[str]] = defaultdict(set)
    for m in inputs.methods:
        if m.hosts:
            families[m.org_unit].add(m.source)
    names = sorted(set(inputs.units) | set(counts))
    return [
        _Unit(
            n,
            counts[n]["hosts"],
            counts[n]["assessed"],
            counts[n]["impacted"],
            counts[n]["cleared"],
            counts[n]["unconcluded"],
            _method_names(families.get(n, ())),
            counts[n]["undetermined"],
        )
        for n in names
    ]


def _present(inputs: ReportInputs) -> dict[str, Counter[str]]:
    """Product -> org unit -> endpoints where it is present now."""
    return _counts(inputs).products(PRESENT)


def _removed(inputs: ReportInputs) -> Counter[str]:
    """Product -> endpoints from which it has been removed."""
    return Counter({p: sum(units.values()) for p, units in _counts(inputs).products(GONE).items()})


def _products_found(inputs: ReportInputs) -> list[str]:
    """Products present or removed, by name."""
    found = set(_present(inputs)) | set(_removed(inputs))
    return sorted(found, key=lambda p: (_product_name(inputs.catalog, p), p))


def _attestation(unit: _Unit, term: str) -> str:
    """What can be stated for a group of endpoints: products found, or that none were."""
    unsure = (
        f"; {unit.unconcluded} cannot be concluded (inventory incomplete or stale)"
        if unit.unconcluded
        else ""
    )
    if unit.hosts == 0:
        return "No endpoints reported: no statement can be made"
    waiting = (
        f"{_count(unit.undetermined, 'endpoint')} "
        f"{'carries' if unit.undetermined == 1 else 'carry'} software whose coverage waits for "
        "the organisation's scope determination"
    )
    if unit.impacted or unit.cleared:
        said = f"{term} found on {unit.impacted + unit.cleared} of {unit.hosts} endpoints"
        if unit.cleared:
            said += f" ({unit.cleared} since cleared)"
        if unit.undetermined:
            said += f"; {waiting}"
        return said + unsure
    if unit.undetermined:
        return f"No statement that none were found can be made: {waiting}"
    pending = unit.hosts - unit.assessed - unit.unconcluded
    if unit.assessed == 0:
        if unit.unconcluded:
            said = (
                f"No endpoint can be concluded on ({unit.unconcluded} inventories incomplete or "
                "stale"
            )
            said += f", {pending} not yet assessed)" if pending else ")"
            return said + ": no statement can be made"
        return "No endpoint assessed yet: no statement can be made"
    by = f" (methods used: {', '.join(unit.methods)})" if unit.methods else ""
    if unit.assessed < unit.hosts:
        said = f"No {term} were found on the {unit.assessed} endpoints assessed{by}{unsure}"
        return said + (f"; {pending} not yet assessed" if pending else "")
    return f"No {term} were found{by}"


def _products_section(inputs: ReportInputs, sid: str, title: str) -> Section:
    """The list of products found, and the attestation per org unit and for the agency."""
    term = _branded(inputs)
    present = _present(inputs)
    rows: list[tuple[Value, ...]] = [
        (
            _product_name(inputs.catalog, p),
            p,
            _category(inputs.catalog, p),
            ", ".join(sorted(present.get(p, Counter()))) or "none (removed)",
        )
        for p in _products_found(inputs)
    ]
    listed = set(_products_found(inputs))
    rows.extend(
        (
            _product_name(inputs.catalog, n.product),
            n.product,
            _category(inputs.catalog, n.product),
            f"found by network evidence only ({_count(n.hosts, 'enrolled endpoint')}, "
            f"{_count(n.unmanaged, 'unmanaged device')})",
        )
        for n in inputs.network
        if n.product not in listed
    )
    units = _units(inputs)
    agency = inputs.profile.agency or inputs.organisation
    total = _Unit(
        f"{agency} (agency)",
        hosts=sum(u.hosts for u in units),
        assessed=sum(u.assessed for u in units),
        impacted=sum(u.impacted for u in units),
        cleared=sum(u.cleared for u in units),
        unconcluded=sum(u.unconcluded for u in units),
        methods=_method_names(m.source for m in inputs.methods if m.hosts),
        undetermined=sum(u.undetermined for u in units),
    )
    attest: list[tuple[Value, ...]] = [
        (u.name, u.hosts, u.assessed, u.impacted, u.cleared, _attestation(u, term))
        for u in [*units, total]
    ]
    statements = [f"{agency}: {_attestation(total, term)}."]
    unmanaged = sum(n.unmanaged for n in inputs.network)
    if unmanaged:
        statements.append(
            f"Network logs show {_count(unmanaged, 'device')} that no enrolled endpoint "
            f"accounts for talking to the endpoints of {term}: unmanaged devices, not in the "
            "endpoint counts above."
        )
    network = tuple(
        (
            _product_name(inputs.catalog, n.product),
            n.product,
            n.hosts,
            n.unmanaged,
            n.blocked,
        )
        for n in inputs.network
    )
    network_tables = (
        (
            Table(
                "network",
                "Found by network evidence",
                (
                    "Product",
                    "Catalog id",
                    "Enrolled endpoints with traffic",
                    "Unmanaged devices",
                    "Only blocked attempts",
                ),
                network,
                note="Traffic to a product's endpoints in DNS, TLS or proxy logs shows use "
                "(medium confidence), not what is installed; blocked attempts mean the block "
                "works and the software is still there.",
            ),
        )
        if network
        else ()
    )
    return Section(
        sid,
        title,
        statements=tuple(statements),
        tables=(
            Table(
                "products",
                "Products found",
                ("Product", "Catalog id", "Category", "Org units where present"),
                tuple(rows),
            ),
            *network_tables,
            Table(
                "attestation",
                "Per org unit and for the agency",
                (
                    "Org unit",
                    "Endpoints",
                    "Endpoints assessed",
                    "Endpoints impacted",
                    "Endpoints cleared",
                    "Statement",
                ),
                tuple(attest),
            ),
        ),
    )


def _endpoints_section(
    inputs: ReportInputs, sid: str, title: str, *, by_unit: bool = True
) -> Section:
    """Endpoints impacted by each product, in all and (``by_unit``) per org unit."""
    present = _present(inputs)
    removed = _removed(inputs)
    products = _products_found(inputs)
    totals: list[tuple[Value, ...]] = [
        (
            _product_name(inputs.catalog, p),
            p,
            sum(present.get(p, Counter()).values()),
            removed.get(p, 0),
        )
        for p in products
    ]
    per_unit: list[tuple[Value, ...]] = [
        (f"{unit} / {_product_name(inputs.catalog, p)}", unit, p, n)
        for p in products
        for unit, n in sorted(present.get(p, Counter()).items())
    ]
    impacted = _counts(inputs).hosts(PRESENT)
    return Section(
        sid,
        title,
        fields=(Field("Endpoints impacted (any product)", impacted),),
        tables=(
            Table(
                "endpoints",
                "Endpoints per product",
                ("Product", "Catalog id", "Endpoints impacted", "Endpoints where removed"),
                tuple(totals),
                note="An endpoint holding two products counts once per product.",
            ),
            *(
                (
                    Table(
                        "endpoints_by_unit",
                        "Endpoints per org unit and product",
                        ("Org unit / product", "Org unit", "Catalog id", "Endpoints impacted"),
                        tuple(per_unit),
                    ),
                )
                if by_unit
                else ()
            ),
        ),
    )


METHODS: dict[str, tuple[str, str]] = {
    "osquery": (
        "Endpoint agent",
        "osquery tables (programs, apps, packages, services, drivers, ...)",
    ),
    "local": (
        "Endpoint agent",
        "evict on the endpoint (packages, services, processes, modules, ...)",
    ),
    "reg": ("Windows registry", "regedit export (.reg) of the Uninstall and service keys"),
    "hive": ("Windows registry", "registry hive files (SOFTWARE, SYSTEM)"),
    "powershell": (
        "Windows registry",
        "PowerShell inventory export (Uninstall keys, services, ...)",
    ),
    "intune": ("Mobile device management", "Microsoft Intune discovered apps"),
    "jamf": ("Mobile device management", "Jamf Pro inventory"),
    "cyclonedx": ("Software bill of materials", "CycloneDX SBOM (components, embedded code)"),
    "spdx": ("Software bill of materials", "SPDX SBOM (packages, embedded code)"),
    "files": ("Files on disk", "executables' version resources, signatures and hashes; YARA"),
    "macos": ("macOS bundles", "application bundles (Info.plist), pkg receipts, system_profiler"),
    "dpkg-status": ("Package database", "dpkg status file"),
    "network": (
        "Network logs",
        "DNS, TLS and proxy logs (Zeek, Suricata, Squid, BIND, Windows DNS, dnsmasq) matched "
        "against the catalog's network endpoints; traffic shows use, not what is installed",
    ),
    "evict": ("evict inventory", "evict JSON inventory from another scan"),
}
"""Source family -> (method, what it reads), for the methodology a report states."""


def _family(source: str) -> str:
    return source.split(":", 1)[0]


def _rule_counts(inputs: ReportInputs) -> tuple[int, int, int]:
    """Products, recognition rules and look-alike exclusions the directive's matching uses."""
    d = inputs.directive
    products = [
        p
        for p in inputs.catalog.products
        if p.vendor in d.vendors and p.id not in d.excluded_products
    ]
    ids = {p.id for p in products}
    exclusions = [
        x
        for x in inputs.catalog.exclusions
        if set(x.suppresses_vendors) & set(d.vendors) or set(x.suppresses_products) & ids
    ]
    return len(products), sum(len(p.rules) for p in products), len(exclusions)


def _methods_section(inputs: ReportInputs, sid: str, title: str) -> Section:
    """The methodology: the inventory sources that reported, the catalog, what found what."""
    per_source: Counter[str] = Counter()
    for m in inputs.methods:
        per_source[m.source] += m.hosts
    if inputs.network:
        per_source["network"] += sum(n.hosts + n.unmanaged for n in inputs.network)
    methods: list[tuple[Value, ...]] = [
        (
            source,
            METHODS.get(source, ("Other source", source))[0],
            METHODS.get(source, ("Other source", source))[1],
            n,
        )
        for source, n in sorted(per_source.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    identified = _found(inputs).identified_by
    found_by: list[tuple[Value, ...]] = [
        (source, n) for source, n in sorted(identified.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    products, rules, exclusions = _rule_counts(inputs)
    counts = _counts(inputs)
    unsure = counts.hosts(UNCONCLUDED)
    pending = sum(g.hosts for g in counts.groups if not g.assessed) - unsure
    statements = [
        "Each endpoint's inventory was matched against the evict catalog "
        f"{inputs.catalog.version}: {rules} recognition rules for {products} products, with "
        f"{exclusions} exclusions that keep look-alike software from matching. Every finding "
        "keeps the evidence (what the source reported) and the rule that recognised it."
    ]
    if not methods:
        statements.append("No inventory source has reported yet.")
    if pending:
        statements.append(f"{_count(pending, 'endpoint')} enrolled but not yet assessed.")
    if unsure:
        statements.append(
            f"{_count(unsure, 'endpoint')} reported an inventory that cannot be concluded from "
            "(incomplete for its platform, or older than the freshness limit): not counted "
            "as free of covered products."
        )
    return Section(
        sid,
        title,
        fields=(
            Field("Catalog version", inputs.catalog.version),
            Field("Products in scope", products),
            Field("Recognition rules", rules),
            Field("Look-alike exclusions", exclusions),
        ),
        statements=tuple(statements),
        tables=(
            Table(
                "methods",
                "Inventory sources that reported",
                ("Source", "Method", "What it reads", "Endpoints reporting"),
                tuple(methods),
                note="An endpoint reported by two sources counts under each.",
            ),
            Table(
                "identified_by",
                "Sources of the evidence behind current findings",
                ("Source", "Endpoints with findings"),
                tuple(found_by),
            ),
        ),
    )


def _text_field(name: str, value: str | None, required_by: str) -> Field:
    return Field(name, " ".join(value.split()) if value is not None else None, required_by)


# -- BOD 17-01 status -----------------------------------------------------------------------------


def _state_table(inputs: ReportInputs, tid: str, title: str) -> Table:
    by_unit: dict[str, Counter[str]] = {u.name: Counter() for u in _units(inputs)}
    for unit, counted in _counts(inputs).by_unit().items():
        by_unit.setdefault(unit, Counter()).update(counted)
    total: Counter[str] = Counter()
    rows: list[tuple[Value, ...]] = []
    for unit, counts in sorted(by_unit.items()):
        total.update(counts)
        rows.append((unit, *(counts[s] for s in ALL_STATES), sum(counts.values())))
    rows.append((ALL_UNITS, *(total[s] for s in ALL_STATES), sum(total.values())))
    return Table(tid, title, ("Org unit", *ALL_STATES, "Endpoints"), tuple(rows))


def _waiver_status(w: WaiverInfo, today: dt.date) -> str:
    if w.revoked:
        return "revoked"
    return "EXPIRED" if w.expires <= today else "active"


# -- questions of scope ---------------------------------------------------------------------------


def determinations_section(inputs: ReportInputs, sid: str = "scope") -> Section:
    """The directive's questions of scope: the cited text, the organisation's determination
    (or that one is needed), and the endpoints waiting for one, listed as their own group."""
    d = inputs.directive
    questions = [q for q in inputs.catalog.questions if d.id in q.directives]
    in_force = {x.question: x for x in inputs.determinations if not x.revoked}
    waits = {State.NEEDS_DETERMINATION.value}
    counts = _counts(inputs)
    waiting_hosts = counts.hosts(waits)
    waiting_lines = _sample(inputs, waits) if waiting_hosts else []
    rows: list[tuple[Value, ...]] = []
    for q in questions:
        products = question_products(inputs.catalog, q.id)
        waiting = counts.holding(waits, products)
        x = in_force.get(q.id)
        rows.append(
            (
                q.id,
                q.title,
                x.answer.value if x else "NEEDED",
                x.decided_by if x else "",
                x.decided_on.isoformat() if x else "",
                " ".join(x.reasoning.split()) if x else "",
                waiting,
            )
        )
    cited: list[tuple[Value, ...]] = [
        (
            q.id,
            " ".join(c.quote.split()),
            c.source.title + (f" {c.source.url}" if c.source.url else ""),
        )
        for q in questions
        for c in q.citations
        if c.directive == d.id
    ]
    history: list[tuple[Value, ...]] = [
        (
            x.question,
            x.answer.value,
            x.decided_by,
            x.decided_on.isoformat(),
            x.recorded_by,
            x.recorded_at.date().isoformat() if x.recorded_at else "",
            "revoked" if x.revoked else "in force",
        )
        for x in inputs.determinations
        if x.question in {q.id for q in questions}
    ]
    statements: list[str] = []
    if not questions:
        statements.append("The catalog asks no question of scope about this directive.")
    if waiting_hosts:
        statements.append(
            f"{_count(waiting_hosts, 'endpoint')} "
            f"{'carries' if waiting_hosts == 1 else 'carry'} software whose coverage "
            "needs the organisation's determination: counted neither as impacted nor as clean "
            "until one is recorded."
        )
    open_questions = [r[0] for r in rows if r[2] == "NEEDED" and r[6]]
    if open_questions:
        statements.append(
            "Determinations needed: " + ", ".join(str(q) for q in open_questions) + "."
        )
    statements.extend(_sampled(len(waiting_lines), waiting_hosts))
    endpoints: list[tuple[Value, ...]] = [
        (
            line.row.host,
            line.row.hostname,
            line.row.org_unit,
            "; ".join(line.row.products),
            line.row.since.date().isoformat() if line.row.since else "",
        )
        for line in waiting_lines
    ]
    return Section(
        sid,
        "Scope determinations: software whose coverage the directive's text leaves open",
        fields=(
            Field("Questions of scope", len(questions)),
            Field("Determinations in force", sum(1 for r in rows if r[2] != "NEEDED")),
            Field("Endpoints needing a determination", waiting_hosts),
        ),
        statements=tuple(statements),
        tables=(
            Table(
                "questions",
                "Questions and the organisation's determinations",
                (
                    "Question",
                    "Title",
                    "Determination",
                    "Decided by",
                    "Decided on",
                    "Citation and reasoning",
                    "Endpoints waiting",
                ),
                tuple(rows),
            ),
            Table(
                "cited_text",
                "The directive's text each question rests on",
                ("Question", "Text", "Source"),
                tuple(cited),
            ),
            Table(
                "needs_determination",
                "Endpoints needing a determination",
                ("Host", "Hostname", "Org unit", "Products", "Since"),
                tuple(endpoints),
                per_host=True,
            ),
            Table(
                "determination_history",
                "Determinations recorded",
                (
                    "Question",
                    "Answer",
                    "Decided by",
                    "Decided on",
                    "Recorded by",
                    "Recorded on",
                    "Status",
                ),
                tuple(history),
            ),
        ),
    )
