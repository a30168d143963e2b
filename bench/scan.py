"""Wall time of ``evict scan`` on this host, Python start-up included, and its peak memory."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any


def run(full: bool) -> dict[str, Any]:
    """Time ``evict scan --format json`` (after one warm-up run that fills the catalog cache)."""
    runs = 30 if full else 15
    command = [sys.executable, "-m", "evict", "scan", "--format", "json"]
    env = dict(os.environ)
    subprocess.run(command, capture_output=True, env=env, check=False)
    times = []
    observations = 0
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - started)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode()[-500:])
        observations = (
            proc.stdout.count(b"")
            and __import__("json").loads(proc.stdout)["hosts"][0]["observations"]
        )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    times.sort()
    median = statistics.median(times)
    p90 = times[int(0.9 * (len(times) - 1))]
    return {
        "runs": runs,
        "observations": observations,
        "wall_seconds": {"min": min(times), "median": median, "p90": p90},
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "table": [
            ("scan wall time, median (s)", f"{median:.3f}", "< 0.5"),
            ("scan wall time, p90 (s)", f"{p90:.3f}", "< 0.5"),
            ("scan observations", observations, ""),
            ("scan peak RSS (MiB)", round(peak_kib / 1024, 1), ""),
        ],
    }
