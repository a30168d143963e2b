"""The hosts page as a work queue, and actions on many hosts (both backends).

The seeded fleet (:mod:`tests.dashboard.dashkit`) for BOD 17-01, whose deadlines passed years
before :data:`NOW`: ws-kes-1 planned, ws-kes-2/4/5 identified (all four overdue), ws-kes-3
removed, the rest clean, never-reported pending. This module has a fleet of its own; the tests
that change it use different hosts.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.dashboard.dashkit import Seeded, csrf_of, login

KASPERSKY = ("bis-kaspersky-2024", "bod-17-01", "ndaa-fy18-1634")


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def rows(response: Any) -> list[dict[str, str]]:
    """The host table as the user reads it: one dict per row, by column header."""
    page = soup(response)
    table = page.find("table", id="hosts")
    if table is None:
        return []
    heads = [th.get_text(" ", strip=True).rstrip(" ▲▼") for th in table.thead.find_all("th")]
    out = []
    for tr in table.tbody.find_all("tr"):
        cells = tr.find_all(["th", "td"])
        row = {h: c.get_text(" ", strip=True) for h, c in zip(heads, cells, strict=True)}
        row["host"] = tr["data-host"]
        out.append(row)
    return out


def names(response: Any) -> list[str]:
    return [r["host"] for r in rows(response)]


def matching(response: Any) -> int:
    return int(soup(response).find(attrs={"data-figure": "matching"}).get_text().replace(",", ""))


def test_the_hosts_page_opens_on_the_hosts_that_need_action(client: TestClient) -> None:
    login(client, "admin-1")
    response = client.get("/hosts")
    listed = rows(response)
    # Open hosts only (identified first, then planned), overdue; nothing clean, removed, pending.
    assert [r["host"] for r in listed] == ["ws-kes-2", "ws-kes-4", "ws-kes-5", "ws-kes-1"]
    assert matching(response) == 4
    assert {r["Overdue"] for r in listed} == {"overdue"}
    assert all(int(r["Days left"]) < 0 for r in listed)
    assert listed[0]["Products"] == "Kaspersky Endpoint Security (Windows, Linux, Mac, Android)"
    page = soup(response)
    switch = page.find(class_="queue-switch")
    assert switch.strong.get_text() == "Needs action"
    everything = client.get(switch.a["href"])
    assert matching(everything) == 11 and "srv-clean-1" in names(everything)
    # The hosts that need action still come first in the list of every host.
    assert names(everything)[:4] == ["ws-kes-2", "ws-kes-4", "ws-kes-5", "ws-kes-1"]


@pytest.mark.parametrize("directive", ["bod-17-01", "omb-m-23-13"])
def test_every_count_on_the_overview_links_to_exactly_those_hosts(
    client: TestClient, directive: str
) -> None:
    login(client, "admin-1")
    page = soup(client.get(f"/overview?directive={directive}"))
    figures = [
        a
        for a in page.select("main a[href^='/hosts']")
        if a.get("data-figure") or a.find(attrs={"data-state": True})
    ]
    named = {a.get("data-figure") for a in figures} | {
        a.find(attrs={"data-state": True})["data-state"]
        for a in figures
        if not a.get("data-figure")
    }
    assert {"hosts", "carrying", "overdue", "removed", "clean", "pending"} <= named
    assert {"identified", "planned", "clean", "pending"} <= named
    checked = 0
    for a in figures:
        number = int("".join(ch for ch in a.get_text() if ch.isdigit()))
        response = client.get(a["href"])
        assert matching(response) == number, a["href"]
        assert len(names(response)) == number, a["href"]
        checked += 1
    assert checked >= 10
    overdue = page.find("a", attrs={"data-figure": "overdue"})
    assert (directive == "bod-17-01") == (overdue.get_text() == "4")


def test_the_units_table_links_totals_and_overdue_units(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/overview?directive=bod-17-01"))
    for tr in page.select("#units tbody tr"):
        unit = tr.th.get_text(strip=True)
        total = tr.find("strong").a
        assert matching(client.get(total["href"])) == int(total.get_text()), unit
        late = tr.find("a", class_="badge-alert")
        if late is not None:
            assert all(r["Overdue"] == "overdue" for r in rows(client.get(late["href"])))
            assert names(client.get(late["href"])), unit


def test_headers_sort_both_ways_and_say_which(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/hosts?state=all"))
    header = page.find("a", class_="sort", string=lambda s: s and s.startswith("Hostname"))
    ascending = client.get(header["href"])
    got = names(ascending)
    assert got == sorted(got) and len(got) == 11
    th = soup(ascending).find("th", attrs={"aria-sort": "ascending"})
    assert th.get_text(strip=True).startswith("Hostname")
    descending = client.get(th.a["href"])
    assert names(descending) == list(reversed(got))
    assert soup(descending).find("th", attrs={"aria-sort": "descending"}) is not None
    # Due, reversed: the hosts with nothing due come first, the open ones last.
    due = soup(client.get("/hosts?state=all")).find("th", attrs={"aria-sort": "ascending"})
    assert due.get_text(strip=True).startswith("Due")
    late_last = names(client.get(due.a["href"]))
    assert set(late_last[-4:]) == {"ws-kes-1", "ws-kes-2", "ws-kes-4", "ws-kes-5"}
    # The filters stay on the header links.
    kept = soup(client.get("/hosts?state=all&platform=linux"))
    assert all("platform=linux" in a["href"] for a in kept.select("a.sort"))


def test_search_finds_any_part_of_a_hostname_or_identifier_in_any_case(
    client: TestClient,
) -> None:
    login(client, "admin-1")
    assert names(client.get("/hosts?state=all&q=WS-KES-3")) == ["ws-kes-3"]
    assert names(client.get("/hosts?state=all&q=kes-3")) == ["ws-kes-3"]
    assert set(names(client.get("/hosts?state=all&q=CLEAN"))) == {
        "srv-clean-1",
        "srv-clean-2",
        "srv-clean-3",
    }
    # evil-1's hostname is a formula: its identifier finds it.
    assert names(client.get("/hosts?state=all&q=VIL-1")) == ["evil-1"]
    # LIKE's own wildcards match only themselves.
    assert names(client.get("/hosts?state=all&q=%25")) == []
    assert names(client.get("/hosts?state=all&q=ws_kes")) == []
    # Another organisation's host is never found.
    assert names(client.get("/hosts?state=all&q=tr-secret")) == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=all",
        "state=all&sort=-name",
        "state=all&sort=-last_seen&org_unit=HQ",
        "overdue=1&sort=-due",
        "state=removed",
        "state=all&q=KES",
    ],
)
def test_the_csv_export_is_exactly_the_page(client: TestClient, query: str) -> None:
    login(client, "admin-1")
    page = rows(client.get(f"/hosts?{query}"))
    exported = list(csv.DictReader(io.StringIO(client.get(f"/hosts.csv?{query}").text)))
    assert [r["host"] for r in exported] == [r["host"] for r in page]
    for shown, line in zip(page, exported, strict=True):
        assert line["state"] == shown["State (bod-17-01)"]
        assert line["product_names"] == shown["Products"]
        assert line["due"] == shown["Due"] and line["days_left"] == shown["Days left"]
        assert line["milestone"] == shown["Milestone not yet met"]
        assert ("overdue" if line["overdue"] == "yes" else "no") == shown["Overdue"]


def test_the_overdue_filter_is_empty_while_nothing_is_late(client: TestClient) -> None:
    login(client, "admin-1")
    # omb-m-23-13 was adopted 30 days before NOW: the phone's deadline has not passed.
    assert names(client.get("/hosts?directive=omb-m-23-13")) == ["phone-tiktok"]
    assert names(client.get("/hosts?directive=omb-m-23-13&overdue=1")) == []
    assert client.get("/hosts?overdue=yes").status_code == 400


def bulk_form(response: Any) -> dict[str, Any]:
    """The bulk form's hidden fields (CSRF and the page's filter)."""
    form = soup(response).find("form", id="bulk")
    return {i["name"]: i["value"] for i in form.find_all("input", type="hidden")}


def audit_actions(store_url: str, identifier: str) -> list[tuple[str, dict[str, Any]]]:
    from evict.store.store import Store

    store = Store.open(store_url)
    try:
        org = store.org("DHS").id
        from evict.store.dashboard import DashboardQueries

        events = DashboardQueries(store).audit_page(org, subject=f"host:{identifier}")
        return [(e.action, dict(e.payload)) for e in events]
    finally:
        store.close()


def test_bulk_move_of_the_ticked_hosts_audits_each_and_lists_the_refused(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "operator-1")
    response = client.get("/hosts?state=all")
    form = bulk_form(response)
    ticked = [seeded.ids["ws-kes-2"], seeded.ids["srv-clean-1"]]
    picks = {c["value"] for c in soup(response).select("input[name=host][form=bulk]")}
    assert {str(t) for t in ticked} <= picks
    done = client.post(
        "/hosts/bulk",
        data={**form, "action": "state", "to": "planned", "reason": "wave 3", "host": ticked},
    )
    page = soup(done)
    assert page.find(attrs={"data-figure": "done"}).get_text() == "1"
    refused = page.find("table", id="refused")
    assert "srv-clean-1" in refused.get_text() and "ws-kes-2" not in refused.get_text()
    assert page.find("a", string="Back to the list")["href"] == "/hosts?state=all"
    moved = audit_actions(seeded.url, "ws-kes-2")[0]
    assert moved[0] == "state.change" and moved[1]["to"] == "planned"
    assert moved[1]["reason"] == "wave 3"
    assert not any(p.get("reason") == "wave 3" for _, p in audit_actions(seeded.url, "srv-clean-1"))
    assert "ws-kes-2" in names(client.get("/hosts?directive=bod-17-01&state=planned"))


def test_bulk_waive_of_every_host_a_filter_matches(client: TestClient, seeded: Seeded) -> None:
    login(client, "admin-1")
    response = client.get("/hosts?q=kes-4")
    assert names(response) == ["ws-kes-4"]
    form = {
        **bulk_form(response),
        "action": "waive",
        "scope": "all",
        "justification": "Air-gapped lab, replacement ordered",
        "approver": "CISO",
        "expires": "2026-04-01",
    }
    page = soup(client.post("/hosts/bulk", data=form))
    assert page.find(attrs={"data-figure": "done"}).get_text() == "1"
    action, payload = audit_actions(seeded.url, "ws-kes-4")[0]
    assert action == "waiver.create" and payload["to"] == "waived"
    assert names(client.get("/hosts?q=kes-4")) == []
    assert names(client.get("/hosts?q=kes-4&state=waived")) == ["ws-kes-4"]
    # A waiver form error changes nothing and says what is wrong.
    bad = client.post("/hosts/bulk", data={**form, "q": "kes-5", "expires": "soon"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text


def test_a_bulk_action_is_bounded_role_checked_and_csrf_checked(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evict.server.views import hosts

    login(client, "admin-1")
    form = {**bulk_form(client.get("/hosts?state=all")), "action": "state", "to": "planned"}
    monkeypatch.setattr(hosts, "BULK_MAX", 3)
    too_many = client.post("/hosts/bulk", data={**form, "scope": "all"})
    assert too_many.status_code == 422 and "more than 3 hosts match" in too_many.text
    nothing = client.post("/hosts/bulk", data=form)
    assert nothing.status_code == 422 and "no host chosen" in nothing.text
    forged = client.post("/hosts/bulk", data={**form, "csrf": "forged", "scope": "all"})
    assert forged.status_code == 403
    login(client, "auditor-1")
    response = client.get("/hosts?state=all")
    assert soup(response).find("button", attrs={"value": "state"}) is None
    refused = client.post(
        "/hosts/bulk", data={**bulk_form(response), "action": "state", "scope": "all"}
    )
    assert refused.status_code == 403


def test_one_plan_for_every_host_a_filter_matches(client: TestClient) -> None:
    pytest.importorskip("evict.remediation.planner")
    login(client, "auditor-1")  # a read: any role
    response = client.get("/hosts?state=all&q=ws-kes")
    data = {**bulk_form(response), "action": "plan", "scope": "all", "plan_format": "json"}
    download = client.post("/hosts/bulk", data=data)
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    plans = json.loads(download.text)["plans"]
    hosts = {p["host"] for p in plans}
    # ws-kes-3's Kaspersky is gone: nothing to plan; the others carry it.
    assert "ws-kes-3" not in hosts and {"ws-kes-1", "ws-kes-5"} <= hosts
    assert all("kaspersky-endpoint-security" in p["products"] for p in plans)


def test_one_form_moves_a_host_for_every_directive_in_the_same_state(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "admin-1")
    host = seeded.ids["ws-kes-5"]
    response = client.get(f"/hosts/{host}")
    page = soup(response)
    moves = page.find_all("form", action=f"/hosts/{host}/state")
    waives = page.find_all("form", action=f"/hosts/{host}/waive")
    assert len(moves) == 1 and len(waives) == 1
    ticks = moves[0].find_all("input", attrs={"name": "directive"})
    assert sorted(t["value"] for t in ticks) == list(KASPERSKY)
    assert all(t.has_attr("checked") for t in ticks)
    assert all(page.find("label", attrs={"for": t["id"]}) for t in ticks)
    # Untick one: the other two move, each with its own audit event.
    done = client.post(
        f"/hosts/{host}/state",
        data={
            "csrf": csrf_of(response.text),
            "directive": ["bod-17-01", "ndaa-fy18-1634"],
            "to": "planned",
            "reason": "one form",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    moved = [
        p["directive"] for a, p in audit_actions(seeded.url, "ws-kes-5") if a == "state.change"
    ]
    assert sorted(moved[:2]) == ["bod-17-01", "ndaa-fy18-1634"]
    after = soup(client.get(f"/hosts/{host}"))
    states = {
        tr["data-directive"]: tr.find(class_="badge").get_text()
        for tr in after.select("#states tbody tr")
    }
    assert states["bod-17-01"] == states["ndaa-fy18-1634"] == "planned"
    assert states["bis-kaspersky-2024"] == "identified"
    # Now two forms: one for the planned pair, one for the identified directive.
    assert len(after.find_all("form", action=f"/hosts/{host}/state")) == 2
    nothing = client.post(
        f"/hosts/{host}/state",
        data={"csrf": csrf_of(response.text), "to": "removing"},
    )
    assert nothing.status_code == 400 and "tick at least one directive" in nothing.text
