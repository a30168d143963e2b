"""Unchanged check-ins answered below FastAPI (evict.server.intake), on both backends: the same
answers as the API's handler, and everything uncommon left to it."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evict.catalog.interface import Catalog
from evict.model.observations import Kind, Observation
from evict.server.intake import INVENTORY_PATH, PATH, InventoryFastPath, answer_checkin
from tests.server.fleetkit import Clock, Fleet, make_fleet

ZIP = Observation.make(
    Kind.PROGRAM, "7-Zip 23.01 (x64)", version="23.01", source="osquery:programs"
)


def scope(fleet: Fleet, credential: str, **headers: str) -> dict[str, Any]:
    sent = {"authorization": f"Bearer {credential}", "content-type": "application/json"}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "app": fleet.client.app,
        "headers": [(k.encode(), v.encode()) for k, v in sent.items() if v],
    }


def test_a_remembered_hosts_check_in_is_answered_and_written_like_the_apis(fleet: Fleet) -> None:
    ack = fleet.push("h1", ZIP)
    digest = fleet.body("h1", [ZIP])["digest"]
    credential = fleet.credentials["h1"]
    body = json.dumps({"report_id": "checkin-0001", "digest": digest}).encode()
    # A host whose inventory just changed is read again by the API's handler, then remembered.
    assert answer_checkin(scope(fleet, credential), body) is None
    assert fleet.check_in("h1", ZIP) == "unchanged"
    answer = answer_checkin(scope(fleet, credential), body)
    assert answer is not None
    assert json.loads(answer) == {"status": "unchanged", "report_id": "checkin-0001"}
    # The same request over HTTP gets the same answer (the API's handler says the same).
    response = fleet.client.post(
        PATH,
        content=json.dumps({"report_id": "checkin-0002", "digest": digest}),
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"status": "unchanged", "report_id": "checkin-0002"}
    other = json.dumps({"report_id": "checkin-0003", "digest": "0" * 64}).encode()
    assert json.loads(answer_checkin(scope(fleet, credential), other) or b"") == {
        "status": "send",
        "report_id": "checkin-0003",
    }
    store = fleet.ctx.store
    store.flush_checkins()
    host = store.host(store.org("DHS").id, "h1")
    assert host.last_checkin == "checkin-0002" and ack["report_id"] != host.last_checkin


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"report_id": "checkin-0001", "digest": "DIGEST", "extra": 1}, {}, 422),
        ({"report_id": "short", "digest": "DIGEST"}, {}, 422),
        ({"report_id": "checkin-0001", "digest": "A" * 64}, {}, 422),
        ({"report_id": "checkin-0001", "digest": "DIGEST"}, {"credential": "evh_unknown"}, 401),
        ({"report_id": "checkin-0001", "digest": "DIGEST", "addresses": ["10.1.2.3"]}, {}, 200),
        ({"report_id": "checkin-0001", "digest": "DIGEST"}, {"content_type": "text/plain"}, 0),
    ],
)
def test_anything_uncommon_is_left_to_the_api_and_gets_its_answer(
    fleet: Fleet, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    fleet.push("h1", ZIP)
    assert fleet.check_in("h1", ZIP) == "unchanged"  # h1 is remembered
    digest = fleet.body("h1", [ZIP])["digest"]
    headers = dict(headers)
    credential = headers.pop("credential", fleet.credentials["h1"])
    sent = json.dumps({k: digest if v == "DIGEST" else v for k, v in body.items()})
    assert answer_checkin(scope(fleet, credential, **headers), sent.encode()) is None
    http_headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
    http_headers.update({k.replace("_", "-").title(): v for k, v in headers.items()})
    response = fleet.client.post(PATH, content=sent, headers=http_headers)
    if status:
        assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["status"] == "unchanged"
    elif status:
        assert "error" in response.json()


# -- full inventories ---------------------------------------------------------------------------


class _Passed:
    """The app below the fast path, recording the bodies handed to it (as it reads them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks: list[bytes] = []

        async def seen() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, seen, send)
        finally:
            self.bodies.append(b"".join(chunks))


class _Clients:
    """The same running app two ways: with only the inventory fast path in front of the rest
    (``fast``; what it passes on is recorded in ``passed``), and without it (``plain``)."""

    def __init__(self, fleet: Fleet) -> None:
        app = fleet.client.app
        kept = app.user_middleware  # type: ignore[attr-defined]
        app.user_middleware = [m for m in kept if m.cls is not InventoryFastPath]  # type: ignore[attr-defined]
        try:
            stack = app.build_middleware_stack()  # type: ignore[attr-defined]
        finally:
            app.user_middleware = kept  # type: ignore[attr-defined]
        self.passed = _Passed(stack)
        fast = InventoryFastPath(self.passed)

        def with_app(inner: Any) -> Any:
            async def call(scope: Any, receive: Any, send: Any) -> None:
                scope["app"] = app
                await inner(scope, receive, send)

            return call

        # No lifespan: the app's own (the fleet's) is running.
        self.fast = TestClient(with_app(fast))
        self.plain = TestClient(with_app(stack))


def _answer(response: Any) -> tuple[int, str, bytes]:
    return response.status_code, response.headers["content-type"], response.content


def _post(client: TestClient, fleet: Fleet, host: str, body: Any, **headers: str) -> Any:
    sent = {"Authorization": f"Bearer {fleet.credentials[host]}", **headers}
    return client.post(INVENTORY_PATH, content=body, headers=sent)


def _remembered(fleet: Fleet, host: str) -> None:
    """Make ``host`` remembered by its credential (a request through the API reads it)."""
    fleet.check_in(host, ZIP)
    assert fleet.ctx.store.cached_agent_host(fleet.credentials[host]) is not None


