"""Traps a careless or new user walks into on the command line, each closed with a clear
message (exit 2) or a sane default, as docs/cli.md says."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evict.cli import main
from tests.security.serverkit import Server, setup_org

ASSETS = Path(__file__).parent / "assets"
ACCEPTANCE_LOG = ASSETS / "osquery" / "acceptance.log"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo fleet's database (one organisation)."""
    data = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "evict",
            "demo",
            "--hosts",
            "30",
            "--no-serve",
            "--data-dir",
            str(data),
        ],
        check=True,
        capture_output=True,
    )
    return data / "demo.db"


# -- catalog -------------------------------------------------------------------------------------


def test_catalog_show_prints_readable_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "catalog", "show", "kaspersky-endpoint-security")
    assert code == 0
    assert "<Confidence." not in out and "None" not in out and "{'" not in out
    assert out.startswith("product kaspersky-endpoint-security: Kaspersky Endpoint Security")
    assert re.search(r"^\s+confidence: high$", out, re.M)
    code, out, _ = run_cli(capsys, "catalog", "show", "bod-17-01")
    assert "embedded: no" in out and "offset days: 30" in out


def test_catalog_ids_ignore_case_and_suggest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "catalog", "show", "BOD-17-01")
    assert code == 0 and out.startswith("directive bod-17-01:")
    code, _, err = run_cli(capsys, "catalog", "show", "bod-17-1")
    assert code == 2 and "did you mean 'bod-17-01'" in err
    code, _, err = run_cli(capsys, "block", "OMB-M-23-13", "--format", "hosts")
    assert code == 0, err


# -- inputs and files ----------------------------------------------------------------------------


def test_simulate_writes_what_the_file_name_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "fleet.osquery.log"
    code, _, err = run_cli(capsys, "simulate", "--hosts", "3", "--out", str(out))
    assert code == 0 and "--from osquery" in err
    first = json.loads(out.read_text().splitlines()[0])
    assert "hostIdentifier" in first
    plain = tmp_path / "fleet.jsonl"
    run_cli(capsys, "simulate", "--hosts", "2", "--out", str(plain))
    assert "observations" in json.loads(plain.read_text().splitlines()[0])


def test_a_file_of_another_kind_is_named_in_the_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = tmp_path / "fleet.log"
    run_cli(capsys, "simulate", "--hosts", "2", "--format", "evict", "--out", str(lines))
    code, _, err = run_cli(capsys, "scan", "--from", "osquery", str(lines))
    assert code == 2
    assert "looks like a `--from evict` file" in err


def test_plan_takes_the_host_after_from(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(
        capsys,
        "plan",
        "--from",
        "osquery",
        str(ACCEPTANCE_LOG),
        "hq-fin-ws-0142",
        "--format",
        "json",
    )
    assert "no such file" not in err.lower(), err
    plan = json.loads(out)
    hosts = [p["host"] for p in plan["plans"]] if "plans" in plan else [plan["host"]]
    assert hosts == ["hq-fin-ws-0142"], err


def test_read_commands_do_not_create_a_missing_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nonexist.db"
    code, _, err = run_cli(capsys, "audit", "verify", "--db", str(missing))
    assert code == 2 and "no database at" in err
    assert not missing.exists()


def test_serve_on_a_busy_port_is_a_clean_error(tmp_path: Path) -> None:
    db = tmp_path / "evict.db"
    subprocess.run(
        [sys.executable, "-m", "evict", "db", "upgrade", "--db", str(db)],
        check=True,
        capture_output=True,
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "evict", "serve", "--db", str(db), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert "serving on" not in done.stderr
    assert "Address already in use" in done.stderr or "in use" in done.stderr


# -- reports and adoption ------------------------------------------------------------------------


def test_a_profile_the_listing_cannot_use_is_refused(
    capsys: pytest.CaptureFixture[str], demo_db: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"%PDF-1.4 not a profile")
    code, _, err = run_cli(
        capsys,
        "report",
        "bod-17-01",
        "--db",
        str(demo_db),
        "--format",
        "json",
        "--profile",
        str(bad),
    )
    assert code == 2 and "--profile" in err


def test_one_organisation_reports_alike_with_and_without_org(
    capsys: pytest.CaptureFixture[str], demo_db: Path
) -> None:
    args = ("report", "bod-17-01", "--db", str(demo_db), "--format", "json")
    code, plain, err = run_cli(capsys, *args)
    assert code == 0, err
    code, scoped, err = run_cli(capsys, *args, "--org", "Demo Agency")
    assert code == 0, err
    a, b = json.loads(plain), json.loads(scoped)
    a.pop("generated_at", None)
    b.pop("generated_at", None)
    assert a == b


def test_adopt_shows_milestones_and_asks_before_a_future_start(
    capsys: pytest.CaptureFixture[str], demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "copy.db"
    db.write_bytes(demo_db.read_bytes())
    base = ("adopt", "omb-m-23-13", "--org", "Demo Agency", "--db", str(db))
    code, out, err = run_cli(capsys, *base, "--start", "2030-01-01")
    assert code == 2 and "is in the future" in err and "--yes" in err
    assert "2030-01-31" in out, "the milestones the date would give are shown first"
    code, out, err = run_cli(capsys, *base, "--start", "2030-01-01", "--yes")
    assert code == 0 and "adopted from 2030-01-01" in out
    code, out, err = run_cli(capsys, *base, "--start", "2024-01-01")
    assert code == 0 and "2024-01-31" in out


# -- the agent -----------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'evict.db'}"
    subprocess.run(
        [sys.executable, "-m", "evict", "db", "upgrade", "--db", url],
        check=True,
        capture_output=True,
    )
    setup_org(url)
    srv = Server(url, tmp_path / "server.log")
    srv.start()
    yield srv
    srv.stop()


def test_the_agent_stops_at_a_wrong_secret_in_one_line(server: Server, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evict",
            "agent",
            "--once",
            "--server",
            server.base,
            "--enroll-secret",
            "wrong-secret",
            "--spool",
            str(spool),
            "--from",
            "osquery",
            str(ACCEPTANCE_LOG),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2
    assert len(lines) == 1, lines
    assert "refused" in lines[0] and "--enroll-secret" in lines[0]
    left = (
        [p for p in spool.rglob("*") if p.is_file() and p.suffix != ".json"]
        if spool.exists()
        else []
    )
    assert left == [], "nothing is left in the spool for a refusal no retry can fix"


def test_the_agent_ends_with_a_summary_and_names_hosts(server: Server, tmp_path: Path) -> None:
    secret = setup_org(server.url, "Treasury")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evict",
            "agent",
            "--once",
            "--server",
            server.base,
            "--enroll-secret",
            secret,
            "--spool",
            str(tmp_path / "spool"),
            "--from",
            "osquery",
            str(ACCEPTANCE_LOG),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert re.fullmatch(r"sent (\d+) host\(s\): \1 stored, 0 unchanged", lines[-1])
    assert not any(re.fullmatch(r"[0-9a-f]{32}: .*", line) for line in lines), lines
