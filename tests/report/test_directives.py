"""The directives' report builders, pure: hand-made host lines in, documents out."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest

from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.model.records import FleetRow, WaiverInfo
from evict.report.directives import (
    MethodCount,
    ReportInputs,
    add_business_days,
    available,
    build,
    default_kind,
    grounds,
)
from evict.report.fleet import report_lines
from evict.report.interface import (
    NOT_PROVIDED,
    BlanketExceptionError,
    Document,
    ReportKind,
    ReportNotAskedError,
    to_csv,
)
from evict.report.profile import Contact, Contract, Profile

SEEN = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
START = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def row(host: str, state: str, unit: str = "HQ", *products: str, **kw: object) -> FleetRow:
    values: dict[str, object] = {
        "products": products,
        "since": SEEN,
        "last_seen": SEEN,
        "start": START,
        "platform": "windows",
    }
    values.update(kw)
    platform = str(values.pop("platform"))
    return FleetRow(host, f"{host}.example", "DHS", unit, platform, state, **values)  # type: ignore[arg-type]


def make(
    catalog: Catalog,
    rows: list[FleetRow],
    directive: str = "bod-17-01",
    today: dt.date = dt.date(2026, 1, 30),
    **kw: object,
) -> ReportInputs:
    d = catalog.directive(directive)
    values: dict[str, object] = {
        "catalog": catalog,
        "directive": d,
        "organisation": "DHS",
        "units": ("HQ", "CBP", "USCG"),
        "lines": tuple(report_lines(rows, d, today=today)),
        "today": today,
        "generated_at": dt.datetime.combine(today, dt.time(12), dt.UTC),
        "start": START,
    }
    values.update(kw)
    return ReportInputs(**values)  # type: ignore[arg-type]


def facts(doc: Document) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(doc))))


def cell(doc: Document, section: str, table: str, row_key: str, field: str) -> str:
    found = [
        f["value"]
        for f in facts(doc)
        if (f["section"], f["table"], f["row"], f["field"]) == (section, table, row_key, field)
    ]
    assert len(found) == 1, (section, table, row_key, field, found)
    return found[0]


def field(doc: Document, section: str, name: str) -> str:
    return cell(doc, section, "", "", name)


def statements(doc: Document, section: str) -> list[str]:
    return [f["value"] for f in facts(doc) if f["section"] == section and f["field"] == "statement"]


KES = "kaspersky-endpoint-security"
KIS = "kaspersky-internet-security"


def test_day30_lists_products_with_endpoint_counts_per_product_and_unit(catalog: Catalog) -> None:
    rows = [
        row("ws-1", "identified", "HQ", KES),
        row("ws-2", "planned", "HQ", KES, KIS),
        row("ws-3", "waived", "CBP", KIS),
        row("ws-4", "removed", "CBP", KES),
        row("ws-5", "clean", "CBP"),
    ]
    doc = build(ReportKind.DAY30, make(catalog, rows))
    kes = catalog.product(KES).name
    kis = catalog.product(KIS).name
    assert cell(doc, "1.b", "endpoints", kes, "Endpoints impacted") == "2"
    assert cell(doc, "1.b", "endpoints", kes, "Endpoints where removed") == "1"
    assert cell(doc, "1.b", "endpoints", kis, "Endpoints impacted") == "2"
    assert cell(doc, "1.b", "endpoints_by_unit", f"CBP / {kis}", "Endpoints impacted") == "1"
    assert field(doc, "1.b", "Endpoints impacted (any product)") == "3"
    assert cell(doc, "1.a", "products", kes, "Org units where present") == "HQ"
    assert doc.due == dt.date(2026, 1, 31) and doc.submit_to == "FNR.BOD@hq.dhs.gov"


def test_day30_attests_none_found_per_unit_only_where_endpoints_were_assessed(
    catalog: Catalog,
) -> None:
    rows = [
        row("ws-1", "identified", "HQ", KES),
        row("cbp-1", "clean", "CBP"),
        row("cbp-2", "clean", "CBP"),
        # enrolled, never inventoried: whatever its state, nothing can be attested for it
        row("cbp-3", "clean", "CBP", last_seen=None),
    ]
    doc = build(ReportKind.DAY30, make(catalog, rows))
    assert cell(doc, "1.a", "attestation", "CBP", "Statement") == (
        "No Kaspersky-branded products were found on the 2 endpoints assessed; 1 not yet assessed"
    )
    assert cell(doc, "1.a", "attestation", "USCG", "Statement") == (
        "No endpoints reported: no statement can be made"
    )
    assert cell(doc, "1.a", "attestation", "HQ", "Statement").startswith(
        "Kaspersky-branded products found on 1 of 1"
    )


def test_day30_negative_attestation_for_the_agency_when_nothing_was_found(
    catalog: Catalog,
) -> None:
    rows = [row("ws-1", "clean", "HQ"), row("cbp-1", "clean", "CBP")]
    doc = build(ReportKind.DAY30, make(catalog, rows, units=("HQ", "CBP")))
    assert statements(doc, "1.a") == ["DHS: No Kaspersky-branded products were found."]
    assert cell(doc, "1.a", "attestation", "DHS (agency)", "Statement") == (
        "No Kaspersky-branded products were found"
    )
    assert not [f for f in facts(doc) if f["table"] == "products"]


def test_day30_never_attests_none_where_products_were_found_and_removed(catalog: Catalog) -> None:
    rows = [row("ws-1", "verified", "HQ", KES), row("ws-2", "clean", "HQ")]
    doc = build(ReportKind.DAY30, make(catalog, rows, units=("HQ",)))
    statement = cell(doc, "1.a", "attestation", "HQ", "Statement")
    assert statement == "Kaspersky-branded products found on 1 of 2 endpoints (1 since cleared)"


def test_day30_methodology_names_the_sources_that_reported_and_the_catalog(
    catalog: Catalog,
) -> None:
    methods = (
        MethodCount("HQ", "osquery", 40),
        MethodCount("CBP", "osquery", 2),
        MethodCount("CBP", "intune", 12),
        MethodCount("HQ", "cyclonedx", 1),
    )
    doc = build(ReportKind.DAY30, make(catalog, [row("ws-1", "clean")], methods=methods))
    assert cell(doc, "1.c", "methods", "osquery", "Endpoints reporting") == "42"
    assert cell(doc, "1.c", "methods", "intune", "Method") == "Mobile device management"
    assert cell(doc, "1.c", "methods", "cyclonedx", "Method") == "Software bill of materials"
    assert field(doc, "1.c", "Catalog version") == catalog.version
    rules = int(field(doc, "1.c", "Recognition rules"))
    kaspersky = [p for p in catalog.products if p.vendor == "kaspersky"]
    assert rules == sum(len(p.rules) for p in kaspersky) > 0


def test_day60_has_elements_a_to_n_and_says_what_the_profile_did_not_give(
    catalog: Catalog,
) -> None:
    rows = [row("ws-1", "identified", "HQ", KES)]
    doc = build(ReportKind.DAY60, make(catalog, rows, profile=Profile(poc=Contact(name="J. Doe"))))
    ids = [s.id for s in doc.sections]
    assert ids[:14] == [f"2.{c}" for c in "abcdefghijklmn"]
    assert field(doc, "2.a", "Agency name") == "DHS"
    assert field(doc, "2.b", "Name") == "J. Doe"
    assert field(doc, "2.b", "Email address") == f"{NOT_PROVIDED} — required by BOD 17-01 §2.b"
    assert field(doc, "2.g", "HQ") == f"{NOT_PROVIDED} — required by BOD 17-01 §2.g"
    assert field(doc, "2.h", "Agreements") == f"{NOT_PROVIDED} — required by BOD 17-01 §2.h"
    assert field(doc, "2.n", "Licenses") == f"{NOT_PROVIDED} — required by BOD 17-01 §2.n"
    assert field(doc, "2.i", "Removal begins (day 90)") == "2026-04-01"


def test_day60_an_empty_list_of_agreements_is_an_answer(catalog: Catalog) -> None:
    doc = build(
        ReportKind.DAY60,
        make(catalog, [row("ws-1", "clean")], profile=Profile(vendor_agreements=())),
    )
    assert statements(doc, "2.h") == ["None: the agency states it has no such agreement."]


def test_day60_capabilities_follow_the_categories_of_the_products_present(
    catalog: Catalog,
) -> None:
    rows = [
        row("ws-1", "identified", "HQ", KES),
        row("srv-1", "identified", "HQ", "kaspersky-security-center"),
        row("ws-2", "removed", "HQ", "kaspersky-vpn-secure-connection"),
    ]
    doc = build(ReportKind.DAY60, make(catalog, rows))
    impacted = {
        f["row"]: f["value"]
        for f in facts(doc)
        if f["table"] == "capabilities" and f["field"] == "Impacted"
    }
    assert impacted["Anti-malware"] == "yes"
    assert impacted["Vulnerability and patch management"] == "yes"
    # the VPN was removed already: nothing present takes encryption away
    assert impacted["Data encryption"] == "no"
    assert impacted["Spam filtering"] == "no"
    assert cell(doc, "2.j", "capabilities", "Anti-malware", "NIST SP 800-53 controls") == "SI-3"


def test_day60_plan_flags_an_antivirus_removal_without_replacement(catalog: Catalog) -> None:
    rows = [row("ws-1", "identified", "HQ", KES), row("ws-2", "planned", "HQ", KES)]
    doc = build(
        ReportKind.DAY60,
        make(
            catalog,
            rows,
            protection={"ws-2": ("microsoft-defender",)},
            approved=frozenset({"microsoft-defender"}),
        ),
    )
    assert cell(doc, "annex", "plan", "ws-1", "Risks").startswith("Coverage gap")
    assert cell(doc, "annex", "plan", "ws-2", "Replacement") == (
        "in place: " + catalog.product("microsoft-defender").name
    )
    assert "msiexec" in cell(doc, "annex", "plan", "ws-1", "Removal")
    assert field(doc, "2.k", "Impacted endpoints without approved protection") == "1"
    # the same plan counted per product, as the PDF shows it
    key = catalog.product(KES).name
    assert cell(doc, "annex", "plan_by_product", key, "Endpoints impacted") == "2"
    assert cell(doc, "annex", "plan_by_product", key, "Running approved protection") == "1"
    assert (
        cell(
            doc, "annex", "plan_by_product", key, "Removal would leave unprotected (replace first)"
        )
        == "1"
    )
    method = f"{catalog.product(KES).name} / windows"
    assert "msiexec" in cell(doc, "annex", "removal_methods", method, "Removal")


def test_status_counts_progress_since_the_last_report_and_hosts_behind(catalog: Catalog) -> None:
    today = dt.date(2026, 5, 10)  # day 90 is 2026-04-01; status reports 05-01, 05-31, ...
    rows = [
        row("a", "verified", "HQ", KES, since=dt.datetime(2026, 5, 5, tzinfo=dt.UTC)),
        row("b", "removed", "HQ", KES, since=dt.datetime(2026, 4, 20, tzinfo=dt.UTC)),
        row("c", "replaced", "CBP", KES, since=dt.datetime(2026, 5, 2, tzinfo=dt.UTC)),
        row("d", "identified", "CBP", KES),
        row("e", "planned", "CBP", KES),
        row("f", "removing", "CBP", KES),
        row("g", "clean", "CBP"),
    ]
    doc = build(ReportKind.STATUS, make(catalog, rows, today=today))
    assert field(doc, "3", "Reporting period") == "2026-05-01 to 2026-05-10"
    assert field(doc, "3", "Status report number") == "2"
    since = {
        f["row"]: f["value"]
        for f in facts(doc)
        if f["table"] == "since_last_report" and f["field"] == "Endpoints"
    }
    assert since == {"removed": "0", "replaced": "1", "verified": "1"}
    behind = {f["row"] for f in facts(doc) if f["table"] == "overdue"}
    assert behind == {"d", "e"}
    assert cell(doc, "3", "states", "CBP", "removing") == "1"
    assert cell(doc, "3", "states", "all org units", "Endpoints") == "7"
    assert doc.due == dt.date(2026, 5, 31)


def test_status_states_full_removal(catalog: Catalog) -> None:
    rows = [row("a", "verified", "HQ", KES), row("b", "clean", "HQ")]
    doc = build(ReportKind.STATUS, make(catalog, rows, today=dt.date(2026, 6, 15)))
    assert statements(doc, "3") == [
        "Full removal achieved: no endpoint holds Kaspersky-branded products."
    ]


def waiver(
    n: int, host: str, justification: str, approver: str, expires: dt.date, **kw: object
) -> WaiverInfo:
    return WaiverInfo(
        n,
        host,
        "omb-m-23-13",
        justification,
        approver,
        expires,
        dt.datetime(2026, 1, 10, tzinfo=dt.UTC),
        "user:ops",
        **kw,  # type: ignore[arg-type]
    )


def test_exceptions_give_grounds_approver_and_flag_expired_ones(catalog: Catalog) -> None:
    rows = [row("phone-1", "waived", "HQ", "tiktok"), row("phone-2", "identified", "HQ", "tiktok")]
    waivers = (
        waiver(
            1,
            "phone-1",
            "Security research on the app's traffic",
            "Agency Head",
            dt.date(2026, 9, 1),
        ),
        waiver(
            2,
            "phone-2",
            "Undercover investigation (law enforcement)",
            "Unit chief",
            dt.date(2026, 2, 1),
        ),
        waiver(
            3, "phone-2", "Needed for outreach", "Agency Head", dt.date(2026, 8, 1), revoked=True
        ),
    )
    doc = build(
        ReportKind.EXCEPTIONS,
        make(
            catalog,
            rows,
            directive="omb-m-23-13",
            today=dt.date(2026, 3, 1),
            waivers=waivers,
            profile=Profile(exception_approvers=("Agency Head",)),
        ),
    )
    table = [f for f in facts(doc) if f["table"] == "exceptions"]
    by = {(f["row"], f["field"]): f["value"] for f in table if f["row"] == "phone-1"}
    assert by[("phone-1", "Grounds")] == "security research"
    assert by[("phone-1", "Status")] == "active"
    assert by[("phone-1", "Approver is agency head or designee on record")] == "yes"
    phone2 = [f for f in table if f["row"] == "phone-2"]
    assert {f["value"] for f in phone2 if f["field"] == "Status"} == {"EXPIRED", "revoked"}
    assert {f["value"] for f in phone2 if f["field"] == "Grounds"} >= {"law enforcement"}
    assert "NO" in {f["value"] for f in phone2 if f["field"].startswith("Approver is")}
    assert field(doc, "exceptions", "Expired") == "1"
    assert statements(doc, "exceptions")[0] == (
        "No blanket exceptions: each of the 3 exceptions names exactly one host (2 hosts)."
    )


@pytest.mark.parametrize("host", ["*", "all", "ws-1,ws-2", "not-enrolled"])
def test_an_exception_that_does_not_name_one_enrolled_host_is_refused(
    catalog: Catalog, host: str
) -> None:
    inputs = make(
        catalog,
        [row("ws-1", "waived", "HQ", "tiktok")],
        directive="omb-m-23-13",
        waivers=(waiver(7, host, "law enforcement", "Agency Head", dt.date(2026, 9, 1)),),
    )
    with pytest.raises(BlanketExceptionError, match="waiver 7"):
        build(ReportKind.EXCEPTIONS, inputs)


def test_grounds_are_read_from_the_justification() -> None:
    assert grounds("National security interests (classified programme)") == "national security"
    assert grounds("Law enforcement investigation") == "law enforcement"
    assert grounds("the marketing team wants it") == ""


def test_far_initial_items_carry_the_clause_fields_and_the_contract_by_org_unit(
    catalog: Catalog,
) -> None:
    from evict.matching.engine import Matcher
    from evict.model.observations import HostID, Kind, Observation

    kes = Observation.make(
        Kind.PROGRAM,
        "Kaspersky Endpoint Security for Windows",
        version="12.3.0.493",
        publisher="AO Kaspersky Lab",
        identifiers={"product_code": "{9A017278-F7F4-4DF9-A482-0B97B70DD7ED}"},
        source="osquery:programs",
    )
    matcher = Matcher(catalog)
    d = catalog.directive("ndaa-fy18-1634")
    findings = {
        h: tuple(matcher.findings(HostID(h), [(kes, hits)], directives=[d]))
        for h, hits in (
            ("ws-1", matcher.match_distinct([kes])[0]),
            ("ws-2", matcher.match_distinct([kes])[0]),
        )
    }
    rows = [row("ws-1", "identified", "HQ", KES), row("ws-2", "removing", "CBP", KES)]
    contracts = (
        Contract("HSHQDC-17-D-00001", ("70RSAT18F0001",), "CO Smith", ("HQ",)),
        Contract("HSBP1017D00002", (), "CO Jones", ("CBP",)),
    )
    inputs = make(
        catalog,
        rows,
        directive="ndaa-fy18-1634",
        findings=findings,
        start=dt.date(2026, 1, 9),  # a Friday
        profile=Profile(contracts=contracts),
    )
    doc = build(ReportKind.FAR_INITIAL, inputs)
    item = {f["field"]: f["value"] for f in facts(doc) if f["table"] == "items"}
    assert item["Contract number"] == "HSHQDC-17-D-00001, HSBP1017D00002"
    assert item["Order number(s)"] == "70RSAT18F0001"
    assert item["Supplier name"] == "AO Kaspersky Lab"
    assert item["Brand"] == "Kaspersky"
    assert (
        item["Model number (OEM number, manufacturer part number, or wholesaler number)"]
        == "{9A017278-F7F4-4DF9-A482-0B97B70DD7ED}"
    )
    assert "12.3.0.493" in item["Item description"]
    assert item["Endpoints"] == "2"
    assert "1 identified, 1 removing" in item["Mitigation actions undertaken or recommended"]
    assert field(doc, "(c)(2)(i)", "Due (3 business days)") == "2026-01-14"
    assert field(doc, "(c)(1)", "Contractor").startswith(NOT_PROVIDED)


def test_far_without_contracts_says_the_contract_number_is_required(catalog: Catalog) -> None:
    from evict.report.counts import ItemCount
    from evict.report.directives.far import _contracts_for

    inputs = make(catalog, [row("ws-1", "identified", "HQ", KES)], directive="ndaa-fy18-1634")
    item = ItemCount(KES, "KES", "12", "kaspersky", "AO Kaspersky Lab", "", False)
    for line in inputs.lines:
        item.add(line.row)
    number, orders = _contracts_for(inputs, item)
    assert number == f"{NOT_PROVIDED} — required by FAR 52.204-23(c)(2)(i)"
    other_unit = dataclasses.replace(
        inputs, profile=Profile(contracts=(Contract("X", (), "", ("CBP",)),))
    )
    assert _contracts_for(other_unit, item)[0].startswith(NOT_PROVIDED)


def test_business_days_skip_weekends() -> None:
    friday = dt.date(2026, 1, 9)
    assert add_business_days(friday, 1) == dt.date(2026, 1, 12)
    assert add_business_days(friday, 3) == dt.date(2026, 1, 14)
    assert add_business_days(friday, 10) == dt.date(2026, 1, 23)


def test_each_directive_has_the_reports_its_milestones_ask_for(catalog: Catalog) -> None:
    assert available(catalog.directive("bod-17-01")) == (
        ReportKind.DAY30,
        ReportKind.DAY60,
        ReportKind.STATUS,
        ReportKind.EXCEPTIONS,
        ReportKind.HOSTS,
    )
    assert ReportKind.FAR_INITIAL in available(catalog.directive("ndaa-fy18-1634"))
    assert available(catalog.directive("bis-kaspersky-2024")) == (
        ReportKind.EXCEPTIONS,
        ReportKind.HOSTS,
    )
    with pytest.raises(ReportNotAskedError, match="its reports: day30, day60, status"):
        build(ReportKind.FAR_INITIAL, make(catalog, []))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 1, 20), ReportKind.DAY30),
        (dt.date(2026, 2, 20), ReportKind.DAY60),
        # day 90 asks for no report: the next milestone's (the first status report)
        (dt.date(2026, 3, 20), ReportKind.STATUS),
        (dt.date(2027, 3, 20), ReportKind.STATUS),
    ],
)
def test_the_default_report_follows_the_clock(
    catalog: Catalog, today: dt.date, expected: ReportKind
) -> None:
    assert default_kind(catalog.directive("bod-17-01"), today=today, start=START) is expected


def test_a_directive_without_reports_defaults_to_the_hosts_report(catalog: Catalog) -> None:
    d = catalog.directive("bis-kaspersky-2024")
    assert default_kind(d, today=dt.date(2026, 1, 1)) is ReportKind.HOSTS
