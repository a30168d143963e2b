"""FAR 52.204-23's reports: the initial report of covered articles (c)(2)(i) within 3 business
days, and the follow-up (c)(2)(ii) within 10."""

from __future__ import annotations

from evict.catalog.interface import CatalogLookupError
from evict.model.states import GONE, PRESENT
from evict.report.counts import ItemCount
from evict.report.directives.common import (
    FAR,
    ReportInputs,
    _counts,
    _document,
    _found,
    _product_name,
    _text_field,
    add_business_days,
)
from evict.report.interface import (
    Document,
    Field,
    ReportKind,
    Section,
    Table,
    Value,
    missing,
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
