"""Streaming network logs: one pass over the bytes, candidate lines found as grep would find them.

DNS and proxy logs run to millions of lines a day, nearly all about names no directive covers.
The reader never parses those: it reads the file in chunks of a few megabytes (gzip read
transparently, by magic bytes), lower-cases each chunk and runs one Aho-Corasick automaton
(ahocorasick-rs, over bytes) holding every catalog endpoint's domain, as the log format writes
names, over it. Only the lines where an endpoint occurs are parsed (a few in a million on a
typical network); the matcher then decides, on label boundaries, which of their names fall under
an endpoint. The rest of each chunk is checked in bulk: the newline count, and per format a
cheap invariant (the field separators of a Zeek TSV log, ``}`` at the end of each JSON line);
only a chunk that breaks it is walked line by line, to name the lines at fault.

A problem with one line (truncated, malformed, binary junk) is reported with the file and line
and the rest of the file is read (state ``partial``); a file that is not a log of the format
asked for is refused at its first lines, with a hint naming the format that fits when one does.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

import ahocorasick_rs

from evict.catalog.interface import Catalog
from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.matching.domains import DomainIndex, normalize_name
from evict.model.observations import (
    HostID,
    HostInventory,
    Ident,
    Kind,
    Observation,
    Platform,
    SourceStatus,
    clean_text,
)

CHUNK = 8 << 20
"""Bytes read at a time: big enough that per-chunk work vanishes, small enough to stream."""
HEAD = 4 << 10
"""Bytes read at a time while looking for the first lines, which tell the format."""
HEAD_LIMIT = 1 << 20
"""Bytes looked at, at most, to recognise the format."""
MAX_LINE = 64 << 10
"""A line longer than this is junk, not a log line; it is reported and skipped."""
EVIDENCE_LINES = 3
"""Log lines kept as evidence per device and name."""
PROBLEM_LIMIT = 50


class LineError(ValueError):
    """A log line that cannot be read; the message says why (the caller adds file and line)."""


@dataclass(frozen=True, slots=True)
class Record:
    """What one log line says: a client asked for a name, at a time."""

    client: str
    name: str
    ts: float | None
    hostname: str = ""
    blocked: bool = False
    """The log line shows the request refused by a block list (Squid deny, RPZ rewrite)."""


class LogFormat(ABC):
    """One log format: how to recognise it, where names are, and how to read a line."""

    label: ClassVar[str]
    """Human name, e.g. ``Zeek dns.log/ssl.log/http.log``."""
    source: ClassVar[str]
    """The ``--from`` name."""

    @abstractmethod
    def sniff(self, lines: Sequence[bytes]) -> bool:
        """Whether the first non-empty lines of a file look like this format."""

    def needle(self, domain: str) -> bytes:
        """An endpoint domain as this format writes names (lower case)."""
        return domain.encode("ascii")

    def begin(self, path: Path) -> None:  # noqa: B027 - a hook most formats do not need
        """Reset per-file state before reading ``path``."""

    comment: ClassVar[bytes | None] = None
    """What starts a header or comment line, for formats that have them (Zeek's ``#``)."""

    def chunk_ok(self, chunk: bytes, start: int, stop: int, lines: int) -> bool:
        """A cheap check that every line of ``chunk[start:stop]`` is well formed (``lines``
        of them, no header among them); False walks the lines one by one."""
        return True

    def check(self, line: bytes) -> str | None:
        """Why ``line`` (not a candidate) is malformed, or None; header lines update state."""
        return None

    @abstractmethod
    def parse(self, line: bytes) -> list[Record]:
        """The records of a candidate line; raise :class:`LineError` when it cannot be read."""


def open_log(path: Path) -> BinaryIO:
    """Open ``path`` for reading, decompressing gzip transparently (by its magic bytes)."""
    try:
        f = path.open("rb")
        magic = f.read(2)
        f.seek(0)
    except OSError as e:
        raise SourceInputError(str(path), f"cannot read: {e.strerror or e}") from e
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _client(value: str) -> tuple[str, str] | None:
    """``(address, hostname)`` of a client field, or None when it is neither."""
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value)), ""
    except ValueError:
        pass
    name = normalize_name(value)
    if name:
        return name, name
    return None


