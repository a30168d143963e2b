"""Crash test: SIGKILL the real server at random moments while real agents push.

Several agent threads (the real agent code, each with its spool on disk) push a new inventory
of their host every round to an ``evict serve`` subprocess; the server is killed with SIGKILL at
a random moment, restarted, and killed again. Afterwards every report the server acknowledged
is in the database, ``evict audit verify`` passes, and the agents have delivered everything
they spooled (what was not acknowledged was resent). ``make test`` kills 5 times per backend;
``make soak`` (``EVICT_SOAK=1``) kills 100 times.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

from tests.security.serverkit import (
    LONG,
    PushingAgent,
    Server,
    audit_verify,
    setup_org,
    stored_report_ids,
)

KILLS = int(os.environ.get("EVICT_CRASH_KILLS", "100" if LONG else "5"))
"""How many times the server is killed per backend."""

AGENTS = 3


def test_sigkill_at_random_moments_loses_no_acknowledged_report(
    migrated_url: str, tmp_path: Path
) -> None:
    secret = setup_org(migrated_url)
    server = Server(migrated_url, tmp_path / "server.log")
    acked: set[str] = set()
    lock = threading.Lock()
    agents = [
        PushingAgent(f"crash-{i}", server.base, secret, tmp_path / f"spool-{i}", acked, lock)
        for i in range(AGENTS)
    ]
    stop = threading.Event()
    failures: list[BaseException] = []

    def push(agent: PushingAgent) -> None:
        try:
            while not stop.is_set():
                if agent.step():
                    time.sleep(0.05)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    rng = random.Random(os.environ.get("EVICT_CRASH_SEED", "17"))
    server.start()
    threads = [threading.Thread(target=push, args=(a,), daemon=True) for a in agents]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.5))
            server.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            server.start()
        stop.set()
        for t in threads:
            t.join(60)
        left = {a.name: a.drain(timeout=60) for a in agents}
    finally:
        stop.set()
        server.stop()
    assert not failures, f"an agent thread failed: {failures[0]!r}"
    stored = stored_report_ids(migrated_url)
    lost = acked - stored
    queued = {r for a in agents for r in a.queued}
    rejected = [r for a in agents for r in a.rejected]
    summary = {
        "backend": migrated_url.split(":", 1)[0],
        "kills": KILLS,
        "starts": server.starts,
        "reports_queued": len(queued),
        "reports_acknowledged": len(acked),
        "reports_lost": len(lost),
        "left_in_spools": sum(left.values()),
    }
    print("crash-test:", json.dumps(summary))
    assert server.starts == KILLS + 1
    assert not lost, f"acknowledged but not stored: {sorted(lost)[:5]}"
    assert not rejected, f"the server refused spooled reports: {rejected[:3]}"
    assert not any(left.values()), f"reports still spooled after the last restart: {left}"
    assert queued <= acked, "every spooled report was delivered in the end"
    assert len(acked) > KILLS, "the agents kept pushing between the kills"
    credentials = [a.spool.credential(server.base, a.name) for a in agents]
    assert all(credentials) and not [c for c in credentials if c and c in server.tail(10**7)], (
        "a credential in the server's output"
    )
    verdict = audit_verify(migrated_url)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert "audit chain intact" in verdict.stdout
