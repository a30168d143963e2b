"""The dashboard in a real browser: Debian's chromium driven by Playwright against a real server.

One uvicorn server per module over the seeded fleet (:mod:`tests.dashboard.dashkit`), one
browser, a fresh context (cookie jar) per test. Without chromium the tests are skipped, except
under ``CI=true``, where they fail. ``EVICT_SCREENSHOTS=1`` also writes docs/screenshots/ from a
demo fleet (``EVICT_SCREENSHOT_HOSTS``, default 2000).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from evict.catalog.interface import Catalog
from evict.store.store import Store
from tests.dashboard.dashkit import NOW, PASSWORD, Seeded, app_settings, seed
from tests.notify.receivers import Hook, Mailbox

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@dataclass
class Served:
    """A running server: its base URL and the fleet behind it."""

    url: str
    seeded: Seeded

    def api(self, user: str, path: str) -> Any:
        response = httpx.get(
            self.url + path, headers={"Authorization": f"Bearer {self.seeded.tokens[user]}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def audit_head(self) -> int:
        store = Store.open(self.seeded.url)
        try:
            return store.audit_head()[0]
        finally:
            store.close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port of 127.0.0.1 in a thread; yield its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless (skipped when missing outside CI; a failure in CI)."""
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                "chromium is missing: CI must run the browser tests (scripts/system-deps.sh)"
            )
        pytest.skip("chromium is not installed (scripts/system-deps.sh installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, builtin_catalog: Catalog) -> Iterator[Served]:
    """A real server over the seeded fleet (SQLite), with the clock at the fleet's today."""
    from evict.server.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'evict.db'}"
    seeded = seed(url, builtin_catalog)
    app = create_app(app_settings(url), clock=lambda: NOW, catalog=builtin_catalog)
    with serving(app) as base:
        yield Served(base, seeded)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page (no cookies), laptop-sized."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page: Any, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/overview")


def figure(page: Any, selector: str) -> int:
    return int(page.inner_text(selector).replace(",", ""))


def test_an_operator_goes_from_the_overview_to_a_waiver(page: Any, served: Served) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    sign_in(page, served.url, "admin-1")
    summary = served.api("admin-1", "/api/v1/directives/bod-17-01/summary")
    assert figure(page, "[data-figure=hosts]") == summary["hosts"]
    for state, count in summary["states"].items():
        assert figure(page, f"[data-state={state}]") == count
    identified = figure(page, "[data-state=identified]")
    waived = figure(page, "[data-state=waived]")

    page.click("nav >> text=Hosts")
    page.select_option("#state", "identified")
    page.click("text=Apply")
    page.wait_for_url("**state=identified**")
    names = page.locator("#hosts tbody th a").all_inner_texts()
    assert "ws-kes-5" in names and "srv-clean-1" not in names
    assert set(page.locator("#hosts tbody .badge").all_inner_texts()) == {"identified"}

    page.click("#hosts tbody th a >> text=ws-kes-5")
    page.wait_for_url("**/hosts/*")
    assert "Kaspersky Endpoint Security" in page.inner_text("#findings-title + article")
    page.fill("#justification-identified", "Lab instrument controller, vendor swap on order")
    page.fill("#approver-identified", "J. Rivera, CISO")
    page.fill("#expires-identified", "2026-04-15")
    page.click("text=Waive this host")
    page.wait_for_url("**done=waiver")
    assert "Waiver granted" in page.inner_text("main")

    page.click("nav >> text=Overview")
    assert figure(page, "[data-state=waived]") == waived + 1
    assert figure(page, "[data-state=identified]") == identified - 1
    after = served.api("admin-1", "/api/v1/directives/bod-17-01/summary")
    assert after["states"]["waived"] == waived + 1

    page.click("nav >> text=Audit log")
    top = page.locator("#events tbody tr").first
    assert top.get_attribute("data-action") == "waiver.create"
    assert "user:admin-1" in top.inner_text() and "ws-kes-5" in top.inner_text()
    assert problems == [], "no Content-Security-Policy violation, no failed request"


