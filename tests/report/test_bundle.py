"""`evict evidence`: a zip whose manifest, audit chain and reports check out without a database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from evict.catalog.loader import builtin_catalog_dir
from evict.cli import main
from evict.compliance.audit import AuditEvent, verify_chain
from evict.report.directives import available
from evict.report.interface import Format
from tests.report.reportkit import PROFILE, TODAY, SeededFleet


def evidence(
    url: str, out: Path, capsys: pytest.CaptureFixture[str], directive: str = "bod-17-01"
) -> tuple[int, str, str]:
    code = main(
        [
            "evidence",
            directive,
            "--org",
            "DHS",
            "--out",
            str(out),
            "--profile",
            str(PROFILE),
            "--today",
            TODAY.isoformat(),
            "--db",
            url,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def events_of(archive: zipfile.ZipFile) -> list[AuditEvent]:
    out = []
    for line in archive.read("audit/events.jsonl").decode().splitlines():
        e = json.loads(line)
        out.append(
            AuditEvent(
                e["seq"],
                e["at"],
                e["actor"],
                e["action"],
                e["subject"],
                e["org"],
                e["payload"],
                e["prev_hash"],
                e["hash"],
            )
        )
    return out


def test_the_bundle_verifies_against_its_manifest_and_evict_audit_verify(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "bod-17-01-evidence.zip"
    code, printed, _ = evidence(migrated_url, out, capsys)
    assert code == 0, printed
    assert main(["audit", "verify", "--db", migrated_url]) == 0
    verified = capsys.readouterr().out
    events, head = re.search(r"intact: (\d+) events, head ([0-9a-f]{64})", verified).groups()

    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("MANIFEST.json"))
        listed = {f["path"]: f for f in manifest["files"]}
        assert set(listed) == set(archive.namelist()) - {"MANIFEST.json", "MANIFEST.sig"}
        for path, entry in listed.items():
            data = archive.read(path)
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], path
            assert len(data) == entry["bytes"], path

        assert manifest["audit_head"]["hash"] == head
        assert manifest["audit_intact"] is True
        head_file = json.loads(archive.read("audit/head.json"))
        assert (head_file["seq"], head_file["hash"]) == (int(events), head)
        chain = events_of(archive)
        assert len(chain) == int(events)
        assert verify_chain(chain, head=(head_file["seq"], head_file["hash"])).ok

        for kind in available(seeded.catalog.directive("bod-17-01")):
            for fmt in Format:
                assert f"reports/bod-17-01-{kind.value}.{fmt.value}" in listed
        assert archive.read("reports/bod-17-01-day60.pdf").startswith(b"%PDF-")
        hosts = list(
            csv.DictReader(io.StringIO(archive.read("reports/bod-17-01-hosts.csv").decode()))
        )
        assert {"host", "state"} <= set(hosts[0]) and len(hosts) == 12
        day60 = archive.read("reports/bod-17-01-day60.csv").decode()
        assert "jordan.example@example.gov" in day60

        findings = [json.loads(x) for x in archive.read("findings.jsonl").decode().splitlines()]
        laptop = [f for f in findings if f["host"] == "laptop-7"]
        assert laptop and all(f["directive"] == "bod-17-01" for f in laptop)
        assert any(e["source"].startswith("reg:") for f in laptop for e in f["evidence"])

        assert archive.read("catalog/VERSION").decode().strip() == seeded.catalog.version
        builtin = builtin_catalog_dir() / "directives.yaml"
        assert archive.read("catalog/files/builtin/directives.yaml") == builtin.read_bytes()
        manifest_sha = hashlib.sha256(archive.read("MANIFEST.json")).hexdigest()
    assert f"manifest sha256 {manifest_sha}" in printed


def test_a_tampered_audit_chain_is_exported_as_it_is_and_reported(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with seeded.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'cli:mallory' WHERE seq = :seq"), {"seq": 5}
        )
    out = tmp_path / "evidence.zip"
    # BIS 2024 asks for no report of its own: the quickest bundle to write
    code, _, err = evidence(migrated_url, out, capsys, "bis-kaspersky-2024")
    assert code == 1 and "audit chain BROKEN at event 5 (altered)" in err
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("MANIFEST.json"))
        assert manifest["audit_intact"] is False
        verification = json.loads(archive.read("audit/head.json"))["verification"]
        assert verification["first_bad"]["seq"] == 5
        # the whole chain is there, as stored, for an auditor to see
        chain = events_of(archive)
        assert [e.seq for e in chain] == list(range(1, manifest["audit_head"]["seq"] + 1))
        assert chain[4].actor == "cli:mallory"


def test_an_unwritable_destination_is_an_error_and_leaves_nothing(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "missing-dir" / "evidence.zip"
    code, _, err = evidence(migrated_url, out, capsys)
    assert code == 2 and "cannot write the evidence bundle" in err and "Traceback" not in err
    assert not out.parent.exists()
