"""The scope determinations page: questions with their cited text, the hosts waiting, and the
form that records or revokes an answer (org-wide admins and operators, CSRF, escaping)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from evict.catalog.interface import Catalog
from evict.matching.engine import Matcher
from evict.model.observations import Kind, Observation
from evict.service.evaluate import MatchWorker
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store
from tests.dashboard.dashkit import NOW, Seeded, _report, csrf_of, login

QUESTION = "bytedance-other-apps-m-23-13"
LEMON8 = Observation.make(
    Kind.APP, "Lemon8", version="6.4.0", identifiers={"package_id": "com.bd.nproject"},
    source="mdm:intune",
)  # fmt: skip
HOSTILE = '<script>alert("x")</script> memo & "quotes"'


@pytest.fixture(scope="module")
def lemon8_phone(seeded: Seeded, builtin_catalog: Catalog) -> Iterator[int]:
    """A phone in HQ holding Lemon8 only, evaluated: needs a determination under M-23-13."""
    store = Store(make_engine(normalise_database_url(seeded.url)))
    org = store.org("DHS")
    secret = store.rotate_unit_secret(org.id, "HQ", actor="cli:test", now=NOW)
    info, _ = store.enroll(secret, "phone-lemon8", hostname="phone-lemon8", platform="android",
                           now=NOW)  # fmt: skip
    store.ingest(info, _report((LEMON8,), "phone-lemon8", "android"), now=NOW)
    MatchWorker(store, Matcher(builtin_catalog)).run_once(now=NOW, today=NOW.date())
    assert store.states([info.id])[info.id]["omb-m-23-13"].state.value == "needs_determination"
    store.close()
    yield info.id


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def omb_state(client: TestClient, seeded: Seeded) -> str:
    response = client.get(
        "/api/v1/hosts/phone-lemon8",
        headers={"Authorization": f"Bearer {seeded.tokens['auditor-1']}"},
    )
    return str(response.json()["states"]["omb-m-23-13"]["state"])


def work(client: TestClient, builtin_catalog: Catalog) -> None:
    store = client.app.state.context.store  # type: ignore[attr-defined]
    MatchWorker(store, Matcher(builtin_catalog)).run_once(now=NOW, today=NOW.date())


def test_the_page_shows_each_question_its_text_and_the_hosts_waiting(
    client: TestClient, lemon8_phone: int
) -> None:
    login(client, "auditor-1")
    page = soup(client.get("/determinations"))
    section = page.find("section", id=f"q-{QUESTION}")
    assert section is not None
    text = " ".join(section.get_text().split())
    assert "any successor application or service of TikTok" in text
    assert "omb-m-23-13" in text
    waiting = section.find(attrs={"data-waiting": QUESTION})
    assert waiting.find("a", href=f"/hosts/{lemon8_phone}").get_text() == "phone-lemon8"
    assert section.find(attrs={"data-determination": QUESTION}).find(
        class_="state-needs_determination"
    )
    # an auditor reads it, with no form to decide
    assert page.find("form", action="/determinations") is None
    assert "read-only" in page.get_text()
    # the host's own page shows the state
    host = soup(client.get(f"/hosts/{lemon8_phone}"))
    assert host.find(class_="state-needs_determination") is not None
    note = host.find(class_="finding-questions")
    assert note.find("a", href=f"/determinations#q-{QUESTION}") is not None
    assert "omb-m-23-13" in note.get_text()
    assert "tx-2025-deepseek" in host.find(class_="finding-directives").get_text()


def test_only_an_org_wide_writer_with_the_sessions_token_may_decide(
    client: TestClient, lemon8_phone: int
) -> None:
    body = {"question": QUESTION, "answer": "covered", "reasoning": "memo", "decided_by": "OGC"}
    login(client, "east-operator")
    page = client.get("/determinations")
    assert soup(page).find("form", action="/determinations") is None
    assert "limited to an org unit" in page.text
    refused = client.post("/determinations", data={**body, "csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    login(client, "admin-1")
    assert client.post("/determinations", data={**body, "csrf": ""}).status_code == 403
    assert client.post("/determinations", data={**body, "csrf": "0" * 43}).status_code == 403
    store = client.app.state.context.store  # type: ignore[attr-defined]
    assert store.determinations(store.org("DHS").id) == []


def test_an_admin_records_then_revokes_and_the_host_follows(
    client: TestClient, seeded: Seeded, builtin_catalog: Catalog, lemon8_phone: int
) -> None:
    login(client, "admin-1")
    csrf = csrf_of(client.get("/determinations").text)
    # no reasoning: refused, the form kept as sent, escaped
    blank = client.post(
        "/determinations",
        data={"csrf": csrf, "question": QUESTION, "answer": "not-covered", "reasoning": " ",
              "decided_by": HOSTILE},
    )  # fmt: skip
    assert blank.status_code == 422
    assert "citation or reasoning" in blank.text
    assert "<script>" not in blank.text and "&lt;script&gt;" in blank.text

    done = client.post(
        "/determinations",
        data={"csrf": csrf, "question": QUESTION, "answer": "not-covered", "reasoning": HOSTILE,
              "decided_by": "Office of the General Counsel", "decided_on": "2026-02-27"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/determinations?done=recorded"
    page = client.get(done.headers["location"])
    assert "<script>" not in page.text
    parsed = soup(page)
    assert parsed.find(attrs={"role": "status"}) is not None
    shown = parsed.find(attrs={"data-determination": QUESTION}).get_text()
    assert "not-covered" in shown and "Office of the General Counsel" in shown
    assert HOSTILE in shown, "the reasoning is shown as text"
    event = client.app.state.context.store.audit_events(action_prefix="determination.")[-1]  # type: ignore[attr-defined]
    assert (event.actor, event.payload["answer"]) == ("user:admin-1", "not-covered")

    work(client, builtin_catalog)
    assert omb_state(client, seeded) == "clean"

    revoke = client.post(
        f"/determinations/{QUESTION}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoke.status_code == 303
    work(client, builtin_catalog)
    assert omb_state(client, seeded) == "needs_determination"
    history = soup(client.get("/determinations")).find("table", id="determinations")
    assert [r.find_all("td")[-1].get_text() for r in history.select("tbody tr")] == ["revoked"]
    again = client.post(f"/determinations/{QUESTION}/revoke", data={"csrf": csrf})
    assert again.status_code == 404
