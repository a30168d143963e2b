"""End to end with the real command line on loopback, on SQLite and on PostgreSQL.

``evict serve``; ``evict org create``; ``evict agent --once --from osquery LOG`` pushes a
multi-host osquery results log; ``evict report bod-17-01 --format csv`` lists the hosts with a
covered product as identified and the others as clean; a second push without the product moves
those hosts to removed; ``evict audit verify`` passes, then fails once a row of the audit table is
edited by hand.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ASSETS = Path(__file__).parents[1] / "assets" / "server"
EVICT = [sys.executable, "-m", "evict"]
COVERED = {"win-fin-01", "lx-app-03"}
CLEAN = {"win-hr-02", "mac-eng-04"}


def evict(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*EVICT, *args], capture_output=True, text=True, timeout=120, env=_env()
    )
    if ok:
        assert result.returncode == 0, f"evict {' '.join(args)}: {result.stderr}"
    return result


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"EVICT_DB", "EVICT_CATALOG"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(database_url: str, log: Path, *options: str, start: float = 90) -> Iterator[str]:
    """``evict serve --db database_url OPTIONS`` on a free loopback port, its output in ``log``;
    yields the server's URL once it answers, and stops it after."""
    port = free_port()
    out = log.open("w")
    proc = subprocess.Popen(
        [*EVICT, "serve", "--db", database_url, "--port", str(port), *options],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``evict serve`` on a free loopback port; yields (server URL, database URL)."""
    if database_url.startswith("postgresql"):
        evict("db", "upgrade", "--db", database_url)
    with serving(database_url, tmp_path / "serve.log", "--worker-interval", "1s") as url:
        yield url, database_url


def states(text: str) -> dict[str, str]:
    return {row["host"]: row["state"] for row in csv.DictReader(io.StringIO(text))}


def wait_for(url: str, token: str, done: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """Poll the server's CSV report until ``done(states)`` (the worker runs in the background)."""
    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(
            f"{url}/api/v1/reports/bod-17-01.csv",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        current = states(response.text)
        if done(current):
            return current
        assert time.monotonic() < deadline, f"states never settled: {current}"
        time.sleep(0.3)


def tamper(database_url: str) -> None:
    """Edit one audit row by hand, as an intruder with database access would."""
    sql = "UPDATE audit_events SET payload = REPLACE(payload, 'identified', 'clean') WHERE seq = "
    sql += "(SELECT MIN(seq) FROM audit_events WHERE action = 'state.change')"
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute(sql).rowcount == 1
        return
    import psycopg

    base, _, query = database_url.partition("?")
    schema = query.partition("search_path%3D")[2]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        assert conn.execute(sql).rowcount == 1


@pytest.mark.slow
def test_fleet_end_to_end_with_the_real_cli(server: tuple[str, str], tmp_path: Path) -> None:
    url, db = server
    created = evict("org", "create", "DHS", "--db", db)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("eve_") and " " not in secret
    evict("user", "create", "auditor-1", "--org", "DHS", "--role", "auditor", "--db", db)
    token = evict("token", "create", "auditor-1", "--db", db).stdout.strip().splitlines()[-1]
    spool = str(tmp_path / "spool")

    def push(log: str) -> None:
        result = evict(
            "agent",
            "--server",
            url,
            "--enroll-secret",
            secret,
            "--once",
            "--spool",
            spool,
            "--from",
            "osquery",
            str(ASSETS / log),
        )
        assert "refused" not in result.stderr

    push("day1.osquery.log")
    first = wait_for(url, token, lambda s: "pending" not in s.values() and len(s) == 4)
    assert {h for h, s in first.items() if s == "identified"} == COVERED
    assert {h for h, s in first.items() if s == "clean"} == CLEAN
    via_db = evict("report", "bod-17-01", "--format", "csv", "--db", db).stdout
    assert states(via_db) == first
    header = via_db.splitlines()[0].split(",")
    assert header[:2] == ["host", "hostname"] and "state" in header and "days_left" in header

    push("day2.osquery.log")
    second = wait_for(url, token, lambda s: all(s[h] == "removed" for h in COVERED))
    assert {h for h, s in second.items() if s == "clean"} == CLEAN
    via_server = evict(
        "report", "bod-17-01", "--format", "csv", "--server", url, "--token", token
    ).stdout
    assert states(via_server) == second

    intact = evict("audit", "verify", "--db", db)
    assert "intact" in intact.stdout
    tamper(db)
    broken = evict("audit", "verify", "--db", db, ok=False)
    assert broken.returncode == 1
    assert "BROKEN at event" in broken.stderr and "altered" in broken.stderr
