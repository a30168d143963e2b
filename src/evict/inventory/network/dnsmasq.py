"""dnsmasq's query log (``log-queries``), which Pi-hole writes as ``/var/log/pihole/pihole.log``.

A query line reads ``Dec  5 10:00:00 dnsmasq[812]: query[A] www.example.com from 10.0.0.5``
(Pi-hole's FTL writes ``pihole-FTL[812]``; ``log-queries=extra`` adds a serial and the client's
port before ``query``). Only ``query[...]`` lines count: the replies, forwards and cache hits
that follow them are the resolver's own work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from evict.inventory.network._reader import LineError, LogFormat, NetworkLogSource, Record
from evict.inventory.network._time import file_year, leading_time

_QUERY = re.compile(
    rb": (?:\d+ \S+ )?query\[(?P<type>[A-Za-z0-9=]+)\] (?P<name>\S+) from (?P<ip>\S+)"
)
_DAEMON = re.compile(rb"(?:dnsmasq|pihole-FTL)\[\d+\]: ")


class DnsmasqLog(LogFormat):
    """dnsmasq / Pi-hole query log."""

    label = "dnsmasq/Pi-hole query log"
    source = "dnsmasq"

    def __init__(self) -> None:
        self.year = 1970

    def sniff(self, lines: Sequence[bytes]) -> bool:
        return any(_DAEMON.search(line) for line in lines[:10])

    def begin(self, path: Path) -> None:
        self.year = file_year(path)

    def check(self, line: bytes) -> str | None:
        if b"query[" in line and not _QUERY.search(line):
            return "a query line that does not read as dnsmasq's (truncated?)"
        return None

    def parse(self, line: bytes) -> list[Record]:
        m = _QUERY.search(line)
        if m is None:
            if b"query[" in line:
                raise LineError("a query line that does not read as dnsmasq's (truncated?)")
            return []
        ts = leading_time(line, self.year)
        return [
            Record(m["ip"].decode("utf-8", "replace"), m["name"].decode("utf-8", "replace"), ts)
        ]


class DnsmasqSource(NetworkLogSource):
    """``--from dnsmasq``: dnsmasq or Pi-hole query log."""

    name = "dnsmasq"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (DnsmasqLog,)
