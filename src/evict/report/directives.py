"""The directives' own reports, built from fleet data: one pure function per report.

Each builder takes :class:`ReportInputs` (the hosts with their states and the directive's clock,
the findings with evidence, the inventory sources that reported, the waivers, the organisation
profile, ``today``) and returns a :class:`~evict.report.interface.Document` whose sections and
fields carry the directive's own numbering and names:

- :func:`day30`: BOD 17-01 §1 a-c, with a negative attestation per org unit and for the agency;
- :func:`day60`: BOD 17-01 §2 a-n, the plan of action;
- :func:`status`: BOD 17-01 §3, progress every 30 days after day 90;
- :func:`exceptions`: every waiver, as OMB M-23-13 asks exceptions to be documented;
- :func:`far_initial` and :func:`far_followup`: FAR 52.204-23(c)(2)(i) and (ii);
- :func:`hosts`: the fleet report (one line per host) as a document.

Every one of them also lists the directive's questions of scope and the organisation's
determinations (:func:`determinations_section`): endpoints whose findings wait for a
determination are their own group, counted neither as impacted nor as clean, and an attestation
that none were found is never made while one is open.

Counts of endpoints come from the same host lines as the fleet CSV (each host's state and the
products it holds), so a report and the CSV never disagree. Nothing here reads a clock, a file or
a database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from evict.catalog.interface import Catalog, CatalogLookupError, Directive, Milestone, ProductID
from evict.compliance.determinations import Determination, question_products
from evict.compliance.lifecycle import State
from evict.compliance.milestones import current_milestone
from evict.matching.interface import Finding
from evict.remediation.policy import Policy, coverage_gap, protective
from evict.report.counts import (
    GONE,
    NOT_BEGUN,
    PRESENT,
    SAMPLE,
    UNCONCLUDED,
    FleetCounts,
    FoundSummary,
    HostFound,
    ItemCount,
    QueryableLines,
    found_in_memory,
    summarise_found,
)
from evict.report.fleet import (
    ALL_STATES,
    CSV_COLUMNS,
    PENDING,
    ReportLine,
    host_milestone,
    stream_json,
    summarise,
)
from evict.report.fleet import to_csv as fleet_csv
from evict.report.interface import (
    CATALOG_REPORTS,
    EVERY_DIRECTIVE,
    BlanketExceptionError,
    Document,
    Field,
    Format,
    ReportKind,
    ReportNotAskedError,
    Section,
    Table,
    Value,
    missing,
    render,
)
from evict.report.profile import Profile
from evict.store.interface import WaiverInfo

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
    :class:`evict.report.inputs.FleetLines`)."""
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


# -- which report, and when -----------------------------------------------------------------------


def available(directive: Directive) -> tuple[ReportKind, ...]:
    """The reports ``directive`` has: those its milestones ask for, then hosts and exceptions."""
    asked = [
        CATALOG_REPORTS[m.report]
        for m in directive.milestones
        if m.report and m.report in CATALOG_REPORTS
    ]
    return tuple(dict.fromkeys([*asked, *sorted(EVERY_DIRECTIVE)]))


def default_kind(
    directive: Directive, *, today: dt.date, start: dt.date | None = None
) -> ReportKind:
    """The report due now: the current milestone's; else the next one that asks for a report;
    else the last one that did; else the hosts report."""
    status = current_milestone(directive, today=today, start=start)
    if status.milestone.report in CATALOG_REPORTS:
        return CATALOG_REPORTS[status.milestone.report]
    dated = sorted(
        ((m.first_due(start or directive.start), m) for m in directive.milestones),
        key=lambda pair: pair[0],
    )
    asking = [(due, m) for due, m in dated if m.report in CATALOG_REPORTS]
    ahead = [m for due, m in asking if due >= today]
    if ahead:
        return CATALOG_REPORTS[ahead[0].report]
    if asking:
        return CATALOG_REPORTS[asking[-1][1].report]
    return ReportKind.HOSTS


def build(kind: ReportKind, inputs: ReportInputs) -> Document:
    """Build the report ``kind``; raise :class:`ReportNotAskedError` if the directive has none."""
    if kind not in available(inputs.directive):
        names = ", ".join(k.value for k in available(inputs.directive))
        raise ReportNotAskedError(
            f"{inputs.directive.id} asks for no {kind.value} report (its reports: {names})"
        )
    return BUILDERS[kind](inputs)


def render_report(kind: ReportKind, fmt: Format, inputs: ReportInputs) -> bytes:
    """Build the report ``kind`` and render it in ``fmt``.

    The hosts report's CSV and JSON are the fleet report's own (:mod:`evict.report.fleet`: one
    line per host, the contract scripts rely on); every other rendering is the document's.
    """
    if kind is ReportKind.HOSTS and fmt is Format.CSV:
        return "".join(fleet_csv(inputs.lines)).encode()
    if kind is ReportKind.HOSTS and fmt is Format.JSON:
        summary = summarise(inputs.lines, inputs.directive, today=inputs.today, start=inputs.start)
        return "".join(
            stream_json(
                inputs.lines,
                summary,
                inputs.directive,
                today=inputs.today,
                generated_at=inputs.generated_at,
            )
        ).encode()
    return render(build(kind, inputs), fmt)


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


