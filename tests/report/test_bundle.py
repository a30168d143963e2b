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
from evict.report.interface import Format, ReportKind
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
            if kind is ReportKind.HOSTS:
                # the per-host report is the annex, streamed: no per-host PDF to lay out
                for ext in ("csv", "json", "jsonl"):
                    assert f"reports/bod-17-01-hosts.{ext}" in listed
                assert "reports/bod-17-01-hosts.pdf" not in listed
                continue
            for fmt in Format:
                assert f"reports/bod-17-01-{kind.value}.{fmt.value}" in listed
            # each document names the annex by its SHA-256, as the manifest lists it
            doc = json.loads(archive.read(f"reports/bod-17-01-{kind.value}.json"))
            annex = next(s for s in doc["sections"] if s["id"] == "host-annex")
            named = {f["name"]: f["value"] for f in annex["fields"]}
            for ext in ("csv", "json", "jsonl"):
                path = f"reports/bod-17-01-hosts.{ext}"
                assert listed[path]["sha256"] in named[path]
        as_json = json.loads(archive.read("reports/bod-17-01-hosts.json"))
        as_lines = archive.read("reports/bod-17-01-hosts.jsonl").decode().splitlines()
        assert [json.loads(x) for x in as_lines] == as_json["hosts"]
        assert as_json["summary"]["hosts"] == len(as_json["hosts"]) == 12
        assert all(archive.getinfo(p).compress_type == zipfile.ZIP_DEFLATED for p in listed)
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


def rewrite(src: Path, dst: Path, **changes: bytes) -> None:
    """Copy the bundle ``src`` to ``dst`` with some members' contents replaced or added
    (keyword names use ``__`` for ``/`` and ``_dot_`` for ``.``)."""
    wanted = {k.replace("__", "/").replace("_dot_", "."): v for k, v in changes.items()}
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            new.writestr(info, wanted.pop(info.filename, None) or old.read(info))
        for name, data in wanted.items():
            new.writestr(name, data)


def verify_bundle_cli(
    capsys: pytest.CaptureFixture[str], bundle: Path, *extra: str
) -> tuple[int, str, str]:
    code = main(["evidence", "verify", str(bundle), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def signed_bundle(
    seeded: SeededFleet, migrated_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> tuple[Path, Path]:
    """A bundle written by `evict evidence`, and the server's public key from `evict audit key`."""
    out = tmp_path / "evidence.zip"
    code, _, _ = evidence(migrated_url, out, capsys, "bis-kaspersky-2024")
    assert code == 0
    assert main(["audit", "key"]) == 0
    public = tmp_path / "audit.pub"
    public.write_text(capsys.readouterr().out)
    return out, public


def test_a_signed_bundle_verifies_offline_with_the_servers_public_key(
    signed_bundle: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, public = signed_bundle
    code, out, err = verify_bundle_cli(capsys, bundle, "--public-key", str(public))
    assert code == 0, err
    assert "evidence bundle verified" in out and "audit chain intact to event" in out
    code, out, _ = verify_bundle_cli(capsys, bundle)
    assert code == 0 and "the key was read from the bundle itself" in out
    with zipfile.ZipFile(bundle) as archive:
        head = json.loads(archive.read("audit/head.json"))["signed_head"]
        assert json.loads(archive.read("MANIFEST.json"))["signed_head"] == head


def test_a_changed_file_fails_bundle_verification(
    signed_bundle: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bundle, public = signed_bundle
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(bundle) as archive:
        findings = archive.read("findings.jsonl").replace(b"laptop-7", b"laptop-8")
    rewrite(bundle, changed, findings_dot_jsonl=findings)
    code, _, err = verify_bundle_cli(capsys, changed, "--public-key", str(public))
    assert code == 1 and "findings.jsonl: its SHA-256 differs" in err and "FAILS" in err

    added = tmp_path / "added.zip"
    rewrite(bundle, added, reports__extra_dot_csv=b"host,state\n")
    code, _, err = verify_bundle_cli(capsys, added, "--public-key", str(public))
    assert code == 1 and "reports/extra.csv is in the bundle but not in the manifest" in err

    hostile = tmp_path / "hostile.zip"
    rewrite(bundle, hostile, audit__events_dot_jsonl=b'{"seq": [], "at": 1}\n')
    code, _, err = verify_bundle_cli(capsys, hostile, "--public-key", str(public))
    assert code == 1 and "audit/events.jsonl cannot be read" in err and "Traceback" not in err


def test_a_changed_manifest_fails_bundle_verification(
    signed_bundle: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bundle, public = signed_bundle
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("MANIFEST.json"))
        findings = archive.read("findings.jsonl").replace(b"laptop-7", b"laptop-8")
    # the attacker changes a file and updates its hash in the manifest: the signature breaks
    for entry in manifest["files"]:
        if entry["path"] == "findings.jsonl":
            entry["sha256"] = hashlib.sha256(findings).hexdigest()
    changed = tmp_path / "changed.zip"
    rewrite(
        bundle,
        changed,
        findings_dot_jsonl=findings,
        MANIFEST_dot_json=json.dumps(manifest, indent=2).encode(),
    )
    code, _, err = verify_bundle_cli(capsys, changed, "--public-key", str(public))
    assert code == 1 and "signature of MANIFEST.json does not verify" in err

    unsigned = tmp_path / "unsigned.zip"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(unsigned, "w") as new:
        for info in old.infolist():
            if info.filename != "MANIFEST.sig":
                new.writestr(info, old.read(info))
    code, _, err = verify_bundle_cli(capsys, unsigned, "--public-key", str(public))
    assert code == 1 and "the manifest is not signed" in err


def test_a_bundle_fails_verification_with_another_key(
    signed_bundle: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from evict.signing import ensure_key, public_pem

    bundle, _ = signed_bundle
    other, _ = ensure_key(tmp_path / "other.pem")
    public = tmp_path / "other.pub"
    public.write_text(public_pem(other))
    code, _, err = verify_bundle_cli(capsys, bundle, "--public-key", str(public))
    assert code == 1 and "not with the key given" in err and "does not verify" in err

    # no bundle at all is an error, exit 2
    code, _, err = verify_bundle_cli(capsys, tmp_path / "missing.zip")
    assert code == 2 and "not a readable evidence bundle" in err and "Traceback" not in err


def test_the_bundles_signed_head_is_an_anchor_for_audit_verify(
    signed_bundle: tuple[Path, Path],
    seeded: SeededFleet,
    migrated_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle, _ = signed_bundle
    code = main(["audit", "verify", "--db", migrated_url, "--anchor", str(bundle)])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    with seeded.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 3"))
        conn.execute(
            text(
                "UPDATE audit_head SET seq = 3, "
                "hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1"
            )
        )
    code = main(["audit", "verify", "--db", migrated_url, "--anchor", str(bundle)])
    err = capsys.readouterr().err
    assert code == 1 and "(truncated)" in err and "audit/head.json" in err
