"""The per-host listings streamed from the store equal the ones built in memory, row for row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evict.cli import main
from evict.neutral import json_dumps
from evict.report.fleet import (
    report_json,
    report_lines,
    stream_json,
    summarise_fleet,
    to_csv,
    to_jsonl,
)
from evict.report.interface import ReportKind
from evict.service.reports import ReportScope, host_listing
from evict.store.tables import Host, HostSoftware, OrgUnit
from tests.report.reportkit import TODAY, SeededFleet
from tests.server.fleetkit import KES, ZIP, Clock, make_fleet

NOW = "2026-05-10T12:00:00+00:00"


def _listing(fleet: SeededFleet, fmt: str, *, unit: str | None = None) -> str:
    import datetime as dt

    directive = fleet.catalog.directive("bod-17-01")
    return "".join(
        host_listing(
            fleet.store,
            directive,
            fmt,
            org_id=fleet.org_id,
            unit_id=fleet.store.unit_id(fleet.org_id, unit) if unit else None,
            today=TODAY,
            generated_at=dt.datetime.fromisoformat(NOW),
            start=fleet.store.adoptions(fleet.org_id).get(directive.id),
        )
    )


def _in_memory(fleet: SeededFleet) -> dict[str, object]:
    import datetime as dt

    directive = fleet.catalog.directive("bod-17-01")
    rows = list(fleet.store.fleet_rows(directive.id, org_id=fleet.org_id))
    return report_json(
        report_lines(rows, directive, today=TODAY),
        directive,
        today=TODAY,
        generated_at=dt.datetime.fromisoformat(NOW),
        start=fleet.store.adoptions(fleet.org_id).get(directive.id),
    )


def _scope(seeded: SeededFleet) -> ReportScope:
    """BOD 17-01's reports of the seeded organisation, as of the fixed day."""
    return ReportScope(
        store=seeded.store,
        matcher=seeded.matcher,
        directive=seeded.catalog.directive("bod-17-01"),
        org_id=seeded.org_id,
        unit_id=None,
        protection=seeded.protection,
        today=TODAY,
        generated_at=dt.datetime.fromisoformat(NOW),
    )


def test_the_streamed_json_is_the_report_built_in_memory(seeded: SeededFleet) -> None:
    built = _in_memory(seeded)
    streamed = _listing(seeded, "json")
    # the same text, not only the same data: scripts diffing old and new reports see no change
    assert streamed == json_dumps(built) + "\n"
    data = json.loads(streamed)
    assert data["hosts"], "the seeded fleet has hosts"
    assert data["summary"]["overdue"] == sum(1 for h in data["hosts"] if h["overdue"])
    assert data["summary"]["hosts"] == len(data["hosts"])


def test_json_lines_are_the_hosts_of_the_json_report_one_a_line(seeded: SeededFleet) -> None:
    hosts = _in_memory(seeded)["hosts"]
    text = _listing(seeded, "jsonl")
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == len(hosts)  # type: ignore[arg-type]
    assert [json.loads(line) for line in lines] == hosts


def test_the_streamed_csv_is_the_csv_built_in_memory(seeded: SeededFleet) -> None:
    directive = seeded.catalog.directive("bod-17-01")
    rows = list(seeded.store.fleet_rows(directive.id, org_id=seeded.org_id))
    built = "".join(to_csv(list(report_lines(rows, directive, today=TODAY))))
    assert _listing(seeded, "csv") == built


def test_pages_of_any_size_give_the_same_rows(seeded: SeededFleet) -> None:
    whole = list(seeded.store.fleet_rows("bod-17-01", org_id=seeded.org_id))
    assert len(whole) > 2
    assert list(seeded.store.fleet_rows("bod-17-01", org_id=seeded.org_id, page=2)) == whole
    assert list(seeded.store.fleet_rows("bod-17-01", org_id=seeded.org_id, page=1)) == whole


