"""The fleet commands, run in-process on each backend: output contracts and exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from evict.agent.wire import inventory_digest
from evict.cli import main
from evict.model.records import InventoryReport
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store
from tests.server.fleetkit import KES, SPOOLER, ZIP


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def seeded(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """An organisation with two hosts pushed (one with Kaspersky), evaluated by `evict worker`."""
    code, out, _ = run(capsys, "org", "create", "DHS", "--db", url)
    assert code == 0
    secret = out.strip().splitlines()[-1]
    store = Store(make_engine(normalise_database_url(url)))
    now = dt.datetime.now(dt.UTC)
    for name, observations in (("ws-kes", (KES, ZIP, SPOOLER)), ("ws-clean", (ZIP, SPOOLER))):
        host, _ = store.enroll(secret, name, hostname=name, platform="windows", now=now)
        digest = inventory_digest(observations)
        store.ingest(host, InventoryReport(f"report-{name}", digest, observations), now=now)
    store.close()
    code, out, _ = run(capsys, "worker", "--once", "--db", url)
    assert code == 0 and json.loads(out)["evaluated"] == 2
    return secret


def test_org_create_prints_the_secret_alone_on_the_last_line(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "org", "create", "DHS", "--db", migrated_url)
    assert code == 0
    last = out.splitlines()[-1]
    assert last.startswith("eve_") and last == last.strip() and len(last) > 40
    code, out, _ = run(capsys, "org", "unit", "create", "DHS", "CBP", "--db", migrated_url)
    assert code == 0 and out.splitlines()[-1].startswith("eve_")
    code, _, err = run(capsys, "org", "create", "DHS", "--db", migrated_url)
    assert code == 2 and "already exists" in err and "Traceback" not in err


def test_users_and_tokens_from_the_command_line(
    migrated_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "org", "create", "DHS", "--db", migrated_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code, out, _ = run(
        capsys,
        "user",
        "create",
        "alice",
        "--org",
        "DHS",
        "--role",
        "operator",
        "--password-stdin",
        "--db",
        migrated_url,
    )
    assert code == 0 and "operator" in out
    code, out, _ = run(capsys, "token", "create", "alice", "--expires", "7", "--db", migrated_url)
    token = out.splitlines()[-1]
    assert code == 0 and token.startswith("evt_")
    store = Store(make_engine(normalise_database_url(migrated_url)))
    caller = store.principal_for_token(token, dt.datetime.now(dt.UTC))
    assert caller is not None and caller.name == "alice"
    assert store.principal_for_password("alice", "a long enough password") is not None
    store.close()
    code, _, err = run(capsys, "token", "create", "nobody", "--db", migrated_url)
    assert code == 2 and "no user named 'nobody'" in err


def test_lifecycle_commands_and_the_csv_report(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded(migrated_url, capsys)
    code, out, _ = run(capsys, "report", "bod-17-01", "--format", "csv", "--db", migrated_url)
    assert code == 0
    header, *lines = out.splitlines()
    columns = header.split(",")
    assert columns[0] == "host" and "state" in columns
    for column in (
        "hostname",
        "org_unit",
        "products",
        "milestone",
        "due",
        "days_left",
        "last_seen",
    ):
        assert column in columns
    state = {ln.split(",")[0]: ln.split(",")[columns.index("state")] for ln in lines}
    assert state == {"ws-kes": "identified", "ws-clean": "clean"}

    code, out, _ = run(
        capsys,
        "host",
        "state",
        "ws-kes",
        "--directive",
        "bod-17-01",
        "--to",
        "planned",
        "--reason",
        "CHG-7",
        "--db",
        migrated_url,
    )
    assert (code, out.strip()) == (0, "ws-kes: bod-17-01: identified -> planned")
    code, _, err = run(
        capsys,
        "host",
        "state",
        "ws-clean",
        "--directive",
        "bod-17-01",
        "--to",
        "planned",
        "--db",
        migrated_url,
    )
    assert code == 2 and "no covered product is open" in err

    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    code, out, _ = run(
        capsys,
        "waive",
        "ws-kes",
        "--directive",
        "bod-17-01",
        "--justification",
        "isolated lab",
        "--approver",
        "CISO",
        "--expires",
        expires,
        "--db",
        migrated_url,
    )
    assert code == 0 and "waived until" in out
    code, _, err = run(
        capsys,
        "waive",
        "*",
        "--directive",
        "bod-17-01",
        "--justification",
        "all of them",
        "--approver",
        "CISO",
        "--expires",
        expires,
        "--db",
        migrated_url,
    )
    assert code == 2 and "no blanket waivers" in err
    code, _, err = run(
        capsys, "waive", "ws-clean", "--directive", "bod-17-01", "--justification", "lab",
        "--grounds", "national-security", "--approver", "CISO", "--expires", expires,
        "--db", migrated_url,
    )  # fmt: skip
    assert code == 2 and "bod-17-01 lists no exception grounds" in err

    code, out, _ = run(
        capsys, "report", "bod-17-01", "--format", "json", "--org", "DHS", "--db", migrated_url
    )
    data = json.loads(out)
    assert data["summary"]["states"] == {"clean": 1, "waived": 1}

    code, out, _ = run(capsys, "audit", "verify", "--db", migrated_url)
    assert code == 0 and "intact" in out


def test_adopt_sets_the_organisations_clock(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded(migrated_url, capsys)
    code, _, _ = run(
        capsys, "adopt", "bod-17-01", "--org", "DHS", "--start", "2026-01-01", "--db", migrated_url
    )
    assert code == 0
    code, out, _ = run(
        capsys,
        "report",
        "bod-17-01",
        "--org",
        "DHS",
        "--format",
        "json",
        "--today",
        "2026-01-10",
        "--db",
        migrated_url,
    )
    hosts = json.loads(out)["hosts"]
    assert {h["due"] for h in hosts} == {"2026-01-31"}, "day 30 of the organisation's clock"
    code, _, err = run(
        capsys, "adopt", "no-such", "--org", "DHS", "--start", "2026-01-01", "--db", migrated_url
    )
    assert code == 2 and "no directive" in err


def test_audit_verify_exits_1_on_a_tampered_chain(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded(migrated_url, capsys)
    engine = make_engine(normalise_database_url(migrated_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_events WHERE seq = 3")
    engine.dispose()
    code, _, err = run(capsys, "audit", "verify", "--db", migrated_url)
    assert code == 1 and "BROKEN at event 4 (deleted)" in err


def test_commands_refuse_an_unmigrated_database(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "org", "create", "DHS", "--db", database_url)
    assert code == 2 and "evict db upgrade" in err
    code, out, _ = run(capsys, "db", "upgrade", "--db", database_url)
    assert code == 0 and "upgraded from empty" in out
    code, out, _ = run(capsys, "db", "upgrade", "--db", database_url)
    assert code == 0 and "already at revision" in out


def test_the_server_upgrades_sqlite_itself_but_refuses_an_old_postgresql_schema(
    database_url: str, capsys: pytest.CaptureFixture[str], server_catalog
) -> None:
    from evict.model.records import SchemaError
    from evict.server.app import build_context
    from evict.settings import Settings
    from evict.store.engine import current_revision, head_revision

    settings = Settings(database_url=normalise_database_url(database_url), run_worker=False)
    if database_url.startswith("sqlite"):
        context = build_context(settings, catalog=server_catalog)
        assert current_revision(context.store.engine) == head_revision()
        context.store.close()
        return
    with pytest.raises(SchemaError, match="evict db upgrade"):
        build_context(settings, catalog=server_catalog)
    code, _, err = run(capsys, "serve", "--db", database_url, "--port", "1")
    assert code == 2 and "run `evict db upgrade" in err


def test_agent_dry_run_prints_exactly_what_would_be_sent(
    capsys: pytest.CaptureFixture[str], asset
) -> None:
    log = asset("server", "day1.osquery.log")
    code, out, _ = run(
        capsys,
        "agent",
        "--server",
        "http://127.0.0.1:9",
        "--dry-run",
        "--from",
        "osquery",
        str(log),
    )
    assert code == 0
    bodies = [json.loads(line) for line in out.splitlines()]
    assert [b["host"]["id"] for b in bodies] == [
        "win-fin-01",
        "win-hr-02",
        "lx-app-03",
        "mac-eng-04",
    ]
    first = bodies[0]
    assert first["digest"] == inventory_digest(
        [
            __import__("evict.inventory.interface", fromlist=["Observation"]).Observation.from_json(
                o
            )
            for o in first["observations"]
        ]
    )
    assert {"report_id", "collected_at", "observations", "evict_version"} <= set(first)


def test_agent_needs_an_enrolment_secret(
    capsys: pytest.CaptureFixture[str], asset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVICT_ENROLL_SECRET", raising=False)
    code, _, err = run(
        capsys,
        "agent",
        "--server",
        "http://127.0.0.1:9",
        "--from",
        "osquery",
        str(asset("server", "day1.osquery.log")),
    )
    assert code == 2 and "--enroll-secret" in err


def test_an_unreachable_server_keeps_the_reports_and_exits_1(
    capsys: pytest.CaptureFixture[str], asset, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evict.agent import client

    monkeypatch.setattr(client.time, "sleep", lambda s: None)
    code, _, err = run(
        capsys,
        "agent",
        "--server",
        "http://127.0.0.1:9",
        "--enroll-secret",
        "eve_x",
        "--spool",
        str(tmp_path),
        "--from",
        "osquery",
        str(asset("server", "day1.osquery.log")),
    )
    assert code == 1
    assert "4 report(s) kept" in err
    assert len(list((tmp_path / "outbox").glob("*.json.gz"))) == 4


def test_org_silence_sets_the_days_verified_waits_for(
    capsys: pytest.CaptureFixture[str], migrated_url: str
) -> None:
    from evict.store.network import NetworkStore
    from evict.store.store import Store

    run(capsys, "org", "create", "DHS", "--db", migrated_url)
    code, out, _ = run(capsys, "org", "silence", "DHS", "14", "--db", migrated_url)
    assert code == 0 and "14 day(s) without vendor traffic" in out
    store = Store.open(migrated_url)
    try:
        org = store.org("DHS")
        assert NetworkStore(store).silence_days([org.id]) == {org.id: 14}
        assert any(e.action == "org.silence" for e in store.iter_audit())
    finally:
        store.close()
    code, _, err = run(capsys, "org", "silence", "DHS", "-1", "--db", migrated_url)
    assert code == 2 and "0 to 3650" in err