def iso(ts: float) -> str:
    """A POSIX time as ISO 8601 UTC, to the second."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


_PLAUSIBLE = (0.0, 253402300799.0)
"""POSIX times a log line may carry (1970 to the end of 9999, and never NaN): a time outside
them is treated as no time, so a hostile or damaged line cannot break the dates shown."""


@dataclass
class _Seen:
    first: float | None = None
    last: float | None = None
    count: int = 0
    lines: list[str] = field(default_factory=list)
    hostname: str = ""
    blocked: int = 0

    def add(self, ts: float | None, where: str, *, blocked: bool = False) -> None:
        self.count += 1
        self.blocked += blocked
        if ts is not None and _PLAUSIBLE[0] <= ts <= _PLAUSIBLE[1]:
            self.first = ts if self.first is None else min(self.first, ts)
            self.last = ts if self.last is None else max(self.last, ts)
        if len(self.lines) < EVIDENCE_LINES:
            self.lines.append(where)


class _FileReader:
    """Reads one file of one format against an automaton of needles."""

    def __init__(
        self,
        path: Path,
        fmt: LogFormat,
        automaton: ahocorasick_rs.BytesAhoCorasick | None,
        needles: tuple[bytes, ...],
        seen: dict[tuple[str, str], _Seen],
        problems: Problems,
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.automaton = automaton
        self.needles = needles
        """The endpoint domains as plain names, to tell a name from another field's text."""
        self.seen = seen
        self.problems = problems
        self.lines = 0

    def read(self, formats: Sequence[LogFormat]) -> None:
        with open_log(self.path) as f:
            head, broken = self._head(f)
            self._refuse_other_formats(head, formats)
            self.fmt.begin(self.path)
            carry = head
            while broken is None:
                try:
                    more = f.read(CHUNK)
                except (OSError, EOFError, gzip.BadGzipFile) as e:
                    broken = e
                    break
                if not more:
                    break
                first = more.find(b"\n")
                if first < 0:  # no line ends in this piece: it belongs to the carried line
                    carry += more
                    if len(carry) > MAX_LINE:
                        self._chunk(carry, last=False)
                        carry = b""
                    continue
                # the line carried over, completed; then the piece's whole lines, in place
                self._chunk(carry + more[: first + 1], last=False)
                cut = more.rfind(b"\n") + 1
                self._chunk(more, first + 1, cut, last=False)
                carry = more[cut:]
            if broken is not None:
                cut = carry.rfind(b"\n") + 1  # a line cut by the damage is not a log line
                self._chunk(carry[:cut], last=True)
                self.problems.add(
                    f"{self.path}: after line {self.lines}: the file ends early or is corrupt "
                    f"({broken}); the lines before were read"
                )
            else:
                self._chunk(carry, last=True)

    def _head(self, f: BinaryIO) -> tuple[bytes, Exception | None]:
        """The first lines of the file (enough to recognise its format), and any read error."""
        head = b""
        while head.count(b"\n") < 40 and len(head) < HEAD_LIMIT:
            try:
                more = f.read(HEAD)
            except (OSError, EOFError, gzip.BadGzipFile) as e:
                if not head:
                    raise SourceInputError(str(self.path), f"cannot read: {e}") from e
                return head, e
            if not more:
                break
            head += more
        return head, None

    def _refuse_other_formats(self, head: bytes, formats: Sequence[LogFormat]) -> None:
        if not head.strip():
            return
        first_line = head.lstrip().split(b"\n", 1)[0]
        if b"\0" in first_line or head.count(b"\0") * 20 > len(head):
            raise SourceInputError(str(self.path), f"binary data, not a {self.fmt.label}", line=1)
        first = [ln.strip() for ln in head.split(b"\n")[:40] if ln.strip()][:20]
        if self.fmt.sniff(first):
            return
        fits = [f.source for f in formats if f.source != self.fmt.source and f.sniff(first)]
        hint = f"; it looks like a {fits[0]} log (--from {fits[0]})" if fits else ""
        raise SourceInputError(str(self.path), f"not a {self.fmt.label}{hint}", line=1)

    def _chunk(self, chunk: bytes, start: int = 0, stop: int | None = None, *, last: bool) -> None:
        """Read the whole lines ``chunk[start:stop]`` (the end of the file when ``last``)."""
        truncated_at: int | None = None
        if stop is None:
            if chunk and not chunk.endswith(b"\n"):  # the last line without its newline,
                chunk += b"\n"  # or a huge line cut
                truncated_at = len(chunk) - 1 if last else None
            stop = len(chunk)
        if start >= stop:
            return
        lowered = chunk.lower() if self.automaton is not None else chunk
        comment = self.fmt.comment
        position = start
        if comment is not None:  # header lines (Zeek's #fields) split the chunk in segments
            at = chunk.find(comment, start, stop)
            while at >= 0:
                if at == 0 or chunk[at - 1] == 10:
                    self._segment(chunk, lowered, position, at, truncated_at)
                    end = chunk.find(b"\n", at)
                    self.lines += 1
                    why = self.fmt.check(chunk[at:end].rstrip(b"\r"))
                    if why:
                        self._problem(self.lines, why)
                    position = end + 1
                    at = chunk.find(comment, position, stop)
                else:
                    at = chunk.find(comment, at + 1, stop)
        self._segment(chunk, lowered, position, stop, truncated_at)

    def _segment(
        self, chunk: bytes, lowered: bytes, start: int, stop: int, truncated_at: int | None
    ) -> None:
        """Lines ``chunk[start:stop]`` (whole lines, no header among them)."""
        if start >= stop:
            return
        candidates: list[int] = []
        if self.automaton is not None:
            starts: set[int] = set()
            view = memoryview(lowered)[start:stop]
            for _, at, _end in self.automaton.find_matches_as_indexes(view):
                starts.add(lowered.rfind(b"\n", start, start + at) + 1 or start)
            candidates = sorted(starts)
        base = self.lines
        if chunk.find(b"\0", start, stop) < 0:
            numbers: list[int] = []
            line = base
            position = start
            for at in candidates:  # one pass of newline counting gives every line number
                line += chunk.count(b"\n", position, at)
                position = at
                numbers.append(line + 1)
            count = line - base + chunk.count(b"\n", position, stop)
            if self.fmt.chunk_ok(chunk, start, stop, count):
                for at, number in zip(candidates, numbers, strict=True):
                    end = chunk.find(b"\n", at)
                    self._candidate(chunk[at:end], number, end == truncated_at)
                self.lines = base + count
                return
        self._walk(chunk, start, stop, set(candidates), truncated_at)

    def _walk(
        self, chunk: bytes, start: int, stop: int, candidates: set[int], truncated_at: int | None
    ) -> None:
        """The slow path: every line of a segment that broke the cheap check, in order."""
        position = start
        while position < stop:
            end = chunk.find(b"\n", position)
            self.lines += 1
            number = self.lines
            text = chunk[position:end]
            if position in candidates:
                self._candidate(text, number, end == truncated_at)
            elif b"\0" in text:
                self._problem(number, "binary data in the line")
            elif len(text) > MAX_LINE:
                self._problem(number, f"line of {len(text):,} bytes, not a log line")
            else:
                why = self.fmt.check(text.rstrip(b"\r"))
                if why:
                    if end == truncated_at:
                        why = f"truncated last line ({why})"
                    self._problem(number, why)
            position = end + 1

    def _problem(self, number: int, why: str) -> None:
        self.problems.add(f"{self.path}:{number}: {why}; skipped")

    def _candidate(self, text: bytes, number: int, truncated: bool) -> None:
        if b"\0" in text:
            self._problem(number, "binary data in the line")
            return
        text = text.rstrip(b"\r")
        try:
            why = self.fmt.check(text)
            if why:
                raise LineError(why)
            records = self.fmt.parse(text)
        except LineError as e:
            self._problem(number, f"truncated last line ({e})" if truncated else str(e))
            return
        shown = clean_text(text[:512].decode("utf-8", "replace"))
        for r in records:
            lowered = r.name.lower()
            if not any(n in lowered.encode("utf-8", "replace") for n in self.needles):
                continue  # the endpoint occurred in another field of the line
            client = _client(r.client)
            if client is None:
                self._problem(number, f"client {clean_text(r.client[:80])!r} is not an address")
                continue
            address, hostname = client
            key = (address, clean_text(r.name.strip().rstrip(".").lower()[:253]))
            entry = self.seen.get(key)
            if entry is None:
                entry = self.seen[key] = _Seen()
            entry.add(r.ts, f"{self.path.name}:{number}: {shown}", blocked=r.blocked)
            entry.hostname = entry.hostname or r.hostname or hostname