def _endpoints_section(inputs: ReportInputs, sid: str, title: str) -> Section:
    """Endpoints impacted by each product, in all and per org unit."""
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
    by_unit: list[tuple[Value, ...]] = [
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
            Table(
                "endpoints_by_unit",
                "Endpoints per org unit and product",
                ("Org unit / product", "Org unit", "Catalog id", "Endpoints impacted"),
                tuple(by_unit),
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


# -- BOD 17-01 day 30 -----------------------------------------------------------------------------


def day30(inputs: ReportInputs) -> Document:
    """BOD 17-01 §1: the products found (or that none were), endpoints per product, methods."""
    term = _branded(inputs)
    sections = [
        _products_section(
            inputs,
            "1.a",
            f"A list of {term} found on agency information systems; if none were found, "
            f"the statement that no {term} were found",
        ),
        _endpoints_section(inputs, "1.b", "The number of endpoints impacted by each product"),
        _methods_section(
            inputs,
            "1.c",
            "The methodologies employed to identify the use or presence of the products",
        ),
        determinations_section(inputs),
    ]
    return _document(
        inputs,
        ReportKind.DAY30,
        f"{BOD} report: use or presence of {term} (day 30)",
        "FNR.BOD@hq.dhs.gov",
        sections,
    )


# -- BOD 17-01 day 60 -----------------------------------------------------------------------------

FISMA_CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("Data loss prevention (DLP)", ""),
    ("Network access control (NAC)", ""),
    ("Mobile device management (MDM)", "AC-19"),
    ("Sandboxing / detonation", "SC-44"),
    ("Web reputation / web content filtering", ""),
    ("Hardware / software whitelisting", "CM-7(5)"),
    ("Vulnerability and patch management", "RA-5, SI-2"),
    ("Anti-malware", "SI-3"),
    ("Anti-exploit", "SI-16"),
    ("Spam filtering", "SI-8"),
    ("Data encryption", "SC-13, SC-28"),
    ("Other", ""),
)
"""BOD 17-01 §2.j's list of capabilities, with the NIST SP 800-53 controls they serve."""

CATEGORY_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "endpoint-protection": (
        "Anti-malware",
        "Anti-exploit",
        "Web reputation / web content filtering",
    ),
    "server-protection": ("Anti-malware",),
    "mobile-security": ("Anti-malware", "Web reputation / web content filtering"),
    "management": ("Vulnerability and patch management", "Mobile device management (MDM)"),
    "management-agent": ("Vulnerability and patch management",),
    "network-security": ("Sandboxing / detonation",),
    "vpn": ("Data encryption",),
    "password-manager": ("Data encryption",),
    "parental-control": ("Web reputation / web content filtering",),
}
"""Catalog product category -> the §2.j capabilities its removal takes away; others: Other."""


def _removal(
    inputs: ReportInputs,
    platform: str,
    products: Sequence[str],
    present: Sequence[str],
    policy: Policy,
) -> tuple[str, str, bool, list[str]]:
    """How ``products`` go from an endpoint of ``platform`` running ``present``: the removal
    per product, the replacement, whether removal leaves a coverage gap, the recipes'
    warnings."""
    catalog = inputs.catalog
    methods = []
    warnings: list[str] = []
    for product in products:
        recipe = catalog.recipe(product, platform)
        if recipe is None:
            how = (
                "MDM removal"
                if platform in ("android", "ios")
                else f"manual (no {platform} recipe in the catalog)"
            )
        else:
            how = ", ".join(dict.fromkeys(s.title or s.action for s in recipe.remove))
            warnings.extend(recipe.warnings)
        methods.append(f"{_product_name(catalog, product)}: {how}")
    covered = [ProductID(p) for p in products]
    gap = coverage_gap(covered, [ProductID(p) for p in present], catalog, policy)
    if present:
        replacement = "in place: " + ", ".join(_product_name(catalog, p) for p in present)
    elif gap:
        replacement = "needed before removal: no approved protection present"
    elif protective(covered, catalog):
        replacement = "needed"
    else:
        replacement = "none needed (no protective product removed)"
    return "; ".join(methods), replacement, gap, warnings


def _plans(
    inputs: ReportInputs,
) -> dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Counter[str]]:
    """Impacted endpoints per ``(org unit, platform, products, approved protection present)``,
    by state."""
    plans: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Counter[str]] = defaultdict(
        Counter
    )
    for g in _counts(inputs).groups:
        if g.state in PRESENT:
            plans[(g.org_unit, g.platform, g.products, ())][g.state] += g.hosts
    for (unit, state, platform, products, present), n in _found(inputs).protected.items():
        plans[(unit, platform, products, present)][state] += n
        plans[(unit, platform, products, ())][state] -= n
    return plans


