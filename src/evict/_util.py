"""Small helpers shared across packages: the one seam for the clock, exhaustiveness checks,
handing memory back after large transient work, and reading ahead in a thread."""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import gc
import json
import queue
import threading
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


def assert_never(value: NoReturn) -> NoReturn:
    """Fail loudly when a closed set (an Enum, a Literal) gains a member a branch forgot."""
    raise AssertionError(f"unhandled value: {value!r}")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: object) -> str:
    """Serialise ``value`` one way only: sorted keys, no spaces, UTF-8 kept as is."""
    return _CANONICAL.encode(value)


def utcnow() -> dt.datetime:
    """Return the current time in UTC. Core code never calls this: callers pass the time in."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Return today's date in UTC, for the command line and the server to pass into the core."""
    return utcnow().date()


@cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None on another C library."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Free what large transient work left behind and hand the free pages back to the system.

    A PDF layout builds hundreds of thousands of small objects (boxes, styles, glyph runs) in
    cycles that the cycle collector frees only later, and glibc keeps freed pages in the
    process. An evidence bundle streams the fleet and then lays out several documents in a row:
    without this its peak is the sum of what each step left behind, not the largest step.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, made by a thread of their own up to ``depth`` ahead of the consumer.

    For reads that wait on a database (SQLite and psycopg let go of the GIL while a statement
    runs) consumed by Python work: the next read runs while the last one is worked on. An
    exception in the thread is raised in the consumer; a consumer that stops early stops the
    thread (after the read it is in).
    """
    ready: queue.Queue[tuple[BaseException | None, Any]] = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[BaseException | None, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put((e, None))
            return
        put((None, end))

    thread = threading.Thread(target=produce, name="evict-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            error, item = ready.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()
