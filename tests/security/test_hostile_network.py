"""Hostile clients against a real ``evict serve``: forged proxy headers, silent bodies, hang-ups.

These need the real HTTP server (uvicorn), not the in-process test client: the proxy headers
were believed by uvicorn's own middleware, and stalled bodies and disconnects happen on real
sockets. Threat model entries 5 and 8 of docs/security.md.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evict.settings import Settings
from tests.security.serverkit import Server, setup_org

BODY_TIMEOUT = 1.0
"""The servers' body timeout here (EVICT_BODY_TIMEOUT), short to keep the tests quick."""


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Server]:
    """A server on a fresh SQLite file with ``env`` set (the store is not what is tested)."""
    monkeypatch.setenv("EVICT_BODY_TIMEOUT", str(BODY_TIMEOUT))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = Server(f"sqlite:///{tmp_path / 'evict.db'}", tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """``evict serve`` with the default settings (no trusted proxy)."""
    monkeypatch.delenv("EVICT_TRUSTED_PROXIES", raising=False)
    yield from start(tmp_path, monkeypatch)


@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """``evict serve`` behind a reverse proxy on 127.0.0.1, configured as trusted."""
    yield from start(tmp_path, monkeypatch, EVICT_TRUSTED_PROXIES="127.0.0.1")


def logins(server: Server, count: int, forwarded: list[str]) -> list[int]:
    """Statuses of ``count`` failed logins, each with its ``X-Forwarded-For`` (cycled)."""
    statuses = []
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for i in range(count):
            response = client.post(
                "/api/v1/login",
                json={"name": f"nobody-{i}", "password": "not the password"},
                headers={"X-Forwarded-For": forwarded[i % len(forwarded)]},
            )
            statuses.append(response.status_code)
    return statuses


# -- attack 5: X-Forwarded-For picks the rate-limit bucket ---------------------------------------


def test_a_forged_x_forwarded_for_does_not_escape_the_login_limit(server: Server) -> None:
    burst = int(Settings(database_url="sqlite://").login_rate[0])
    forged = [f"203.0.113.{i}" for i in range(burst + 3)]
    statuses = logins(server, burst + 3, forged)
    assert statuses[:burst] == [401] * burst
    assert 429 in statuses[burst:], "a new X-Forwarded-For per attempt was a new bucket"


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(proxied: Server) -> None:
    burst = int(Settings(database_url="sqlite://").login_rate[0])
    clients = [f"198.51.100.{i}" for i in range(burst + 3)]
    assert 429 not in logins(proxied, burst + 3, clients), "clients behind a proxy share a bucket"
    assert 429 in logins(proxied, burst + 3, ["198.51.100.200"]), "one client is still limited"


# -- attack 8: silent bodies and hang-ups --------------------------------------------------------

SILENT = (
    b"POST /api/v1/login HTTP/1.1\r\nHost: evict\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_connections_that_declare_a_body_and_send_nothing_are_dropped(server: Server) -> None:
    sockets = []
    for _ in range(100):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(SILENT)
        sockets.append(sock)
    started = time.monotonic()
    deadline = started + BODY_TIMEOUT + 5
    answers = []
    for sock in sockets:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            answers.append(read_all(sock))
        except TimeoutError:
            answers.append(b"(still open)")
        finally:
            sock.close()
    waited = time.monotonic() - started
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0][:200]
    assert waited < BODY_TIMEOUT + 5, f"silent connections stayed open {waited:.1f}s"
    assert b"no body bytes received" in answers[0]
    assert httpx.get(f"{server.base}/api/v1/health", timeout=5).status_code == 200


def test_a_client_hanging_up_mid_body_is_one_log_line_without_a_traceback(
    server: Server,
) -> None:
    secret = setup_org(server.url)
    enrolled = httpx.post(
        f"{server.base}/api/v1/enroll",
        json={"secret": secret, "host": "ws-1", "platform": "linux"},
        timeout=10,
    )
    credential = enrolled.json()["credential"]
    before = server.tail(100_000)
    hangups = 5
    for _ in range(hangups):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(
            b"POST /api/v1/inventory HTTP/1.1\r\nHost: evict\r\n"
            b"Authorization: Bearer " + credential.encode() + b"\r\n"
            b'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"report'
        )
        time.sleep(0.2)
        sock.close()
    time.sleep(BODY_TIMEOUT + 1)
    log = server.tail(100_000)[len(before) :]
    assert "Traceback" not in log, log[-2000:]
    lines = [line for line in log.splitlines() if "disconnected" in line]
    assert len(lines) == hangups, log[-2000:]
    assert "POST /api/v1/inventory from 127.0.0.1" in lines[0]