def _plan_tables(inputs: ReportInputs, policy: Policy) -> tuple[Table, Table]:
    """The plan counted: per product, the impacted endpoints, those running approved
    protection, those removal would leave unprotected, waived, overdue (per org unit: §2.d);
    and per product and platform, how it is removed and what to watch for."""
    late = {
        state: host_milestone(
            inputs.directive, state, today=inputs.today, start=inputs.start
        ).overdue
        for state in PRESENT
    }
    by_product: dict[str, Counter[str]] = defaultdict(Counter)
    by_platform: Counter[tuple[str, str]] = Counter()
    for (_, platform, products, present), states in _plans(inputs).items():
        n = sum(states.values())
        if n <= 0:
            continue
        covered = [ProductID(p) for p in products]
        gap = coverage_gap(covered, [ProductID(p) for p in present], inputs.catalog, policy)
        overdue = sum(k for s, k in states.items() if late.get(s))
        for p in products:
            c = by_product[p]
            c["endpoints"] += n
            c["protected"] += n if present else 0
            c["gap"] += n if gap else 0
            c["waived"] += states[State.WAIVED.value]
            c["overdue"] += overdue
            by_platform[(p, platform)] += n
    counted: list[tuple[Value, ...]] = [
        (
            _product_name(inputs.catalog, p),
            p,
            c["endpoints"],
            c["protected"],
            c["gap"],
            c["waived"],
            c["overdue"],
        )
        for p, c in sorted(
            by_product.items(), key=lambda kv: (_product_name(inputs.catalog, kv[0]), kv[0])
        )
    ]
    methods: list[tuple[Value, ...]] = []
    for (p, platform), n in sorted(by_platform.items()):
        removal, _, _, warnings = _removal(inputs, platform, (p,), (), policy)
        methods.append(
            (
                f"{_product_name(inputs.catalog, p)} / {platform}",
                p,
                platform,
                n,
                removal.split(": ", 1)[-1],
                " ".join(dict.fromkeys(_sentence(w) for w in warnings)) or "none noted",
            )
        )
    return (
        Table(
            "plan_by_product",
            "Impacted endpoints per product",
            (
                "Product",
                "Catalog id",
                "Endpoints impacted",
                "Running approved protection",
                "Removal would leave unprotected (replace first)",
                "Waived",
                "Overdue",
            ),
            tuple(counted),
            note="An endpoint holding two products counts once per product; per org unit: 2.d.",
        ),
        Table(
            "removal_methods",
            "How each product is removed, per platform",
            ("Product / platform", "Catalog id", "Platform", "Endpoints", "Removal", "Risks"),
            tuple(methods),
        ),
    )


def _plan_row(inputs: ReportInputs, line: ReportLine, policy: Policy) -> tuple[Value, ...]:
    """One impacted endpoint's plan: how each product goes, what replaces it, risks."""
    row = line.row
    present = _found(inputs).protection.get(row.host, ())
    removal, replacement, gap, warnings = _removal(
        inputs, row.platform, row.products, present, policy
    )
    risks = []
    if gap:
        risks.append("Coverage gap: removal would leave the endpoint unprotected.")
    if row.state == State.WAIVED.value:
        risks.append("Waived.")
    if line.overdue:
        risks.append("Overdue.")
    risks.extend(dict.fromkeys(_sentence(w) for w in warnings))
    return (
        row.host,
        row.hostname,
        row.org_unit,
        row.platform,
        row.state,
        removal,
        replacement,
        " ".join(risks) or "none noted",
    )


def _begin_removal(inputs: ReportInputs) -> dt.date | None:
    """Day 90: BOD 17-01's status reports start one period after it."""
    m = _milestone(inputs.directive, ReportKind.STATUS)
    if m is None or not m.repeat_days:
        return None
    return m.first_due(inputs.start or inputs.directive.start) - dt.timedelta(days=m.repeat_days)


def _text_field(name: str, value: str | None, required_by: str) -> Field:
    return Field(name, " ".join(value.split()) if value is not None else None, required_by)


