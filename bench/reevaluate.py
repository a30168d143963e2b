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

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import ingest  # noqa: E402
import loadgen  # noqa: E402


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
                again = loadgen.reevaluate(url)
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
