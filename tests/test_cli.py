"""The command line as scripts and people use it: exit codes, the JSON contract, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evict.cli import main

ASSETS = Path(__file__).parent / "assets"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dpkg_installed_count() -> int:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if line.startswith(("ii", "hi")))


def assert_contract(doc: dict) -> None:
    """The scan JSON object of DESIGN.md, field by field."""
    assert set(doc) >= {"evict_version", "catalog_version", "generated_at", "hosts", "sources"}
    assert doc["catalog_version"].startswith("sha256:")
    for host in doc["hosts"]:
        assert set(host) >= {"host", "hostname", "platform", "observations", "findings"}
        assert isinstance(host["observations"], int)
        for f in host["findings"]:
            assert set(f) >= {
                "directive",
                "vendor",
                "product",
                "confidence",
                "milestone",
                "evidence",
            }
            assert f["confidence"] in {"high", "medium", "low"}
            assert set(f["milestone"]) == {"name", "due", "days_left"}
            assert isinstance(f["milestone"]["days_left"], int)
            assert f["evidence"], "every finding says why"
            for e in f["evidence"]:
                assert set(e) >= {"kind", "name", "version", "source", "rule"}
    for s in doc["sources"]:
        assert s["state"] in {"ok", "partial", "failed"}
        assert isinstance(s["problems"], list)


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="needs a Debian host")
def test_scan_this_host_prints_contract_json_and_exits_0(capsys):
    code, out, _ = run_cli(capsys, "scan", "--format", "json")
    doc = json.loads(out)
    assert_contract(doc)
    assert code == 0
    assert len(doc["hosts"]) == 1
    host = doc["hosts"][0]
    assert host["platform"] == "linux"
    assert host["observations"] >= dpkg_installed_count()
    assert host["findings"] == []


def test_acceptance_log_finds_kaspersky_on_first_host_only(capsys):
    log = ASSETS / "osquery" / "acceptance.log"
    code, out, _ = run_cli(capsys, "scan", "--from", "osquery", str(log), "--format", "json")
    doc = json.loads(out)
    assert_contract(doc)
    assert code == 1
    by_host = {h["hostname"]: h for h in doc["hosts"]}
    assert len(by_host) == 2
    affected = [h for h in doc["hosts"] if h["findings"]]
    clean = [h for h in doc["hosts"] if not h["findings"]]
    assert len(affected) == 1 and len(clean) == 1
    products = {f["product"] for f in affected[0]["findings"]}
    assert {"kaspersky-endpoint-security", "kaspersky-network-agent"} <= products
    kinds = {e["kind"] for f in affected[0]["findings"] for e in f["evidence"]}
    assert "certificate" in kinds, "the Kaspersky root CA is evidence too"
    directives = {f["directive"] for f in affected[0]["findings"]}
    assert {"bod-17-01", "ndaa-fy18-1634", "bis-kaspersky-2024"} <= directives


def test_own_start_date_moves_the_milestone(capsys):
    log = ASSETS / "osquery" / "acceptance.log"
    argv = ["scan", "--from", "osquery", str(log), "--format", "json", "--directive", "bod-17-01"]
    _, out, _ = run_cli(capsys, *argv, "--start", "2026-11-01", "--today", "2026-11-20")
    finding = next(f for h in json.loads(out)["hosts"] for f in h["findings"])
    assert finding["milestone"]["due"] == "2026-12-01"
    assert finding["milestone"]["days_left"] == 11


def test_malformed_input_exits_2_naming_file_and_line(tmp_path):
    bad = tmp_path / "results.log"
    first = {"name": "programs", "hostIdentifier": "a", "action": "snapshot", "snapshot": []}
    bad.write_text(json.dumps(first) + "\n{not json\n")
    proc = subprocess.run(
        [sys.executable, "-m", "evict", "scan", "--from", "osquery", str(bad), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert f"{bad}:2" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_one_bad_file_does_not_hide_the_others(capsys, tmp_path):
    bad = tmp_path / "broken.log"
    bad.write_text("{oops\n")
    good = ASSETS / "osquery" / "acceptance.log"
    code, out, err = run_cli(
        capsys, "scan", "--from", "osquery", str(bad), str(good), "--format", "json"
    )
    assert code == 2
    doc = json.loads(out)
    assert any(h["findings"] for h in doc["hosts"]), "the good file was still scanned"
    assert any(s["state"] == "failed" for s in doc["sources"])
    assert str(bad) in err


def test_unknown_source_kind_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "scan", "--from", "nosuchtool", "x")
    assert code == 2
    assert "unknown inventory source 'nosuchtool'" in err


def test_csv_neutralises_formula_cells(capsys, tmp_path):
    log = tmp_path / "evil.log"
    row = {
        "name": '=HYPERLINK("http://x")',
        "version": "1",
        "publisher": "AO Kaspersky Lab",
        "identifying_number": "",
        "install_location": "",
        "install_source": "",
        "uninstall_string": "",
    }
    event = {
        "name": "programs",
        "hostIdentifier": "=cmd|' /C calc'!A0",
        "calendarTime": "",
        "unixTime": 1700000000,
        "action": "snapshot",
        "snapshot": [row],
    }
    log.write_text(json.dumps(event) + "\n")
    code, out, _ = run_cli(capsys, "scan", "--from", "osquery", str(log), "--format", "csv")
    assert code in (0, 1)
    for line in out.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), line


def test_catalog_list_and_show(capsys):
    code, out, _ = run_cli(capsys, "catalog", "list", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    ids = {d["id"] for d in doc["directives"]}
    assert {"bod-17-01", "ndaa-fy18-1634", "bis-kaspersky-2024", "omb-m-23-13"} <= ids
    assert all(d["sources"] for d in doc["directives"])
    code, out, _ = run_cli(capsys, "catalog", "show", "bod-17-01", "--format", "json")
    assert code == 0
    entry = json.loads(out)
    assert entry["type"] == "directive" and entry["embedded"] is False
    assert any("cisa.gov" in s["url"] or "dhs.gov" in s["url"] for s in entry["sources"])


def test_catalog_show_unknown_id_exits_2(capsys):
    code, _, err = run_cli(capsys, "catalog", "show", "no-such-thing")
    assert code == 2
    assert "no-such-thing" in err


def test_catalog_validate_names_file_entry_and_field(capsys, tmp_path):
    broken = tmp_path / "ours.yaml"
    broken.write_text(
        "products:\n"
        "  - id: our-thing\n"
        "    vendor: kaspersky\n"
        "    name: Our thing\n"
        "    category: test\n"
        "    rules:\n"
        "      - id: our-rule\n"
        "        field: name\n"
        "        pattern: '([unclosed'\n"
        "        anchor: unclosed\n"
        "        source: test\n"
    )
    code, _, err = run_cli(capsys, "catalog", "validate", "--catalog", str(broken))
    assert code == 2
    assert str(broken) in err and "our-thing" in err and "rules[0]" in err
    assert "pattern does not compile" in err


def test_lookalikes_are_shown_apart_and_not_counted(capsys, tmp_path):
    inventory = {
        "host": "lab-01",
        "hostname": "lab-01",
        "platform": "windows",
        "observations": [
            {"kind": "process", "name": "kavremover.exe", "source": "osquery:processes"},
            {"kind": "process", "name": "klist.exe", "source": "osquery:processes"},
            {"kind": "program", "name": "7-Zip 23.01 (x64)", "source": "osquery:programs"},
            {"kind": "service", "name": "Spooler", "source": "osquery:services"},
        ],
    }
    path = tmp_path / "lab.jsonl"
    path.write_text(json.dumps(inventory) + "\n")
    code, out, _ = run_cli(capsys, "scan", "--from", "evict", str(path), "--format", "json")
    host = json.loads(out)["hosts"][0]
    assert code == 0 and host["findings"] == []
    assert [a["name"] for a in host["look_alikes"]] == ["kavremover.exe"]
    assert host["look_alikes"][0]["reason"]


def programs_only_log(path: Path, host: str = "win-only-programs") -> Path:
    """An osqueryd results log of one Windows host seen only through its programs table."""
    row = {
        "name": "7-Zip 23.01 (x64)",
        "version": "23.01",
        "publisher": "Igor Pavlov",
        "install_location": "",
        "install_source": "",
        "language": "",
        "uninstall_string": "",
        "install_date": "",
        "identifying_number": "",
    }
    event = {
        "snapshot": [row],
        "action": "snapshot",
        "name": "programs",
        "hostIdentifier": host,
        "calendarTime": "Fri Nov 27 09:00:00 2026 UTC",
        "unixTime": 1795770000,
        "epoch": 0,
        "counter": 0,
        "numerics": False,
    }
    path.write_text(json.dumps(event) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_scan_that_read_no_host_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    for path in ("/dev/null", str(empty)):
        code, out, err = run_cli(capsys, "scan", "--from", "osquery", path, "--format", fmt)
        assert code == 2
        assert f"no host read from {path}" in err
        assert "No covered software found" not in out


def test_plan_and_agent_refuse_inputs_without_a_host(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "plan", "--from", "osquery", "/dev/null", "--format", "json")
    assert code == 2 and "no host read from /dev/null" in err
    empty = tmp_path / "results.log"
    empty.write_text("\n")
    argv = ["agent", "--server", "http://127.0.0.1:9", "--dry-run", "--from", "osquery"]
    code, out, err = run_cli(capsys, *argv, str(empty))
    assert code == 2 and f"no host read from {empty}" in err and out == ""


def test_a_host_seen_only_through_its_programs_is_incomplete_not_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = programs_only_log(tmp_path / "p.log")
    code, out, err = run_cli(capsys, "scan", "--from", "osquery", str(log), "--format", "json")
    doc = json.loads(out)
    assert_contract(doc)
    host = doc["hosts"][0]
    assert host["coverage"] == {
        "kinds": ["program"],
        "complete": False,
        "missing": ["driver|service"],
    }
    assert host["findings"] == [] and "bod-17-01" in host["cannot_conclude"]
    assert code == 1, "nothing found on an incomplete inventory is not the clean exit 0"
    assert "incomplete: cannot conclude on 1 host(s) (win-only-programs)" in err

    code, out, _ = run_cli(capsys, "scan", "--from", "osquery", str(log))
    assert code == 1
    assert "No covered software found" not in out
    assert "Incomplete: cannot conclude" in out and "driver or service" in out

    code, out, _ = run_cli(capsys, "scan", "--from", "osquery", str(log), "--format", "csv")
    header, row = out.splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["complete"] == "false" and cells["missing"] == "driver|service"


def test_a_complete_host_with_nothing_found_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inventory = {
        "host": "ws-1",
        "hostname": "ws-1",
        "platform": "windows",
        "observations": [
            {"kind": "program", "name": "7-Zip 23.01 (x64)", "source": "osquery:programs"},
            {"kind": "driver", "name": "WdFilter.sys", "source": "osquery:drivers"},
        ],
    }
    path = tmp_path / "ws.jsonl"
    path.write_text(json.dumps(inventory) + "\n")
    code, out, _ = run_cli(capsys, "scan", "--from", "evict", str(path))
    assert code == 0
    assert "No covered software found on 1 host(s)" in out


DETERMINATIONS = ASSETS / "determinations" / "commonwealth.json"
"""Written by `evict determination list --org Commonwealth --all --format json` on a SQLite
database where three questions were answered and one answer was then revoked."""


def scan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code, out, err = run_cli(capsys, "scan", *argv, "--format", "json", "--today", "2026-12-05")
    return code, json.loads(out), err


def findings_of(doc: dict, product: str) -> list[dict]:
    return [f for h in doc["hosts"] for f in h["findings"] if f["product"] == product]


def test_scan_applies_exported_determinations_not_covered_drops_the_finding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sbom = ("--from", "cyclonedx", str(ASSETS / "cyclonedx" / "android-field-app-ci.cdx.json"))
    _, before, _ = scan_json(capsys, *sbom)
    asked = findings_of(before, "kaspersky-open-source")
    assert [f["determination"] for f in asked] == [
        {"question": "kaspersky-open-source-ndaa", "state": "needed"}
    ]
    _, after, err = scan_json(capsys, *sbom, "--determinations", str(DETERMINATIONS))
    assert findings_of(after, "kaspersky-open-source") == []
    assert "applying 2 determination(s)" in err
    assert "kaspersky-open-source-ndaa (not-covered)" in err
    # The look-alike of the anti-virus is still listed apart: the determination drops a finding,
    # it does not hide what the inventory holds.
    assert after["hosts"][0]["look_alikes"] == before["hosts"][0]["look_alikes"]


def test_scan_applies_exported_determinations_revoked_and_covered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The export's revoked answer (white-label code under BOD 17-01) is not applied; the same
    answer in force turns the embedded engine's BOD finding into an identified one."""
    sbom = ("--from", "cyclonedx", str(ASSETS / "cyclonedx" / "branch-gateways-oem-av.cdx.json"))
    _, revoked, _ = scan_json(capsys, *sbom, "--determinations", str(DETERMINATIONS))
    bod = [
        f for f in findings_of(revoked, "kaspersky-oem-products") if f["directive"] == "bod-17-01"
    ]
    assert bod and all(f["determination"]["state"] == "needed" for f in bod)

    exported = json.loads(DETERMINATIONS.read_text(encoding="utf-8"))
    for item in exported:
        item["revoked"] = False
    in_force = tmp_path / "in-force.json"
    in_force.write_text(json.dumps(exported), encoding="utf-8")
    code, covered, _ = scan_json(capsys, *sbom, "--determinations", str(in_force))
    bod = [
        f for f in findings_of(covered, "kaspersky-oem-products") if f["directive"] == "bod-17-01"
    ]
    assert code == 1
    assert bod and all(
        f["determination"] == {"question": "kaspersky-white-label-bod-17-01", "state": "covered"}
        for f in bod
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a list of determinations"),
        ('{"question": "x"}', "expected a JSON list of determinations"),
        (
            '[{"question": "no-such-question", "answer": "covered", "reasoning": "memo",'
            ' "decided_by": "Counsel", "decided_on": "2026-11-20"}]',
            "item 0: no question 'no-such-question'",
        ),
        (
            '[{"question": "deepseek-local-and-clients", "answer": "maybe", "reasoning": "memo",'
            ' "decided_by": "Counsel", "decided_on": "2026-11-20"}]',
            "answer 'maybe'",
        ),
        (
            '[{"question": "deepseek-local-and-clients", "answer": "covered", "reasoning": "m",'
            ' "decided_by": "Counsel", "decided_on": "2027-01-01"}]',
            "in the future",
        ),
    ],
)
def test_a_determinations_file_that_cannot_be_used_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "determinations.json"
    bad.write_text(content, encoding="utf-8")
    sbom = str(ASSETS / "cyclonedx" / "android-field-app-ci.cdx.json")
    code, out, err = run_cli(
        capsys, "scan", "--from", "cyclonedx", sbom, "--determinations", str(bad),
        "--today", "2026-12-05",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
