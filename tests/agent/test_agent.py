"""The agent against an in-process server on each backend: spool, enrol, digest first, retry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evict.agent.agent import Agent
from evict.agent.client import FleetClient
from evict.agent.spool import Spool
from evict.catalog.interface import Catalog
from evict.inventory.registry import open_source
from evict.model.observations import HostInventory
from tests.server.fleetkit import SERVER_ASSETS, Clock, Fleet, make_fleet


def inventories(log: str) -> list[HostInventory]:
    return list(open_source("osquery", [SERVER_ASSETS / log]).collect())


@pytest.fixture
def fleet(migrated_url: str) -> Iterator[Fleet]:
    from evict.catalog.loader import load_catalog

    catalog: Catalog = load_catalog()
    yield from make_fleet(migrated_url, catalog, Clock())


def agent_for(fleet: Fleet, spool: Path, **client: object) -> Agent:
    http = client.pop("http", fleet.client)
    fleet_client = FleetClient(
        "http://testserver",
        http=http,
        sleep=lambda s: None,
        **client,  # type: ignore[arg-type]
    )
    return Agent(fleet_client, Spool(spool), fleet.secret)


def test_a_multi_host_log_is_pushed_with_one_enrolment_per_host(
    fleet: Fleet, tmp_path: Path
) -> None:
    agent = agent_for(fleet, tmp_path)
    agent.queue(inventories("day1.osquery.log"), now=fleet.clock())
    delivery = agent.deliver()
    assert delivery.ok
    assert sorted(delivery.stored) == ["lx-app-03", "mac-eng-04", "win-fin-01", "win-hr-02"]
    enrolments = fleet.ctx.store.audit_events(action_prefix="host.")
    assert len(enrolments) == 4
    fleet.work()
    assert fleet.state("win-fin-01") == "identified"
    assert fleet.state("mac-eng-04") == "clean"


def test_unchanged_hosts_only_check_in(fleet: Fleet, tmp_path: Path) -> None:
    agent = agent_for(fleet, tmp_path)
    agent.queue(inventories("day1.osquery.log"), now=fleet.clock())
    agent.deliver()
    fleet.clock.advance(days=14)
    agent.queue(inventories("day2.osquery.log"), now=fleet.clock())
    delivery = agent.deliver()
    assert sorted(delivery.stored) == ["lx-app-03", "win-fin-01"]
    assert sorted(delivery.unchanged) == ["mac-eng-04", "win-hr-02"]
    assert len(fleet.ctx.store.audit_events(action_prefix="host.")) == 4, "no re-enrolment"
    mac = fleet.ctx.store.host(fleet.ctx.store.org("DHS").id, "mac-eng-04")
    assert mac.last_seen == fleet.clock()


def test_reports_wait_in_the_spool_while_the_server_is_down(fleet: Fleet, tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    offline = httpx.Client(base_url="http://testserver", transport=httpx.MockTransport(down))
    agent = agent_for(fleet, tmp_path, http=offline, retries=1)
    agent.queue(inventories("day1.osquery.log"), now=fleet.clock())
    delivery = agent.deliver()
    assert (delivery.ok, delivery.pending, delivery.stored) == (False, 4, [])
    assert "connection refused" in delivery.error
    assert len(Spool(tmp_path).pending()) == 4
    later = agent_for(fleet, tmp_path).deliver()
    assert later.ok and len(later.stored) == 4
    assert Spool(tmp_path).pending() == []


def test_a_retired_credential_is_replaced_once_an_admin_allows_it(
    fleet: Fleet, tmp_path: Path
) -> None:
    agent = agent_for(fleet, tmp_path)
    agent.queue(inventories("day1.osquery.log")[:1], now=fleet.clock())
    assert agent.deliver().ok
    store = fleet.ctx.store
    host = store.host(store.org("DHS").id, "win-fin-01")
    store.allow_reenroll(host, actor="user:admin", now=fleet.clock())
    fleet.enroll("win-fin-01")  # someone enrolled the host again elsewhere, with permission
    agent.queue(inventories("day2.osquery.log")[:1], now=fleet.clock())
    refused = agent.deliver()
    assert (refused.ok, refused.pending, refused.rejected) == (False, 1, [])
    assert "allow-reenroll" in refused.error, "the report waits, with what to do"
    store.allow_reenroll(host, actor="user:admin", now=fleet.clock())
    delivery = agent.deliver()
    assert delivery.stored == ["win-fin-01"]


def test_a_refused_report_is_set_aside_with_the_reason(migrated_url: str, tmp_path: Path) -> None:
    from evict.catalog.loader import load_catalog

    for fleet in make_fleet(migrated_url, load_catalog(), Clock(), max_observations=4):
        agent = agent_for(fleet, tmp_path)
        agent.queue(inventories("day1.osquery.log"), now=fleet.clock())
        delivery = agent.deliver()
        assert sorted(delivery.stored) == ["mac-eng-04"]
        assert len(delivery.rejected) == 3
        reasons = sorted((tmp_path / "rejected").glob("*.reason.txt"))
        assert len(reasons) == 3
        assert "at most 4 are accepted" in reasons[0].read_text()
        assert Spool(tmp_path).pending() == []


def test_a_wrong_secret_stops_delivery_and_leaves_nothing_behind(
    fleet: Fleet, tmp_path: Path
) -> None:
    client = FleetClient("http://testserver", http=fleet.client, sleep=lambda s: None)
    agent = Agent(client, Spool(tmp_path), "wrong-secret")
    queued = agent.queue(inventories("day1.osquery.log"), now=fleet.clock())
    delivery = agent.deliver()
    assert delivery.stopped is not None, "the first enrolment refused stops the run"
    assert (delivery.pending, delivery.rejected, delivery.stored) == (4, [], [])
    assert "--enroll-secret" in delivery.error
    agent.discard(queued)
    assert Spool(tmp_path).pending() == []
    rejected = tmp_path / "rejected"
    assert not rejected.exists() or not any(rejected.iterdir())


def test_addresses_reach_the_server_and_go_along_a_check_in_only_when_changed(
    fleet: Fleet, tmp_path: Path
) -> None:
    import dataclasses

    from evict.store.network import NetworkStore

    sent: list[dict[str, object]] = []
    original = fleet.client.request

    def spy(method: str, url: str, **kwargs: object) -> httpx.Response:
        if str(url).endswith("/api/v1/inventory/digest"):
            sent.append(dict(kwargs.get("json") or {}))  # type: ignore[call-overload]
        return original(method, url, **kwargs)  # type: ignore[arg-type]

    def with_addresses(log: str, *addresses: str) -> list[HostInventory]:
        return [
            dataclasses.replace(inv, addresses=addresses)
            for inv in inventories(log)
            if inv.host == "mac-eng-04"
        ]

    agent = agent_for(fleet, tmp_path)
    agent.queue(with_addresses("day1.osquery.log", "10.0.0.5"), now=fleet.clock())
    assert agent.deliver().stored == ["mac-eng-04"]
    network = NetworkStore(fleet.ctx.store)
    mac = fleet.ctx.store.host(fleet.ctx.store.org("DHS").id, "mac-eng-04")
    assert [a for a, _, _ in network.addresses(mac.id)] == ["10.0.0.5"]
    fleet.client.request = spy  # type: ignore[method-assign]
    for addresses in (("10.0.0.5",), ("10.0.0.9",)):
        fleet.clock.advance(days=1)
        agent.queue(with_addresses("day2.osquery.log", *addresses), now=fleet.clock())
        assert agent.deliver().unchanged == ["mac-eng-04"]
    assert [b.get("addresses") for b in sent] == [None, ["10.0.0.9"]]
    held = network.addresses(mac.id)
    assert [(a, until is None) for a, _, until in held] == [("10.0.0.5", False), ("10.0.0.9", True)]


def test_network_logs_are_sent_with_an_operators_token_not_a_host_credential(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    from evict.agent.client import Refused
    from evict.agent.network import push_network
    from evict.cli import main

    log = Path(__file__).parents[1] / "assets" / "network" / "squid-access.log"
    devices = list(open_source("squid", [log], catalog=fleet.ctx.catalog).collect())
    client = FleetClient("http://testserver", http=fleet.client, sleep=lambda s: None)
    fleet.clock.now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    token = fleet.ctx.store.create_token("operator-1", days=1, actor="t", now=fleet.clock())[1]
    answer = push_network(client, token, devices)
    # 10.0.0.6 asked only look-alikes; laptop-17 is logged by name and cannot be joined.
    assert answer["unmanaged"] == ["10.0.0.5", "10.0.0.8"]
    auditor = fleet.ctx.store.create_token("auditor-1", days=1, actor="t", now=fleet.clock())[1]
    with pytest.raises(Refused) as refused:
        push_network(client, auditor, devices)
    assert refused.value.status == 403
    # The command line: network logs alone, and a token.
    args = ["agent", "--server", "http://127.0.0.1:9", "--from", "squid", str(log)]
    assert main([*args, "--from", "osquery", str(log)]) == 2
    assert "separately" in capsys.readouterr().err
    assert main(args) == 2
    assert "--token" in capsys.readouterr().err
    assert main([*args, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert '"net:10.0.0.8"' in printed and "tiktok" in printed
