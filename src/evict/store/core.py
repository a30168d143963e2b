"""The store's engine and transactions, the chain append every write makes, and the worker lock.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError

from evict.compliance.audit import (
    canonical_json,
    seal,
)
from evict.matching.engine import distinct_key, software_key
from evict.model.observations import Observation
from evict.model.records import (
    AuditHeadMissing,
    DatabaseError,
    InvalidValueError,
)
from evict.model.states import HostState
from evict.store.agents import AgentDirectory, CheckinBuffer
from evict.store.engine import SQLITE_CACHE_KIB, WRITE, make_engine
from evict.store.tables import (
    AuditEventRow,
    AuditHead,
    UTCDateTime,
)

log = logging.getLogger(__name__)

_LOCK_KEY = 0x65766963  # "evic"
_LOCAL_LOCKS: dict[tuple[str, int], threading.Lock] = {}
NOTIFY_LOCK_KEY = 0x6E6F7469  # "noti": one notification pass at a time across servers

BATCH = 500
"""Rows per multi-row statement or ``IN (...)`` list: well inside every backend's limits."""

MAX_VERSION = 200
MAX_SOURCE = 100


def _clean_name(value: str, what: str, limit: int = 200) -> str:
    """A name as stored: trimmed, non-empty, at most ``limit`` characters, no control chars."""
    value = value.strip()
    if not value:
        raise InvalidValueError(f"{what} needs a name")
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidValueError(
            f"{what} name must be at most {limit} characters without control characters"
        )
    return value


def _unstorable(error: DataError) -> InvalidValueError:
    """A value the database refuses (PostgreSQL: a NUL character, a string over its column)."""
    reason = str(error.orig).splitlines()[0] if error.orig else "invalid value"
    return InvalidValueError(f"a value the database cannot store: {reason}")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


