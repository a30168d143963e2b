"""Network logs fed to the server: joined with the host that held the address, unmanaged devices,
removal reopened by traffic, and verification that waits for silence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from evict.catalog.loader import load_catalog
from evict.inventory.network.bind import BindSource
from evict.inventory.network.squid import SquidSource
from evict.inventory.network.zeek import ZeekSource
from evict.model.observations import HostInventory, Kind, Observation
from evict.store.network import NetworkStore
from tests.server.fleetkit import DEFENDER, KES, ZIP, Fleet

CATALOG = load_catalog()
"""The built-in catalog, whose endpoints the logs are read for."""

ASSETS = Path(__file__).parents[1] / "assets" / "network"
NOV = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)


def device_json(inv: HostInventory) -> dict[str, Any]:
    return {
        "host": {"id": inv.host, "hostname": inv.hostname},
        "collected_at": inv.collected_at.isoformat(),
        "source": inv.source,
        "observations": [o.to_json() for o in inv.observations],
    }


def auth(fleet: Fleet, who: str) -> dict[str, str]:
    """A token of ``who`` valid at the fleet's clock (the tests move it months ahead)."""
    token = fleet.ctx.store.create_token(f"{who}-1", days=1, actor="cli:test", now=fleet.clock())
    return {"Authorization": f"Bearer {token[1]}"}


def state(fleet: Fleet, host: str) -> str:
    response = fleet.client.get(f"/api/v1/hosts/{host}", headers=auth(fleet, "admin"))
    return str(response.json()["states"]["bis-kaspersky-2024"]["state"])


def upload(fleet: Fleet, devices: list[HostInventory], who: str = "operator") -> Any:
    response = fleet.client.post(
        "/api/v1/network",
        json={"devices": [device_json(d) for d in devices]},
        headers=auth(fleet, who),
    )
    return response


def push_at(fleet: Fleet, host: str, *observations: Observation, addresses: list[str]) -> None:
    if host not in fleet.credentials:
        fleet.enroll(host)
    body = fleet.body(host, observations)
    body["addresses"] = addresses
    response = fleet.send(host, body)
    assert response.status_code == 200, response.text


def zeek_devices() -> list[HostInventory]:
    return list(ZeekSource([ASSETS / "zeek-dns.log"], catalog=CATALOG).collect())


def ksn_at(address: str, when: dt.datetime) -> HostInventory:
    o = Observation.make(
        Kind.NETWORK,
        "dc1.ksn.kaspersky-labs.com",
        identifiers={
            "count": "4",
            "first_seen": when.isoformat(),
            "last_seen": (when + dt.timedelta(minutes=5)).isoformat(),
        },
        source="zeek",
    )
    return HostInventory(f"net:{address}", "", "unknown", when, (o,), "zeek")  # type: ignore[arg-type]


def test_traffic_is_credited_to_the_host_that_held_the_address_at_the_time(fleet: Fleet) -> None:
    fleet.clock.now = NOV
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5", "127.0.0.1", "fe80::1"])
    fleet.clock.now = NOV + dt.timedelta(days=14)  # still there on the 15th
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])
    fleet.clock.now = NOV + dt.timedelta(days=19)  # 20 November: the address moves to ws-b
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.99"])
    push_at(fleet, "ws-b", ZIP, addresses=["10.0.0.5"])
    fleet.clock.now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    push_at(fleet, "ws-b", ZIP, DEFENDER, addresses=["10.0.0.5"])
    # The real Zeek log (27 November): 10.0.0.5 asks KSN, 10.0.0.6 only look-alikes,
    # 10.0.0.8 TikTok from an address no enrolled host ever reported.
    result = upload(fleet, zeek_devices())
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["joined"] == ["ws-b"]
    assert body["unmanaged"] == ["10.0.0.8"]
    # Traffic from 10 November, when ws-a held the address, is ws-a's.
    body = upload(fleet, [ksn_at("10.0.0.5", dt.datetime(2026, 11, 10, tzinfo=dt.UTC))]).json()
    assert body["joined"] == ["ws-a"] and body["unmanaged"] == []
    # Traffic between ws-a's last check-in with the address and ws-b's first is not guessed
    # at: an unmanaged device.
    body = upload(fleet, [ksn_at("10.0.0.5", NOV + dt.timedelta(days=17))]).json()
    assert body["joined"] == [] and body["unmanaged"] == ["10.0.0.5"]
    network = NetworkStore(fleet.ctx.store)
    ws_a = fleet.ctx.store.find_host("ws-a")
    assert [a for a, _, _ in network.addresses(ws_a.id)] == ["10.0.0.5", "10.0.0.99"]
    uploads = fleet.ctx.store.audit_events(action_prefix="network.upload")
    assert len(uploads) == 3 and uploads[0].actor == "user:operator-1"
    listed = fleet.client.get("/api/v1/network/unmanaged", headers=auth(fleet, "auditor")).json()
    tiktok = next(d for d in listed["devices"] if d["address"] == "10.0.0.8")
    assert tiktok["products"] and tiktok["names"] == ["api16-normal-c-useast1a.tiktokv.com"]


