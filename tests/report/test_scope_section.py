"""The directive reports and questions of scope: hosts that wait for a determination are their
own group, the attestation never says "none found" while one waits, and the determinations are
listed with their reasoning and the directive text they answer."""

from __future__ import annotations

import datetime as dt

import pytest

from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.compliance.determinations import Answer, Determination
from evict.report.directives import build
from evict.report.interface import ReportKind
from tests.report.test_directives import KES, cell, facts, make, row, statements

WHITE_LABEL = "kaspersky-white-label-bod-17-01"
OEM_PRODUCTS = "kaspersky-oem-products-bod-17-01"
ENGINE = "kaspersky-software"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_day30_never_attests_none_found_while_a_determination_waits(catalog: Catalog) -> None:
    rows = [
        row("fw-1", "needs_determination", "CBP", ENGINE),
        row("ws-1", "clean", "CBP"),
        row("ws-2", "clean", "HQ"),
    ]
    doc = build(ReportKind.DAY30, make(catalog, rows))
    cbp = cell(doc, "1.a", "attestation", "CBP", "Statement")
    assert cbp == (
        "No statement that none were found can be made: 1 endpoint carries software whose "
        "coverage waits for the organisation's scope determination"
    )
    assert cell(doc, "1.a", "attestation", "HQ", "Statement") == (
        "No Kaspersky-branded products were found"
    )
    assert cell(doc, "1.a", "attestation", "CBP", "Endpoints impacted") == "0"
    agency = [s for s in statements(doc, "1.a") if s.startswith("DHS")]
    assert agency and "none were found can be made" in agency[0]


def test_the_scope_section_lists_questions_waiting_hosts_and_determinations(
    catalog: Catalog,
) -> None:
    rows = [
        row("fw-1", "needs_determination", "CBP", ENGINE),
        row("ws-1", "identified", "HQ", KES),
    ]
    doc = build(ReportKind.DAY30, make(catalog, rows))
    assert cell(doc, "scope", "questions", WHITE_LABEL, "Determination") == "NEEDED"
    assert cell(doc, "scope", "questions", WHITE_LABEL, "Endpoints waiting") == "1"
    assert cell(doc, "scope", "needs_determination", "fw-1", "Products") == ENGINE
    cited = [
        f["value"]
        for f in facts(doc)
        if (f["section"], f["table"], f["field"]) == ("scope", "cited_text", "Text")
    ]
    assert any("does not address Kaspersky code embedded" in c for c in cited)
    assert any("supplied, directly or indirectly" in c for c in cited)
    asked = {f["row"] for f in facts(doc) if (f["section"], f["table"]) == ("scope", "questions")}
    assert asked == {WHITE_LABEL, OEM_PRODUCTS}, "only the questions BOD 17-01 is asked"
    assert statements(doc, "scope")[0].startswith("1 endpoint carries software whose coverage")

    decided = Determination(
        WHITE_LABEL,
        Answer.NOT_COVERED,
        '=HYPERLINK("http://x") DHS FAQ: embedded engines are not Kaspersky-branded',
        "CIO",
        dt.date(2026, 1, 20),
        id=7,
        recorded_by="user:admin-1",
        recorded_at=dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC),
    )
    old = Determination(
        WHITE_LABEL, Answer.COVERED, "first memo", "CIO", dt.date(2026, 1, 10), id=3,
        recorded_by="user:admin-1", revoked=True,
    )  # fmt: skip
    doc = build(
        ReportKind.STATUS,
        make(catalog, [row("ws-1", "clean", "HQ")], today=dt.date(2026, 6, 1),
             determinations=(decided, old)),
    )  # fmt: skip
    assert cell(doc, "scope", "questions", WHITE_LABEL, "Determination") == "not-covered"
    assert cell(doc, "scope", "questions", WHITE_LABEL, "Decided by") == "CIO"
    # a reasoning that looks like a formula is neutralised in the CSV
    assert cell(doc, "scope", "questions", WHITE_LABEL, "Citation and reasoning").startswith("'=")


def test_status_does_not_claim_full_removal_while_a_determination_waits(
    catalog: Catalog,
) -> None:
    rows = [
        row("a", "verified", "HQ", KES),
        row("fw-1", "needs_determination", "HQ", ENGINE),
    ]
    doc = build(ReportKind.STATUS, make(catalog, rows, today=dt.date(2026, 6, 15)))
    (said,) = statements(doc, "3")
    assert "full removal cannot be stated" in said
    assert "Full removal achieved" not in said