class NetworkLogSource(OfflineSource):
    """A network log source: one device (inventory) per client address seen asking for a name
    that looks like a catalog endpoint, with when, how often, and the log lines.

    :param paths: log files, or folders of them.
    :param catalog: the catalog whose products' network endpoints are looked for (``evict scan``
        passes the catalog it matches with).
    :param known: every log format, to name the one a file is when it is not this source's
        (:data:`evict.inventory.network.formats.ALL_FORMATS`); empty: no such hint.
    """

    name: ClassVar[str]
    formats: ClassVar[tuple[type[LogFormat], ...]]
    """The format(s) of this source, tried in order on each file."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        catalog: Catalog,
        known: Sequence[type[LogFormat]] = (),
    ) -> None:
        super().__init__(paths)
        self._domains = DomainIndex.from_catalog(catalog).needles()
        self.known = tuple(known)
        self.lines_read = 0
        """Log lines read by the last :meth:`collect`: a log with no vendor traffic still read
        something, so it is an answer ("no device asked"), not an empty input."""

    def collect(self) -> Iterator[HostInventory]:
        """Read every file; yield one inventory per client with vendor-looking traffic.

        A file that cannot be read at all (missing, binary, another format) does not stop the
        others: their devices are yielded first, then the first such error is raised.
        """
        domains = self._domains
        plain = tuple(d.encode("ascii") for d in domains)
        others = [f() for f in self.known]
        seen: dict[tuple[str, str], _Seen] = {}
        self._statuses = []
        self.lines_read = 0
        errors: list[SourceInputError] = []
        for path in _files(self.paths):
            problems = Problems(f"{self.name}:{path}", limit=PROBLEM_LIMIT)
            error: SourceInputError | None = None
            for i, cls in enumerate(self.formats):
                fmt = cls()
                needles = list(dict.fromkeys(fmt.needle(d) for d in domains))
                automaton = _automaton(needles)
                reader = _FileReader(path, fmt, automaton, plain, seen, problems)
                try:
                    reader.read(others)
                    self.lines_read += reader.lines
                except SourceInputError as e:
                    if i + 1 < len(self.formats):
                        continue
                    error = e
                break
            if error is not None:
                self._statuses.append(SourceStatus(problems.source, "failed", (str(error),)))
                errors.append(error)
                continue
            self._statuses.append(problems.status())
        yield from _inventories(self.name, seen)
        if errors:  # after the devices of the files that could be read
            raise errors[0]


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        else:
            out.append(p)
    return out


def _inventories(source: str, seen: dict[tuple[str, str], _Seen]) -> Iterator[HostInventory]:
    by_client: dict[str, list[tuple[str, _Seen]]] = {}
    for (client, name), entry in seen.items():
        by_client.setdefault(client, []).append((name, entry))
    for client in sorted(by_client):
        observations: list[Observation] = []
        hostname = ""
        last: float | None = None
        for name, entry in sorted(by_client[client]):
            hostname = hostname or entry.hostname
            if entry.last is not None:
                last = entry.last if last is None else max(last, entry.last)
            identifiers = [(Ident.COUNT.value, str(entry.count))]
            if entry.blocked:
                identifiers.append((Ident.BLOCKED.value, str(entry.blocked)))
            if entry.first is not None and entry.last is not None:
                identifiers.append((Ident.FIRST_SEEN.value, iso(entry.first)))
                identifiers.append((Ident.LAST_SEEN.value, iso(entry.last)))
            identifiers.extend((Ident.LOG_LINE.value, line) for line in entry.lines)
            observations.append(
                Observation(
                    Kind.NETWORK,
                    name,
                    # by key only: the log lines stay in the order they were seen
                    identifiers=tuple(sorted(identifiers, key=lambda kv: kv[0])),
                    source=source,
                )
            )
        collected = dt.datetime.fromtimestamp(last, dt.UTC) if last is not None else _EPOCH
        yield HostInventory(
            host=HostID(f"net:{client}"),
            hostname=hostname,
            platform=Platform.UNKNOWN,
            collected_at=collected,
            observations=tuple(observations),
            source=source,
        )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _automaton(needles: list[bytes]) -> ahocorasick_rs.BytesAhoCorasick | None:
    """The automaton of ``needles``, leftmost-first: one hit per place is all a line needs, and
    this kind lets the search skip ahead with a SIMD prefilter (gigabytes a second)."""
    if not needles:
        return None
    return ahocorasick_rs.BytesAhoCorasick(
        needles, matchkind=ahocorasick_rs.MatchKind.LeftmostFirst
    )
