"""BIND's query log (``logging { category queries { ... }; }``, or ``rndc querylog on``).

A line reads ``client @0x7f0c1c0e5b10 10.0.0.5#53211 (www.example.com): query: www.example.com IN
A +E(0)K (10.0.0.1)``; BIND before 9.11 writes no ``@0x...`` and older ones no ``(name)``; a
``view NAME:`` may come before ``query:``. The time stamp is BIND's own
(``05-Dec-2026 10:00:00.123``, with ``print-time yes``) or the syslog line's.

The ``rpz`` category's lines, in the same log or their own, show a response-policy zone
rewriting an answer: ``client @0x… 10.0.0.5#53211 (name): rpz QNAME NXDOMAIN rewrite
name/A/IN via name.rpz.zone``. The zone evict generates (``evict remediate block --format
dns-rpz``) answers NXDOMAIN for every endpoint, so such a line is a **blocked** request: the
block works, and the software on the client is still trying.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from evict.inventory.network._reader import LineError, LogFormat, NetworkLogSource, Record
from evict.inventory.network._time import file_year, leading_time

_QUERY = re.compile(
    rb"client (?:@0x[0-9a-fA-F]+ )?(?P<ip>[0-9A-Fa-f.:%a-z]+)#\d+"
    rb"(?: \([^)]*\))?: (?:view [^:]+: )?query: (?P<name>\S+) (?P<cls>\S+) (?P<type>\S+)"
)

_RPZ = re.compile(
    rb"client (?:@0x[0-9a-fA-F]+ )?(?P<ip>[0-9A-Fa-f.:%a-z]+)#\d+"
    rb"(?: \([^)]*\))?: (?:view [^:]+: )?rpz \S+ (?P<action>[A-Z-]+) rewrite (?P<name>[^/\s]+)/"
)
"""An RPZ rewrite (BIND 9.10+): the policy trigger, the action and the name rewritten."""


class BindQueryLog(LogFormat):
    """BIND 9's query log."""

    label = "BIND query log"
    source = "bind"

    def __init__(self) -> None:
        self.year = 1970

    def sniff(self, lines: Sequence[bytes]) -> bool:
        return any(_QUERY.search(line) or _RPZ.search(line) for line in lines[:10])

    def begin(self, path: Path) -> None:
        self.year = file_year(path)

    def check(self, line: bytes) -> str | None:
        if b"query: " in line and not _QUERY.search(line):
            return "a query line that does not read as BIND's (truncated?)"
        return None

    def parse(self, line: bytes) -> list[Record]:
        m = _QUERY.search(line)
        blocked = False
        if m is None:
            m = _RPZ.search(line)
            if m is None:
                if b"query:" in line:
                    raise LineError("a query line that does not read as BIND's (truncated?)")
                return []
            # NXDOMAIN/NODATA/DROP refuse the name; PASSTHRU lets it through.
            blocked = m["action"] != b"PASSTHRU"
            if not blocked:
                return []
        ts = leading_time(line, self.year)
        if ts is None:
            prefix = line.find(b": ")
            ts = leading_time(line[prefix + 2 :], self.year) if prefix > 0 else None
        name = m["name"].decode("utf-8", "replace")
        return [Record(m["ip"].decode("ascii"), name, ts, blocked=blocked)]


class BindSource(NetworkLogSource):
    """``--from bind``: BIND 9 query log."""

    name = "bind"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (BindQueryLog,)
