"""Catalog re-evaluation of the whole fleet: from "the catalog version changed" to every host's
findings and states updated.

The fleet is pre-loaded through the bulk path and evaluated once (the first pass, which
creates every state). Then two catalog changes are timed, each one worker pass split into its
parts (noting the change and queueing hosts, re-matching every distinct software row, and
evaluating the queued hosts): one product's recognition rules change (the usual catalog update:
only the hosts whose matched software changed are evaluated again), then something beyond the
rules changes (the hosts carrying a covered product, and those whose state is not clean or
verified, are evaluated again). Target: 30 s at 1,000,000 hosts on PostgreSQL. 10,000 hosts by
default (``make bench``); ``bench/run.py --full`` times the same changes within ``ingest`` on
its million-host fleet instead of loading another (``EVICT_BENCH_SIZES`` and
``EVICT_BENCH_BACKENDS`` as in ``ingest``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import ingest  # noqa: E402
import loadgen  # noqa: E402


def run(full: bool) -> dict[str, Any]:
    """Grow the fleet to each size; at each, evaluate it once, then time two catalog changes."""
    results: list[dict[str, Any]] = []
    table: list[tuple[str, Any, str]] = []
    for backend in ingest.backends():
        with loadgen.database(backend) as url:
            stored = 0
            for n in ingest.sizes(full):
                loadgen.preload(url, n, start=stored, progress=full)
                stored = n
                first = loadgen.evaluate_all(url)
                changes = {kind: loadgen.reevaluate(url, kind) for kind in ("rules", "all")}
                results.append(
                    {"backend": backend, "hosts": n, "first_pass": first, "catalog_change": changes}
                )
                tag = f"{backend}, {n:,} hosts"
                target = "<= 30 at 1,000,000" if backend == "postgresql" else ""
                for kind, label in (("rules", "one product's rules"), ("all", "beyond the rules")):
                    again = changes[kind]
                    table += [
                        (f"re-evaluation, {label} changed, s ({tag})", again["seconds"], target),
                        (
                            "  queue / re-match / evaluate s; hosts evaluated",
                            f"{again['queue_seconds']} / {again['match_seconds']} / "
                            f"{again['evaluate_seconds']}; {again['hosts_evaluated']:,}",
                            "",
                        ),
                    ]
                table.append((f"first evaluation of every host, s ({tag})", first["seconds"], ""))
    return {"results": results, "table": table}