def test_an_auditor_has_no_waive_control_and_a_forged_post_is_refused(
    page: Any, served: Served
) -> None:
    sign_in(page, served.url, "auditor-1")
    host = served.seeded.ids["ws-kes-4"]
    page.goto(f"{served.url}/hosts/{host}")
    assert page.locator(f"form[action='/hosts/{host}/waive']").count() == 0
    assert page.locator("text=Waive this host").count() == 0
    assert "read-only" in page.inner_text("main")
    csrf = page.input_value("form[action='/logout'] input[name=csrf]")
    before = served.audit_head()
    response = page.request.post(
        f"{served.url}/hosts/{host}/waive",
        form={
            "csrf": csrf,
            "directive": "bod-17-01",
            "justification": "forged",
            "approver": "nobody",
            "expires": "2026-04-01",
        },
    )
    assert response.status == 403
    assert served.audit_head() == before


def test_a_user_of_another_organisation_never_sees_its_hosts(page: Any, served: Served) -> None:
    sign_in(page, served.url, "treasury-admin")
    page.click("nav >> text=Hosts")
    assert page.locator("#hosts tbody th a").all_inner_texts() == ["tr-secret-1"]
    response = page.goto(f"{served.url}/hosts/{served.seeded.ids['ws-kes-1']}")
    assert response is not None and response.status == 404
    assert "ws-kes-1" not in page.content()


def test_the_pages_work_from_the_keyboard_and_on_any_screen(chromium: Any, served: Served) -> None:
    for width in (390, 1366, 2560):
        context = chromium.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, served.url, "operator-1")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        for path in ("/overview", "/hosts", "/waivers", "/reports", "/notifications", "/audit"):
            page.goto(served.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{path} scrolls sideways at {width}px"
        context.close()


@pytest.mark.skipif(
    os.environ.get("EVICT_SCREENSHOTS") != "1",
    reason="writes docs/screenshots/: run with EVICT_SCREENSHOTS=1",
)
def test_an_admin_records_a_scope_determination(page: Any, served: Served) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, served.url, "admin-1")
    page.click("nav >> text=Scope")
    page.wait_for_url("**/determinations")
    question = "bytedance-other-apps-m-23-13"
    section = page.locator(f"#q-{question}")
    assert "successor application or service of TikTok" in section.inner_text()
    page.check(f"#not-covered-{question}")
    page.fill(f"#reasoning-{question}", "OGC memo 14: Lemon8 is not TikTok's successor.")
    page.fill(f"#decided-by-{question}", "Office of the General Counsel")
    section.locator("text=Record the determination").click()
    page.wait_for_url("**done=recorded")
    assert "Determination recorded" in page.inner_text("main")
    assert "not-covered" in page.inner_text(f"[data-determination={question}]")
    listed = served.api("auditor-1", "/api/v1/determinations")
    assert [(d["question"], d["answer"]) for d in listed] == [(question, "not-covered")]
    page.click("nav >> text=Audit log")
    assert page.locator("#events tbody tr").first.get_attribute("data-action") == (
        "determination.record"
    )
    assert problems == []


def test_screenshots_of_the_demo_fleet(chromium: Any, tmp_path: Path) -> None:
    from evict._util import utcnow
    from evict.demo.fleet import ADMIN, build_demo
    from evict.server.app import create_app

    hosts = int(os.environ.get("EVICT_SCREENSHOT_HOSTS", "2000"))
    now = utcnow()
    demo = build_demo(tmp_path, hosts=hosts, seed=1, now=now)
    store = Store.open(demo.settings.database_url)
    org = store.org("Demo Agency").id
    waived = store.waivers(org, soonest_first=True)
    host_id = waived[0].host_id if waived else 1
    store.close()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    app = create_app(dataclasses.replace(demo.settings, run_worker=False))
    with serving(app) as base:
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(base + "/login")
        page.screenshot(path=str(SCREENSHOTS / "login.png"))
        sign_in(page, base, ADMIN, demo.password)
        shots = {
            "overview": ("/overview", True),
            "hosts": ("/hosts?directive=bod-17-01", True),
            "host": (f"/hosts/{host_id}", True),
            "products": ("/products", True),
            "waivers": ("/waivers", True),
            "audit": ("/audit?action=state.", False),
        }
        for name, (path, full) in shots.items():
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)
        context.close()
    for name in [*shots, "login"]:
        assert (SCREENSHOTS / f"{name}.png").stat().st_mtime >= now.timestamp() - 5


