"""A small in-process token bucket per client address, for enrolment and login.

Enough for one server; behind a load balancer each instance limits on its own, which still caps
guessing at N times the rate. A shared limiter (the proxy's, or PostgreSQL's) can replace it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from evict.server.errors import RateLimited


class RateLimiter:
    """Allow ``burst`` requests at once per key, refilled at ``rate`` per second.

    :param burst: bucket size.
    :param rate: tokens added per second.
    :param clock: a monotonic clock in seconds (tests pass their own).
    :param max_keys: forget the oldest keys past this many, so memory stays bounded.
    """

    def __init__(
        self,
        burst: float,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, what: str) -> None:
        """Take one token for ``key``; raise :class:`RateLimited` when the bucket is empty."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate if self.rate > 0 else 60.0
                raise RateLimited(f"too many {what} requests; retry in {wait:.0f}s", wait)
            self._buckets[key] = (tokens - 1, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.pop(next(iter(self._buckets)))
