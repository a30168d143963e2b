"""Unchanged check-ins answered below FastAPI (evict.server.intake), on both backends: the same
answers as the API's handler, and everything uncommon left to it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evict.model.observations import Kind, Observation
from evict.server.intake import PATH, answer_checkin
from tests.server.fleetkit import Fleet

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
