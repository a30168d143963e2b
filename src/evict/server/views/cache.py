"""Aggregates computed off the request path and served while a newer one is computed.

The overview's counts, its burn-down and the products page read every host of an organisation;
at a million hosts that takes longer than a page may. :class:`Refresher` keeps the last result
per key with the *version* of the data it was computed from (the audit chain's head: every state
change, waiver and inventory appends an event, so an unchanged head means unchanged data):

- same version: the stored result is exact, and is served at once (unless older than the
  caller's ``max_age``: the chain's verdict is recomputed now and then, since editing a stored
  event, the very thing it catches, does not move the head);
- newer version: one background computation starts (never two for a key); the request waits for
  it up to ``stale_wait`` seconds and otherwise gets the previous result, labelled with the time
  it was computed;
- no result yet, or dropped by :meth:`Refresher.invalidate` after this server's own change: the
  request waits (up to ``wait``), so whoever waived a host sees the count change.

Behind a load balancer each server keeps its own results; they converge within one computation.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    """A computed value, the data version it reflects, and when it was computed."""

    value: T
    version: object
    computed_at: dt.datetime
    seconds: float
    """How long the computation took."""
    stamp: float = 0.0
    """When it was computed, on the monotonic clock."""


@dataclass
class _Flight:
    """One computation in progress."""

    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Refresher:
    """Results by key, refreshed in the background when the data's version moves.

    :param wait: seconds a request waits for a result it has none of.
    :param stale_wait: seconds a request waits for a refresh before taking the previous result.
    :param max_entries: results kept; the oldest are dropped past this many.
    """

    def __init__(
        self, *, wait: float = 60.0, stale_wait: float = 0.1, max_entries: int = 1000
    ) -> None:
        self.wait = wait
        self.stale_wait = stale_wait
        self.max_entries = max_entries
        self._entries: dict[Hashable, Cached[Any]] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    def get(
        self,
        key: Hashable,
        version: object,
        compute: Callable[[], T],
        *,
        now: dt.datetime,
        max_age: float | None = None,
    ) -> Cached[T] | None:
        """The result for ``key``: exact when its version is ``version``, else the best at hand.

        :param compute: makes a fresh value (run in a background thread).
        :param now: the server's time, recorded as the result's ``computed_at``.
        :param max_age: seconds after which a result is computed again even at the same
            version (for checks whose input can change without the version moving).

        Returns None only when there was no result and none arrived within ``wait`` seconds;
        re-raises the computation's error when a request waited for it and it failed.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                if max_age is None or time.monotonic() - entry.stamp < max_age:
                    return entry
            flight = self._flights.get(key)
            if flight is None:
                flight = self._start(key, version, compute, now)
        flight.done.wait(self.stale_wait if entry is not None else self.wait)
        with self._lock:
            latest = self._entries.get(key)
        if latest is None and flight.done.is_set() and flight.error is not None:
            raise flight.error
        return latest if latest is not None else entry

    def _start(
        self, key: Hashable, version: object, compute: Callable[[], T], now: dt.datetime
    ) -> _Flight:
        """Start computing ``key`` in a thread (the caller holds the lock)."""
        flight = _Flight()
        self._flights[key] = flight

        def run() -> None:
            started = time.perf_counter()
            try:
                value = compute()
            except BaseException as e:  # handed to the waiting request, which re-raises it
                flight.error = e
                log.warning("computing %r failed: %s", key, e)
            else:
                entry = Cached(value, version, now, time.perf_counter() - started, time.monotonic())
                with self._lock:
                    # A computation that an invalidation overtook may have read the data before
                    # the change: its result is dropped.
                    if self._flights.get(key) is flight:
                        self._entries.pop(key, None)
                        self._entries[key] = entry
                        while len(self._entries) > self.max_entries:
                            self._entries.pop(next(iter(self._entries)))
            finally:
                with self._lock:
                    if self._flights.get(key) is flight:
                        del self._flights[key]
                flight.done.set()

        threading.Thread(target=run, name="evict-dashboard-refresh", daemon=True).start()
        return flight

    def invalidate(self, match: Callable[[Hashable], bool]) -> None:
        """Drop the results whose key ``match`` accepts (after a change made by this server)."""
        with self._lock:
            for key in [k for k in self._entries if match(k)]:
                del self._entries[key]
            for key in [k for k in self._flights if match(k)]:
                del self._flights[key]

    def clear(self) -> None:
        """Drop every result."""
        with self._lock:
            self._entries.clear()
