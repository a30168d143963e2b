"""Shared helpers: run a collector on a prepared root, and build binary inputs real tools write."""

from __future__ import annotations

import shutil
import sqlite3
import struct
from collections.abc import Mapping
from pathlib import Path

from evict.inventory.interface import Collector, Problems
from evict.model.observations import Observation, SourceStatus

ASSETS = Path(__file__).parent.parent.parent / "assets" / "linux"


def run(collector: type[Collector], root: Path) -> tuple[list[Observation], SourceStatus]:
    """Collect with ``collector`` on ``root``; return what it saw and its status."""
    instance = collector(root)
    problems = Problems(f"local:{instance.name}")
    observations = list(instance.collect(problems))
    return observations, problems.status()


def copy_tree(name: str, dest: Path) -> Path:
    """Copy the asset tree ``name`` to ``dest`` (keeping its symlinks) and return the copy."""
    return Path(shutil.copytree(ASSETS / name, dest, symlinks=True))


def by_name(observations: list[Observation]) -> dict[str, Observation]:
    """Index observations by name (names are unique in the samples where this is used)."""
    return {o.name: o for o in observations}


# --- rpm header blobs, as rpm's sqlite backend stores them (header without the lead magic) ---

RPM_INT32 = 4
RPM_STRING = 6
RPM_BIN = 7
RPM_I18NSTRING = 9
HEADER_IMMUTABLE = 63


def rpm_header(tags: Mapping[int, str | int]) -> bytes:
    """Encode ``tags`` (tag -> str or int) as an rpm header blob.

    Layout (rpm's header.c): big-endian index count and data length, then 16-byte index entries
    (tag, type, offset, count), then the data store. Like rpm, the blob starts with a
    HEADERIMMUTABLE region entry, integers are 4-byte aligned, and strings end with NUL.
    """
    entries: list[tuple[int, int, int, int]] = []
    data = bytearray()
    for tag, value in tags.items():
        if isinstance(value, int):
            data.extend(b"\0" * (-len(data) % 4))
            entries.append((tag, RPM_INT32, len(data), 1))
            data.extend(struct.pack(">i", value))
        else:
            kind = RPM_I18NSTRING if tag == 1004 else RPM_STRING
            entries.append((tag, kind, len(data), 1))
            data.extend(value.encode() + b"\0")
    # the region trailer: an entry pointing back over the whole index
    trailer_offset = len(data)
    count = len(entries) + 1
    data.extend(struct.pack(">iIiI", HEADER_IMMUTABLE, RPM_BIN, -16 * count, 16))
    entries.insert(0, (HEADER_IMMUTABLE, RPM_BIN, trailer_offset, 16))
    index = b"".join(struct.pack(">iIiI", *e) for e in entries)
    return struct.pack(">II", len(entries), len(data)) + index + bytes(data)


def make_rpmdb(path: Path, blobs: list[bytes]) -> Path:
    """Write an rpm >= 4.16 sqlite database holding ``blobs`` in its Packages table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS 'Packages' ("
            "hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS 'Name' (key TEXT NOT NULL, hnum INTEGER NOT NULL, "
            "idx INTEGER NOT NULL, PRIMARY KEY(key, hnum, idx)) WITHOUT ROWID"
        )
        conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.close()
    return path
