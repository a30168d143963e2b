"""The worker thread: woken by every report, it still runs a bounded number of passes."""

from __future__ import annotations

import datetime as dt
import time

from evict.service.evaluate import WorkerStats, WorkerThread

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


class CountingWorker:
    """Stands in for MatchWorker: counts passes."""

    def __init__(self) -> None:
        self.passes = 0

    def run_once(self, *, now: dt.datetime, today: dt.date) -> WorkerStats:
        self.passes += 1
        return WorkerStats(False, 0, 0, 0)


def test_a_stream_of_wakes_runs_one_pass_per_gap_not_one_per_report() -> None:
    worker = CountingWorker()
    thread = WorkerThread(worker, interval=60, clock=lambda: NOW, min_gap=0.4)  # type: ignore[arg-type]
    thread.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # ~200 reports in one second
            thread.wake()
            time.sleep(0.005)
    finally:
        thread.stop()
    assert 2 <= worker.passes <= 4  # first pass, then at most one per 0.4 s


def test_a_wake_after_a_quiet_spell_runs_a_pass_at_once() -> None:
    worker = CountingWorker()
    thread = WorkerThread(worker, interval=60, clock=lambda: NOW, min_gap=0.2)  # type: ignore[arg-type]
    thread.start()
    try:
        time.sleep(0.4)
        assert worker.passes == 1
        thread.wake()
        time.sleep(0.15)
        assert worker.passes == 2
    finally:
        started = time.monotonic()
        thread.stop()
        assert time.monotonic() - started < 1  # stopping does not wait out the interval
