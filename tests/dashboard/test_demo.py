"""``evict demo``: a fresh demo fleet with history and this host, a summary and a login."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from evict.cli import main
from evict.demo.fleet import ADMIN, ORG, build_demo
from evict.model.listings import HostFilter
from evict.model.observations import HostID, HostInventory, Platform
from evict.settings import normalise_database_url
from evict.store.dashboard import DashboardQueries
from evict.store.store import Store
from tests.dashboard.dashkit import KES, ZIP

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
THIS_HOST = HostInventory(
    HostID("this-host-id"), "analyst-laptop", Platform.WINDOWS, NOW, (KES, ZIP), "local"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("demo")
    return build_demo(directory, hosts=150, seed=1, now=NOW, this_host=[THIS_HOST])


def test_the_demo_fleet_has_units_users_adoptions_and_this_host(demo) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(demo.settings.database_url)
    org = store.org(ORG)
    units = {u.name for u in store.units(org.id)}
    assert {"HQ/CIO", "Regional Office/Denver", ORG} <= units
    assert store.principal_for_password(ADMIN, demo.password) is not None
    adopted = store.adoptions(org.id)
    assert adopted["bod-17-01"] == dt.date(2017, 9, 13)
    assert adopted["omb-m-23-13"] == (NOW - dt.timedelta(days=30)).date()
    this = store.host(org.id, "this-host-id")
    assert this.org_unit == ORG and this.hostname == "analyst-laptop"
    assert store.states([this.id])[this.id]["bod-17-01"].state.value == "identified"
    hosts = sum(n for _, _, n in store.state_counts("bod-17-01", org.id))
    assert hosts == 151 == demo.hosts + 1
    assert store.verify_audit().ok
    store.close()


def test_the_demo_has_a_burndown_history(demo) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(demo.settings.database_url)
    org = store.org(ORG)
    changes = DashboardQueries(store).carrying_changes(org.id, "bod-17-01")
    days = [d for d, _ in changes]
    assert len(days) >= 3 and days[0] <= (NOW - dt.timedelta(days=20)).date()
    assert any(delta < 0 for _, delta in changes), "some hosts were cleaned up"
    assert all(w.approver and w.justification for w in store.waivers(org.id))
    silent = HostFilter(seen_before=NOW - dt.timedelta(days=10))
    assert DashboardQueries(store).count_hosts(org.id, silent)[0] > 0, "some hosts went silent"
    store.close()


def test_the_demo_command_prints_the_summary_and_a_login(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-serve", "--hosts", "12", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "bod-17-01" in out and "omb-m-23-13" in out and "next milestone" in out
    password = re.search(r"Sign in as 'admin' with password (\S+)", out)
    assert password and "http://127.0.0.1:8000/" in out
    url = normalise_database_url(str(tmp_path / "demo.db"))
    store = Store.open(url)
    assert store.principal_for_password(ADMIN, password.group(1)) is not None
    assert len(store.orgs()) == 1
    store.close()
    # A second run starts over: one organisation, a new password.
    assert main(["demo", "--no-serve", "--hosts", "3", "--data-dir", str(tmp_path)]) == 0
    second = re.search(r"with password (\S+)", capsys.readouterr().out)
    assert second and second.group(1) != password.group(1)


def test_the_demo_reports_overdue_per_host_as_its_summary_counts(  # type: ignore[no-untyped-def]
    demo, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    argv = ["report", "bod-17-01", "--db", demo.settings.database_url, "--format", "json"]
    argv += ["--today", NOW.date().isoformat()]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    rows = [h for h in report["hosts"] if h["overdue"] is True]
    assert len(rows) == report["summary"]["overdue"] > 0
    assert all(h["days_left"] < 0 and h["due"] < NOW.date().isoformat() for h in rows)
    assert {h["milestone"] for h in rows} == {"Begin removal (day 90)"}
    states = report["summary"]["states"]
    assert states.get("incomplete", 0) > 0, "a few hosts report only their programs list"
    assert states.get("stale", 0) > 0, "silent hosts are not clean"


def test_a_demo_host_is_found_by_any_part_of_its_name_in_any_case(demo) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(demo.settings.database_url)
    org = store.org(ORG).id
    queries = DashboardQueries(store)
    first = queries.host_page(org, HostFilter(), limit=200).rows
    host = next(r for r in first if "-ws-" in r.hostname)
    digits = host.hostname.rsplit("-", 1)[1]  # e.g. hoot-ws-0000057 -> 0000057
    for text in (host.hostname.upper(), digits, host.identifier.lower()[:13]):
        found = queries.host_page(org, HostFilter(name=text), limit=200).rows
        assert host.id in {r.id for r in found}, text
        assert all(text.lower() in (r.hostname + r.identifier).lower() for r in found)
    store.close()