def day60(inputs: ReportInputs) -> Document:
    """BOD 17-01 §2: the plan of action, elements a to n."""
    term = _branded(inputs)
    profile = inputs.profile
    req = f"{BOD} §2"
    impacted = _counts(inputs).hosts(PRESENT)
    plan = _sample(inputs, PRESENT)
    units = _units(inputs)
    hit_units = [u for u in units if u.impacted]
    policy = Policy(approved=tuple(ProductID(p) for p in sorted(inputs.approved)))
    sections: list[Section] = [
        Section(
            "2.a",
            "Agency name",
            fields=(Field("Agency name", profile.agency or inputs.organisation),),
        ),
        Section(
            "2.b",
            "Point of contact (name, telephone number, email address)",
            fields=(
                _text_field("Name", profile.poc.name, f"{req}.b"),
                _text_field("Telephone number", profile.poc.telephone, f"{req}.b"),
                _text_field("Email address", profile.poc.email, f"{req}.b"),
            ),
        ),
    ]
    products = _products_section(inputs, "2.c", "List of identified products")
    sections.append(
        Section(
            products.id, products.title, statements=products.statements, tables=products.tables[:1]
        )
    )
    sections.append(_endpoints_section(inputs, "2.d", "Number of endpoints impacted"))
    sections.append(
        _methods_section(
            inputs, "2.e", "Methodologies employed to identify the use or presence of the products"
        )
    )
    sections.append(
        Section(
            "2.f",
            "List of Agencies (components) impacted within Department",
            statements=() if hit_units else ("No component is impacted.",),
            tables=(
                Table(
                    "components",
                    "Components impacted",
                    ("Component (org unit)", "Endpoints", "Endpoints impacted"),
                    tuple((u.name, u.hosts, u.impacted) for u in hit_units),
                ),
            ),
        )
    )
    sections.append(
        Section(
            "2.g",
            "Mission function of impacted endpoints and/or systems",
            fields=tuple(
                _text_field(u.name, profile.mission_functions.get(u.name), f"{req}.g")
                for u in hit_units
            ),
            statements=() if hit_units else ("No endpoint is impacted.",),
        )
    )
    sections.append(_agreements_section(inputs, req))
    sections.append(_removal_timeline_section(inputs, impacted, req))
    sections.append(_fisma_section(inputs))
    sections.append(_replacement_section(inputs, policy, req))
    sections.append(
        Section(
            "2.l",
            "If applicable, timeline for implementing replacement products/capabilities",
            fields=(
                Field(
                    "Order of work",
                    "Each endpoint's plan installs or enables the approved replacement and "
                    "confirms it runs before the covered product is removed.",
                ),
                _text_field("Agency timeline", profile.replacement_timeline, f"{req}.l"),
            ),
        )
    )
    sections.append(_challenges_section(inputs, policy, req))
    sections.append(
        Section(
            "2.n",
            "Associated costs related to licenses, maintenance, and replacement",
            fields=(
                _text_field("Licenses", profile.costs.licenses, f"{req}.n"),
                _text_field("Maintenance", profile.costs.maintenance, f"{req}.n"),
                _text_field("Replacement", profile.costs.replacement, f"{req}.n"),
                _text_field("Notes (coordinated with the CFO)", profile.costs.notes, f"{req}.n"),
            ),
        )
    )
    sections.append(
        Section(
            "annex",
            "Plan per impacted endpoint: products and how each is removed, replacement, risks",
            statements=_sampled(len(plan), impacted) if impacted else ("No endpoint is impacted.",),
            tables=(
                *_plan_tables(inputs, policy),
                Table(
                    "plan",
                    "Impacted endpoints",
                    (
                        "Host",
                        "Hostname",
                        "Org unit",
                        "Platform",
                        "State",
                        "Removal",
                        "Replacement",
                        "Risks",
                    ),
                    tuple(_plan_row(inputs, line, policy) for line in plan),
                    per_host=True,
                ),
            ),
        )
    )
    return _document(
        inputs,
        ReportKind.DAY60,
        f"{BOD} plan of action to remove and discontinue use of {term} (day 60)",
        "FNR.BOD@hq.dhs.gov",
        sections,
    )


def _agreements_section(inputs: ReportInputs, req: str) -> Section:
    title = (
        "All contracts, service-level agreements, or other agreements your agency has entered "
        "into with " + " / ".join(_branded(inputs).removesuffix("-branded products").split(" / "))
    )
    agreements = inputs.profile.vendor_agreements
    if agreements is None:
        return Section("2.h", title, fields=(Field("Agreements", None, f"{req}.h"),))
    if not agreements:
        return Section(
            "2.h", title, statements=("None: the agency states it has no such agreement.",)
        )
    return Section(
        "2.h",
        title,
        tables=(
            Table(
                "agreements",
                "Agreements",
                ("Reference", "Kind", "Description", "Ends"),
                tuple(
                    (a.reference or f"agreement {n}", a.kind, a.description, a.ends)
                    for n, a in enumerate(agreements, 1)
                ),
            ),
        ),
    )


def _removal_timeline_section(inputs: ReportInputs, impacted: int, req: str) -> Section:
    begin = _begin_removal(inputs)
    status = _milestone(inputs.directive, ReportKind.STATUS)
    counts = _counts(inputs).states(PRESENT | GONE)
    fields = [
        Field("Removal begins (day 90)", begin.isoformat() if begin else ""),
        Field(
            "Status reports",
            f"every {status.repeat_days} days from "
            f"{status.first_due(inputs.start or inputs.directive.start).isoformat()}"
            if status is not None and status.repeat_days
            else "",
        ),
        Field("Endpoints still to clear", impacted),
        _text_field("Agency timeline", inputs.profile.removal_timeline, f"{req}.i"),
    ]
    rows: list[tuple[Value, ...]] = [
        (state, counts[state])
        for state in (
            "identified",
            "planned",
            "removing",
            "waived",
            "removed",
            "replaced",
            "verified",
        )
    ]
    return Section(
        "2.i",
        "Timeline to remove identified products",
        fields=tuple(fields),
        tables=(
            Table(
                "removal_progress",
                "Endpoints where a product was found, by state",
                ("State", "Endpoints"),
                tuple(rows),
            ),
        ),
    )


def _fisma_section(inputs: ReportInputs) -> Section:
    """§2.j: the capabilities the removal takes away, from the categories of products present."""
    counts = _counts(inputs)
    products: dict[str, list[str]] = defaultdict(list)
    ids: dict[str, set[str]] = defaultdict(set)
    for p in sorted(counts.products(PRESENT)):
        for capability in CATEGORY_CAPABILITIES.get(_category(inputs.catalog, p), ("Other",)):
            products[capability].append(_product_name(inputs.catalog, p))
            ids[capability].add(p)
    rows: list[tuple[Value, ...]] = [
        (
            name,
            "yes" if name in products else "no",
            ", ".join(products.get(name, ())),
            counts.holding(PRESENT, ids.get(name, ())),
            controls,
        )
        for name, controls in FISMA_CAPABILITIES
    ]
    return Section(
        "2.j",
        "If applicable, FISMA performance requirements or security controls that product "
        "removal would impact",
        statements=(
            "Derived from the categories of the products present: an endpoint protection suite "
            "provides anti-malware, anti-exploit and web filtering; a management server or agent "
            "provides vulnerability and patch management.",
        ),
        tables=(
            Table(
                "capabilities",
                "Capabilities the removal takes away",
                ("Capability", "Impacted", "Products", "Endpoints", "NIST SP 800-53 controls"),
                tuple(rows),
            ),
        ),
    )


