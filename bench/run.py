"""evict's benchmarks: ``make bench`` (reduced size, minutes) or ``make bench-full``.

Each benchmark writes ``bench/results/<name>.json`` (figures plus the machine they ran on) and
the runner prints one table. Benchmarks live beside this file, one module each, with a
``run(full: bool) -> dict`` function; a missing module is reported, not skipped silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
BENCHMARKS = (
    "scan",
    "matching",
    "detection",
    "files/run",
    "network",
    "server",
    "ingest",
    "reevaluate",
    "reports",
)
WITHIN_INGEST_WHEN_FULL = ("server", "reevaluate")
"""At full size ``ingest`` grows one fleet per backend to a million hosts and times the
dashboard and catalog re-evaluation on it; these two would load fleets of their own again."""


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load(name: str) -> Any:
    """Import ``bench/<name>.py`` as a module."""
    path = HERE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name.replace('/', '_')}", path)
    if spec is None or spec.loader is None or not path.exists():
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table; exit 1 if any benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="full size (1,000,000 hosts)")
    parser.add_argument("--only", action="append", default=[], help="run only these benchmarks")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB")
    rows: list[tuple[str, str, str, str]] = []
    failed = False
    for name in args.only or BENCHMARKS:
        if args.full and not args.only and name in WITHIN_INGEST_WHEN_FULL:
            rows.append((name, "-", "measured by ingest at full size", ""))
            continue
        try:
            module = load(name)
        except FileNotFoundError:
            rows.append((name, "-", "not available", ""))
            failed = True
            continue
        started = time.perf_counter()
        try:
            result = module.run(full=args.full)
        except Exception as e:  # a failed benchmark is a row, and the runner goes on
            rows.append((name, "-", f"FAILED: {type(e).__name__}: {e}", ""))
            failed = True
            continue
        result = {"benchmark": name, "full": args.full, "machine": info, **result}
        result["seconds"] = round(time.perf_counter() - started, 1)
        out = RESULTS / f"{name.replace('/', '-')}{'-full' if args.full else ''}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        for metric, value, target in result.get("table", []):
            rows.append((name, metric, str(value), str(target)))
    width = [
        max(len(r[i]) for r in [("benchmark", "metric", "value", "target"), *rows])
        for i in range(4)
    ]
    header = ("benchmark", "metric", "value", "target")
    for row in [header, tuple("-" * w for w in width), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main())