def test_the_summary_counted_in_sql_is_the_rows_summary_per_unit(seeded: SeededFleet) -> None:
    directive = seeded.catalog.directive("bod-17-01")
    for unit in ("HQ", None):
        if unit is not None and unit not in {u.name for u in seeded.store.units(seeded.org_id)}:
            continue
        unit_id = seeded.store.unit_id(seeded.org_id, unit) if unit else None
        counted = summarise_fleet(
            seeded.store.fleet_counts(directive.id, org_id=seeded.org_id, unit_id=unit_id),
            directive,
            today=TODAY,
        )
        rows = list(seeded.store.fleet_rows(directive.id, org_id=seeded.org_id, unit_id=unit_id))
        lines = list(report_lines(rows, directive, today=TODAY))
        assert counted.hosts == len(lines)
        assert counted.overdue == sum(1 for line in lines if line.overdue)
        assert counted.overdue_units == tuple(
            sorted({line.row.org_unit for line in lines if line.overdue})
        )


def test_an_empty_listing_is_still_valid_json() -> None:
    import datetime as dt

    from evict.catalog.loader import load_catalog
    from evict.report.fleet import summarise_counts

    directive = load_catalog().directive("bod-17-01")
    summary = summarise_counts([], directive, today=TODAY)
    when = dt.datetime.fromisoformat(NOW)
    text = "".join(stream_json([], summary, directive, today=TODAY, generated_at=when))
    built = report_json([], directive, today=TODAY, generated_at=when)
    assert json.loads(text) == built
    assert text == json_dumps(built) + "\n"
    assert list(to_jsonl([])) == []


