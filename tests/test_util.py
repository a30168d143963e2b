"""evict._util.prefetched: items made ahead in a thread arrive in order, errors reach the
consumer, and a consumer that stops early stops the thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from evict._util import prefetched


def test_items_arrive_in_order_and_the_thread_ends() -> None:
    before = threading.active_count()
    assert list(prefetched(range(1000), depth=3)) == list(range(1000))
    assert threading.active_count() == before


def test_an_error_in_the_thread_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the database went away")

    got: list[int] = []
    with pytest.raises(ValueError, match="went away"):
        for item in prefetched(items()):
            got.append(item)  # noqa: PERF402 (keeps the items before the error)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_the_thread() -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            made.append(i)
            yield i

    before = threading.active_count()
    stream = prefetched(items(), depth=2)
    assert next(stream) == 0
    stream.close()
    time.sleep(0.3)
    assert threading.active_count() == before
    assert len(made) <= 5  # read at most a few ahead, never the whole source