SOFTWARE_CACHE = 500_000
"""Software ids a store remembers (about 100 bytes each) before starting over."""


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _naive_utc(value: object) -> object:
    """What :class:`UTCDateTime` stores for ``value``: aware datetimes as naive UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


_STATE_COLUMNS = ("state", "since", "products", "reason", "checkin", "prior")
"""The columns of ``host_states`` a state change writes (:func:`_state_values`' keys)."""


def _state_values(state: HostState) -> dict[str, object]:
    return {
        "state": state.state.value,
        "since": state.since,
        "products": json.dumps(list(state.products)),
        "reason": state.reason,
        "checkin": state.checkin,
        "prior": state.prior.value if state.prior else None,
    }


REENROLL_STALE = dt.timedelta(days=30)
"""A host neither seen nor enrolled for this long may enrol again with its unit's secret alone
(a machine rebuilt after a long absence); a host seen more recently needs an admin's permission
or its current credential."""


def _aware(moment: dt.datetime) -> dt.datetime:
    """A database timestamp as aware UTC (rows read with Core keep the column's type)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


AuditSpec = tuple[str, str, str, int | None, Mapping[str, object]]
"""(actor, action, subject, org, payload) of an event to append."""


SCAN_CACHE_KIB = 1024
"""SQLite's page cache (KiB) while scanning the whole fleet (:meth:`Store._scan`)."""


class StoreCore:
    """The fleet's database: its engine, its transactions and the chain append.

    :param engine: an engine from :func:`evict.store.engine.make_engine`; the schema must be
        current (:func:`evict.store.engine.check_schema`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # Software rows are never updated or deleted, so their ids (committed before use) can
        # be remembered; bounded, and shared by this store's threads (dict operations are
        # atomic). Distinct software grows slowly: ~30,000 rows for 100,000 simulated hosts.
        self._software_cache: dict[str, int] = {}
        self._key_cache: dict[object, str] = {}
        """:func:`software_key` by :func:`distinct_key`, for bulk loads and ingests."""
        self._scanning = threading.local()
        """Set on a thread while it scans the fleet (:meth:`scanning`)."""
        self.agents: AgentDirectory | None = None
        """Hosts by credential, remembered (a server's; see :meth:`serve_agents`)."""
        self.checkins: CheckinBuffer | None = None
        """Unchanged check-ins written in batches (a server's; see :meth:`serve_agents`)."""

    @classmethod
    def open(cls, url: str) -> Self:
        """Open the database at ``url`` (an SQLAlchemy URL)."""
        return cls(make_engine(url))

    def close(self) -> None:
        """Write the check-ins that wait, and release the engine's connections."""
        if self.checkins is not None:
            self.checkins.stop()
            self.checkins = None
        self.engine.dispose()

    def _software_of(
        self,
        observations: Sequence[Observation],
        distinct: dict[str, Observation],
        links: set[tuple[str, str, str]],
        keys: Sequence[str] | None = None,
    ) -> None:
        """Add each observation's distinct software, by :func:`software_key`, to ``distinct``
        and its link ``(key, version, source)`` to ``links``.

        ``keys``: the observations' software keys when the decoder carried them
        (:attr:`InventoryReport.software_keys`); otherwise most of a fleet's software is known
        and its key remembered by :func:`distinct_key`.
        """
        if keys is None:
            cache = self._key_cache
            if len(cache) > SOFTWARE_CACHE:
                cache.clear()
            found = []
            for o in observations:
                identity = distinct_key(o)
                key = cache.get(identity)
                if key is None:
                    key = cache[identity] = software_key(o)
                found.append(key)
            keys = found
        for o, key in zip(observations, keys, strict=True):
            distinct.setdefault(key, o)
            links.add((key, o.version[:MAX_VERSION], o.source[:MAX_SOURCE]))

    @contextmanager
    def _read(self, *, page: bool = False) -> Iterator[Connection]:
        """A read-only transaction; with ``page``, for a few rows of a listing.

        A page is read without parallel workers (PostgreSQL): for a page of 50 hosts the
        planner chose parallel walks whose start-up and merge cost 50-150 ms at a million
        hosts, where one process finds the page in about 13 ms.
        """
        if getattr(self._scanning, "on", False) and self.dialect == "sqlite":
            self._scanning.on = False  # _scan reads through here
            try:
                with self._scan() as conn:
                    yield conn
            finally:
                self._scanning.on = True
            return
        try:
            with self.engine.connect() as conn, conn.begin():
                if page and self.dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
                yield conn
        except OperationalError as e:
            raise DatabaseError(f"database error: {e.orig}") from e
        except DataError as e:
            raise _unstorable(e) from e

    @contextmanager
    def scanning(self) -> Iterator[None]:
        """Mark every read of this thread, meanwhile, as part of a scan of the whole fleet (a
        directive's documents, an evidence bundle): on SQLite they run with the small page
        cache of :meth:`_scan`, so a report's memory does not grow with the database."""
        before = getattr(self._scanning, "on", False)
        self._scanning.on = True
        try:
            yield
        finally:
            self._scanning.on = before

    @contextmanager
    def _scan(self) -> Iterator[Connection]:
        """A read for one page of a scan of the whole fleet (reports, evidence).

        A scan reads each database page once, so on SQLite it runs with a small page cache
        (:data:`SCAN_CACHE_KIB`) and gives it back after: a million-host report does not fill
        the connection's cache (:data:`~evict.store.engine.SQLITE_CACHE_KIB`) with pages it
        will not read again, and its memory stays flat however large the fleet.
        """
        with self._read() as conn:
            if self.dialect != "sqlite":
                yield conn
                return
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SCAN_CACHE_KIB}")
            try:
                yield conn
            finally:
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    @contextmanager
    def _read_one(self) -> Iterator[Connection]:
        """A connection for one read statement: no BEGIN/COMMIT round trips on PostgreSQL.

        A single statement sees one snapshot anyway; on the hot path (every agent request
        authenticates) the two round trips saved are a third of the request's database time.
        """
        if self.dialect != "postgresql":
            with self._read() as conn:
                yield conn
            return
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        except OperationalError as e:
            raise DatabaseError(f"database error: {e.orig}") from e
        except DataError as e:
            raise _unstorable(e) from e

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                yield conn
        except OperationalError as e:
            raise DatabaseError(f"database error: {e.orig}") from e
        except DataError as e:
            raise _unstorable(e) from e

    def _insert_ignore(self, table: Any, index_elements: Sequence[str]) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
        # only the dialect in use
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))

    def _for_update(self, stmt: Any) -> Any:
        # SQLite serialises writers with BEGIN IMMEDIATE; PostgreSQL locks the row.
        return stmt.with_for_update() if self.dialect == "postgresql" else stmt

    def _audit(self, conn: Connection, now: dt.datetime, specs: Sequence[AuditSpec]) -> None:
        """Append events to the chain, under the head row's lock, in this transaction."""
        if not specs:
            return
        head = conn.execute(
            self._for_update(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1))
        ).one_or_none()
        if head is None:
            raise AuditHeadMissing()
        seq, prev = int(head.seq), str(head.hash)
        rows = []
        for actor, action, subject, org, payload in specs:
            event = seal(
                seq,
                prev,
                at=_iso(now),
                actor=actor,
                action=action,
                subject=subject,
                org=org,
                payload=payload,
            )
            rows.append(
                {
                    "seq": event.seq,
                    "at": event.at,
                    "actor": event.actor,
                    "action": event.action,
                    "subject": event.subject,
                    "org_id": event.org,
                    "payload": canonical_json(dict(event.payload)),
                    "prev_hash": event.prev_hash,
                    "hash": event.hash,
                }
            )
            seq, prev = event.seq, event.hash
        self._insert_rows(conn, AuditEventRow.__table__, rows)
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))

    def _insert_rows(
        self, conn: Connection, table: Any, rows: Sequence[Mapping[str, object]]
    ) -> None:
        """Insert many rows of one shape in this transaction, the fastest way the backend has.

        PostgreSQL takes them by COPY (psycopg's executemany sends one statement per row);
        SQLite by executemany in chunks. For tables whose rows cannot clash with stored ones
        (the caller holds the lock or made the keys); a clash still fails the transaction.
        """
        if not rows:
            return
        columns = list(rows[0])
        # Timestamps go in as the naive UTC the column type would store (UTCDateTime).
        timed = any(isinstance(table.c[c].type, UTCDateTime) for c in columns)
        if self.dialect != "postgresql" and not timed:
            # Plain values (links): straight to the driver, without building a parameter
            # dictionary per row (a third of a bulk load's time on SQLite).
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
            sql += f"({', '.join('?' for _ in columns)})"
            conn.exec_driver_sql(sql, [tuple(r[c] for c in columns) for r in rows])
            return
        if self.dialect != "postgresql" or len(rows) < 20:
            for chunk in _chunks(rows, 5000):
                conn.execute(insert(table), list(chunk))
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for r in rows:
                if timed:
                    copy.write_row(tuple(_naive_utc(r[c]) for c in columns))
                else:
                    copy.write_row(tuple(r[c] for c in columns))

    @contextmanager
    def worker_lock(self, key: int = _LOCK_KEY) -> Iterator[bool]:
        """Hold the right to run the matching worker (or, with another ``key``, another
        singleton job such as :data:`NOTIFY_LOCK_KEY`); yields False when another holds it.

        PostgreSQL: a session advisory lock, so one of N servers on one database works at a
        time. SQLite: a lock per database file within this process.
        """
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                got = bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                )
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            return
        lock = _LOCAL_LOCKS.setdefault((str(self.engine.url), key), threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()

    def ping(self) -> None:
        """Raise :class:`DatabaseError` unless the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(literal(1)))
        except SQLAlchemyError as e:
            raise DatabaseError(f"the database does not answer: {e}") from e
