"""The refresher: exact results at the same version, stale ones while a slow refresh runs."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from evict.server.views.cache import Refresher

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_same_version_is_served_without_computing_again() -> None:
    calls = []
    cache = Refresher(wait=5)
    for _ in range(3):
        entry = cache.get("k", 1, lambda: calls.append(1) or len(calls), now=NOW)
        assert entry is not None and entry.value == 1 and entry.version == 1
    assert len(calls) == 1


def test_a_new_version_is_computed_and_a_slow_one_serves_the_old_result() -> None:
    cache = Refresher(wait=5, stale_wait=0.05)
    assert cache.get("k", 1, lambda: "old", now=NOW).value == "old"  # type: ignore[union-attr]
    assert cache.get("k", 2, lambda: "new", now=NOW).value == "new"  # type: ignore[union-attr]
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "newest"

    started = time.perf_counter()
    entry = cache.get("k", 3, slow, now=NOW)
    assert entry is not None and entry.value == "new"  # served at once, labelled version 2
    assert entry.version == 2 and time.perf_counter() - started < 1
    release.set()
    for _ in range(100):
        entry = cache.get("k", 3, slow, now=NOW)
        if entry is not None and entry.value == "newest":
            break
        time.sleep(0.02)
    assert entry is not None and entry.value == "newest"


def test_an_invalidated_result_is_waited_for() -> None:
    cache = Refresher(wait=5, stale_wait=0)
    cache.get(("overview", 1), 1, lambda: "before", now=NOW)
    cache.get(("overview", 2), 1, lambda: "other org", now=NOW)
    cache.invalidate(lambda k: k[1] == 1)
    assert cache.get(("overview", 1), 2, lambda: "after", now=NOW).value == "after"  # type: ignore[union-attr]
    assert cache.get(("overview", 2), 1, lambda: "x", now=NOW).value == "other org"  # type: ignore[union-attr]


def test_a_failed_computation_reaches_the_request_that_waited() -> None:
    cache = Refresher(wait=5)

    def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        cache.get("k", 1, broken, now=NOW)
    assert cache.get("k", 1, lambda: "back", now=NOW).value == "back"  # type: ignore[union-attr]


def test_max_age_recomputes_at_the_same_version() -> None:
    cache = Refresher(wait=5)
    cache.get("v", 1, lambda: "first", now=NOW)
    time.sleep(0.02)
    assert cache.get("v", 1, lambda: "second", now=NOW, max_age=0.01).value == "second"  # type: ignore[union-attr]
    assert cache.get("v", 1, lambda: "third", now=NOW, max_age=60).value == "second"  # type: ignore[union-attr]
