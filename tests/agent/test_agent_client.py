"""The agent's HTTP client: retries with backoff on transient failures, none on refusals."""

from __future__ import annotations

import httpx
import pytest

from evict.agent.client import FleetClient, Refused, ServerUnreachable


def scripted(*responses: object) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, httpx.Response)
        return item

    return httpx.MockTransport(handler), seen


def client(transport: httpx.MockTransport, sleeps: list[float]) -> FleetClient:
    return FleetClient(
        "http://fleet.example", retries=3, backoff=1.0, transport=transport, sleep=sleeps.append
    )


def test_transient_failures_are_retried_with_growing_delays() -> None:
    transport, seen = scripted(
        httpx.ConnectError("refused"),
        httpx.Response(503, json={"error": {"message": "restarting"}}),
        httpx.Response(200, json={"credential": "evh_x"}),
    )
    sleeps: list[float] = []
    assert client(transport, sleeps).enroll("s", "ws-1", hostname="", platform="linux") == "evh_x"
    assert len(seen) == 3
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_retry_after_is_honoured_on_429() -> None:
    transport, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}, json={}),
        httpx.Response(200, json={"status": "unchanged"}),
    )
    sleeps: list[float] = []
    assert client(transport, sleeps).unchanged("evh", "aaaaaaaa01", "d" * 64)
    assert sleeps == [7.0]


def test_a_refusal_is_not_retried_and_carries_the_servers_message() -> None:
    transport, seen = scripted(
        httpx.Response(413, json={"error": {"message": "the body is over 16777216 bytes"}})
    )
    with pytest.raises(Refused) as e:
        client(transport, []).send("evh", b"...")
    assert e.value.status == 413 and "16777216" in e.value.message
    assert len(seen) == 1


def test_an_unreachable_server_gives_up_after_the_retries() -> None:
    transport, seen = scripted(*(httpx.ConnectError("no route") for _ in range(4)))
    sleeps: list[float] = []
    with pytest.raises(ServerUnreachable, match="after 4 tries"):
        client(transport, sleeps).send("evh", b"...")
    assert len(seen) == 4 and len(sleeps) == 3


def test_reports_are_sent_gzip_with_the_host_credential() -> None:
    transport, seen = scripted(httpx.Response(200, json={"status": "stored"}))
    client(transport, []).send("evh_abc", b"\x1f\x8bdata")
    request = seen[0]
    assert request.headers["authorization"] == "Bearer evh_abc"
    assert request.headers["content-encoding"] == "gzip"
    assert request.content == b"\x1f\x8bdata"
