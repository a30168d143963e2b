"""Run the atheris harnesses one after another and sum up what they did: ``make fuzz``.

Usage: ``python fuzz/run.py [TARGET...]`` (every target by default). Each harness runs for
``FUZZ_SECONDS`` (default 60), ``FUZZ_JOBS`` at a time (default 1). Its libFuzzer log goes to
``fuzz/logs/<target>.log``; the summary (executions, executions per second, crashes) is printed
and written to ``fuzz/logs/summary.json``. Exits 1 when any harness found a crash or failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
LOGS = FUZZ / "logs"
sys.path.insert(0, str(FUZZ.parent))  # for tests.fuzz.fuzzkit

_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_PER_SECOND = re.compile(r"stat::average_exec_per_sec:\s*(\d+)")
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")


@dataclass
class Result:
    """What one harness did."""

    target: str
    executions: int
    seconds: float
    per_second: int
    coverage: int
    corpus: int
    crashes: list[str]
    slow: list[str]
    exit_code: int


def harness(target: str) -> Path:
    """The harness file of ``target``."""
    return FUZZ / f"fuzz_{target.replace('-', '_')}.py"


def run_one(target: str, seconds: int) -> Result:
    """Run the harness of ``target`` for ``seconds`` and read its log."""
    crash_dir = FUZZ / "crashes" / target
    before = set(crash_dir.iterdir()) if crash_dir.is_dir() else set()
    log = LOGS / f"{target}.log"
    env = {**os.environ, "FUZZ_SECONDS": str(seconds)}
    started = time.monotonic()
    with log.open("w") as out:
        try:
            code = subprocess.run(
                [sys.executable, str(harness(target))],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=seconds * 3 + 300,  # instrumenting, then libFuzzer's own time limit
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    executed = _EXECUTED.search(text) or _DONE.search(text)
    per_second = _PER_SECOND.search(text)
    coverage = _COVERAGE.findall(text)
    after = set(crash_dir.iterdir()) if crash_dir.is_dir() else set()
    # libFuzzer also writes inputs slower than 10 s (``slow-unit-*``): worth a look, not a crash.
    found = sorted(str(p.relative_to(FUZZ.parent)) for p in after - before)
    return Result(
        target=target,
        executions=int(executed.group(1)) if executed else 0,
        seconds=round(elapsed, 1),
        per_second=int(per_second.group(1)) if per_second else 0,
        coverage=int(coverage[-1][0]) if coverage else 0,
        corpus=int(coverage[-1][2]) if coverage else 0,
        crashes=[f for f in found if not Path(f).name.startswith("slow-unit-")],
        slow=[f for f in found if Path(f).name.startswith("slow-unit-")],
        exit_code=code,
    )


def main(argv: list[str]) -> int:
    """Run the harnesses named in ``argv`` (all by default); return the exit code."""
    from tests.fuzz import fuzzkit

    targets = argv or sorted(fuzzkit.TARGETS)
    unknown = [t for t in targets if t not in fuzzkit.TARGETS]
    if unknown:
        print(f"unknown targets: {', '.join(unknown)}; one of: {', '.join(fuzzkit.TARGETS)}")
        return 2
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    jobs = int(os.environ.get("FUZZ_JOBS", "1"))
    LOGS.mkdir(exist_ok=True)
    print(f"fuzzing {len(targets)} targets for {seconds} s each, {jobs} at a time")
    with ThreadPoolExecutor(jobs) as pool:
        results = []
        for result in pool.map(lambda t: run_one(t, seconds), targets):
            mark = "CRASH" if result.crashes else ("FAILED" if result.exit_code else "ok")
            slow = f" (slow: {' '.join(result.slow)})" if result.slow else ""
            print(
                f"  {result.target:16} {result.executions:>9} runs {result.per_second:>6}/s "
                f"cov {result.coverage:>5}  {mark} {' '.join(result.crashes)}{slow}",
                flush=True,
            )
            results.append(result)
    summary = {
        "fuzz_seconds": seconds,
        "total_executions": sum(r.executions for r in results),
        "targets": [asdict(r) for r in results],
    }
    (LOGS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    bad = [r for r in results if r.crashes or r.exit_code]
    print(f"{summary['total_executions']} executions; {len(bad)} target(s) crashed or failed")
    for r in bad:
        print(f"  {r.target}: see fuzz/logs/{r.target}.log {' '.join(r.crashes)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
