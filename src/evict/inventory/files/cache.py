"""The file-scan cache: what each file yielded last time, so an unchanged file is not reopened.

One SQLite file (stdlib ``sqlite3``) holds a row per folder entry seen: its folder and name, and
the size, modification time (ns) and inode it had, plus the observations it yielded (JSON) and
any problem it caused. A row is reused only when all three still agree with ``lstat`` *and* its
``key`` matches the current scan's key (the scanner's format, the catalog version and the YARA
rules' content hash): a new catalog or new rules mean every file is read again.

Rows are looked up a folder at a time (one query per folder) and written in batches, each batch in
one transaction. Rows of entries that have vanished from a folder are deleted when that folder is
scanned again, and rows of folders that have vanished when a scan of a tree completes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from evict.inventory.interface import InventoryError

SCHEMA = 1
"""Bumped when the table changes; an older cache file is emptied, not migrated."""

BATCH = 5000
"""Rows written per transaction."""


class FileCacheError(InventoryError):
    """The cache file cannot be opened, read or written (the scan goes on without it)."""


@dataclass(frozen=True, slots=True)
class CachedEntry:
    """What one folder entry yielded when it was last read."""

    size: int
    mtime_ns: int
    inode: int
    key: str
    observations: str
    """JSON list of observations, or ``""`` when the entry yielded none."""
    problem: str
    """``category\\tdetail`` of the problem it caused, or ``""``."""

    def fresh(self, size: int, mtime_ns: int, inode: int, key: str) -> bool:
        """Whether the entry is unchanged since it was cached, under the same scan key."""
        return (
            self.inode == inode
            and self.size == size
            and self.mtime_ns == mtime_ns
            and self.key == key
        )


class FileCache:
    """A per-user SQLite cache of file-scan results.

    :param path: the cache file; its folder is created (mode 0700) when missing.
    :param key: the current scan key; rows under another key are never reused.
    :raises FileCacheError: when the file cannot be opened as a SQLite database.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self._pending: list[tuple[str, str, int, int, int, str, str | None, str | None]] = []
        self._stale: list[tuple[str, str]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
            self._setup()
        except (OSError, sqlite3.Error) as e:
            raise FileCacheError(f"{path}: {e}") from e

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA:
            with self._transaction():
                db.execute("DROP TABLE IF EXISTS entries")
                db.execute(
                    "CREATE TABLE entries ("
                    " dir TEXT NOT NULL, name TEXT NOT NULL,"
                    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,"
                    " key TEXT NOT NULL, observations TEXT, problem TEXT,"
                    " PRIMARY KEY (dir, name)) WITHOUT ROWID"
                )
                db.execute(f"PRAGMA user_version = {SCHEMA}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Run the block in one write transaction: committed on success, rolled back on error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def folder(self, folder: str) -> dict[str, CachedEntry]:
        """Every cached entry of ``folder``, by name.

        :raises FileCacheError: when the cache cannot be read.
        """
        try:
            rows = self._db.execute(
                "SELECT name, size, mtime_ns, inode, key, observations, problem"
                " FROM entries WHERE dir = ?",
                (folder,),
            ).fetchall()
        except sqlite3.Error as e:
            raise FileCacheError(f"{self.path}: {e}") from e
        return {
            name: CachedEntry(size, mtime, inode, key, obs or "", problem or "")
            for name, size, mtime, inode, key, obs, problem in rows
        }

    def put(
        self,
        folder: str,
        name: str,
        st: os.stat_result,
        observations: str,
        problem: str = "",
    ) -> None:
        """Remember what the entry ``name`` of ``folder`` (as ``st`` describes it) yielded."""
        size = -1 if _is_dir(st) else st.st_size
        mtime = 0 if _is_dir(st) else st.st_mtime_ns
        row = (
            folder,
            name,
            size,
            mtime,
            st.st_ino,
            self.key,
            observations or None,
            problem or None,
        )
        self._pending.append(row)
        if len(self._pending) >= BATCH:
            self.flush()

    def forget(self, folder: str, names: Iterable[str]) -> None:
        """Drop the rows of entries that are no longer in ``folder``."""
        self._stale.extend((folder, name) for name in names)
        if len(self._stale) >= BATCH:
            self.flush()

    def prune(self, root: str, folders: set[str]) -> None:
        """Drop the rows of folders below ``root`` that a complete scan of it did not list.

        :raises FileCacheError: when the cache cannot be read or written.
        """
        self.flush()
        below = root.rstrip(os.sep) + os.sep
        after = below[:-1] + chr(ord(os.sep) + 1)  # every path starting with ``below`` sorts before
        try:
            stored = self._db.execute(
                "SELECT DISTINCT dir FROM entries WHERE dir = ? OR (dir >= ? AND dir < ?)",
                (root, below, after),
            ).fetchall()
            gone = [(folder,) for (folder,) in stored if folder not in folders]
            if gone:
                with self._transaction():
                    self._db.executemany("DELETE FROM entries WHERE dir = ?", gone)
        except sqlite3.Error as e:
            raise FileCacheError(f"{self.path}: {e}") from e

    def flush(self) -> None:
        """Write what :meth:`put` and :meth:`forget` collected, in one transaction.

        :raises FileCacheError: when the cache cannot be written.
        """
        if not self._pending and not self._stale:
            return
        try:
            with self._transaction():
                self._db.executemany(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self._pending
                )
                self._db.executemany("DELETE FROM entries WHERE dir = ? AND name = ?", self._stale)
        except sqlite3.Error as e:
            raise FileCacheError(f"{self.path}: {e}") from e
        finally:
            self._pending.clear()
            self._stale.clear()

    def close(self) -> None:
        """Write what is pending and close the file."""
        try:
            self.flush()
        finally:
            self._db.close()


def _is_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode)
