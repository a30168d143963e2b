"""The dashboard's pages, as a browser receives them: sessions, scoping, roles, CSRF, content."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from evict.settings import normalise_database_url
from tests.dashboard.dashkit import (
    EVIL_HOSTNAME,
    KES,
    NOW,
    Seeded,
    csrf_of,
    login,
)

PAGES = (
    "/overview",
    "/hosts",
    "/products",
    "/waivers",
    "/determinations",
    "/reports",
    "/notifications",
    "/audit",
)


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def audit_head(client: TestClient) -> int:
    seq, _ = client.app.state.context.store.audit_head()  # type: ignore[attr-defined]
    return int(seq)


def api(client: TestClient, seeded: Seeded, user: str, path: str) -> Any:
    response = client.get(path, headers={"Authorization": f"Bearer {seeded.tokens[user]}"})
    assert response.status_code == 200, response.text
    return response.json()


# -- sessions ------------------------------------------------------------------------------------


def test_signing_in_sets_a_hardened_session_cookie(client: TestClient) -> None:
    client.cookies.clear()
    page = client.get("/login")
    nonce = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"name": "admin-1", "password": "correct horse battery staple", "csrf": nonce},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/overview"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "evict_session=" in c)
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()


def test_a_wrong_password_or_a_missing_nonce_starts_no_session(client: TestClient) -> None:
    client.cookies.clear()
    nonce = csrf_of(client.get("/login").text)
    wrong = client.post(
        "/login",
        data={"name": "admin-1", "password": "guess", "csrf": nonce},
        follow_redirects=False,
    )
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    assert "evict_session" not in wrong.headers.get("set-cookie", "")
    client.cookies.clear()
    forged = client.post(
        "/login",
        data={"name": "admin-1", "password": "correct horse battery staple", "csrf": "x"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "evict_session" not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", PAGES + ("/hosts/1", "/hosts.csv"))
def test_every_page_sends_a_stranger_to_the_login_and_back(client: TestClient, path: str) -> None:
    client.cookies.clear()
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=" + path.replace("/", "%2F"))


def test_a_tampered_session_cookie_is_refused(client: TestClient) -> None:
    login(client, "auditor-1")
    value = client.cookies["evict_session"]
    token_id, token, signature = value.split(".")
    client.cookies.set("evict_session", f"{token_id}.{token}.{signature[:-2]}AA")
    assert client.get("/overview", follow_redirects=False).status_code == 303
    client.cookies.set("evict_session", f"{token_id}.evt_forged.{signature}")
    assert client.get("/overview", follow_redirects=False).status_code == 303


def test_signing_out_revokes_the_session(client: TestClient) -> None:
    login(client, "operator-1")
    old = client.cookies["evict_session"]
    page = client.get("/overview")
    response = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("evict_session", old)
    assert client.get("/overview", follow_redirects=False).status_code == 303
    events = client.app.state.context.store.audit_events(action_prefix="token.revoke")  # type: ignore[attr-defined]
    assert events and events[-1].actor == "user:operator-1"


def test_login_only_returns_to_local_pages(client: TestClient) -> None:
    client.cookies.clear()
    nonce = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "name": "auditor-1",
            "password": "correct horse battery staple",
            "csrf": nonce,
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/overview"


# -- every page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES + ("/login",))
def test_pages_are_accessible_and_load_nothing_from_elsewhere(
    client: TestClient, seeded: Seeded, path: str
) -> None:
    if path == "/login":
        client.cookies.clear()
    else:
        login(client, "admin-1")
    response = client.get(path)
    page = soup(response)
    assert page.html is not None and page.html.get("lang") == "en"
    assert page.find("a", class_="skip-link", href="#main") is not None
    assert page.find("main", id="main") is not None
    assert not page.find_all("script"), "the dashboard runs no script"
    for tag, attribute in (("link", "href"), ("img", "src"), ("script", "src")):
        for element in page.find_all(tag):
            value = element.get(attribute, "")
            assert value.startswith("/") and not value.startswith("//"), value
    for control in page.find_all(["input", "select", "textarea"]):
        if control.get("type") in ("hidden", "submit"):
            continue
        ident = control.get("id")
        assert ident and page.find("label", attrs={"for": ident}), f"no label for {control}"
    for head in page.select("thead th"):
        assert head.get("scope") == "col"
    for header in page.select("tbody th"):
        assert header.get("scope") == "row"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


# -- overview ------------------------------------------------------------------------------------


def test_the_overview_shows_the_apis_numbers(client: TestClient, seeded: Seeded) -> None:
    login(client, "admin-1")
    page = soup(client.get("/overview?directive=bod-17-01"))
    summary = api(client, seeded, "admin-1", "/api/v1/directives/bod-17-01/summary")
    figure = {e["data-figure"]: e.get_text(strip=True) for e in page.select("[data-figure]")}
    assert figure["hosts"] == f"{summary['hosts']:,}"
    assert figure["overdue"] == str(summary["overdue"])
    for chip in page.select("[data-state]"):
        assert chip.get_text(strip=True) == str(summary["states"].get(chip["data-state"], 0))
    table = page.find("table", id="units")
    assert table is not None
    for row in table.select("tbody tr"):
        unit = row.th.get_text(strip=True)
        total = row.select("td.num")[-1].get_text(strip=True)
        assert total == str(sum(summary["org_units"][unit].values()))
    carrying = sum(
        summary["states"].get(s, 0) for s in ("identified", "planned", "removing", "waived")
    )
    assert figure["carrying"] == str(carrying)
    assert summary["states"]["planned"] >= 1 and summary["states"]["removed"] == 1


def test_the_burndown_is_drawn_from_the_audit_history(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/overview?directive=bod-17-01"))
    chart = page.find("svg", attrs={"aria-labelledby": "burndown-title burndown-desc"})
    assert chart is not None
    texts = [t.get_text() for t in chart.find_all("text")]
    assert "Date (UTC)" in texts and "Hosts" in texts
    assert "Hosts carrying covered products" in texts and "Milestone due" in texts
    # Week 1: five DHS hosts carried KES; week 2: ws-kes-3 removed it.
    table = page.find("caption", string="Hosts carrying covered products, by day of change")
    rows = [
        tuple(td.get_text() for td in tr.find_all("td")) for tr in table.parent.tbody.find_all("tr")
    ]
    assert rows[0] == (WEEK1_DAY, "5") and (WEEK2_DAY, "4") in rows
    assert rows[-1] == (NOW.date().isoformat(), "4")
    deadline = chart.find("line", class_="marker-deadline")
    assert deadline is not None and deadline["data-day"] >= NOW.date().isoformat()


WEEK1_DAY = (NOW - dt.timedelta(days=14)).date().isoformat()
WEEK2_DAY = (NOW - dt.timedelta(days=7)).date().isoformat()


def test_the_products_chart_counts_present_and_removed_endpoints(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/overview?directive=bod-17-01"))
    chart = page.find("svg", attrs={"aria-labelledby": "products-title products-desc"})
    assert chart is not None
    present = [
        int(r["data-value"])
        for r in chart.find_all("rect", class_="bar-present")
        if r.get("data-value")
    ]
    removed = [
        int(r["data-value"])
        for r in chart.find_all("rect", class_="bar-removed")
        if r.get("data-value")
    ]
    assert 4 in present and 1 in removed
    assert "Endpoints (hosts)" in [t.get_text() for t in chart.find_all("text")]


def test_the_directive_switcher_shows_an_own_clock(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/overview?directive=omb-m-23-13"))
    start = (NOW - dt.timedelta(days=30)).date().isoformat()
    assert f"clock from {start}" in page.get_text(" ")
    assert page.find("option", value="omb-m-23-13", selected=True) is not None
    assert page.find(attrs={"data-state": "identified"}).get_text() == "1"  # the TikTok phone
    missing = client.get("/overview?directive=no-such-directive")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


# -- hosts ---------------------------------------------------------------------------------------


def host_names(response: Any) -> list[str]:
    page = soup(response)
    return [th.a.get_text() for th in page.select("#hosts tbody th")]


def test_hosts_are_filtered_by_every_control(client: TestClient) -> None:
    login(client, "admin-1")
    assert host_names(client.get("/hosts?q=ws-kes&state=all&sort=name")) == [
        f"ws-kes-{i}" for i in range(1, 6)
    ]
    assert "srv-clean-2" in host_names(client.get("/hosts?org_unit=Field+East&state=all"))
    assert "ws-kes-1" not in host_names(client.get("/hosts?org_unit=Field+East&state=all"))
    assert host_names(client.get("/hosts?directive=bod-17-01&state=planned")) == ["ws-kes-1"]
    assert host_names(client.get("/hosts?directive=bod-17-01&state=removed")) == ["ws-kes-3"]
    assert host_names(client.get("/hosts?directive=bod-17-01&state=pending")) == ["never-reported"]
    assert host_names(client.get("/hosts?directive=omb-m-23-13&state=carrying")) == ["phone-tiktok"]
    kes = host_names(client.get("/hosts?product=kaspersky-endpoint-security&state=all"))
    assert "ws-kes-1" in kes and "ws-kes-3" not in kes and "tr-secret-1" not in kes
    assert set(host_names(client.get("/hosts?platform=linux&state=all"))) == {
        "srv-clean-1",
        "srv-clean-2",
        "srv-clean-3",
    }
    # Everything was last seen 7 or 14 days before NOW; the pending host never.
    assert host_names(client.get("/hosts?seen_days=10&q=ws-kes&state=all&sort=name")) == [
        "ws-kes-1",
        "ws-kes-2",
        "ws-kes-4",
        "ws-kes-5",
    ]
    assert "never-reported" in host_names(client.get("/hosts?seen_days=1&state=all"))
    count = soup(client.get("/hosts?q=srv-&state=all")).find(attrs={"data-figure": "matching"})
    assert count.get_text() == "3"


def test_the_count_of_a_state_or_product_filter_matches_its_rows_per_unit(
    client: TestClient,
) -> None:
    login(client, "admin-1")
    for path in (
        "/hosts?directive=bod-17-01&state=carrying",
        "/hosts?directive=bod-17-01&state=clean&org_unit=Field+East",
        "/hosts?directive=bod-17-01&state=pending",
        "/hosts?directive=bod-17-01&org_unit=HQ&state=all",
        "/hosts?product=kaspersky-endpoint-security&state=all",
        "/hosts?product=kaspersky-endpoint-security&org_unit=HQ&state=all",
        "/hosts?product=kaspersky-endpoint-security&org_unit=Field+East&state=all",
        "/hosts?product=tiktok&state=all",
        "/hosts?product=microsoft-defender&state=all",
    ):
        response = client.get(path)
        shown = soup(response).find(attrs={"data-figure": "matching"}).get_text()
        assert shown == str(len(host_names(response))), path


def test_hosts_sort_by_state_puts_the_urgent_first(client: TestClient) -> None:
    login(client, "admin-1")
    names = host_names(client.get("/hosts?directive=bod-17-01&sort=state&state=all"))
    assert names.index("ws-kes-2") < names.index("ws-kes-1") < names.index("ws-kes-3")
    assert names.index("ws-kes-3") < names.index("srv-clean-1") < names.index("never-reported")
    oldest = host_names(client.get("/hosts?sort=last_seen&state=all"))
    assert oldest[0] == "never-reported" and oldest[-1] == "ws-kes-3"
    assert host_names(client.get("/hosts?sort=-last_seen&state=all"))[0] == "ws-kes-3"


def test_hosts_are_paged_by_keyset_without_gaps_or_repeats(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evict.server.views import hosts

    monkeypatch.setattr(hosts, "PAGE_SIZE", 3)
    login(client, "admin-1")
    seen: list[str] = []
    url = "/hosts?sort=state&directive=bod-17-01&state=all"
    for _ in range(10):
        page = soup(client.get(url))
        seen += [th.a.get_text() for th in page.select("#hosts tbody th")]
        following = page.find("a", rel="next")
        if following is None:
            break
        assert "offset" not in following["href"]
        url = following["href"]
    assert len(seen) == len(set(seen)) == 11  # every DHS host once, Treasury's never


def test_a_forged_page_cursor_is_a_400_page(client: TestClient) -> None:
    login(client, "admin-1")
    response = client.get("/hosts?after=not-a-cursor")
    assert response.status_code == 400 and "cursor" in response.text


def test_the_csv_export_neutralises_formulas(client: TestClient) -> None:
    login(client, "admin-1")
    response = client.get("/hosts.csv?org_unit=Field+East&state=all")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    evil = next(r for r in rows if r["host"] == "evil-1")
    assert evil["hostname"] == "'" + EVIL_HOSTNAME
    assert all(not r[k].startswith(("=", "+", "-", "@")) for r in rows for k in r)
    assert {r["host"] for r in rows} == {"ws-kes-3", "srv-clean-2", "evil-1"}
    assert next(r for r in rows if r["host"] == "ws-kes-3")["state"] == "removed"


# -- one host ------------------------------------------------------------------------------------


def test_a_host_shows_its_evidence_timeline_and_actions(client: TestClient, seeded: Seeded) -> None:
    login(client, "admin-1")
    page = soup(client.get(f"/hosts/{seeded.ids['ws-kes-1']}"))
    text = page.get_text(" ")
    assert "Kaspersky Endpoint Security" in text and "osquery:programs" in text
    from evict.matching.engine import Matcher

    fired = {h.rule for h in Matcher(client.app.state.context.catalog).match_distinct([KES])[0]}  # type: ignore[attr-defined]
    evidence = {c.get_text() for c in page.select("table.evidence code")}
    assert evidence & fired, "the rule that matched is named"
    assert "Kaspersky Endpoint Security for Windows" in page.select_one("table.evidence").get_text()
    states = page.find("table", id="states")
    assert states.find("tr", attrs={"data-directive": "bod-17-01"}).find(class_="state-planned")
    timeline = page.find("ol", class_="timeline")
    assert "ticket CHG-1042" in timeline.get_text() and "user:operator-1" in timeline.get_text()
    assert page.find("form", action=f"/hosts/{seeded.ids['ws-kes-1']}/waive") is not None
    assert page.find("form", action=f"/hosts/{seeded.ids['ws-kes-1']}/state") is not None


def test_another_organisations_host_is_not_found(client: TestClient, seeded: Seeded) -> None:
    login(client, "admin-1")
    secret = seeded.ids["tr-secret-1"]
    response = client.get(f"/hosts/{secret}")
    assert response.status_code == 404 and "tr-secret-1" not in response.text
    assert client.get(f"/hosts/{max(seeded.ids.values()) + 100}").status_code == 404
    before = audit_head(client)
    page = client.get(f"/hosts/{seeded.ids['ws-kes-1']}")
    forged = client.post(
        f"/hosts/{secret}/waive",
        data={
            "csrf": csrf_of(page.text),
            "directive": "bod-17-01",
            "justification": "x",
            "approver": "y",
            "expires": "2026-12-01",
        },
    )
    assert forged.status_code == 404 and audit_head(client) == before
    assert "tr-secret-1" not in client.get("/hosts.csv").text
    assert "tr-secret-1" not in client.get("/audit").text


def test_a_user_limited_to_an_org_unit_sees_only_it(client: TestClient, seeded: Seeded) -> None:
    login(client, "east-operator")
    assert set(host_names(client.get("/hosts?state=all"))) == {
        "ws-kes-3",
        "srv-clean-2",
        EVIL_HOSTNAME,
    }
    assert client.get(f"/hosts/{seeded.ids['ws-kes-1']}").status_code == 404
    units = soup(client.get("/overview")).find("table", id="units")
    assert [r.th.get_text(strip=True) for r in units.select("tbody tr")] == ["Field East"]
    events = soup(client.get("/audit")).select("#events tbody tr")
    assert events and all(
        "ws-kes-3" in r.get_text() or "srv-clean-2" in r.get_text() or "evil-1" in r.get_text()
        for r in events
    )


def test_an_auditor_reads_but_cannot_waive_or_move(client: TestClient, seeded: Seeded) -> None:
    login(client, "auditor-1")
    host = seeded.ids["ws-kes-4"]
    page = client.get(f"/hosts/{host}")
    parsed = soup(page)
    assert parsed.find("form", action=f"/hosts/{host}/waive") is None
    assert parsed.find("form", action=f"/hosts/{host}/state") is None
    assert "read-only" in parsed.get_text()
    before = audit_head(client)
    csrf = csrf_of(page.text)  # the sign-out form's: a valid token of this session
    waive = client.post(
        f"/hosts/{host}/waive",
        data={
            "csrf": csrf,
            "directive": "bod-17-01",
            "justification": "x",
            "approver": "y",
            "expires": "2026-12-01",
        },
    )
    move = client.post(
        f"/hosts/{host}/state", data={"csrf": csrf, "directive": "bod-17-01", "to": "planned"}
    )
    assert waive.status_code == move.status_code == 403
    assert audit_head(client) == before
    assert (
        api(client, seeded, "auditor-1", "/api/v1/hosts/ws-kes-4")["states"]["bod-17-01"]["state"]
        == "identified"
    )


def test_posts_without_the_sessions_csrf_token_are_refused(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "admin-1")
    host = seeded.ids["ws-kes-4"]
    before = audit_head(client)
    for csrf in ("", "0" * 43):
        response = client.post(
            f"/hosts/{host}/state", data={"csrf": csrf, "directive": "bod-17-01", "to": "planned"}
        )
        assert response.status_code == 403
    logout = client.post("/logout", data={}, follow_redirects=False)
    assert logout.status_code == 403
    assert audit_head(client) == before


def test_an_operator_moves_a_host_and_a_wrong_move_is_explained(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "operator-1")
    host = seeded.ids["ws-kes-4"]
    csrf = csrf_of(client.get(f"/hosts/{host}").text)
    done = client.post(
        f"/hosts/{host}/state",
        data={"csrf": csrf, "directive": "bod-17-01", "to": "removing", "reason": "CHG-2001"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=state")
    page = soup(client.get(done.headers["location"]))
    assert page.find("tr", attrs={"data-directive": "bod-17-01"}).find(class_="state-removing")
    wrong = client.post(
        f"/hosts/{host}/state", data={"csrf": csrf, "directive": "bod-17-01", "to": "verified"}
    )
    assert wrong.status_code == 409 and "set by evidence" in wrong.text
    event = client.app.state.context.store.audit_events(subject="host:ws-kes-4")[-1]  # type: ignore[attr-defined]
    assert (event.actor, event.payload["to"], event.payload["reason"]) == (
        "user:operator-1",
        "removing",
        "CHG-2001",
    )


def test_waiving_a_host_changes_the_overview_and_the_audit_log(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "admin-1")
    before = soup(client.get("/overview?directive=bod-17-01"))
    waived = int(before.find(attrs={"data-state": "waived"}).get_text())
    identified = int(before.find(attrs={"data-state": "identified"}).get_text())
    host = seeded.ids["ws-kes-2"]
    csrf = csrf_of(client.get(f"/hosts/{host}").text)
    past = client.post(
        f"/hosts/{host}/waive",
        data={
            "csrf": csrf,
            "directive": "bod-17-01",
            "justification": "lab",
            "approver": "CISO",
            "expires": "2020-01-01",
        },
    )
    assert past.status_code == 422 and "not in the future" in past.text
    done = client.post(
        f"/hosts/{host}/waive",
        data={
            "csrf": csrf,
            "directive": "bod-17-01",
            "justification": "Lab controller",
            "approver": "J. Rivera",
            "expires": "2026-03-10",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = soup(client.get("/overview?directive=bod-17-01"))
    assert int(after.find(attrs={"data-state": "waived"}).get_text()) == waived + 1
    assert int(after.find(attrs={"data-state": "identified"}).get_text()) == identified - 1
    waivers = soup(client.get("/waivers"))
    row = next(r for r in waivers.select("#waivers tbody tr") if "ws-kes-2" in r.get_text())
    assert "expires in 8 days" in row.get_text() and "waiver-expiring" in row["class"]
    assert waivers.find(attrs={"data-figure": "expiring"}).get_text() == "1"
    top = soup(client.get("/audit")).select("#events tbody tr")[0]
    assert top["data-action"] == "waiver.create" and "user:admin-1" in top.get_text()


def test_an_m_23_13_waiver_is_granted_only_on_its_grounds(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "admin-1")
    host = seeded.ids["phone-tiktok"]
    response = client.get(f"/hosts/{host}")
    page = soup(response)
    select = page.find("select", id="grounds-identified")
    assert select is not None and page.find("label", attrs={"for": "grounds-identified"})
    assert [o["value"] for o in select.find_all("option")][1:] == [
        "law-enforcement",
        "national-security",
        "security-research",
    ]
    form = {
        "csrf": csrf_of(response.text),
        "directive": "omb-m-23-13",
        "justification": "Covert account in an open investigation",
        "approver": "Deputy Secretary",
        "expires": "2026-04-01",
    }
    refused = client.post(f"/hosts/{host}/waive", data=form)
    assert refused.status_code == 422 and "only on the grounds of" in refused.text
    done = client.post(
        f"/hosts/{host}/waive", data={**form, "grounds": "law-enforcement"}, follow_redirects=False
    )
    assert done.status_code == 303
    row = next(
        r for r in soup(client.get("/waivers")).select("#waivers tbody tr")
        if "phone-tiktok" in r.get_text()
    )  # fmt: skip
    assert "law enforcement" in row.get_text()


# -- products, waivers, audit --------------------------------------------------------------------


def test_products_show_hosts_versions_and_org_units(client: TestClient) -> None:
    login(client, "admin-1")
    page = soup(client.get("/products"))
    row = page.find("tr", attrs={"data-product": "kaspersky-endpoint-security"})
    assert row is not None
    cells = row.find_all("td")
    assert cells[1].get_text(strip=True) == "4"  # ws-kes-1, 2, 4, 5 (ws-kes-3 removed it)
    assert "12.3.0.493 (4)" in cells[2].get_text(" ", strip=True).replace(" (", " (")
    assert "HQ (4)" in cells[3].get_text(" ", strip=True)
    assert "bod-17-01" in cells[0].get_text()


def test_the_audit_log_filters_and_reports_a_broken_chain(
    client: TestClient, seeded: Seeded
) -> None:
    login(client, "admin-1")
    page = soup(client.get("/audit"))
    assert page.find(attrs={"data-chain": "intact"}) is not None
    by_host = soup(client.get("/audit?host=ws-kes-1")).select("#events tbody tr")
    assert by_host and all("ws-kes-1" in r.get_text() for r in by_host)
    by_actor = soup(client.get("/audit?actor=user:operator-1&action=state.")).select(
        "#events tbody tr"
    )
    assert by_actor and all(r["data-action"] == "state.change" for r in by_actor)
    day = (NOW - dt.timedelta(days=7)).date().isoformat()
    dated = soup(client.get(f"/audit?since={day}&until={day}&action=inventory.")).select(
        "#events tbody tr"
    )
    assert [r.select("td")[3].find(class_="ident").get_text() for r in dated] == ["host:ws-kes-3"]
    assert client.get("/audit?since=yesterday").status_code == 400

    from sqlalchemy import update

    from evict.store.tables import AuditEventRow

    store = client.app.state.context.store  # type: ignore[attr-defined]
    with store.engine.begin() as conn:
        conn.execute(update(AuditEventRow).where(AuditEventRow.seq == 3).values(actor="someone"))
    client.app.state.dashboard.cache.clear()  # type: ignore[attr-defined]
    broken = soup(client.get("/audit")).find(attrs={"data-chain": "broken"})
    assert broken is not None and "#3" in broken.get_text()
    with store.engine.begin() as conn:
        conn.execute(update(AuditEventRow).where(AuditEventRow.seq == 3).values(actor="cli:test"))
    client.app.state.dashboard.cache.clear()  # type: ignore[attr-defined]


def test_a_host_with_findings_shows_its_plan_when_remediation_is_installed(
    client: TestClient, seeded: Seeded
) -> None:
    import importlib.util

    login(client, "admin-1")
    page = soup(client.get(f"/hosts/{seeded.ids['ws-kes-1']}"))
    clean = soup(client.get(f"/hosts/{seeded.ids['srv-clean-1']}"))
    assert clean.find(id="plan-title") is None  # nothing to remove, no plan
    if importlib.util.find_spec("evict.remediation.planner") is None:
        assert page.find(id="plan-title") is None
        return
    steps = page.select("#plan tbody tr")
    assert steps, page.find(id="plan-title").parent.get_text(" ", strip=True)
    phases = [row.select("td")[1].get_text() for row in steps]
    assert "remove" in phases
    # The removal never comes before the replacement is confirmed (or the plan refuses).
    refused = "removes nothing" in page.find(id="plan-title").parent.get_text()
    assert refused or phases.index("confirm") < phases.index("remove")


def test_the_audit_log_exports_what_the_filters_select_with_the_chain_head(
    client: TestClient,
) -> None:
    import csv
    import io
    import json

    login(client, "auditor-1")
    page = client.get("/audit", params={"action": "state."}).text
    assert 'href="/audit.csv?action=state."' in page
    lines = client.get("/audit.jsonl", params={"action": "state."}).text.splitlines()
    head = json.loads(lines[0])["chain_head"]
    events = [json.loads(line) for line in lines[1:]]
    assert events and all(e["action"].startswith("state.") for e in events)
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    assert all(e["seq"] <= head["seq"] and len(e["hash"]) == 64 for e in events)
    response = client.get("/audit.csv", params={"action": "state."})
    assert response.headers["x-evict-audit-head"] == f"{head['seq']}:{head['hash']}"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in events]
    assert {r["chain_head_hash"] for r in rows} == {head["hash"]}
    everything = client.get("/audit.jsonl").text
    assert "Treasury" not in everything and "tr-secret-1" not in everything
    assert client.get("/audit.xml").status_code == 400


def test_a_waiver_is_renewed_then_revoked_with_reasons(
    client: TestClient, seeded: Seeded, builtin_catalog: Any
) -> None:
    from evict.matching.engine import Matcher
    from evict.service.evaluate import MatchWorker
    from evict.store.store import Store

    login(client, "operator-1")
    host = seeded.ids["ws-kes-4"]
    csrf = csrf_of(client.get(f"/hosts/{host}").text)
    form = {"csrf": csrf, "directive": "bod-17-01", "justification": "Lab controller",
            "approver": "J. Rivera", "expires": "2026-03-20"}  # fmt: skip
    assert client.post(f"/hosts/{host}/waive", data=form, follow_redirects=False).status_code == 303

    def row_of(page: BeautifulSoup, text: str) -> Any:
        return next(
            r for r in page.select("#waivers tbody tr")
            if "ws-kes-4" in r.get_text() and text in r.get_text()
        )  # fmt: skip

    page = soup(client.get("/waivers"))
    old_id = row_of(page, "2026-03-20").find("form", action=re.compile("/renew$"))["action"]
    early = client.post(old_id, data={"csrf": csrf, "expires": "2026-03-10",
                                      "justification": "x", "approver": "y"})  # fmt: skip
    assert early.status_code == 422 and "must end after 2026-03-20" in early.text
    renewed = client.post(
        old_id,
        data={
            "csrf": csrf,
            "expires": "2026-04-30",
            "justification": "Vendor swap slipped",
            "approver": "J. Rivera",
        },  # fmt: skip
        follow_redirects=False,
    )
    assert renewed.status_code == 303
    page = soup(client.get("/waivers"))
    assert "revoked" in row_of(page, "2026-03-20").get_text()
    current = row_of(page, "2026-04-30")
    assert "Vendor swap slipped" in current.get_text()
    revoke_url = current.find("form", action=re.compile("/revoke$"))["action"]
    empty = client.post(revoke_url, data={"csrf": csrf, "reason": " "})
    assert empty.status_code == 409 and "reason" in empty.text
    done = client.post(revoke_url, data={"csrf": csrf, "reason": "Controller replaced early"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    events = soup(client.get("/audit", params={"action": "waiver."})).select("#events tbody tr")
    assert events[0]["data-action"] == "waiver.revoke"
    assert "Controller replaced early" in events[0].get_text()
    assert any("renewed until 2026-04-30" in e.get_text() for e in events)
    store = Store.open(normalise_database_url(seeded.url))
    try:
        MatchWorker(store, Matcher(builtin_catalog)).run_once(now=NOW, today=NOW.date())
    finally:
        store.close()
    badge = soup(client.get(f"/hosts/{host}")).get_text()
    assert "identified" in badge, "a revoked waiver returns the host to its earlier state"


def test_the_catch_all_product_says_what_evidence_found_it(builtin_catalog: Any) -> None:
    """A Kaspersky component no rule names a product for is shown with the kinds of evidence
    that found it, not as an unnamed product."""
    from types import SimpleNamespace

    from evict.model.observations import Kind, Observation
    from evict.server.views.overview import product_bars

    driver = Observation.make(Kind.DRIVER, "klif")
    service = Observation.make(Kind.SERVICE, "klnagent")
    matched = {
        1: (driver, [SimpleNamespace(product="kaspersky-software")]),
        2: (
            service,
            [
                SimpleNamespace(product="kaspersky-software"),
                SimpleNamespace(product="kaspersky-network-agent"),
            ],
        ),
    }
    store = SimpleNamespace(matched_software=lambda version: matched)
    ctx = SimpleNamespace(catalog=builtin_catalog, store=store)
    facts = SimpleNamespace(products=[(("kaspersky-software",), "identified", 3)])
    rows = product_bars(ctx, facts)  # type: ignore[arg-type]
    assert rows == [
        (
            "kaspersky-software",
            "Kaspersky component (product not identified): driver, service",
            3,
            0,
        )
    ]
