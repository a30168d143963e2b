"""BOD 17-01's own reports: day 30 (§1 a-c, with a negative attestation per org unit and for the
agency), day 60 (§2 a-n, the plan of action) and the status report every 30 days after day 90
(§3)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence

from evict.catalog.interface import ProductID
from evict.model.states import GONE, NOT_BEGUN, PRESENT, UNCONCLUDED, State
from evict.remediation.policy import Policy, coverage_gap, protective
from evict.report.directives.common import (
    BOD,
    ReportInputs,
    _branded,
    _category,
    _count,
    _counts,
    _document,
    _endpoints_section,
    _found,
    _methods_section,
    _milestone,
    _product_name,
    _products_section,
    _sample,
    _sampled,
    _sentence,
    _state_table,
    _text_field,
    _units,
    _waiver_status,
    determinations_section,
)
from evict.report.fleet import (
    ReportLine,
    host_milestone,
)
from evict.report.interface import (
    Document,
    Field,
    ReportKind,
    Section,
    Table,
    Value,
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
    # per org unit: 2.f here, and the day-30 report's 1.b per org unit and product
    sections.append(
        _endpoints_section(inputs, "2.d", "Number of endpoints impacted", by_unit=False)
    )
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