def test_evict_report_writes_json_lines_to_stdout_and_to_a_file(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    common = ["--org", "DHS", "--today", TODAY.isoformat(), "--db", migrated_url]
    assert main(["report", "bod-17-01", "--format", "jsonl", *common]) == 0
    out = capsys.readouterr().out
    hosts = [json.loads(line) for line in out.splitlines()]
    assert hosts and {"host", "state", "overdue", "org_unit"} <= set(hosts[0])
    target = tmp_path / "hosts.jsonl"
    assert main(["report", "bod-17-01", "--format", "jsonl", "-o", str(target), *common]) == 0
    assert target.read_text() == out
    target = tmp_path / "hosts.json"
    assert main(["report", "bod-17-01", "--format", "json", "-o", str(target), *common]) == 0
    assert [h["host"] for h in json.loads(target.read_text())["hosts"]] == [
        h["host"] for h in hosts
    ]
    # JSON Lines is the per-host listing only
    assert main(["report", "bod-17-01", "--report", "day30", "--format", "jsonl", *common]) == 2
    assert "jsonl" in capsys.readouterr().err


def test_the_server_streams_each_listing_chunked(migrated_url: str) -> None:
    from evict.catalog.loader import load_catalog

    for fleet in make_fleet(migrated_url, load_catalog(), Clock()):
        fleet.push("ws-kes", KES)
        fleet.push("ws-clean", ZIP)
        fleet.work()
        auth = fleet.auth("auditor")
        body = fleet.client.get("/api/v1/reports/bod-17-01.json", headers=auth)
        assert body.status_code == 200
        assert body.headers["content-type"].startswith("application/json")
        assert "content-length" not in body.headers  # streamed, chunked
        data = body.json()
        assert data["summary"]["hosts"] == len(data["hosts"]) == 2
        lines = fleet.client.get("/api/v1/reports/bod-17-01.jsonl", headers=auth)
        assert lines.status_code == 200
        assert lines.headers["content-type"].startswith("application/jsonl")
        assert [json.loads(line) for line in lines.text.splitlines()] == data["hosts"]
        missing = fleet.client.get("/api/v1/reports/no-such.jsonl", headers=auth)
        assert missing.status_code == 404


def test_a_report_job_writes_the_listing_streamed_to_its_file(
    seeded: SeededFleet, tmp_path: Path
) -> None:

    from evict.service.reports import write_listing

    scope = _scope(seeded)
    seen: list[int] = []
    for fmt in ("csv", "json", "jsonl"):
        out = tmp_path / f"hosts.{fmt}"
        write_listing(scope, fmt, out, lambda _, n: seen.append(n))
        assert out.read_text(encoding="utf-8") == _listing(seeded, fmt)
    assert seen[-1] == 100
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_hostile_hostname_is_escaped_in_both_json_formats() -> None:
    import datetime as dt

    from evict.catalog.loader import load_catalog
    from evict.model.records import FleetRow
    from evict.report.fleet import summarise

    directive = load_catalog().directive("bod-17-01")
    row = FleetRow(
        host="h-1",
        hostname="ws\x1b[2J\x1b]0;owned\x07\u202e",
        org="DHS",
        org_unit="HQ",
        platform="windows",
        state="identified",
        products=("kaspersky-endpoint-security",),
    )
    lines = list(report_lines([row], directive, today=TODAY))
    when = dt.datetime.fromisoformat(NOW)
    summary = summarise(lines, directive, today=TODAY)
    for text in (
        "".join(to_jsonl(lines)),
        "".join(stream_json(lines, summary, directive, today=TODAY, generated_at=when)),
    ):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "\\u001b" in text
    (parsed,) = [json.loads(x) for x in "".join(to_jsonl(lines)).splitlines()]
    assert parsed["hostname"] == row.hostname  # the data stays exact


def test_the_written_host_objects_are_what_json_dumps_writes_for_any_text() -> None:
    from evict.catalog.loader import load_catalog
    from evict.model.records import FleetRow
    from evict.report.fleet import report_json, summarise

    directive = load_catalog().directive("bod-17-01")
    seen = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
    texts = ['quote " and \\ back', "Zürich-Büro", "line\u2028sep\ttab\nnl", "", "\ud800x"]
    rows = [
        FleetRow(
            host=f"h-{i}",
            hostname=text,
            org="DHS",
            org_unit=texts[(i + 1) % len(texts)],
            platform="windows",
            state=("identified", "clean", "pending")[i % 3],
            products=(("kaspersky-endpoint-security", text or "x"), ())[i % 2],
            since=seen if i % 2 else None,
            last_seen=seen if i % 3 else None,
        )
        for i, text in enumerate(texts)
    ]
    lines = list(report_lines(rows, directive, today=TODAY))
    when = dt.datetime.fromisoformat(NOW)
    summary = summarise(lines, directive, today=TODAY)
    streamed = "".join(stream_json(lines, summary, directive, today=TODAY, generated_at=when))
    built = report_json(lines, directive, today=TODAY, generated_at=when)
    assert streamed == json_dumps(built) + "\n"
    assert "".join(to_jsonl(lines)) == "".join(
        json_dumps(line.to_json(), indent=None) + "\n" for line in lines
    )


def _held(inputs: Any) -> Any:
    """The same inputs held in memory: the lines, each host's findings and protection."""
    from evict.report.directives import found_hosts

    found = list(found_hosts(inputs))
    return dataclasses.replace(
        inputs,
        lines=tuple(inputs.lines),
        findings={h.row.host: h.findings for h in found if h.findings},
        protection={h.row.host: h.protection for h in found if h.protection},
        counts=None,
        found=None,
        found_hosts=None,
    )


@pytest.mark.parametrize("sample", [100, 2])
@pytest.mark.parametrize("unit", [None, "CBP"])
def test_each_document_counted_in_sql_equals_the_one_built_in_memory(
    seeded: SeededFleet, monkeypatch: pytest.MonkeyPatch, sample: int, unit: str | None
) -> None:
    import datetime as dt

    from evict.report import directives
    from evict.report.bundle import _findings
    from evict.service.report_inputs import gather

    # a sample of 2 hosts per table: the documents name the same first hosts either way
    monkeypatch.setattr(directives.common, "SAMPLE", sample)
    compared = 0
    for d in ("bod-17-01", "ndaa-fy18-1634", "omb-m-23-13"):
        streamed = gather(
            seeded.store,
            seeded.matcher,
            seeded.catalog.directive(d),
            org_id=seeded.org_id,
            unit_id=seeded.store.unit_id(seeded.org_id, unit) if unit else None,
            protection=seeded.protection,
            today=TODAY,
            generated_at=dt.datetime.fromisoformat(NOW),
        )
        held = _held(streamed)
        assert streamed.counts is not None and streamed.counts.hosts() == len(held.lines)
        for kind in directives.available(streamed.directive):
            built = directives.build(kind, held).to_json()
            assert directives.build(kind, streamed).to_json() == built, (d, kind)
            compared += 1
        assert b"".join(_findings(streamed)) == b"".join(_findings(held))
    assert compared >= 10


def test_a_document_names_a_bounded_sample_and_says_so(
    seeded: SeededFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from evict.report import directives
    from evict.service.report_inputs import gather

    monkeypatch.setattr(directives.common, "SAMPLE", 2)
    inputs = gather(
        seeded.store,
        seeded.matcher,
        seeded.catalog.directive("bod-17-01"),
        org_id=seeded.org_id,
        protection=seeded.protection,
        today=TODAY,
        generated_at=dt.datetime.fromisoformat(NOW),
    )
    doc = directives.build(ReportKind.DAY60, inputs).to_json()
    (annex,) = [s for s in doc["sections"] if s["id"] == "annex"]  # type: ignore[index]
    impacted = sum(1 for line in inputs.lines if line.row.state in directives.PRESENT)
    assert impacted > 2, "the seeded fleet has more impacted endpoints than the sample"
    tables = {t["id"]: t for t in annex["tables"]}
    assert len(tables["plan"]["rows"]) == 2
    # the plan counted per product holds every impacted endpoint's products
    held = sum(
        len(line.row.products) for line in inputs.lines if line.row.state in directives.PRESENT
    )
    assert sum(r["Endpoints impacted"] for r in tables["plan_by_product"]["rows"]) == held
    assert annex["statements"] == [
        f"The first 2 of {impacted} endpoints are listed here; every one is in the per-host "
        "annex (the hosts report, CSV and JSON Lines)."
    ]
    hosts = directives.build(ReportKind.HOSTS, inputs).to_json()
    (listed,) = [s for s in hosts["sections"] if s["id"] == "hosts"]  # type: ignore[index]
    assert len(listed["tables"][0]["rows"]) == 2
    assert f"of {len(inputs.lines)} hosts" in listed["statements"][0]


def test_a_pdf_counts_the_endpoints_of_a_per_host_table_and_names_none(
    seeded: SeededFleet,
) -> None:
    import datetime as dt

    from evict.report import directives
    from evict.report.render_html import render_html
    from evict.service.report_inputs import gather

    inputs = gather(
        seeded.store,
        seeded.matcher,
        seeded.catalog.directive("bod-17-01"),
        org_id=seeded.org_id,
        protection=seeded.protection,
        today=TODAY,
        generated_at=dt.datetime.fromisoformat(NOW),
    )
    doc = directives.build(ReportKind.DAY60, inputs)
    (plan,) = [t for s in doc.sections for t in s.tables if t.id == "plan"]
    host = str(plan.rows[0][0])
    assert host in render_html(doc)  # the HTML page lists the sample
    page = render_html(doc, pdf=True)
    assert host not in page
    assert f"{len(plan.rows)} endpoints listed in the JSON and CSV renderings" in page


@pytest.mark.parametrize("unit", [None, "CBP"])
def test_the_inventory_sources_are_counted_as_the_store_counts_them(
    seeded: SeededFleet, unit: str | None
) -> None:
    from evict.store.reports import ReportQueries

    unit_id = seeded.store.unit_id(seeded.org_id, unit) if unit else None
    queries = ReportQueries(seeded.store, "bod-17-01", org_id=seeded.org_id, unit_id=unit_id)
    counted = queries.census().families
    # the same count the obvious way: every link read, families kept per host in Python
    stmt = (
        select(OrgUnit.name, HostSoftware.host_id, HostSoftware.source)
        .join(Host, Host.id == HostSoftware.host_id)
        .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
        .where(Host.org_id == seeded.org_id)
    )
    if unit_id is not None:
        stmt = stmt.where(Host.org_unit_id == unit_id)
    hosts: dict[tuple[str, str], set[int]] = defaultdict(set)
    with seeded.store.engine.connect() as conn:
        for name, host_id, source in conn.execute(stmt):
            hosts[(name, source.split(":", 1)[0])].add(host_id)
    assert counted == sorted((u, f, len(ids)) for (u, f), ids in hosts.items())
    assert {family for _, family, _ in counted} >= ({"intune"} if unit else {"osquery", "intune"})


def test_the_bundles_annex_is_the_streamed_listing_byte_for_byte(
    seeded: SeededFleet, tmp_path: Path
) -> None:
    import zipfile

    from evict.service.reports import write_evidence

    scope = _scope(seeded)
    out = tmp_path / "bundle.zip"
    write_evidence(scope, out)
    with zipfile.ZipFile(out) as archive:
        for fmt in ("csv", "json", "jsonl"):
            # the fleet is read once for the three: json streamed, csv and jsonl spooled
            annex = archive.read(f"reports/bod-17-01-hosts.{fmt}").decode()
            assert annex == _listing(seeded, fmt), fmt
