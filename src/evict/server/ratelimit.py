"""Small in-process limits: a token bucket per key (client address, account name), for
enrolment and login, and a per-account lockout with backoff after failed logins.

Why not ``limits``/``slowapi``: their in-memory storage is per process too, so they would not
share state across servers any better; a token bucket is thirty lines; and neither counts
*failures* (a lockout that a successful login clears), which is the limit that matters most
against password guessing.

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


class LoginGuard:
    """Per-account lockout with exponential backoff after repeated failed logins.

    After ``after`` failures in a row for one account name, each further attempt for that name
    is refused (429) for ``base`` seconds, doubling with each failure past the threshold, up
    to ``cap``; a successful login clears the count. Names no user has are counted the same
    way, so a lockout does not tell a taken name from a free one. NIST SP 800-63B-4 (3.2.2)
    asks for such a limit on consecutive failures of one account; backoff rather than a
    permanent lock keeps an attacker from locking a user out for good.

    :param after: failures allowed before the first lockout.
    :param base: the first lockout, in seconds.
    :param cap: the longest lockout, in seconds.
    :param clock: a monotonic clock in seconds.
    :param max_keys: forget the oldest names past this many.
    """

    def __init__(
        self,
        *,
        after: int = 5,
        base: float = 30.0,
        cap: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.after = after
        self.base = base
        self.cap = cap
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, tuple[int, float]] = {}
        """Failures in a row and the time the account is locked until, per name."""
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str) -> str:
        """The account key of a login name (case and surrounding space ignored)."""
        return name.strip().casefold()

    def check(self, name: str) -> None:
        """Raise :class:`RateLimited` while the account is locked."""
        with self._lock:
            _, until = self._failures.get(self.key(name), (0, 0.0))
        wait = until - self.clock()
        if wait > 0:
            raise RateLimited(
                f"too many failed logins for this account; retry in {wait:.0f}s", wait
            )

    def failed(self, name: str) -> float:
        """Count a failure; return the lockout it starts, in seconds (0: none yet)."""
        key = self.key(name)
        now = self.clock()
        with self._lock:
            count, _ = self._failures.pop(key, (0, 0.0))
            count += 1
            lock = 0.0
            if count >= self.after:
                lock = min(self.cap, self.base * 2 ** (count - self.after))
            self._failures[key] = (count, now + lock)
            while len(self._failures) > self.max_keys:
                self._failures.pop(next(iter(self._failures)))
        return lock

    def succeeded(self, name: str) -> None:
        """Clear the account's failures."""
        with self._lock:
            self._failures.pop(self.key(name), None)
