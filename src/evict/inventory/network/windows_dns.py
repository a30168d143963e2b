"""The Windows DNS Server debug log (DNS Manager > server > Properties > Debug Logging, or
``Set-DnsServerDiagnostics -EnableLoggingToFile``), packet lines such as::

    12/5/2026 10:00:01 AM 0A8C PACKET  000000B9AFEA0D50 UDP Rcv 10.0.0.5        1f2e   Q \
      [0001   D   NOERROR] A      (3)www(7)example(3)com(0)

(one line in the log).
Names are written in DNS wire style, each label after its length in parentheses. Only queries
the server received (``Rcv``, no ``R`` flag) count: the client is the address after ``Rcv``.
The time is the server's local time in its locale's short format (``M/D/YYYY h:mm:ss AM``, or
24-hour); it is read as UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import ClassVar

from evict.inventory.network._reader import LineError, LogFormat, NetworkLogSource, Record

_PACKET = re.compile(
    rb"^(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}) (?P<time>\d{1,2}:\d{2}:\d{2}(?: ?[AaPp][Mm])?)"
    rb" +[0-9A-Fa-f]+ PACKET +[0-9A-Fa-f]+ (?P<proto>UDP|TCP) (?P<dir>Rcv|Snd) (?P<ip>\S+) +"
    rb"[0-9A-Fa-f]+ (?P<r>[ R]) (?P<op>\S) \[[^\]]*\] +(?P<type>\S+) +(?P<name>\S+)"
)
_LABEL_LENGTH = re.compile(rb"\(\d+\)")
_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def wire_name(domain: str) -> bytes:
    """``example.com`` as the debug log writes it: ``(7)example(3)com(0)``."""
    return (
        b"".join(b"(%d)%s" % (len(label), label.encode()) for label in domain.split(".")) + b"(0)"
    )


def _time(date: bytes, time: bytes) -> float | None:
    text = f"{date.decode()} {time.decode().upper().replace('AM', ' AM').replace('PM', ' PM')}"
    text = " ".join(text.split())
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
    return None


class WindowsDnsDebugLog(LogFormat):
    """The Windows DNS Server debug log (packet lines)."""

    label = "Windows DNS Server debug log"
    source = "windows-dns"

    def sniff(self, lines: Sequence[bytes]) -> bool:
        return any(
            line.startswith(b"DNS Server log file") or _PACKET.match(line) for line in lines[:20]
        )

    def needle(self, domain: str) -> bytes:
        return wire_name(domain)

    def check(self, line: bytes) -> str | None:
        if b" PACKET " in line and not _PACKET.match(line):
            return "a PACKET line that does not read as the debug log's (truncated?)"
        return None

    def parse(self, line: bytes) -> list[Record]:
        m = _PACKET.match(line)
        if m is None:
            if b" PACKET " in line:
                raise LineError("a PACKET line that does not read as the debug log's (truncated?)")
            return []
        if m["dir"] != b"Rcv" or m["r"] == b"R":
            return []
        name = _LABEL_LENGTH.sub(b".", m["name"]).strip(b".")
        return [
            Record(
                m["ip"].decode("ascii", "replace"),
                name.decode("utf-8", "replace"),
                _time(m["date"], m["time"]),
            )
        ]


class WindowsDnsSource(NetworkLogSource):
    """``--from windows-dns``: Windows DNS Server debug log."""

    name = "windows-dns"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (WindowsDnsDebugLog,)
