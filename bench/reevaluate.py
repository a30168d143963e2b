"""Catalog re-evaluation of the whole fleet: from "the catalog version changed" to every host's
findings and states updated.

The fleet is pre-loaded through the bulk path and evaluated once (the first pass, which
creates every state). Then the worker runs with a catalog whose version differs (same rules,
so every distinct software row is matched again and every host evaluated again: the most work
a catalog change can cause) and the pass is timed, split into its parts: dropping old matches
and queueing every host, re-matching distinct software, and evaluating hosts. Target: 30 s at
1,000,000 hosts on PostgreSQL. 10,000 hosts by default, ``--full`` 100,000 and 1,000,000
(``EVICT_BENCH_SIZES`` and ``EVICT_BENCH_BACKENDS`` as in ``ingest``).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import ingest  # noqa: E402
import loadgen  # noqa: E402


def reevaluate(url: str) -> dict[str, Any]:
    """Change the catalog version and time one worker pass over the whole fleet, by part."""
    from evict.catalog.loader import load_catalog
    from evict.matching.engine import Matcher
    from evict.server.worker import MatchWorker, protection_products
    from evict.store.engine import make_engine
    from evict.store.store import Store

    base = load_catalog()
    catalog = dataclasses.replace(base, version=f"{base.version}-bench-{time.time_ns()}")
    store = Store(make_engine(url))
    worker = MatchWorker(store, Matcher(catalog), protection=protection_products(catalog, None))
    now, today = loadgen.NOW, loadgen.NOW.date()
    parts: dict[str, float] = {}
    started = time.perf_counter()
    with store.worker_lock():
        t = time.perf_counter()
        store.prepare_catalog(catalog.version, now=now)
        parts["queue_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        matched = worker.match_new_software()
        parts["match_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        store.queue_expired_waivers(today)
        evaluated, changes = worker.evaluate_queued(now=now, today=today)
        parts["evaluate_seconds"] = time.perf_counter() - t
    total = time.perf_counter() - started
    store.close()
    return {
        "seconds": round(total, 2),
        **{k: round(v, 2) for k, v in parts.items()},
        "software_matched": matched,
        "hosts_evaluated": evaluated,
        "state_changes": changes,
        "hosts_per_second": round(evaluated / parts["evaluate_seconds"], 1)
        if parts["evaluate_seconds"]
        else 0,
    }


def run(full: bool) -> dict[str, Any]:
    """Grow the fleet to each size; at each, evaluate it once, then time a catalog change."""
    results: list[dict[str, Any]] = []
    table: list[tuple[str, Any, str]] = []
    for backend in ingest.backends():
        with loadgen.database(backend) as url:
            stored = 0
            for n in ingest.sizes(full):
                loadgen.preload(url, n, start=stored, progress=full)
                stored = n
                first = loadgen.evaluate_all(url)
                again = reevaluate(url)
                results.append(
                    {"backend": backend, "hosts": n, "first_pass": first, "catalog_change": again}
                )
                tag = f"{backend}, {n:,} hosts"
                target = "<= 30 at 1,000,000" if backend == "postgresql" else ""
                table += [
                    (f"re-evaluation after a catalog change, s ({tag})", again["seconds"], target),
                    (
                        "  queue / re-match / evaluate s; hosts/s",
                        f"{again['queue_seconds']} / {again['match_seconds']} / "
                        f"{again['evaluate_seconds']}; {again['hosts_per_second']:,.0f}",
                        "",
                    ),
                    (f"first evaluation of every host, s ({tag})", first["seconds"], ""),
                ]
    return {"results": results, "table": table}