def test_a_report_is_generated_in_the_background_and_downloaded(page: Any, served: Served) -> None:
    sign_in(page, served.url, "auditor-1")
    page.click("nav >> text=Reports")
    page.wait_for_url("**/reports")
    page.select_option("#report-bod-17-01", "day30")
    page.select_option("#format-bod-17-01", "pdf")
    page.click("#d-bod-17-01 + form button[type=submit]")
    page.wait_for_url("**/reports?asked=*")
    row = page.locator("#report-jobs tbody tr").first
    deadline = time.monotonic() + 120
    while "job-done" not in (row.get_attribute("class") or ""):
        assert "job-failed" not in (row.get_attribute("class") or ""), row.inner_text()
        assert time.monotonic() < deadline, "the report was not generated in time"
        page.wait_for_timeout(500)
        page.reload()
        row = page.locator("#report-jobs tbody tr").first
    assert "user:auditor-1" in row.inner_text() and "Day 30" in row.inner_text()
    with page.expect_download() as info:
        row.locator("a[download]").click()
    download = info.value
    path = download.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF")
    assert download.suggested_filename.startswith("bod-17-01-day30-")


def test_an_admin_sets_up_notifications_that_are_delivered(
    page: Any, served: Served, smtp: Mailbox, webhook: Hook, builtin_catalog: Catalog
) -> None:
    from evict.service.notify import notify_once

    sign_in(page, served.url, "admin-1")
    page.click("nav >> text=Notifications")
    page.select_option("#kind", "email")
    page.fill("#target", "soc@dhs.example")
    page.fill("#smtp", f"127.0.0.1:{smtp.port}")
    page.click("text=Add the channel")
    page.wait_for_url("**done=added")
    page.select_option("#kind", "webhook")
    page.fill("#target", webhook.url)
    page.fill("#secret", "shared-secret")
    for event in ("milestone-due", "new-product", "waiver-expiring"):
        page.uncheck(f"#ev-{event}")
    page.click("text=Add the channel")
    page.wait_for_url("**done=added")
    assert page.locator("#channels tbody tr").count() == 2

    page.locator("#channels tbody tr").first.locator("text=Send a test").click()
    assert "test sent: mail to soc@dhs.example" in page.inner_text("main")
    assert [m["Subject"] for m in smtp.messages] == ["evict: test notification"]

    store = Store.open(served.seeded.url)
    try:
        stats = notify_once(store, builtin_catalog, now=NOW)
    finally:
        store.close()
    assert stats.delivered >= 2 and stats.failed == 0
    assert webhook.requests and all(
        r[0]["x-evict-event"] == "host-overdue" and r[0]["x-evict-signature"].startswith("sha256=")
        for r in webhook.requests
    )
    page.click("nav >> text=Audit log")
    assert page.locator("#events tbody tr[data-action='notify.delivered']").count() >= 1


def test_an_overview_count_opens_a_list_of_exactly_that_many_hosts(
    page: Any, served: Served
) -> None:
    sign_in(page, served.url, "operator-1")
    for selector in ("[data-figure=overdue]", "[data-figure=carrying]", "[data-figure=hosts]"):
        page.goto(served.url + "/overview?directive=bod-17-01")
        count = figure(page, selector)
        page.click(selector)
        page.wait_for_url("**/hosts?**")
        assert figure(page, "[data-figure=matching]") == count, selector
        assert page.locator("#hosts tbody tr").count() == count, selector
    page.goto(served.url + "/overview?directive=bod-17-01")
    page.click("a.state-chip.state-clean")
    page.wait_for_url("**state=clean**")
    assert set(page.locator("#hosts tbody .badge").all_inner_texts()) == {"clean"}
    # The hosts page opens on the hosts needing action, overdue first, as the overview counts.
    page.goto(served.url + "/overview?directive=bod-17-01")
    overdue = figure(page, "[data-figure=overdue]")
    page.click("nav >> text=Hosts")
    overdue_cells = page.locator("#hosts tbody td[data-overdue=yes]").count()
    assert overdue_cells == overdue > 0


