"""No clean without data, and overdue per host, through the server: an inventory that cannot
conclude or has grown old is never ``clean``, and every host row says its own milestone."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.server.fleetkit import KES, ZIP, Fleet


def report(fleet: Fleet, directive: str = "bod-17-01") -> dict[str, Any]:
    response = fleet.client.get(f"/api/v1/reports/{directive}.json", headers=fleet.auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def host(fleet: Fleet, name: str) -> dict[str, Any]:
    response = fleet.client.get(f"/api/v1/hosts/{name}", headers=fleet.auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_host_seen_only_through_its_programs_is_incomplete_not_clean(fleet: Fleet) -> None:
    fleet.push("ws-programs", ZIP, complete=False)
    fleet.push("ws-full", ZIP)
    fleet.work()
    assert fleet.state("ws-programs") == "incomplete"
    assert fleet.state("ws-full") == "clean"
    detail = host(fleet, "ws-programs")
    assert detail["coverage"] == {
        "kinds": ["program"],
        "complete": False,
        "missing": ["driver|service"],
    }
    assert host(fleet, "ws-full")["coverage"]["complete"] is True
    summary = report(fleet)["summary"]
    assert summary["states"] == {"clean": 1, "incomplete": 1}
    # The day-30 report does not count it among the endpoints assessed
    response = fleet.client.get("/api/v1/reports/bod-17-01/day30.json", headers=fleet.auth())
    assert response.status_code == 200, response.text
    text = response.text
    assert "1 cannot be concluded (inventory incomplete or stale)" in text
    assert "found on the 1 endpoints assessed (methods used: Endpoint agent (osquery))" in text
    # A complete inventory later concludes
    fleet.push("ws-programs", ZIP)
    fleet.work()
    assert fleet.state("ws-programs") == "clean"


def test_an_incomplete_inventory_still_identifies_and_cannot_show_a_removal(
    fleet: Fleet,
) -> None:
    fleet.push("ws-kes", KES, ZIP, complete=False)
    fleet.work()
    assert fleet.state("ws-kes") == "identified"
    fleet.push("ws-kes", ZIP, complete=False)
    fleet.work()
    assert fleet.state("ws-kes") == "identified", "a programs list alone cannot show it gone"
    fleet.push("ws-kes", ZIP)
    fleet.work()
    assert fleet.state("ws-kes") == "removed"


def test_a_host_silent_past_the_freshness_limit_is_stale_until_it_checks_in(
    fleet: Fleet,
) -> None:
    fleet.push("ws-1", ZIP)
    fleet.work()
    assert fleet.state("ws-1") == "clean"
    fleet.clock.advance(days=6)
    fleet.work()
    assert fleet.state("ws-1") == "clean", "within the default 7 days"
    fleet.clock.advance(days=2)
    fleet.work()
    assert fleet.state("ws-1") == "stale"
    assert report(fleet)["summary"]["states"] == {"stale": 1}
    # an unchanged check-in confirms the inventory is current again
    assert fleet.check_in("ws-1", ZIP) == "unchanged"
    fleet.work()
    assert fleet.state("ws-1") == "clean"
    # the organisation's own limit
    store = fleet.ctx.store
    org = store.org("DHS")
    store.set_freshness(org.id, 30, actor="cli:test", now=fleet.clock())
    assert store.org("DHS").freshness_days == 30
    fleet.clock.advance(days=20)
    fleet.work()
    assert fleet.state("ws-1") == "clean"
    assert any(e.action == "org.freshness" for e in store.audit_events(org_id=org.id))


def test_every_host_row_says_its_milestone_and_the_overdue_rows_add_up(fleet: Fleet) -> None:
    for name in ("ws-kes-1", "ws-kes-2"):
        fleet.push(name, KES, ZIP)
    fleet.push("ws-clean", ZIP)
    fleet.push("ws-programs", ZIP, complete=False)
    fleet.work()
    body = report(fleet)
    rows = {h["host"]: h for h in body["hosts"]}
    overdue = {h for h, r in rows.items() if r["overdue"]}
    assert overdue == {"ws-kes-1", "ws-kes-2"}, "BOD 17-01's day 90 passed long ago"
    assert body["summary"]["overdue"] == len(overdue)
    assert rows["ws-kes-1"]["milestone"] == "Begin removal (day 90)"
    assert rows["ws-kes-1"]["days_left"] < 0
    assert rows["ws-clean"]["milestone"].startswith("Status report")
    assert rows["ws-clean"]["days_left"] >= 0
    # the dashboard's and the API's counts (computed in SQL) say the same
    summary = fleet.client.get("/api/v1/directives/bod-17-01/summary", headers=fleet.auth())
    assert summary.json()["overdue"] == 2
    # the API host listing and detail carry the same milestone
    listing = fleet.client.get("/api/v1/hosts", headers=fleet.auth()).json()["hosts"]
    by_host = {h["host"]: h["milestones"]["bod-17-01"] for h in listing}
    assert {h for h, m in by_host.items() if m["overdue"]} == overdue
    assert by_host["ws-kes-1"]["milestone"] == rows["ws-kes-1"]["milestone"]
    assert host(fleet, "ws-kes-2")["milestones"]["bod-17-01"]["due"] == rows["ws-kes-2"]["due"]
    # and the CSV report
    text = fleet.client.get("/api/v1/reports/bod-17-01.csv", headers=fleet.auth()).text
    csv_rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(r["overdue"] == "yes" for r in csv_rows) == 2