def _impacted_by_protection(
    inputs: ReportInputs,
) -> Counter[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Impacted endpoints per ``(covered products, approved protection present)``."""
    out: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
    for g in _counts(inputs).groups:
        if g.state in PRESENT:
            out[(g.products, ())] += g.hosts
    for (_, _, _, products, present), n in _found(inputs).protected.items():
        out[(products, present)] += n
        out[(products, ())] -= n
    return out


def _gaps(inputs: ReportInputs, policy: Policy) -> tuple[int, int]:
    """Impacted endpoints whose removal would leave them unprotected: in all, and of those
    without any approved protection."""
    gaps = unprotected = 0
    for (products, present), n in _impacted_by_protection(inputs).items():
        covered = [ProductID(p) for p in products]
        if n > 0 and coverage_gap(covered, [ProductID(p) for p in present], inputs.catalog, policy):
            gaps += n
            unprotected += 0 if present else n
    return gaps, unprotected


def _replacement_section(inputs: ReportInputs, policy: Policy, req: str) -> Section:
    catalog = inputs.catalog
    running: Counter[str] = Counter()
    unprotected = 0
    for (_, present), n in _impacted_by_protection(inputs).items():
        if present:
            running.update(dict.fromkeys(present, n))
        else:
            unprotected += n
    gaps = _gaps(inputs, policy)[1]
    approved = ", ".join(sorted(_product_name(catalog, p) for p in inputs.approved)) or "none"
    return Section(
        "2.k",
        "If applicable, chosen or proposed replacement products/capabilities",
        fields=(
            Field("Approved replacements (replacement policy)", approved),
            Field("Impacted endpoints without approved protection", unprotected),
            Field("Impacted endpoints whose antivirus would go with no replacement", gaps),
            _text_field("Agency's chosen replacements", inputs.profile.replacements, f"{req}.k"),
        ),
        tables=(
            Table(
                "protection_present",
                "Approved protection already running on impacted endpoints",
                ("Protection product", "Catalog id", "Impacted endpoints"),
                tuple(
                    (_product_name(catalog, p), p, n)
                    for p, n in sorted(running.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
            ),
        ),
    )


def _challenges_section(inputs: ReportInputs, policy: Policy, req: str) -> Section:
    statements = []
    counts = _counts(inputs)
    unsure = counts.hosts(UNCONCLUDED)
    pending = sum(g.hosts for g in counts.groups if not g.assessed) - unsure
    if pending:
        statements.append(f"{_count(pending, 'endpoint')} enrolled but not yet assessed.")
    if unsure:
        statements.append(
            f"{_count(unsure, 'endpoint')} reported an inventory that cannot be concluded from "
            "(incomplete for its platform, or older than the freshness limit): not counted "
            "as free of covered products."
        )
    gaps = _gaps(inputs, policy)[0]
    if gaps:
        statements.append(
            f"{_count(gaps, 'endpoint')} would be left without protection: a replacement must be "
            "installed on them first."
        )
    mobile = sum(
        g.hosts for g in counts.groups if g.state in PRESENT and g.platform in ("android", "ios")
    )
    if mobile:
        statements.append(f"{_count(mobile, 'mobile device')} to clear through device management.")
    waived = counts.hosts({State.WAIVED.value})
    if waived:
        statements.append(f"{_count(waived, 'endpoint')} under a waiver.")
    challenges = inputs.profile.challenges
    return Section(
        "2.m",
        "Foreseeable challenges not otherwise addressed in this plan",
        fields=(
            _text_field(
                "Challenges the agency foresees",
                None if challenges is None else " ".join(map(_sentence, challenges)) or "none",
                f"{req}.m",
            ),
        ),
        statements=tuple(statements),
    )


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


def status(inputs: ReportInputs) -> Document:
    """BOD 17-01 §3: progress against day 90, every 30 days until full removal."""
    term = _branded(inputs)
    begin = _begin_removal(inputs) or (inputs.start or inputs.directive.start)
    m = _milestone(inputs.directive, ReportKind.STATUS)
    repeat = m.repeat_days if m is not None and m.repeat_days else 30
    if inputs.today <= begin:
        previous, number = begin, 0
    else:
        # the latest occurrence strictly before today (day 90 is occurrence 0), and the number
        # of the report due next
        elapsed = (inputs.today - begin).days - 1
        previous = begin + dt.timedelta(days=elapsed // repeat * repeat)
        number = elapsed // repeat + 1
    counts = _counts(inputs)
    since = counts.cleared_after(previous)
    late = inputs.today > begin
    behind = counts.hosts(NOT_BEGUN) if late else 0
    named = _sample(inputs, NOT_BEGUN) if late else []
    present = counts.hosts(PRESENT)
    waivers = list(inputs.waivers)
    statements = []
    undetermined = counts.hosts({State.NEEDS_DETERMINATION.value})
    if undetermined:
        statements.append(
            f"{_count(present, 'endpoint')} still holding {term}; "
            f"{_count(undetermined, 'endpoint')} waiting for a scope determination, so full "
            "removal cannot be stated (see Scope determinations)."
        )
    elif present == 0 and counts.hosts(GONE):
        statements.append(f"Full removal achieved: no endpoint holds {term}.")
    elif present == 0:
        statements.append(f"No endpoint holds {term}.")
    else:
        statements.append(f"{_count(present, 'endpoint')} still holding {term}.")
    if inputs.today <= begin:
        statements.append(f"Removal begins on {begin.isoformat()} (day 90); this report is early.")
    sections = [
        Section(
            "3",
            "Status of the implementation of the plan of action, every 30 calendar days after "
            "day 90, until full removal and discontinuance of use",
            fields=(
                Field("Removal began (day 90)", begin.isoformat()),
                Field("Status report number", number),
                Field("Reporting period", f"{previous.isoformat()} to {inputs.today.isoformat()}"),
                Field("Endpoints still holding a product", present),
                Field("Endpoints where removal has not begun after day 90", behind),
            ),
            statements=tuple(statements),
            tables=(_state_table(inputs, "states", "Endpoints by state and org unit"),),
        ),
        Section(
            "3.progress",
            "Removed, replaced and verified since the last report",
            tables=(
                Table(
                    "since_last_report",
                    f"Endpoints that reached each state after {previous.isoformat()}",
                    ("State", "Endpoints"),
                    tuple((s, since[s]) for s in ("removed", "replaced", "verified")),
                ),
            ),
        ),
        Section(
            "3.overdue",
            "Endpoints where removal has not begun after day 90",
            statements=_sampled(len(named), behind) if behind else ("None.",),
            tables=(
                Table(
                    "overdue",
                    "Removal not begun",
                    (
                        "Host",
                        "Hostname",
                        "Org unit",
                        "State",
                        "Products",
                        "In this state since",
                        "Days past day 90",
                    ),
                    tuple(
                        (
                            line.row.host,
                            line.row.hostname,
                            line.row.org_unit,
                            line.row.state,
                            "; ".join(line.row.products),
                            line.row.since.date().isoformat() if line.row.since else "",
                            (inputs.today - begin).days,
                        )
                        for line in named
                    ),
                    per_host=True,
                ),
            ),
        ),
        Section(
            "3.waivers",
            "Waivers",
            fields=(
                Field(
                    "Active", sum(1 for w in waivers if _waiver_status(w, inputs.today) == "active")
                ),
                Field(
                    "Expired",
                    sum(1 for w in waivers if _waiver_status(w, inputs.today) == "EXPIRED"),
                ),
            ),
            tables=(
                Table(
                    "waivers",
                    "Waivers of this directive",
                    ("Host", "Approver", "Expires", "Status"),
                    tuple(
                        (w.host, w.approver, w.expires.isoformat(), _waiver_status(w, inputs.today))
                        for w in waivers
                    ),
                ),
            ),
        ),
    ]
    sections.append(determinations_section(inputs))
    return _document(
        inputs,
        ReportKind.STATUS,
        f"{BOD} status report: removal of {term}",
        "FNR.BOD@hq.dhs.gov",
        sections,
    )


# -- OMB M-23-13 exceptions -----------------------------------------------------------------------

GROUNDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("law enforcement", ("law enforcement", "law-enforcement", "investigation")),
    ("national security", ("national security", "national-security", "intelligence")),
    ("security research", ("security research", "security-research", "research")),
)
"""The grounds M-23-13 allows an exception on, and words of a justification that state each."""


def grounds(justification: str, recorded: str = "") -> str:
    """The M-23-13 grounds of a waiver: the ones recorded with it (``law-enforcement``...), else
    those its justification states (waivers granted before grounds were recorded), or ``""``."""
    if recorded:
        return recorded.replace("-", " ")
    text = justification.lower()
    found = [name for name, words in GROUNDS if any(w in text for w in words)]
    return ", ".join(found)


def _one_host(w: WaiverInfo, hosts: Mapping[str, ReportLine]) -> None:
    name = w.host.strip()
    if not name or any(c in name for c in "*?,") or name.lower() in {"all", "any"}:
        raise BlanketExceptionError(
            f"waiver {w.id} names {w.host!r}, not one host: blanket exceptions are not permitted"
        )
    if name not in hosts:
        raise BlanketExceptionError(
            f"waiver {w.id} names {w.host!r}, which is not an enrolled host"
        )


def exceptions(inputs: ReportInputs) -> Document:
    """Every exception (waiver) with its host, grounds, approver and expiry; expired ones flagged.

    Raise :class:`BlanketExceptionError` if a waiver does not name exactly one enrolled host.
    """
    hosts = _lines_of(inputs, {w.host for w in inputs.waivers})
    approvers = inputs.profile.exception_approvers
    rows: list[tuple[Value, ...]] = []
    for w in sorted(inputs.waivers, key=lambda w: (w.host, w.created_at, w.id)):
        _one_host(w, hosts)
        line = hosts[w.host]
        if approvers is None:
            on_record = missing("OMB M-23-13 (agency head or designee)")
        else:
            on_record = (
                "yes"
                if w.approver.strip().lower() in {a.strip().lower() for a in approvers}
                else "NO"
            )
        rows.append(
            (
                w.host,
                line.row.hostname,
                line.row.org_unit,
                " ".join(w.justification.split()),
                grounds(w.justification, w.grounds)
                or "NOT STATED (allowed: law enforcement, national security, security research)",
                w.approver,
                on_record,
                w.created_at.date().isoformat(),
                w.created_by,
                w.expires.isoformat(),
                _waiver_status(w, inputs.today),
            )
        )
    status_of = Counter(_waiver_status(w, inputs.today) for w in inputs.waivers)
    statements = (
        [
            f"No blanket exceptions: each of the {_count(len(rows), 'exception')} names exactly "
            f"one host ({_count(len({r[0] for r in rows}), 'host')})."
        ]
        if rows
        else ["No exceptions have been granted."]
    )
    if status_of["EXPIRED"]:
        statements.append(
            f"{_count(status_of['EXPIRED'], 'exception')} expired: their hosts are back under the "
            "directive's deadlines."
        )
    section = Section(
        "exceptions",
        "Exceptions: limited, per device, for law enforcement activities, national security "
        "interests and activities, and security research; granted by the agency head or a "
        "designee; no blanket exceptions",
        fields=(
            Field("Exceptions", len(rows)),
            Field("Active", status_of["active"]),
            Field("Expired", status_of["EXPIRED"]),
            Field("Revoked", status_of["revoked"]),
            Field(
                "Agency head and designees on record",
                ", ".join(approvers) if approvers else None,
                "OMB M-23-13 (exceptions granted by the agency head or designee)",
            ),
        ),
        statements=tuple(statements),
        tables=(
            Table(
                "exceptions",
                "Exceptions",
                (
                    "Host",
                    "Hostname",
                    "Org unit",
                    "Justification",
                    "Grounds",
                    "Approver",
                    "Approver is agency head or designee on record",
                    "Granted",
                    "Recorded by",
                    "Expires",
                    "Status",
                ),
                tuple(rows),
            ),
        ),
    )
    return _document(
        inputs,
        ReportKind.EXCEPTIONS,
        f"{inputs.directive.id} exceptions report",
        "",
        [section, determinations_section(inputs)],
    )


# -- FAR 52.204-23 --------------------------------------------------------------------------------


def _items(inputs: ReportInputs) -> list[ItemCount]:
    """Covered articles: one per product and installed name and version, with its endpoints
    counted by state and org unit."""
    return [item for _, item in sorted(_found(inputs).items.items())]


def _contracts_for(inputs: ReportInputs, item: ItemCount) -> tuple[str, str]:
    """The contract numbers and order numbers an item is reported under."""
    contracts = inputs.profile.contracts
    required = f"{FAR}(c)(2)(i)"
    if not contracts:
        return missing(required), missing(required)
    units = item.org_units
    chosen = [c for c in contracts if not c.org_units or units & set(c.org_units)]
    if not chosen:
        return missing(required), missing(required)
    orders = [o for c in chosen for o in c.orders]
    return ", ".join(c.number for c in chosen), ", ".join(orders) or "none"


def _brand(inputs: ReportInputs, vendor: str) -> str:
    try:
        return inputs.catalog.vendor(vendor).name
    except CatalogLookupError:
        return vendor


def _mitigation(item: ItemCount) -> str:
    states = ", ".join(f"{n} {s}" for s, n in sorted(item.states.items()) if n)
    return f"endpoints by removal state: {states}"


def _item_rows(inputs: ReportInputs) -> tuple[tuple[Value, ...], ...]:
    rows = []
    for n, item in enumerate(_items(inputs), 1):
        contract, orders = _contracts_for(inputs, item)
        description = f"{_product_name(inputs.catalog, item.product)}: {item.name}"
        if item.version:
            description += f" {item.version}"
        if item.embedded:
            inside = ", ".join(item.named)
            if item.hosts > len(item.named):
                inside += f" and {item.hosts - len(item.named)} more"
            description += f" (component embedded in {inside})"
        mitigation = _mitigation(item)
        if inputs.profile.far.mitigation:
            mitigation += "; " + " ".join(inputs.profile.far.mitigation.split())
        rows.append(
            (
                f"item {n}",
                contract,
                orders,
                item.supplier or _brand(inputs, item.vendor),
                _brand(inputs, item.vendor),
                item.model or (f"version {item.version}" if item.version else ""),
                description,
                mitigation,
                item.hosts,
                "yes" if item.embedded else "no",
            )
        )
    return tuple(rows)


ITEM_COLUMNS = (
    "Item",
    "Contract number",
    "Order number(s)",
    "Supplier name",
    "Brand",
    "Model number (OEM number, manufacturer part number, or wholesaler number)",
    "Item description",
    "Mitigation actions undertaken or recommended",
    "Endpoints",
    "Embedded in another product",
)


def _report_to(inputs: ReportInputs) -> Section:
    return Section(
        "(c)(1)",
        "Report in writing to the Contracting Officer or, for the Department of Defense, to "
        "https://dibnet.dod.mil; for indefinite delivery contracts, to the Contracting Officer "
        "of the contract and of each affected order",
        fields=(
            _text_field("Contractor", inputs.profile.contractor, f"{FAR}(c)"),
            Field(
                "Contracting Officer(s)",
                ", ".join(
                    c.contracting_officer
                    for c in inputs.profile.contracts or ()
                    if c.contracting_officer
                )
                or None,
                f"{FAR}(c)(1)",
            ),
        ),
    )


def far_initial(inputs: ReportInputs) -> Document:
    """FAR 52.204-23(c)(2)(i): the covered articles found, within 3 business days."""
    identified = inputs.start or inputs.directive.start
    rows = _item_rows(inputs)
    section = Section(
        "(c)(2)(i)",
        "Within 3 business days from the date of identification or notification: the contract "
        "number; the order number(s), if applicable; supplier name; brand; model number; item "
        "description; and any readily available information about mitigation actions",
        fields=(
            Field(
                "Identified on (the organisation's start date for the directive)",
                identified.isoformat(),
            ),
            Field("Due (3 business days)", add_business_days(identified, 3).isoformat()),
            Field("Covered articles", len(rows)),
        ),
        statements=() if rows else ("No covered article was identified.",),
        tables=(Table("items", "Covered articles", ITEM_COLUMNS, rows),),
    )
    return _document(
        inputs,
        ReportKind.FAR_INITIAL,
        f"{FAR} initial report of covered articles",
        "the Contracting Officer (DoD: https://dibnet.dod.mil)",
        [_report_to(inputs), section],
    )


def far_followup(inputs: ReportInputs) -> Document:
    """FAR 52.204-23(c)(2)(ii): further mitigation and prevention, within 10 business days."""
    far = inputs.profile.far
    req = f"{FAR}(c)(2)(ii)"
    identified = inputs.start or inputs.directive.start
    initial = far.initial_reported or add_business_days(identified, 3)
    counts = _counts(inputs).states(PRESENT | GONE)
    items = _items(inputs)
    section = Section(
        "(c)(2)(ii)",
        "Within 10 business days of submitting the initial report: any further available "
        "information about mitigation actions undertaken or recommended; the efforts undertaken "
        "to prevent use or submission of the covered article, any reasons that led to the use or "
        "submission, and any additional efforts that will be incorporated to prevent future use "
        "or submission",
        fields=(
            Field(
                "Initial report made",
                far.initial_reported.isoformat() if far.initial_reported else None,
                f"{FAR}(c)(2)(i)",
            ),
            Field(
                "Due (10 business days after the initial report)",
                add_business_days(initial, 10).isoformat(),
            ),
            Field("Endpoints where a covered article was found", sum(counts.values())),
            Field(
                "Endpoints cleared (removed, replaced or verified)", sum(counts[s] for s in GONE)
            ),
            _text_field("Further mitigation actions", far.further_mitigation, req),
            _text_field(
                "Efforts undertaken to prevent use or submission", far.prevention_efforts, req
            ),
            _text_field("Reasons that led to the use or submission", far.reasons_for_use, req),
            _text_field(
                "Additional efforts to prevent future use or submission",
                far.additional_prevention,
                req,
            ),
        ),
        tables=(
            Table(
                "mitigation",
                "Endpoints where a covered article was found, by removal state",
                ("State", "Endpoints"),
                tuple(
                    (s, counts[s])
                    for s in (
                        "identified",
                        "planned",
                        "removing",
                        "waived",
                        "removed",
                        "replaced",
                        "verified",
                    )
                ),
            ),
            Table(
                "items",
                "Covered articles still present (from the initial report)",
                ("Item", "Item description", "Endpoints"),
                tuple((r[0], r[6], r[8]) for r in _item_rows(inputs)),
            ),
        ),
        statements=() if items else ("No covered article is present any more.",),
    )
    return _document(
        inputs,
        ReportKind.FAR_FOLLOWUP,
        f"{FAR} follow-up report",
        "the Contracting Officer (DoD: https://dibnet.dod.mil)",
        [_report_to(inputs), section],
    )


# -- the fleet report as a document ---------------------------------------------------------------


def hosts(inputs: ReportInputs) -> Document:
    """The fleet report: counts by state and org unit, then one line per host."""
    counts = _counts(inputs)
    late = {
        state: host_milestone(
            inputs.directive, state, today=inputs.today, start=inputs.start
        ).overdue
        for state in counts.states()
    }
    overdue = sum(g.hosts for g in counts.groups if late[g.state])
    shown = _sample(inputs, None)
    rows = tuple(tuple(line.csv_cells()) for line in shown)
    return _document(
        inputs,
        ReportKind.HOSTS,
        f"{inputs.directive.id}: every host's state",
        "",
        [
            Section(
                "summary",
                "Endpoints by state and org unit",
                fields=(Field("Endpoints", counts.hosts()), Field("Overdue", overdue)),
                tables=(_state_table(inputs, "states", "Endpoints by state and org unit"),),
            ),
            Section(
                "hosts",
                "One line per host",
                statements=_sampled(len(shown), counts.hosts(), "host"),
                tables=(Table("hosts", "Hosts", CSV_COLUMNS, rows),),
            ),
            determinations_section(inputs),
        ],
    )


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


BUILDERS: dict[ReportKind, Callable[[ReportInputs], Document]] = {
    ReportKind.HOSTS: hosts,
    ReportKind.DAY30: day30,
    ReportKind.DAY60: day60,
    ReportKind.STATUS: status,
    ReportKind.EXCEPTIONS: exceptions,
    ReportKind.FAR_INITIAL: far_initial,
    ReportKind.FAR_FOLLOWUP: far_followup,
}
"""One builder per report kind."""
