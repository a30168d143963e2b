"""Agents' credentials and stored digests kept in memory, and check-ins written in batches.

An unchanged check-in only moves a host's ``last_seen`` (and ``last_checkin``), so a server
answers it from memory and writes the check-ins of the last ~100 ms in one transaction
(:class:`CheckinBuffer`). A crash can lose the ``last_seen`` bumps not yet flushed (the host
looks as if it checked in up to a flush interval earlier; its agent checks in again); never a
report, since full inventories are written, and committed, before they are acknowledged.

The directory of hosts (:class:`AgentDirectory`) remembers what a credential's host looks
like (its id, organisation, stored digest and held digest) once it has been read. Every
change to a host's credential or inventory writes an audit event about ``host:<identifier>``
in the same transaction, and the audit chain's sequence is total, so the directory stays true
across servers sharing one database by reading the events after the last sequence it saw,
at most ``sync_every`` seconds apart: an entry for a host named by a newer event is dropped.
In this process the store drops the entry as it commits. A credential retired on another
server is therefore refused here at most ``sync_every`` seconds (1 s) later; when the
directory cannot sync it answers nothing from memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from evict.model.records import HostInfo

log = logging.getLogger(__name__)

SYNC_EVERY = 1.0
"""Seconds between reads of the audit events that may change a remembered host."""
FLUSH_EVERY = 0.1
"""Seconds between writes of the check-ins received meanwhile."""
FORGOTTEN_KEPT = 100_000
"""Forgotten hosts remembered as such, for reads that began before they were forgotten."""
LIMIT = 500_000
"""Hosts remembered at most (about 300 bytes each); the directory starts over beyond."""


@dataclass(slots=True)
class AgentDirectory:
    """Hosts by credential lookup hash, kept true by the audit chain (see the module).

    :param read_host: reads the host whose credential has this lookup hash, with the audit
        sequence of the same snapshot (None when no host has it).
    :param read_changes: the ``(org_id, identifier)`` of hosts named by audit events after a
        sequence, and the newest sequence; None instead of the list when the sequence is
        negative or there are too many to list.
    """

    read_host: Callable[[str], tuple[HostInfo, int] | None]
    read_changes: Callable[[int], tuple[list[tuple[int, str]] | None, int]]
    sync_every: float = SYNC_EVERY
    limit: int = LIMIT
    _by_hash: dict[str, HostInfo] = field(default_factory=dict)
    _hash_by_host: dict[tuple[int, str], str] = field(default_factory=dict)
    _seq: int = -1
    generation: int = 0
    """Counts the hosts forgotten in this process: a host read before it was forgotten is not
    kept (the hosts forgotten since a generation are :meth:`_forgotten_since`)."""
    _forgotten: list[tuple[int, str]] = field(default_factory=list)
    _forgotten_base: int = 0
    _synced: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, lookup: str) -> HostInfo | None:
        """The remembered host for a credential's lookup hash; None when unknown or when the
        directory is due to sync (the caller then uses :meth:`lookup`, which may block)."""
        if time.monotonic() - self._synced > 2 * self.sync_every:
            return None
        return self._by_hash.get(lookup)

    def lookup(self, lookup: str) -> HostInfo | None:
        """The host for a credential's lookup hash, read from the database if not remembered."""
        if time.monotonic() - self._synced > self.sync_every:
            self.sync()
        host = self.cached(lookup)
        if host is not None:
            return host
        generation = self.generation
        found = self.read_host(lookup)
        if found is None:
            return None
        host, seq = found
        with self._lock:
            # Remember it only if no event the directory has already applied is newer than
            # the read: such an event may have changed the host after this snapshot.
            forgotten = self._forgotten_since(generation)
            name = (host.org_id, host.identifier)
            if seq >= self._seq >= 0 and forgotten is not None and name not in forgotten:
                if len(self._by_hash) >= self.limit:
                    self._by_hash.clear()
                    self._hash_by_host.clear()
                self._by_hash[lookup] = host
                self._hash_by_host[(host.org_id, host.identifier)] = lookup
        return host

    def remember(self, hosts: list[tuple[str, HostInfo]], seq: int, generation: int) -> int:
        """Remember hosts read in one snapshot at audit sequence ``seq``, the read begun at
        ``generation`` (a server warming up); return how many were kept (none when a newer
        event was applied; not those forgotten since the read began)."""
        with self._lock:
            forgotten = self._forgotten_since(generation)
            if not (seq >= self._seq >= 0) or forgotten is None:
                return 0
            kept = 0
            for lookup, host in hosts:
                if len(self._by_hash) >= self.limit:
                    break
                if (host.org_id, host.identifier) in forgotten:
                    continue
                self._by_hash[lookup] = host
                self._hash_by_host[(host.org_id, host.identifier)] = lookup
                kept += 1
            return kept

    def sync(self) -> None:
        """Drop the hosts that audit events after the last sync name (any server's)."""
        changes = self.read_changes(self._seq)
        with self._lock:
            names, seq = changes
            if names is None:  # the first sync, or too many changes to list: start over
                self._by_hash.clear()
                self._hash_by_host.clear()
            else:
                for name in names:
                    self._drop(name)
            self._seq = max(self._seq, seq)
            self._synced = time.monotonic()

    def forget(self, org_id: int, identifier: str) -> None:
        """Drop a host (its credential or inventory changed in this process)."""
        with self._lock:
            self.generation += 1
            if len(self._forgotten) >= FORGOTTEN_KEPT:  # reads begun earlier are not kept
                self._forgotten_base += len(self._forgotten)
                self._forgotten.clear()
            self._forgotten.append((org_id, identifier))
            self._drop((org_id, identifier))

    def _forgotten_since(self, generation: int) -> set[tuple[int, str]] | None:
        """The hosts forgotten since ``generation`` (under the lock); None when too long ago.

        A host read before it was forgotten may have changed after the read: it is not kept.
        Any other host read meanwhile is as true as the read (before, one forgotten host made
        a server warming up under load drop the whole fleet it had read).
        """
        since = generation - self._forgotten_base
        if since < 0:
            return None
        return set(self._forgotten[since:])

    def _drop(self, name: tuple[int, str]) -> None:
        lookup = self._hash_by_host.pop(name, None)
        if lookup is not None:
            self._by_hash.pop(lookup, None)