def _gz(body: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(body).encode())


def test_a_remembered_hosts_inventory_is_stored_audited_and_answered_like_the_apis(
    fleet: Fleet,
) -> None:
    clients = _Clients(fleet)
    fleet.enroll("h1")
    _remembered(fleet, "h1")
    body = fleet.body("h1", [ZIP])
    fast = _post(clients.fast, fleet, "h1", _gz(body), **{"Content-Encoding": "gzip"})
    assert fast.status_code == 200, fast.text
    assert clients.passed.bodies == []  # answered by the fast path
    assert fast.json()["status"] == "stored" and fast.json()["observations"] == 2
    # A resend gets the same answer from the API's handler, byte for byte, and from the fast
    # path (plain JSON this time).
    plain = _post(clients.plain, fleet, "h1", _gz(body), **{"Content-Encoding": "gzip"})
    assert _answer(plain) == _answer(fast)
    _remembered(fleet, "h1")
    again = _post(clients.fast, fleet, "h1", json.dumps(body).encode())
    assert clients.passed.bodies == []
    assert _answer(again) == _answer(fast)
    # Stored and audited as through the API.
    store = fleet.ctx.store
    host = store.host(store.org("DHS").id, "h1")
    assert host.digest == body["digest"]
    events = fleet.client.get(
        "/api/v1/audit", params={"subject": "host:h1"}, headers=fleet.auth("auditor")
    ).json()["events"]
    ingests = [e for e in events if e["action"] == "inventory.ingest"]
    assert [e["payload"]["report_id"] for e in ingests] == [body["report_id"]]
    assert ingests[0]["payload"]["digest"] == body["digest"]
    verify = fleet.client.get("/api/v1/audit/verify", headers=fleet.auth("auditor")).json()
    assert verify["ok"] is True
    assert fleet.work().evaluated >= 1


def _cases(fleet: Fleet) -> list[tuple[str, bytes, dict[str, str], int]]:
    """Reports the fast path leaves to the API: (what, body, headers, the API's status)."""
    fleet.enroll("h2")
    gz = {"Content-Encoding": "gzip"}
    addressed = fleet.body("h1", [ZIP])
    addressed["addresses"] = ["10.1.2.3"]
    typed = fleet.body("h1", [ZIP])
    typed["observations"][0]["identifiers"] = {"cpe": ["a", "b"]}  # a list: the parser's case
    many = fleet.body("h1", [ZIP] * 51, complete=False)
    return [
        ("another host's report", _gz(fleet.body("h2", [ZIP])), gz, 422),
        ("malformed JSON", b'{"report_id": ', {}, 422),
        ("malformed gzip", gzip.compress(b"{}" * 100)[:-12], gz, 422),
        ("a gzip bomb", gzip.compress(b" " * (200 * 1024)), gz, 413),
        ("over the body limit", b"x" * 5000, {}, 413),
        ("an unknown encoding", _gz(fleet.body("h1", [ZIP])), {"Content-Encoding": "br"}, 422),
        ("addresses to record", _gz(addressed), gz, 200),
        ("identifiers as lists", _gz(typed), gz, 200),
        ("too many observations", _gz(many), gz, 413),
        ("an unknown kind", b'{"report_id": "r-00000001", "host": {"id": "h1"}, '
         b'"observations": [{"kind": "rootkit", "name": "x"}]}', {}, 422),
    ]  # fmt: skip


@pytest.mark.parametrize("chunked", [False, True])
def test_any_other_inventory_is_left_to_the_api_unchanged_and_gets_its_answer(
    migrated_url: str, server_catalog: Catalog, chunked: bool
) -> None:
    limits = {"max_body_bytes": 4096, "max_inflated_bytes": 64 * 1024, "max_observations": 50}
    for fleet in make_fleet(migrated_url, server_catalog, Clock(), **limits):
        clients = _Clients(fleet)
        fleet.enroll("h1")
        for what, body, headers, status in _cases(fleet):
            _remembered(fleet, "h1")
            passed = len(clients.passed.bodies)

            # Sent in chunks without a length, the body limit is found while reading.
            def content(body: bytes = body) -> Any:
                return iter([body[:100], body[100:]]) if chunked else body

            fast = _post(clients.fast, fleet, "h1", content(), **headers)
            assert len(clients.passed.bodies) == passed + 1, what
            declared_over = not chunked and len(body) > 4096
            if not declared_over:  # the API read it as it was sent
                assert clients.passed.bodies[-1] == body, what
            assert fast.status_code == status, (what, fast.text)
            if status != 200:
                _remembered(fleet, "h1")
                plain = _post(clients.plain, fleet, "h1", content(), **headers)
                assert _answer(plain) == _answer(fast), what
                # The whole app (both fast paths in front) answers the same.
                whole = _post(fleet.client, fleet, "h1", content(), **headers)
                assert _answer(whole) == _answer(fast), what


def test_an_unknown_or_not_remembered_credential_is_left_to_the_api(fleet: Fleet) -> None:
    clients = _Clients(fleet)
    fleet.enroll("h1")  # not remembered yet: read by the API's handler
    body = _gz(fleet.body("h1", [ZIP]))
    first = _post(clients.fast, fleet, "h1", body, **{"Content-Encoding": "gzip"})
    assert first.status_code == 200 and clients.passed.bodies == [body]
    fleet.credentials["h1"] = "evh_unknown"
    refused = _post(clients.fast, fleet, "h1", body, **{"Content-Encoding": "gzip"})
    assert refused.status_code == 401 and len(clients.passed.bodies) == 2
