"""Small helpers shared across packages: the one seam for the clock and exhaustiveness checks."""

from __future__ import annotations

import datetime as dt
from typing import NoReturn


def assert_never(value: NoReturn) -> NoReturn:
    """Fail loudly when a closed set (an Enum, a Literal) gains a member a branch forgot."""
    raise AssertionError(f"unhandled value: {value!r}")


def utcnow() -> dt.datetime:
    """Return the current time in UTC. Core code never calls this: callers pass the time in."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Return today's date in UTC, for the command line and the server to pass into the core."""
    return utcnow().date()