def test_an_auditor_or_an_agent_cannot_upload_network_logs(fleet: Fleet) -> None:
    assert upload(fleet, zeek_devices(), who="auditor").status_code == 403
    fleet.enroll("ws-a")
    response = fleet.client.post(
        "/api/v1/network",
        json={"devices": []},
        headers={"Authorization": f"Bearer {fleet.credentials['ws-a']}"},
    )
    assert response.status_code == 401


def test_a_device_that_is_not_an_address_is_refused_with_where(fleet: Fleet) -> None:
    response = fleet.client.post(
        "/api/v1/network",
        json={"devices": [{"host": {"id": "10.0.0.5"}, "collected_at": "2026-11-27T00:00:00"}]},
        headers=auth(fleet, "operator"),
    )
    assert response.status_code == 422
    assert "devices[0].host.id" in response.text


def test_vendor_traffic_after_removal_reopens_the_host_with_the_evidence(fleet: Fleet) -> None:
    fleet.clock.now = NOV
    push_at(fleet, "ws-a", KES, addresses=["10.0.0.5"])
    fleet.work()
    fleet.clock.advance(days=3)
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])
    fleet.work()
    assert state(fleet, "ws-a") == "removed"
    # Traffic from before the removal changes nothing.
    before = upload(fleet, [ksn_at("10.0.0.5", NOV + dt.timedelta(days=1))]).json()
    assert before["joined"] == ["ws-a"] and before["reopened"] == []
    assert state(fleet, "ws-a") == "removed"
    fleet.clock.advance(days=1)
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])  # still holds it
    after = upload(fleet, [ksn_at("10.0.0.5", fleet.clock.now - dt.timedelta(hours=2))]).json()
    assert {"host": "ws-a", "directive": "bis-kaspersky-2024"} in after["reopened"]
    assert state(fleet, "ws-a") == "identified"
    events = fleet.client.get(
        "/api/v1/audit", params={"subject": "host:ws-a"}, headers=auth(fleet, "admin")
    ).json()
    text = str(events)
    assert "vendor traffic after removal" in text and "dc1.ksn.kaspersky-labs.com" in text
    # The host page shows the traffic beside the inventory's findings.
    from evict.model.records import Role
    from tests.dashboard.dashkit import login

    fleet.ctx.store.create_user(
        "viewer", org="DHS", role=Role.AUDITOR, password="a long passphrase 1", actor="t", now=NOV
    )
    login(fleet.client, "viewer", "a long passphrase 1")
    page = fleet.client.get(f"/hosts/{fleet.ctx.store.find_host('ws-a').id}")
    assert page.status_code == 200
    assert 'id="traffic"' in page.text and "dc1.ksn.kaspersky-labs.com" in page.text
    assert "network · medium confidence" in page.text and "<code>10.0.0.5</code> from" in page.text


def test_blocked_attempts_reopen_as_blocked_attempts(fleet: Fleet) -> None:
    fleet.clock.now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    push_at(fleet, "ws-a", KES, addresses=["10.0.0.5"])
    fleet.work()
    fleet.clock.advance(days=1)
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])
    fleet.work()
    fleet.clock.now = dt.datetime(2026, 12, 5, 8, tzinfo=dt.UTC)
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])
    devices = list(BindSource([ASSETS / "bind-rpz.log"], catalog=CATALOG).collect())
    body = upload(fleet, devices).json()
    assert {"host": "ws-a", "directive": "bis-kaspersky-2024"} in body["reopened"]
    traffic = NetworkStore(fleet.ctx.store).traffic([fleet.ctx.store.find_host("ws-a").id])
    (kes,) = next(iter(traffic.values()))
    assert kes.blocked == 2 and kes.count == 3
    events = str(fleet.client.get("/api/v1/audit", headers=auth(fleet, "admin")).json())
    assert "2 of them blocked" in events


def test_verified_waits_for_the_days_of_silence_the_organisation_requires(fleet: Fleet) -> None:
    store = fleet.ctx.store
    NetworkStore(store).set_silence_days(store.org("DHS").id, 10, actor="user:admin", now=NOV)
    fleet.push("ws-kes", KES)
    fleet.work()
    fleet.push("ws-kes", ZIP, DEFENDER)
    fleet.work()
    assert fleet.state("ws-kes") == "replaced"
    fleet.clock.advance(days=1)
    assert fleet.check_in("ws-kes", ZIP, DEFENDER) == "unchanged"
    fleet.work()
    assert fleet.state("ws-kes") == "replaced"  # a clean rescan, but not 10 days of silence
    fleet.clock.advance(days=10)
    fleet.check_in("ws-kes", ZIP, DEFENDER)
    fleet.work()
    assert fleet.state("ws-kes") == "verified"


