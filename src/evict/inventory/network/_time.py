"""Time stamps of text logs: BIND's ``05-Dec-2026 10:00:00.123``, syslog's ``Dec  5 10:00:00``
(no year: the file's modification year is used) and RFC 3339 (``2026-12-05T10:00:00+00:00``).

Times without a zone are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

_BIND = re.compile(rb"^(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2})(\.\d+)?")
_SYSLOG = re.compile(rb"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})")
_RFC3339 = re.compile(
    rb"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            b"Jan",
            b"Feb",
            b"Mar",
            b"Apr",
            b"May",
            b"Jun",
            b"Jul",
            b"Aug",
            b"Sep",
            b"Oct",
            b"Nov",
            b"Dec",
        ),
        start=1,
    )
}


def file_year(path: Path) -> int:
    """The year a syslog line without one most likely belongs to: the file's last change."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).year
    except (OSError, ValueError, OverflowError):
        return dt.datetime.now(dt.UTC).year


def leading_time(line: bytes, year: int) -> float | None:
    """The POSIX time at the start of ``line``, in any of the three forms; None if none."""
    m = _BIND.match(line)
    if m:
        try:
            when = dt.datetime.strptime(m.group(1).decode(), "%d-%b-%Y %H:%M:%S")
        except ValueError:
            return None
        fraction = float(m.group(2) or 0)
        return when.replace(tzinfo=dt.UTC).timestamp() + fraction
    m = _SYSLOG.match(line)
    if m:
        month = _MONTHS.get(m.group(1))
        if month is None:
            return None
        try:
            h, mi, s = (int(x) for x in m.group(3).split(b":"))
            return dt.datetime(year, month, int(m.group(2)), h, mi, s, tzinfo=dt.UTC).timestamp()
        except ValueError:
            return None
    m = _RFC3339.match(line)
    if m:
        raw = m.group(1).decode().replace(" ", "T")
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None