@dataclass(frozen=True, slots=True)
class Checkin:
    """One unchanged check-in waiting to be written."""

    host_id: int
    report_id: str
    digest: str
    at: dt.datetime


class CheckinBuffer:
    """Unchanged check-ins collected and written together every ``every`` seconds.

    :param write: writes a batch (one transaction); called from the flushing thread or from
        :meth:`flush`.
    """

    def __init__(self, write: Callable[[list[Checkin]], None], every: float = FLUSH_EVERY):
        self._write = write
        self.every = every
        self._pending: dict[int, Checkin] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tick: Callable[[], None] | None = None
        """Also run on each period (the directory's sync), errors ignored."""

    def add(self, checkin: Checkin) -> None:
        """Queue a check-in (a later one of the same host replaces it)."""
        with self._lock:
            self._pending[checkin.host_id] = checkin

    def discard(self, host_id: int) -> None:
        """Forget a host's waiting check-in (a full inventory superseded it)."""
        with self._lock:
            self._pending.pop(host_id, None)

    def __bool__(self) -> bool:
        # A batch being written counts as waiting: a reader that flushes first (the worker)
        # must wait for its commit, or it reads the hosts without those check-ins.
        return bool(self._pending) or self._flush_lock.locked()

    def flush(self) -> int:
        """Write the waiting check-ins now; return how many."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = list(self._pending.values()), {}
            if batch:
                try:
                    self._write(batch)
                except Exception:
                    with self._lock:  # try again next time; newer check-ins win
                        for c in batch:
                            self._pending.setdefault(c.host_id, c)
                    raise
            return len(batch)

    def start(self) -> None:
        """Start the flushing thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="evict-checkins", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what waits."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.flush()
                if self.tick is not None:
                    self.tick()
            except Exception as e:  # the database is away: the next period tries again
                log.warning("check-ins not written yet: %s", e)
                time.sleep(self.every)
