"""A real ``evict serve`` process on a free loopback port, and agents that push to it.

Used by the crash and soak tests: the server runs as a subprocess (so SIGKILL is a real crash),
the agents are the real agent code (:class:`evict.agent.agent.Agent`) with real spools on disk.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evict.agent.agent import Agent
from evict.agent.client import FleetClient
from evict.agent.spool import Spool
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform
from tests.server.fleetkit import KES, ZIP

LONG = os.environ.get("EVICT_SOAK", "") not in ("", "0")
"""Whether the long versions run (``make soak`` sets ``EVICT_SOAK=1``)."""


BACKLOG = 50
"""Most reports a test agent lets wait in its spool before it stops queueing new ones."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def setup_org(url: str, org: str = "DHS") -> str:
    """Create an organisation in the database at ``url``; return its enrolment secret."""
    from evict.settings import normalise_database_url
    from evict.store.store import Store

    store = Store.open(normalise_database_url(url))
    try:
        _, secret = store.create_org(org, actor="cli:test", now=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    return secret


class Server:
    """``evict serve`` on ``url`` (already migrated), started, killed and restarted at will.

    :param url: the database URL.
    :param log: a file for the server's output.
    """

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers its health check."""
        command = [sys.executable, "-m", "evict", "serve", "--db", self.url]
        command += ["--port", str(self.port), "--worker-interval", "1s"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited ({self.process.returncode}): {self.tail()}"
                )
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer within {timeout}s: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL the server: no shutdown, no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the server politely (end of a test)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc")

    def tail(self, size: int = 2000) -> str:
        """The end of the server's output (``size`` characters)."""
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""


class RecordingClient(FleetClient):
    """The agent's client, remembering every report the server acknowledged."""

    def __init__(self, server: str, acked: set[str], lock: threading.Lock) -> None:
        super().__init__(server, retries=2, backoff=0.05, max_backoff=0.3, timeout=10)
        self.acked = acked
        self.lock = lock
        self.errors: list[str] = []

    def send(self, credential: str, gzipped: bytes) -> dict[str, Any]:
        """Send a report; record its id once acknowledged."""
        ack = super().send(credential, gzipped)
        with self.lock:
            self.acked.add(str(ack["report_id"]))
        return ack


@dataclass
class PushingAgent:
    """One agent thread: it queues a new inventory of its host and delivers its spool."""

    name: str
    server: str
    secret: str
    spool_dir: Path
    acked: set[str]
    lock: threading.Lock
    queued: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    round: int = 0

    def __post_init__(self) -> None:
        self.client = RecordingClient(self.server, self.acked, self.lock)
        self.spool = Spool(self.spool_dir)
        self.agent = Agent(self.client, self.spool, self.secret)

    def inventory(self, *, changed: bool = True) -> HostInventory:
        """This agent's host with one program whose version changes every round."""
        if changed:
            self.round += 1
        tool = Observation.make(
            Kind.PROGRAM, "Build Tools", version=f"1.{self.round}", source="osquery:programs"
        )
        return HostInventory(
            HostID(self.name),
            self.name,
            Platform.WINDOWS,
            dt.datetime.now(dt.UTC),
            (KES, ZIP, tool) if self.round % 2 else (ZIP, tool),
            "osquery",
        )

    def step(self, *, changed: bool = True) -> int:
        """Queue one report (unless :data:`BACKLOG` wait already) and deliver the spool.

        Return how many reports are still pending. A real agent queues one inventory per scan
        interval; queueing one per round whatever happens would fill the spool past its bound
        during the restarts, and the spool would drop the oldest reports (superseded, by
        design, by newer inventories of the same host).
        """
        if len(self.spool.pending()) < BACKLOG:
            now = dt.datetime.now(dt.UTC)
            for path in self.agent.queue([self.inventory(changed=changed)], now=now):
                self.queued.append(path.name.split("-")[-1].removesuffix(".json.gz"))
        delivery = self.agent.deliver()
        self.rejected.extend(delivery.rejected)
        return delivery.pending

    def drain(self, timeout: float) -> int:
        """Deliver until the spool is empty (or ``timeout``); return what is left."""
        deadline = time.monotonic() + timeout
        left = len(self.spool.pending())
        while left and time.monotonic() < deadline:
            delivery = self.agent.deliver()
            self.rejected.extend(delivery.rejected)
            left = len(self.spool.pending())
            if left:
                time.sleep(0.2)
        return left


def stored_report_ids(url: str) -> set[str]:
    """Every report id the database holds."""
    from sqlalchemy import select

    from evict.settings import normalise_database_url
    from evict.store.store import Store
    from evict.store.tables import ReportRow

    store = Store.open(normalise_database_url(url))
    try:
        with store.engine.connect() as conn:
            return {str(r) for r in conn.execute(select(ReportRow.report_id)).scalars()}
    finally:
        store.close()


def audit_verify(url: str) -> subprocess.CompletedProcess[str]:
    """Run ``evict audit verify`` on the database."""
    return subprocess.run(
        [sys.executable, "-m", "evict", "audit", "verify", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
