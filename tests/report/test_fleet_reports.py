"""The directives' reports from a real store (SQLite and PostgreSQL) and through `evict report`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from evict.cli import main
from evict.report.directives import build, found_hosts, render_report
from evict.report.fleet import to_csv as fleet_csv
from evict.report.interface import Document, Format, ReportKind, to_csv
from evict.report.profile import load_profile
from evict.service.report_inputs import gather
from tests.remediation.remedykit import need_tool
from tests.report.reportkit import FIN_LT, PROFILE, TODAY, SeededFleet

NOW = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)


def inputs_of(fleet: SeededFleet, directive: str, *, unit: str | None = None, profile=None):
    return gather(
        fleet.store,
        fleet.matcher,
        fleet.catalog.directive(directive),
        org_id=fleet.org_id,
        unit_id=fleet.store.unit_id(fleet.org_id, unit) if unit else None,
        protection=fleet.protection,
        today=TODAY,
        generated_at=NOW,
        profile=profile,
    )


def facts(doc: Document) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(doc))))


def table(doc: Document, section: str, table_id: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for f in facts(doc):
        if f["section"] == section and f["table"] == table_id:
            out.setdefault(f["row"], {})[f["field"]] = f["value"]
    return out


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    tool = need_tool("pdftotext")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8")


NUMBERS = re.compile(r"(?<!\S)\d+(?:[ \t]+\d+)*(?!\S)")


def pdf_has_row(text: str, label: str, numbers: tuple[int, ...]) -> bool:
    """Whether a line of the PDF opens with (the start of) ``label``, as a wrapped cell shows
    it, and holds exactly ``numbers`` side by side."""
    for line in text.splitlines():
        first = re.split(r"\s{2,}", line.strip())[0]
        if first and label.startswith(first):
            for run in NUMBERS.findall(line):
                if tuple(int(n) for n in run.split()) == numbers:
                    return True
    return False


def test_day30_counts_the_same_endpoints_as_the_fleet_csv(seeded: SeededFleet) -> None:
    inputs = inputs_of(seeded, "bod-17-01")
    hosts = list(csv.DictReader(io.StringIO("".join(fleet_csv(inputs.lines)))))
    present = [h for h in hosts if h["state"] in {"identified", "planned", "removing", "waived"}]
    doc = build(ReportKind.DAY30, inputs)
    endpoints = table(doc, "1.b", "endpoints")
    for row in endpoints.values():
        expected = sum(1 for h in present if row["Catalog id"] in h["products"].split(";"))
        assert int(row["Endpoints impacted"]) == expected > 0
    kes = seeded.catalog.product("kaspersky-endpoint-security").name
    # laptop-7 and FIN-LT-0142 hold it; win-fin-01 and lx-app-03 had it removed
    assert endpoints[kes]["Endpoints impacted"] == "2"
    assert endpoints[kes]["Endpoints where removed"] == "2"
    attest = table(doc, "1.a", "attestation")
    assert attest["CBP"]["Endpoints impacted"] == "5"
    # "none found" names the methods that looked
    assert attest["FEMA"]["Statement"] == (
        "No Kaspersky-branded products were found on the 2 endpoints assessed (methods used: "
        "Endpoint agent (osquery)); 1 not yet assessed"
    )
    assert attest["USCG"]["Statement"] == "No endpoints reported: no statement can be made"
    # the firewall image embeds Kaspersky's engine: white-labelled or embedded is for DHS's
    # organisation to determine, and the statement says so rather than counting it clean
    assert attest["DHS"]["Statement"] == (
        "Kaspersky-branded products found on 2 of 3 endpoints (2 since cleared); 1 endpoint "
        "carries software whose coverage waits for the organisation's scope determination"
    )


def test_day30_methodology_comes_from_the_sources_that_reported(seeded: SeededFleet) -> None:
    doc = build(ReportKind.DAY30, inputs_of(seeded, "bod-17-01"))
    methods = {k: v["Endpoints reporting"] for k, v in table(doc, "1.c", "methods").items()}
    assert methods == {"osquery": "4", "intune": "5", "reg": "1", "cyclonedx": "1"}
    found_by = table(doc, "1.c", "identified_by")
    assert found_by["intune:discovered_apps"]["Endpoints with findings"] == "4"
    assert "reg:uninstall" in found_by


def test_far_reports_the_kaspersky_component_embedded_in_a_firewall_image(
    seeded: SeededFleet,
) -> None:
    far = build(
        ReportKind.FAR_INITIAL, inputs_of(seeded, "ndaa-fy18-1634", profile=load_profile(PROFILE))
    )
    items = table(far, "(c)(2)(i)", "items")
    embedded = [i for i in items.values() if i["Embedded in another product"] == "yes"]
    assert len(embedded) == 1
    assert "component embedded in secureedge-ngfw@7.2.1" in embedded[0]["Item description"]
    assert embedded[0]["Contract number"] == "70RSAT18D00000001"
    # BOD 17-01 does not address embedded code but covers products supplied "indirectly": the
    # firewall image is neither clean nor identified there until the organisation determines
    bod = inputs_of(seeded, "bod-17-01")
    states = {line.row.host: line.row.state for line in bod.lines}
    assert states["secureedge-ngfw@7.2.1"] == "needs_determination"
    findings = {h.row.host: h.findings for h in found_hosts(bod)}
    (finding,) = findings["secureedge-ngfw@7.2.1"]
    assert finding.question == "kaspersky-white-label-bod-17-01"
    assert finding.needs_determination


def test_status_report_from_the_store(seeded: SeededFleet) -> None:
    doc = build(ReportKind.STATUS, inputs_of(seeded, "bod-17-01"))
    since = table(doc, "3.progress", "since_last_report")
    assert since["verified"]["Endpoints"] == "1"  # win-fin-01, on 2026-05-05
    assert since["removed"]["Endpoints"] == "0"  # lx-app-03, on 2026-04-20: before 05-01
    behind = table(doc, "3.overdue", "overdue")
    assert set(behind) == {
        "laptop-7",
        "9f8e7d6c-5b4a-4392-8a1b-0c2d3e4f5a6b",
        "e5d4c3b2-a190-4f8e-9d6c-5b4a39281706",
    }
    assert FIN_LT not in behind  # its removal has begun
    waivers = table(doc, "3.waivers", "waivers")
    assert [w["Status"] for w in waivers.values()] == ["active"]


def test_exceptions_of_m_23_13_flag_the_expired_waiver(seeded: SeededFleet) -> None:
    doc = build(
        ReportKind.EXCEPTIONS, inputs_of(seeded, "omb-m-23-13", profile=load_profile(PROFILE))
    )
    rows = table(doc, "exceptions", "exceptions")
    (only,) = rows.values()
    assert only["Hostname"] == "iPhone-akim"
    assert only["Grounds"] == "law enforcement"
    assert only["Status"] == "EXPIRED"
    assert only["Approver is agency head or designee on record"] == "yes"


def test_a_unit_report_holds_only_that_units_hosts(seeded: SeededFleet) -> None:
    doc = build(ReportKind.DAY30, inputs_of(seeded, "bod-17-01", unit="FEMA"))
    assert doc.scope == "FEMA"
    assert set(table(doc, "1.a", "attestation")) == {"FEMA", "DHS (agency)"}
    assert table(doc, "1.b", "endpoints") == {}


@pytest.mark.parametrize("kind", [ReportKind.DAY30, ReportKind.STATUS])
def test_the_pdf_shows_the_numbers_of_the_csv(
    seeded: SeededFleet, kind: ReportKind, tmp_path: Path
) -> None:
    inputs = inputs_of(seeded, "bod-17-01")
    doc = build(kind, inputs)
    text = pdf_text(render_report(kind, Format.PDF, inputs), tmp_path)
    checked = 0
    for section in doc.sections:
        for t in section.tables:
            if t.per_host and t.rows:
                # a PDF names no host: it counts the rows the JSON and CSV renderings hold
                assert re.search(rf"{len(t.rows)}\s+endpoints?\s+listed in the JSON", text), t.id
                elsewhere = {
                    str(v)
                    for s in doc.sections
                    for o in s.tables
                    if not o.per_host
                    for r in o.rows
                    for v in r
                }
                named = {str(row[0]) for row in t.rows} - elsewhere
                assert named and not any(host in text for host in named), t.id
                checked += 1
                continue
            for row in t.rows:
                numbers = tuple(v for v in row[1:] if isinstance(v, int))
                if numbers and len(numbers) == sum(isinstance(v, int) for v in row):
                    label = str(row[0])
                    assert pdf_has_row(text, label, numbers), (t.id, label, numbers)
                    checked += 1
        for f in section.fields:
            if isinstance(f.value, int):
                assert re.search(rf"{re.escape(f.name[:20])}.*\s{f.value}(\s|$)", text), f.name
                checked += 1
    assert checked >= 10


def test_evict_report_writes_each_format_from_the_database(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    common = ["--org", "DHS", "--today", TODAY.isoformat(), "--db", migrated_url]
    # the contract: csv without --report is one line per host
    assert main(["report", "bod-17-01", "--format", "csv", *common]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[0] == "host" and "state" in header

    assert main(["report", "bod-17-01", "--report", "day60", "--format", "csv", *common]) == 0
    out = capsys.readouterr().out
    assert out.startswith("section,table,row,field,value\n")
    assert "2.b,,,Email address,NOT PROVIDED — required by BOD 17-01 §2.b" in out

    profile = ["--profile", str(PROFILE)]
    assert (
        main(["report", "bod-17-01", "--report", "day60", "--format", "json", *profile, *common])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    fields = {f["name"]: f for s in data["sections"] if s["id"] == "2.b" for f in s["fields"]}
    assert fields["Email address"]["value"] == "jordan.example@example.gov"

    # html and pdf without --report: the report of the current milestone (the status report)
    assert main(["report", "bod-17-01", "--format", "html", *common]) == 0
    html = capsys.readouterr().out
    assert "<h1>BOD 17-01 status report" in html
    out_pdf = tmp_path / "r.pdf"
    assert main(["report", "bod-17-01", "--format", "pdf", "-o", str(out_pdf), *common]) == 0
    assert out_pdf.read_bytes().startswith(b"%PDF-")


def test_evict_report_refuses_a_report_the_directive_has_not(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["report", "bod-17-01", "--report", "far-initial", "--format", "pdf", "--db", migrated_url]
    )
    err = capsys.readouterr().err
    assert code == 2 and "bod-17-01 asks for no far-initial report" in err
    bad = str(Path(PROFILE).parents[2] / "tests" / "assets" / "report" / "profile-unknown-key.yaml")
    code = main(
        ["report", "bod-17-01", "--report", "day60", "--profile", bad, "--db", migrated_url]
    )
    err = capsys.readouterr().err
    assert code == 2 and "profile-unknown-key.yaml:4" in err and "Traceback" not in err


def test_a_document_report_needs_an_organisation_when_there_are_several(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded.store.create_org("DOE", actor="cli:test", now=NOW)
    code = main(["report", "bod-17-01", "--report", "day30", "--db", migrated_url])
    assert code == 2 and "give --org" in capsys.readouterr().err