def test_an_operator_waives_a_filtered_set_of_hosts_at_once(page: Any, served: Served) -> None:
    sign_in(page, served.url, "operator-1")
    summary = served.api("operator-1", "/api/v1/directives/ndaa-fy18-1634/summary")
    waived = summary["states"].get("waived", 0)
    page.goto(served.url + "/hosts")
    page.select_option("#directive", "ndaa-fy18-1634")
    page.select_option("#org_unit", "HQ")
    page.click("text=Apply")
    page.wait_for_url("**org_unit=HQ**")
    listed = page.locator("#hosts tbody th a").all_inner_texts()
    assert len(listed) >= 2 and "srv-clean-1" not in listed
    page.check("#scope-all")
    page.click("summary:has-text('Waive')")
    page.fill("#bulk-justification", "Isolated test network until the swap")
    page.fill("#bulk-approver", "J. Rivera, CISO")
    page.fill("#bulk-expires", "2026-04-15")
    page.click("button:has-text('Waive these hosts')")
    assert page.inner_text("[data-figure=done]") == str(len(listed))
    page.click("text=Back to the list")
    assert page.locator("#hosts tbody tr").count() == 0
    after = served.api("operator-1", "/api/v1/directives/ndaa-fy18-1634/summary")
    assert after["states"]["waived"] == waived + len(listed)
    page.goto(served.url + "/audit?action=waiver.create")
    rows = page.locator("#events tbody tr").all_inner_texts()
    for name in listed:
        assert any(name in r and "ndaa-fy18-1634" in r for r in rows), name


def test_the_hosts_page_at_390_pixels_neither_scrolls_sideways_nor_overlaps(
    chromium: Any, served: Served
) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, served.url, "admin-1")
    page.goto(served.url + "/hosts?state=all")
    for summary in page.locator(".bulk-actions summary").all():
        summary.click()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, "the hosts page scrolls sideways at 390px"
    boxes = page.evaluate(
        """() => [...document.querySelectorAll(
            '.filters .field, .filters .field-actions, .bulk .pick, .bulk-actions .field,'
            + ' .bulk-actions button, .queue-switch, .result-count')]
          .map(e => { const r = e.getBoundingClientRect();
                      return [e.className + ':' + (e.textContent || '').trim().slice(0, 20),
                              r.left, r.top, r.right, r.bottom]; })"""
    )
    assert len(boxes) > 10
    for name, left, _, right, _ in boxes:
        assert left >= -1 and right <= 391, f"{name} leaves the screen"
    for i, (a, al, at, ar, ab) in enumerate(boxes):
        for b, bl, bt, br, bb in boxes[i + 1 :]:
            inside = al <= bl and ar >= br and at <= bt and ab >= bb
            outside = bl <= al and br >= ar and bt <= at and bb >= ab
            apart = ar <= bl + 1 or br <= al + 1 or ab <= bt + 1 or bb <= at + 1
            assert apart or inside or outside, f"{a} overlaps {b}"
    # The wide table scrolls inside its own region instead.
    region = page.locator(".table-scroll").first
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    context.close()


def test_unmanaged_devices_from_a_zeek_log_reach_the_overview_and_their_page(
    page: Any, served: Served
) -> None:
    from evict.catalog.loader import load_catalog
    from evict.inventory.network.zeek import ZeekSource

    log = Path(__file__).parents[1] / "assets" / "network" / "zeek-dns.log"
    devices = [
        {
            "host": {"id": inv.host, "hostname": inv.hostname},
            "collected_at": inv.collected_at.isoformat(),
            "source": inv.source,
            "observations": [o.to_json() for o in inv.observations],
        }
        for inv in ZeekSource([log], catalog=load_catalog()).collect()
    ]
    response = httpx.post(
        served.url + "/api/v1/network",
        json={"devices": devices},
        headers={"Authorization": f"Bearer {served.seeded.tokens['admin-1']}"},
    )
    assert response.status_code == 200, response.text
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, served.url, "admin-1")
    listed = served.api("admin-1", "/api/v1/network/unmanaged")["devices"]
    assert figure(page, "[data-figure=unmanaged]") == len(listed) >= 2
    page.click("[data-figure=unmanaged]")
    page.wait_for_url("**/unmanaged")
    rows = page.locator("#unmanaged tbody tr")
    addresses = {rows.nth(i).get_attribute("data-address") for i in range(rows.count())}
    assert {"10.0.0.5", "10.0.0.8"} <= addresses and "10.0.0.6" not in addresses
    assert "dc1.ksn.kaspersky-labs.com" in page.inner_text("tr[data-address='10.0.0.5']")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Unmanaged"
    assert problems == [], "no Content-Security-Policy violation"
