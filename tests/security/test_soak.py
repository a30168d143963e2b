"""Soak: bounded load on loopback against the real server; no error, memory flat.

Agent threads push full inventories and unchanged check-ins to an ``evict serve`` subprocess at
a bounded rate while the server's resident memory is sampled. ``make test`` runs 10 seconds on
each backend; ``make soak`` (``EVICT_SOAK=1``) runs ``EVICT_SOAK_SECONDS`` (default 300) on each
backend. The figures (requests, first/last/max RSS) are printed on one line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tests.security.serverkit import LONG, PushingAgent, Server, setup_org

SECONDS = float(os.environ.get("EVICT_SOAK_SECONDS", "300" if LONG else "10"))
"""How long the load lasts."""

AGENTS = 4
ROUND_PAUSE = 0.02
"""Each agent's pause between rounds: bounded load, not a benchmark."""

MiB = 1024 * 1024


def test_bounded_load_gives_no_errors_and_flat_memory(migrated_url: str, tmp_path: Path) -> None:
    secret = setup_org(migrated_url)
    server = Server(migrated_url, tmp_path / "server.log")
    acked: set[str] = set()
    lock = threading.Lock()
    agents = [
        PushingAgent(f"soak-{i}", server.base, secret, tmp_path / f"spool-{i}", acked, lock)
        for i in range(AGENTS)
    ]
    stop = threading.Event()
    failures: list[BaseException] = []
    rounds = [0] * AGENTS

    def push(i: int) -> None:
        try:
            while not stop.is_set():
                # Every third round repeats the last inventory: a digest check-in, not a body.
                pending = agents[i].step(changed=rounds[i] % 3 != 2)
                assert pending == 0, "the server did not answer"
                rounds[i] += 1
                time.sleep(ROUND_PAUSE)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)
            stop.set()

    server.start()
    samples: list[int] = []
    threads = [threading.Thread(target=push, args=(i,), daemon=True) for i in range(AGENTS)]
    try:
        for t in threads:
            t.start()
        end = time.monotonic() + SECONDS
        while time.monotonic() < end and not stop.is_set():
            samples.append(server.rss())
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(30)
        samples.append(server.rss())
    finally:
        stop.set()
        server.stop()
    assert not failures, f"an agent failed under load: {failures[0]!r}\n{server.tail()}"
    rejected = [r for a in agents for r in a.rejected]
    assert not rejected, f"error responses under load: {rejected[:3]}"
    warm = samples[len(samples) // 4 :]
    figures = {
        "backend": migrated_url.split(":", 1)[0],
        "seconds": SECONDS,
        "rounds": sum(rounds),
        "reports_stored": len(acked),
        "rss_first_mib": round(samples[0] / MiB, 1),
        "rss_warm_mib": round(warm[0] / MiB, 1),
        "rss_last_mib": round(samples[-1] / MiB, 1),
        "rss_max_mib": round(max(samples) / MiB, 1),
    }
    print("soak:", json.dumps(figures))
    assert sum(rounds) > SECONDS, "the load ran"
    # Flat: after warm-up (the first quarter: imports, caches, connection pools) memory may
    # wobble but not climb; a leak of a few KiB per request would show here.
    assert samples[-1] <= warm[0] * 1.25 + 16 * MiB, figures
