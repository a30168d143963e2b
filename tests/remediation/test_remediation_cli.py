"""``evict plan`` and ``evict block`` as a user runs them: offline inventories, the fleet
database, several hosts, bad input, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evict.cli import main
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory
from tests.remediation.remedykit import NOW, REMEDIATION_ASSETS, SAMPLE_FLEET, TODAY

FROM = ["--from", "osquery", str(SAMPLE_FLEET)]


def test_plan_for_one_host_of_an_offline_log(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", "hq-fin-ws-0142", *FROM, "--format", "powershell"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("#Requires -RunAsAdministrator")
    assert "'{9EE91037-F015-4120-ACC8-C673D5134034}'" in out


def test_plan_for_every_affected_host_says_which_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["plan", *FROM, "--format", "json", "--today", TODAY.isoformat()])
    captured = capsys.readouterr()
    assert code == 1, "some hosts are coverage gaps"
    plans = {p["host"]: p for p in json.loads(captured.out)["plans"]}
    assert plans["lgl-mbp-0231"]["refusal"].startswith("coverage gap")
    assert plans["hq-fin-ws-0142"]["refusal"] is None
    assert "nothing covered on dc1-web-lx-004" in captured.err
    assert "lgl-mbp-0231: coverage gap" in captured.err


def test_one_host_formats_need_a_directory_for_many_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", *FROM, "--format", "sh", "--install", "clamav"]) == 2
    assert "give --output DIR" in capsys.readouterr().err
    out = tmp_path / "plans"
    code = main(["plan", *FROM, "--format", "sh", "--install", "clamav", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1, "the macOS laptop without protection still refuses"
    assert {p.name for p in out.iterdir()} >= {"dc1-app-lx-017.sh", "lgl-mbp-0231.sh"}
    assert "no sh plan: hq-fin-ws-0142 is a windows host" in err
    assert "apt-get install -y clamav" in (out / "dc1-app-lx-017.sh").read_text()


def test_plan_needs_exactly_one_kind_of_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--format", "json"]) == 2
    assert main(["plan", "--this-host", *FROM, "--format", "json"]) == 2
    assert "give one of HOST" in capsys.readouterr().err


def test_host_without_a_fleet_database_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main(["plan", "hq-fin-ws-0142", "--db", str(missing), "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "no fleet database" in err and "--from KIND PATH" in err


def test_a_bad_policy_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    bad = REMEDIATION_ASSETS / "policy" / "unknown-product.yaml"
    assert main(["plan", *FROM, "--format", "json", "--policy", str(bad)]) == 2
    assert "unknown-product.yaml" in capsys.readouterr().err


def test_plan_for_a_host_and_an_org_of_the_fleet_database(
    tmp_path: Path,
    matcher: Matcher,
    fleet: dict[str, HostInventory],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evict.agent.wire import inventory_digest
    from evict.model.records import InventoryReport
    from evict.service.evaluate import MatchWorker
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine, upgrade
    from evict.store.store import Store

    url = normalise_database_url(str(tmp_path / "fleet.db"))
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    for name in ("hq-fin-ws-0142", "dc1-web-lx-004"):
        inv = fleet[name]
        host, _ = store.enroll(
            secret, inv.host, hostname=inv.hostname, platform=inv.platform.value, now=NOW
        )
        report = InventoryReport(
            f"r-{name}", inventory_digest(inv.observations), inv.observations, inv.hostname
        )
        store.ingest(host, report, now=NOW)
    MatchWorker(store, matcher).run_once(now=NOW, today=TODAY)
    store.close()

    assert (
        main(["plan", "hq-fin-ws-0142", "--db", str(tmp_path / "fleet.db"), "--format", "json"])
        == 0
    )
    (plan,) = json.loads(capsys.readouterr().out)["plans"]
    assert plan["protection"] == ["microsoft-defender"]
    assert "{9EE91037-F015-4120-ACC8-C673D5134034}" in json.dumps(plan["steps"])
    code = main(["plan", "--org", "DHS", "--db", str(tmp_path / "fleet.db"), "--format", "ansible"])
    captured = capsys.readouterr()
    assert code == 0
    assert "hosts: hq-fin-ws-0142" in captured.out
    assert "nothing covered on dc1-web-lx-004" in captured.err


def test_block_writes_the_rpz_zone_with_todays_serial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kaspersky.rpz"
    code = main(
        ["block", "bod-17-01", "--format", "dns-rpz", "--today", "2026-11-27", "-o", str(out)]
    )
    assert code == 0
    assert "( 2026112701 3600 600 604800 300 )" in out.read_text()
    assert main(["block", "bod-99-99", "--format", "json"]) == 2
    assert "no directive 'bod-99-99'" in capsys.readouterr().err
