"""Zeek ``dns.log`` (query), ``ssl.log`` (server_name: the TLS SNI) and ``http.log`` (host).

Both of Zeek's writers: the default tab-separated one, whose header says the separator
(``#separator \\x09``), the unset and empty markers and the columns (``#fields``), and JSON lines
(``LogAscii::use_json=T``), whose ``ts`` is a number or ISO 8601. The client is ``id.orig_h``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from evict.inventory.network._json import (
    json_check,
    json_chunk_ok,
    json_object,
    text,
    timestamp,
)
from evict.inventory.network._reader import LineError, LogFormat, NetworkLogSource, Record

NAME_FIELDS = ("query", "server_name", "host")
"""The name column of dns.log, ssl.log and http.log."""


def _unescape(value: bytes) -> bytes:
    r"""Zeek's ``\xNN`` escapes (used for the separator and non-printing bytes)."""
    if b"\\x" not in value:
        return value
    try:
        return value.decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return value


class ZeekTsv(LogFormat):
    """Zeek's default tab-separated log with its ``#`` header."""

    label = "Zeek log"
    source = "zeek"
    comment = b"#"

    def __init__(self) -> None:
        self.separator = b"\t"
        self.unset = b"-"
        self.fields: list[bytes] = []
        self.width = 0
        self.client = self.name = self.ts = -1

    def sniff(self, lines: Sequence[bytes]) -> bool:
        return bool(lines) and lines[0].startswith(b"#separator")

    def begin(self, path: Path) -> None:
        self.__init__()  # type: ignore[misc]

    def chunk_ok(self, chunk: bytes, start: int, stop: int, lines: int) -> bool:
        if not self.fields:
            return False
        return chunk.count(self.separator, start, stop) == (self.width - 1) * lines

    def _header(self, line: bytes) -> None:
        if line.startswith(b"#separator"):
            _, _, value = line.partition(b" ")
            self.separator = _unescape(value.strip()) or b"\t"
            return
        key, _, value = line.partition(self.separator)
        if key == b"#unset_field":
            self.unset = value
        elif key == b"#fields":
            self.fields = value.split(self.separator)
            self.width = len(self.fields)
            index = {f: i for i, f in enumerate(self.fields)}
            self.client = index.get(b"id.orig_h", -1)
            self.ts = index.get(b"ts", -1)
            self.name = next((index[f.encode()] for f in NAME_FIELDS if f.encode() in index), -1)

    def check(self, line: bytes) -> str | None:
        if line.startswith(b"#"):
            self._header(line)
            return None
        if not line:
            return None
        if not self.fields:
            return "a data line before the #fields header"
        n = line.count(self.separator) + 1
        if n != self.width:
            return f"{n} fields where the #fields header has {self.width} (truncated?)"
        return None

    def parse(self, line: bytes) -> list[Record]:
        if line.startswith(b"#") or not line:
            return []
        if self.client < 0 or self.name < 0:
            raise LineError("the #fields header has no id.orig_h or no query/server_name/host")
        cols = line.split(self.separator)
        name = cols[self.name]
        if name in (self.unset, b"(empty)"):
            return []
        ts: float | None = None
        if self.ts >= 0:
            try:
                ts = float(cols[self.ts])
            except ValueError as e:
                raise LineError(f"ts {cols[self.ts][:40]!r} is not a time") from e
        return [
            Record(
                cols[self.client].decode("ascii", "replace"),
                _unescape(name).decode("utf-8", "replace"),
                ts,
            )
        ]


def _zeek_json_line(line: bytes) -> bool:
    return (
        line.startswith(b"{")
        and b'"id.orig_h"' in line
        and any(f'"{f}"'.encode() in line for f in (*NAME_FIELDS, "uid"))
    )


class ZeekJson(LogFormat):
    """Zeek's JSON-lines writer."""

    label = "Zeek log"
    source = "zeek"

    def sniff(self, lines: Sequence[bytes]) -> bool:
        return sum(map(_zeek_json_line, lines[:5])) * 2 > min(len(lines), 5)

    def chunk_ok(self, chunk: bytes, start: int, stop: int, lines: int) -> bool:
        return json_chunk_ok(chunk, start, stop, lines)

    def check(self, line: bytes) -> str | None:
        return json_check(line)

    def parse(self, line: bytes) -> list[Record]:
        obj = json_object(line)
        if obj is None:
            return []
        client = text(obj.get("id.orig_h"))
        for f in NAME_FIELDS:
            name = text(obj.get(f))
            if name:
                return [Record(client, name, timestamp(obj.get("ts")))]
        return []


class ZeekSource(NetworkLogSource):
    """``--from zeek``: Zeek dns.log, ssl.log, http.log (TSV or JSON, gzip or not)."""

    name = "zeek"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (ZeekTsv, ZeekJson)