def test_unmanaged_devices_have_a_page_and_a_card_on_the_overview(fleet: Fleet) -> None:
    from bs4 import BeautifulSoup

    from evict.model.records import Role
    from tests.dashboard.dashkit import login

    def soup(response: Any) -> BeautifulSoup:
        return BeautifulSoup(response.text, "html.parser")

    fleet.clock.now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    store = fleet.ctx.store
    store.create_user(
        "viewer", org="DHS", role=Role.AUDITOR, password="a long passphrase 1", actor="t", now=NOV
    )
    squid = list(SquidSource([ASSETS / "squid-access.log"], catalog=CATALOG).collect())
    assert upload(fleet, squid).status_code == 200
    login(fleet.client, "viewer", "a long passphrase 1")
    page = fleet.client.get("/unmanaged")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = soup(page)
    assert "<script" not in page.text
    row = html.find("tr", attrs={"data-address": "10.0.0.8"})
    assert row is not None
    text = row.get_text(" ", strip=True)
    assert "TikTok" in text and "1 blocked" in text
    assert html.find("tr", attrs={"data-address": "10.0.0.6"}) is None  # look-alikes only
    overview = soup(fleet.client.get("/overview"))
    card = overview.find(attrs={"data-figure": "unmanaged"})
    assert card is not None and card["href"] == "/unmanaged"
    assert int(card.get_text(strip=True)) == len(NetworkStore(store).unmanaged(store.org("DHS").id))


def test_an_unchanged_check_in_records_new_addresses_and_only_changes_are_written(
    fleet: Fleet,
) -> None:
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.5"])
    network = NetworkStore(fleet.ctx.store)
    host = fleet.ctx.store.find_host("ws-a")
    assert not network.record_addresses(host, ["10.0.0.5"], now=fleet.clock())  # the same
    fleet.clock.advance(hours=2)
    body = fleet.body("ws-a", [ZIP])
    response = fleet.client.post(
        "/api/v1/inventory/digest",
        json={"report_id": body["report_id"], "digest": body["digest"], "addresses": ["10.0.0.9"]},
        headers={"Authorization": f"Bearer {fleet.credentials['ws-a']}"},
    )
    assert response.json()["status"] == "unchanged"
    held = network.addresses(host.id)
    assert [(a, until is None) for a, _, until in held] == [("10.0.0.5", False), ("10.0.0.9", True)]
    bad = fleet.client.post(
        "/api/v1/inventory/digest",
        json={"report_id": body["report_id"], "digest": body["digest"], "addresses": ["nope"]},
        headers={"Authorization": f"Bearer {fleet.credentials['ws-a']}"},
    )
    assert bad.status_code == 422 and "addresses[0]" in bad.text


def test_the_day30_report_names_network_logs_and_products_found_by_them(fleet: Fleet) -> None:
    from evict.report.directives import ReportKind, build
    from evict.service.report_inputs import gather

    fleet.clock.now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    push_at(fleet, "ws-a", ZIP, addresses=["10.0.0.7"])
    fleet.work()
    # Squid: 10.0.0.5 fetches Kaspersky updates, 10.0.0.8 TikTok (one request denied).
    squid = list(SquidSource([ASSETS / "squid-access.log"], catalog=CATALOG).collect())
    assert upload(fleet, squid).status_code
    ctx = fleet.ctx
    inputs = gather(
        ctx.store,
        ctx.matcher,
        ctx.catalog.directive("bod-17-01"),
        org_id=ctx.store.org("DHS").id,
        protection=ctx.protection,
        today=fleet.clock.now.date(),
        generated_at=fleet.clock.now,
    )
    [kaspersky] = inputs.network
    assert (kaspersky.hosts, kaspersky.unmanaged) == (0, 1)
    document = build(ReportKind.DAY30, inputs)
    sections = {s.id: s for s in document.sections}
    tables = {t.id: t for t in sections["1.a"].tables}
    assert tables["network"].rows[0][1] == kaspersky.product
    assert any("found by network evidence only" in str(r[3]) for r in tables["products"].rows)
    assert any("1 device that no enrolled endpoint" in s for s in sections["1.a"].statements)
    methods = {t.id: t for t in sections["1.c"].tables}["methods"]
    assert ("network", "Network logs") == tuple(methods.rows[0][:2]) or any(
        r[0] == "network" and r[1] == "Network logs" for r in methods.rows
    )
