"""The fleet report's pure core: one line per host, the directive's clock, the summary."""

from __future__ import annotations

import csv
import datetime as dt
import io

from evict.catalog.interface import Directive, DirectiveID, Milestone, VendorID
from evict.model.records import FleetRow
from evict.report.fleet import (
    CSV_COLUMNS,
    report_json,
    report_lines,
    summarise,
    summarise_counts,
    to_csv,
)

BAN = Directive(
    id=DirectiveID("test-ban"),
    title="A test ban",
    authority="Test",
    issued=dt.date(2026, 1, 1),
    start=dt.date(2026, 1, 1),
    vendors=(VendorID("kaspersky"),),
    embedded=False,
    applies_to="everyone",
    summary="",
    milestones=(Milestone("remove", "Remove (day 30)", "remove it", offset_days=30),),
)


def row(host: str, state: str, unit: str = "HQ", **kw: object) -> FleetRow:
    return FleetRow(host, host, "DHS", unit, "windows", state, **kw)  # type: ignore[arg-type]


def parse(lines) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(to_csv(lines)))))


def test_the_csv_has_the_contract_columns_and_one_line_per_host() -> None:
    rows = [
        row("ws-1", "identified", products=("kaspersky-endpoint-security", "kaspersky-agent")),
        row("ws-2", "clean"),
        row("ws-3", "pending"),
    ]
    out = parse(report_lines(rows, BAN, today=dt.date(2026, 1, 10)))
    assert list(out[0]) == list(CSV_COLUMNS)
    assert [(r["host"], r["state"]) for r in out] == [
        ("ws-1", "identified"),
        ("ws-2", "clean"),
        ("ws-3", "pending"),
    ]
    assert out[0]["products"] == "kaspersky-endpoint-security;kaspersky-agent"
    assert (out[0]["due"], out[0]["days_left"], out[0]["overdue"]) == ("2026-01-31", "21", "no")


def test_only_hosts_with_the_product_still_present_are_overdue() -> None:
    rows = [
        row(h, s)
        for h, s in [
            ("a", "identified"),
            ("b", "planned"),
            ("c", "removed"),
            ("d", "clean"),
            ("e", "waived"),
        ]
    ]
    lines = list(report_lines(rows, BAN, today=dt.date(2026, 2, 5)))
    assert {li.row.host: li.overdue for li in lines} == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
        "e": False,
    }
    assert all(li.days_left == -5 for li in lines)


def test_each_organisation_runs_on_its_own_start_date() -> None:
    late = row("ws-late", "identified", start=dt.date(2026, 2, 1))
    early = row("ws-early", "identified")
    lines = {li.row.host: li for li in report_lines([late, early], BAN, today=dt.date(2026, 2, 5))}
    assert lines["ws-late"].due == dt.date(2026, 3, 3) and not lines["ws-late"].overdue
    assert lines["ws-early"].overdue


def test_the_summary_from_lines_equals_the_summary_from_sql_counts() -> None:
    rows = [
        row("a", "identified", "CBP"),
        row("b", "identified", "CBP"),
        row("c", "clean"),
        row("d", "removed"),
    ]
    today = dt.date(2026, 2, 5)
    from_lines = summarise(report_lines(rows, BAN, today=today), BAN, today=today)
    counts = [("CBP", "identified", 2), ("HQ", "clean", 1), ("HQ", "removed", 1)]
    assert from_lines == summarise_counts(counts, BAN, today=today)
    assert from_lines.overdue == 2 and from_lines.overdue_units == ("CBP",)
    assert from_lines.units == {"CBP": {"identified": 2}, "HQ": {"clean": 1, "removed": 1}}


def test_the_json_report_has_the_summary_and_the_csv_fields() -> None:
    rows = [row("a", "identified"), row("b", "clean")]
    today = dt.date(2026, 1, 10)
    generated = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
    body = report_json(
        report_lines(rows, BAN, today=today), BAN, today=today, generated_at=generated
    )
    assert body["summary"]["states"] == {"clean": 1, "identified": 1}
    hosts = body["hosts"]
    assert set(CSV_COLUMNS) <= set(hosts[0])
    assert hosts[0]["products"] == []
