"""The osquery source: reads results logs (plain or gzip) and ``osqueryi --json`` directories."""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, ClassVar, cast

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.inventory.osquery.detect import detect_table
from evict.inventory.osquery.results import (
    Fleet,
    HostState,
    OsqueryInputError,
    apply_event,
    check_row,
    host_facts,
    host_inventory,
)
from evict.inventory.osquery.tables import TABLES, Row
from evict.model.observations import HostInventory

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of a gzip stream."""
MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest results-log line read; osquery writes one event a line, far below this."""
MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest ``osqueryi --json`` file read (it is parsed whole)."""
MAX_PROBLEMS = 50
"""Skipped queries and hosts listed one by one per file; the rest are counted in one problem."""


def _size_text(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size % mib == 0 else f"{size} bytes"


# --- the source -------------------------------------------------------------------------------


class OsquerySource(OfflineSource):
    """osqueryd results logs and directories of ``osqueryi --json`` outputs.

    :param paths: results-log files and ``osqueryi --json`` directories, in any mix; logs are
        read in the order given, as one stream.
    :param max_line_bytes: the longest log line accepted (64 MiB).
    """

    name: ClassVar[str] = "osquery"

    def __init__(self, paths: Sequence[Path], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        super().__init__(paths)
        self.max_line_bytes = max_line_bytes

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per host; then raise the first unreadable path's error, if any.

        Every readable path is read even when an earlier one is not, so one bad file does not
        hide the hosts of the others; the bad ones are marked ``failed`` in :attr:`statuses`.
        """
        self._statuses = []
        problems = {str(p): Problems(f"osquery:{p}") for p in self.paths}
        fleet = Fleet()
        first_error: SourceInputError | None = None
        for path in self.paths:
            status = problems[str(path)]
            try:
                if path.is_dir():
                    yield self._read_directory(path, status)
                else:
                    self._read_log(path, fleet)
                    fleet.commit()
            except SourceInputError as e:
                fleet.rollback()
                status.fail(str(e))
                first_error = first_error or e
        for path_name, unknown in fleet.unknown.items():
            queries = sorted(unknown.items())
            for query, count in queries[:MAX_PROBLEMS]:
                problems[path_name].add(
                    f"query {query!r}: not a table evict reads; {count} event(s) skipped"
                )
            if len(queries) > MAX_PROBLEMS:
                problems[path_name].add(
                    f"{len(queries) - MAX_PROBLEMS} more queries evict does not read; skipped"
                )
        unreported: Counter[str] = Counter()
        for host in fleet.committed.values():
            if not host.queries:
                unreported[host.path] += 1
                if unreported[host.path] <= MAX_PROBLEMS:
                    problems[host.path].add(
                        f"host {host.host!r}: no query evict reads; not reported"
                    )
                continue
            rows = ((q.table, dict(key)) for q in host.queries.values() for key in q.rows)
            yield host_inventory(host, rows, host.collected_at or self._mtime(Path(host.path)))
        for path_name, count in unreported.items():
            if count > MAX_PROBLEMS:
                problems[path_name].add(
                    f"{count - MAX_PROBLEMS} more hosts with no query evict reads; not reported"
                )
        self._statuses = [problems[str(p)].status() for p in self.paths]
        if first_error is not None:
            raise first_error

    @staticmethod
    def _mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    def _open(self, path: Path) -> BinaryIO:
        """Open a results log; a gzip-compressed one (a rotated ``.gz``) is read through gzip.

        Decompression streams line by line under the same line-length limit, so a
        decompression bomb costs time, never more than one line of memory.
        """
        try:
            f = path.open("rb")
        except FileNotFoundError as e:
            raise OsqueryInputError(str(path), "no such file or directory") from e
        except OSError as e:
            raise OsqueryInputError(str(path), f"cannot open: {e.strerror or e}") from e
        try:
            magic = f.read(2)
            f.seek(0)
        except OSError as e:
            f.close()
            raise OsqueryInputError(str(path), f"read failed: {e}") from e
        if magic == GZIP_MAGIC:
            return cast(BinaryIO, gzip.GzipFile(fileobj=f, mode="rb"))
        return f

    def _read_log(self, path: Path, fleet: Fleet) -> None:
        """Apply every event of one results log to ``fleet`` (its working overlay)."""
        limit = self.max_line_bytes
        with self._open(path) as f:
            number = 0
            while True:
                try:
                    raw = f.readline(limit + 1)
                except (OSError, EOFError, zlib.error) as e:
                    # gzip: BadGzipFile is an OSError; a truncated stream is an EOFError.
                    what = "truncated gzip stream" if isinstance(e, EOFError) else str(e)
                    raise OsqueryInputError(
                        str(path), f"read failed: {what}", line=number + 1
                    ) from e
                if not raw:
                    break
                number += 1
                if len(raw) > limit:
                    raise OsqueryInputError(
                        str(path),
                        f"line longer than {_size_text(limit)}; not an osquery result",
                        line=number,
                    )
                if not raw.strip():
                    continue
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise OsqueryInputError(
                        str(path), f"not JSON: {e.msg}", line=number, where=f"column {e.colno}"
                    ) from e
                except (ValueError, RecursionError) as e:
                    raise OsqueryInputError(str(path), f"not JSON: {e}", line=number) from e
                if not isinstance(event, dict):
                    raise OsqueryInputError(
                        str(path),
                        "not an osquery result: each line must be a JSON object",
                        line=number,
                    )
                apply_event(fleet, event, path, number)

    def _read_directory(self, path: Path, problems: Problems) -> HostInventory:
        """Read a directory of ``<table>.json`` files as one host named after the directory."""
        host = HostState(path.resolve().name or str(path))
        rows: list[tuple[str, Row]] = []
        recognised = 0
        newest = 0.0
        try:
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        except OSError as e:
            raise OsqueryInputError(str(path), f"cannot list: {e.strerror or e}") from e
        for file in files:
            table_rows = self._read_json_array(file)
            table = detect_table(file.stem, table_rows[0] if table_rows else ())
            if table is None:
                problems.add(f"{file.name}: not a table evict reads; skipped")
                continue
            newest = max(newest, self._mtime(file))
            if TABLES[table].convert is None and not TABLES[table].registry:
                for row in table_rows:
                    host_facts(host, table, row)
                continue
            recognised += 1
            rows.extend((table, row) for row in table_rows)
        if not recognised:
            names = ", ".join(f"{t}.json" for t in list(TABLES)[:4])
            raise OsqueryInputError(
                str(path),
                f"no osqueryi --json output named after a table evict reads ({names}, ...)",
            )
        return host_inventory(host, rows, newest)

    def _read_json_array(self, file: Path) -> list[dict[str, str]]:
        """One ``osqueryi --json`` output: a JSON array of row objects."""
        size = self._size(file)
        if size > MAX_FILE_BYTES:
            raise OsqueryInputError(str(file), f"larger than {_size_text(MAX_FILE_BYTES)}")
        with self._open(file) as f:
            try:
                data = f.read(MAX_FILE_BYTES + 1)
            except (OSError, EOFError, zlib.error) as e:
                # gzip: BadGzipFile is an OSError; a truncated stream is an EOFError.
                what = "truncated gzip stream" if isinstance(e, EOFError) else str(e)
                raise OsqueryInputError(str(file), f"read failed: {what}") from e
        if not data.strip():
            return []
        try:
            value = json.loads(data)
        except json.JSONDecodeError as e:
            raise OsqueryInputError(
                str(file), f"not JSON: {e.msg}", line=e.lineno, where=f"column {e.colno}"
            ) from e
        except (ValueError, RecursionError) as e:
            raise OsqueryInputError(str(file), f"not JSON: {e}") from e
        if not isinstance(value, list):
            raise OsqueryInputError(
                str(file), "not osqueryi --json output: expected an array of rows"
            )
        return [check_row(v, file, None, f"entry {i}") for i, v in enumerate(value)]

    @staticmethod
    def _size(file: Path) -> int:
        try:
            return file.stat().st_size
        except OSError as e:
            raise OsqueryInputError(str(file), f"cannot read: {e.strerror or e}") from e
