"""The store: the only code that writes SQL.

:class:`Store` wraps an engine (SQLite or PostgreSQL) and offers what the server, the worker and
the command line need; each change is one transaction, with its audit event appended in it. It
decides nothing: lifecycle rules come in as functions (``decide``) from
:mod:`evict.compliance.lifecycle`, and the time comes in as ``now``. An unchanged check-in (the
digest matched) only moves ``last_seen`` and is not an audit event: at a million hosts checking in
hourly the chain would otherwise grow by 24 million events a day without recording any change.

Ingestion, the hot path, is shaped for a large fleet: distinct software is upserted in sorted
batches in its own short transaction (``INSERT ... ON CONFLICT DO NOTHING``), then the host's
``host_software`` set is replaced, the report id recorded and the host queued for the worker in
one transaction. It never runs the matcher.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from evict.compliance.audit import (
    Anchor,
    AuditEvent,
    ChainVerdict,
    canonical_json,
    seal,
    verify_chain,
)
from evict.compliance.coverage import kinds_from_text, kinds_text
from evict.compliance.determinations import Answer, Determination
from evict.compliance.lifecycle import Waiver, waive
from evict.matching.engine import distinct_key
from evict.model.observations import Kind, Observation
from evict.model.records import (
    AuditHeadMissing,
    BulkHost,
    ConflictError,
    DatabaseError,
    DirtyHost,
    FleetRow,
    HeldInventory,
    HostInfo,
    HostRow,
    IngestAck,
    InvalidValueError,
    InventoryReport,
    NotFoundError,
    OrgInfo,
    Principal,
    Role,
    StateChange,
    TokenInfo,
    UnitInfo,
    UserInfo,
    WaiverInfo,
)
from evict.model.states import PENDING, HostState, State
from evict.store import secrets
from evict.store.agents import FLUSH_EVERY, AgentDirectory, Checkin, CheckinBuffer
from evict.store.engine import SQLITE_CACHE_KIB, WRITE, make_engine
from evict.store.tables import (
    UNSETTLED,
    Adoption,
    ApiToken,
    AuditEventRow,
    AuditHead,
    DeterminationRow,
    Host,
    HostSoftware,
    HostStateRow,
    Meta,
    Org,
    OrgUnit,
    ReportRow,
    Software,
    SoftwareMatch,
    User,
    UTCDateTime,
    WaiverRow,
)

log = logging.getLogger(__name__)

_LOCK_KEY = 0x65766963  # "evic"
_LOCAL_LOCKS: dict[tuple[str, int], threading.Lock] = {}
NOTIFY_LOCK_KEY = 0x6E6F7469  # "noti": one notification pass at a time across servers

BATCH = 500
"""Rows per multi-row statement or ``IN (...)`` list: well inside every backend's limits."""

MAX_VERSION = 200
MAX_SOURCE = 100


def software_key(observation: Observation) -> str:
    """The key of an observation's distinct software identity (hex SHA-256)."""
    kind, name, publisher, identifiers = distinct_key(observation)
    line = canonical_json([kind.value, name, publisher, [list(p) for p in identifiers]])
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


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


def _covered_hit(hits: str | None, covered: frozenset[str] | None) -> bool:
    """Whether stored hits (``software_match.hits``) name a product in ``covered``."""
    if hits is None:
        return False
    if covered is None:
        return True
    return any(h.get("product") in covered for h in json.loads(hits))


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _state_from_row(row: Any) -> HostState:
    return HostState(
        state=State(row.state),
        since=row.since,
        products=tuple(json.loads(row.products)),
        reason=row.reason,
        checkin=row.checkin,
        prior=State(row.prior) if row.prior else None,
    )


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


@functools.cache
def _dummy_hash() -> str:
    """An argon2 hash of nothing anyone knows: verified against when no user has the name."""
    return secrets.hash_password(secrets.new_secret("dummy_"))


REENROLL_STALE = dt.timedelta(days=30)
"""A host neither seen nor enrolled for this long may enrol again with its unit's secret alone
(a machine rebuilt after a long absence); a host seen more recently needs an admin's permission
or its current credential."""


def _reenroll_ground(
    row: Any, proof: str | None, now: dt.datetime, stale_after: dt.timedelta | None
) -> str | None:
    """Why an enrolled host may enrol again (``credential``, ``admin``, ``stale``), or None."""
    if proof is not None and row.credential_hash is not None and proof == row.credential_hash:
        return "credential"
    if row.reenroll_until is not None and _aware(row.reenroll_until) > now:
        return "admin"
    seen = max(_aware(t) for t in (row.enrolled_at, row.last_seen) if t is not None)
    if stale_after is not None and now - seen > stale_after:
        return "stale"
    return None


def _aware(moment: dt.datetime) -> dt.datetime:
    """A database timestamp as aware UTC (rows read with Core keep the column's type)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


AuditSpec = tuple[str, str, str, int | None, Mapping[str, object]]
"""(actor, action, subject, org, payload) of an event to append."""


SCAN_CACHE_KIB = 1024
"""SQLite's page cache (KiB) while scanning the whole fleet (:meth:`Store._scan`)."""


class Store:
    """The fleet's database.

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
    def open(cls, url: str) -> Store:
        """Open the database at ``url`` (an SQLAlchemy URL)."""
        return cls(make_engine(url))

    def close(self) -> None:
        """Write the check-ins that wait, and release the engine's connections."""
        if self.checkins is not None:
            self.checkins.stop()
            self.checkins = None
        self.engine.dispose()

    # -- agents' fast path ----------------------------------------------------------------------

    def serve_agents(self, flush_every: float = FLUSH_EVERY) -> None:
        """Remember hosts by credential and write unchanged check-ins every ``flush_every``
        seconds in one transaction (see :mod:`evict.store.agents`); ``0`` writes each one."""
        self.agents = AgentDirectory(self._read_agent, self._agent_changes)
        if flush_every > 0:
            self.checkins = CheckinBuffer(self._write_checkins, flush_every)
            agents = self.agents

            def tick() -> None:
                if time.monotonic() - agents._synced > agents.sync_every / 2:
                    agents.sync()

            self.checkins.tick = tick
            self.checkins.start()
        threading.Thread(target=self._warm_agents, name="evict-agents", daemon=True).start()

    def _warm_agents(self) -> None:
        """Read the enrolled hosts into the directory (up to its limit), once, at start."""
        agents = self.agents
        if agents is None:
            return
        try:
            agents.sync()
            generation = agents.generation
            head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
            stmt = (
                self._host_select()
                .add_columns(Host.credential_hash, head.label("audit_seq"))
                .where(Host.credential_hash.is_not(None))
                .limit(agents.limit)
            )
            with self._read() as conn:
                rows = conn.execute(stmt).all()
            if rows:
                seq = int(rows[0].audit_seq if rows[0].audit_seq is not None else -1)
                hosts = [(str(r.credential_hash), self._host_info(r)) for r in rows]
                for _ in range(3):  # events applied meanwhile: drop the hosts they name
                    names, newest = self._agent_changes(seq)
                    if names is None:
                        return
                    changed = set(names)
                    hosts = [h for h in hosts if (h[1].org_id, h[1].identifier) not in changed]
                    if agents.remember(hosts, newest, generation) or not hosts:
                        return
                    seq = newest
        except Exception as e:  # only slower: hosts are then read as they come
            log.warning("could not read the enrolled hosts ahead: %s", e)

    def _read_agent(self, lookup: str) -> tuple[HostInfo, int] | None:
        head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
        stmt = self._host_select().add_columns(head.label("audit_seq"))
        with self._read_one() as conn:
            row = conn.execute(stmt.where(Host.credential_hash == lookup)).first()
        if row is None:
            return None
        return self._host_info(row), int(row.audit_seq if row.audit_seq is not None else -1)

    def _agent_changes(self, after: int) -> tuple[list[tuple[int, str]] | None, int]:
        limit = 10_000
        with self._read() as conn:
            seq = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
            head = int(seq if seq is not None else -1)
            if after < 0 or head - after > limit:
                return None, head
            rows = conn.execute(
                select(AuditEventRow.org_id, AuditEventRow.subject).where(
                    AuditEventRow.seq > after,
                    AuditEventRow.seq <= head,
                    AuditEventRow.subject.startswith("host:"),
                )
            ).all()
        return [(int(r.org_id or 0), r.subject[5:]) for r in rows], head

    def agent_host(self, credential: str) -> HostInfo | None:
        """The host a credential was issued to (remembered when :meth:`serve_agents` ran)."""
        if self.agents is None:
            return self.host_for_credential(credential)
        return self.agents.lookup(secrets.lookup_hash(credential))

    def cached_agent_host(self, credential: str) -> HostInfo | None:
        """:meth:`agent_host` from memory only: None when it would have to read."""
        if self.agents is None:
            return None
        return self.agents.cached(secrets.lookup_hash(credential))

    def _host_changed(self, host: HostInfo) -> None:
        """Forget what is remembered of ``host`` (its credential or inventory changed)."""
        if self.agents is not None:
            self.agents.forget(host.org_id, host.identifier)
        if self.checkins is not None:
            self.checkins.discard(host.id)

    def flush_checkins(self) -> None:
        """Write the unchanged check-ins that wait (before reading what they change)."""
        if self.checkins:
            self.checkins.flush()

    def _write_checkins(self, batch: Sequence[Checkin]) -> None:
        waiting = exists().where(  # no IN list: an executemany cannot expand one
            HostStateRow.host_id == Host.id,
            or_(
                HostStateRow.state == State.REPLACED.value,
                HostStateRow.state == State.STALE.value,
            ),
        )
        stmt = (
            update(Host)
            .where(
                Host.id == bindparam("b_id"),
                or_(
                    and_(Host.digest == bindparam("b_digest"), Host.digest != ""),
                    Host.held_digest == bindparam("b_digest"),
                ),
            )
            .values(
                last_seen=bindparam("b_at", type_=Host.last_seen.type),
                last_checkin=bindparam("b_report"),
                dirty=or_(Host.dirty, waiting),
            )
        )
        rows = [
            {"b_id": c.host_id, "b_digest": c.digest, "b_at": c.at, "b_report": c.report_id}
            for c in sorted(batch, key=lambda c: c.host_id)
        ]
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            for chunk in _chunks(rows):
                conn.execute(stmt, list(chunk))

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
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
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(index_elements))

    def _for_update(self, stmt: Any) -> Any:
        # SQLite serialises writers with BEGIN IMMEDIATE; PostgreSQL locks the row.
        return stmt.with_for_update() if self.dialect == "postgresql" else stmt

    # -- audit ----------------------------------------------------------------------------------

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

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        org: int | None,
        payload: Mapping[str, object],
        now: dt.datetime,
    ) -> None:
        """Append one event on its own (for changes made outside the store, e.g. settings)."""
        with self._write() as conn:
            self._audit(conn, now, [(actor, action, subject, org, payload)])

    def audit_head(self) -> tuple[int, str]:
        """The chain head as recorded: ``(seq, hash)``; :class:`AuditHeadMissing` if its row is
        gone."""
        with self._read() as conn:
            row = conn.execute(
                select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
            ).one_or_none()
        if row is None:
            raise AuditHeadMissing()
        return int(row.seq), str(row.hash)

    def audit_events(
        self,
        *,
        org_id: int | None = None,
        subject: str | None = None,
        action_prefix: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Events in chain order after sequence number ``after``, optionally filtered."""
        stmt = select(AuditEventRow).where(AuditEventRow.seq > after)
        if org_id is not None:
            stmt = stmt.where(AuditEventRow.org_id == org_id)
        if subject is not None:
            stmt = stmt.where(AuditEventRow.subject == subject)
        if action_prefix is not None:
            stmt = stmt.where(AuditEventRow.action.startswith(action_prefix, autoescape=True))
        stmt = stmt.order_by(AuditEventRow.seq).limit(limit)
        with self._read() as conn:
            return [self._event(r) for r in conn.execute(stmt)]

    @staticmethod
    def _event(row: Any) -> AuditEvent:
        try:
            payload = json.loads(row.payload)
        except ValueError:
            payload = {"unreadable": row.payload}
        if not isinstance(payload, dict):
            payload = {"unreadable": row.payload}
        return AuditEvent(
            int(row.seq),
            row.at,
            row.actor,
            row.action,
            row.subject,
            row.org_id,
            payload,
            row.prev_hash,
            row.hash,
        )

    def iter_audit(self, page: int = 5000, *, after: int = 0) -> Iterator[AuditEvent]:
        """Every event after sequence number ``after`` in stored order, a page at a time."""
        while True:
            stmt = select(AuditEventRow).where(AuditEventRow.seq > after)
            with self._scan() as conn:
                rows = [
                    self._event(r)
                    for r in conn.execute(stmt.order_by(AuditEventRow.seq).limit(page))
                ]
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].seq

    def verify_audit(self, anchors: Sequence[Anchor] = ()) -> ChainVerdict:
        """Recompute the whole chain and compare it with the recorded head and with ``anchors``
        (signed heads kept outside the database, their signatures already checked)."""
        head = self.audit_head()
        return verify_chain(self.iter_audit(), head=head, anchors=anchors)

    # -- organisations, units, users, tokens ----------------------------------------------------

    def create_org(self, name: str, *, actor: str, now: dt.datetime) -> tuple[OrgInfo, str]:
        """Create an organisation and its first org unit, named after it.

        Returns the organisation and that unit's enrolment secret, which is shown only now.
        """
        name = _clean_name(name, "an organisation")
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        try:
            with self._write() as conn:
                org_id = conn.execute(
                    insert(Org).values(name=name, created_at=now).returning(Org.id)
                ).scalar_one()
                conn.execute(
                    insert(OrgUnit).values(
                        org_id=org_id,
                        name=name,
                        secret_hash=secrets.lookup_hash(secret),
                        created_at=now,
                    )
                )
                self._audit(
                    conn, now, [(actor, "org.create", f"org:{name}", org_id, {"name": name})]
                )
        except IntegrityError as e:
            raise ConflictError(f"an organisation named {name!r} already exists") from e
        return OrgInfo(org_id, name, now), secret

    def org(self, name: str) -> OrgInfo:
        """Look an organisation up by name."""
        with self._read() as conn:
            row = conn.execute(select(Org).where(Org.name == name)).first()
        if row is None:
            raise NotFoundError(f"no organisation named {name!r}")
        return OrgInfo(row.id, row.name, row.created_at, row.freshness_days)

    def org_by_id(self, org_id: int) -> OrgInfo:
        """Look an organisation up by id."""
        with self._read() as conn:
            row = conn.execute(select(Org).where(Org.id == org_id)).first()
        if row is None:
            raise NotFoundError(f"no organisation {org_id}")
        return OrgInfo(row.id, row.name, row.created_at, row.freshness_days)

    def orgs(self) -> list[OrgInfo]:
        """Every organisation."""
        with self._read() as conn:
            return [
                OrgInfo(r.id, r.name, r.created_at, r.freshness_days)
                for r in conn.execute(select(Org).order_by(Org.id))
            ]

    def create_unit(
        self, org_name: str, unit: str, *, actor: str, now: dt.datetime
    ) -> tuple[UnitInfo, str]:
        """Create an org unit; return it with its enrolment secret (shown only now)."""
        org = self.org(org_name)
        unit = _clean_name(unit, "an org unit")
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        try:
            with self._write() as conn:
                unit_id = conn.execute(
                    insert(OrgUnit)
                    .values(
                        org_id=org.id,
                        name=unit,
                        secret_hash=secrets.lookup_hash(secret),
                        created_at=now,
                    )
                    .returning(OrgUnit.id)
                ).scalar_one()
                self._audit(
                    conn,
                    now,
                    [(actor, "unit.create", f"unit:{org.name}/{unit}", org.id, {"unit": unit})],
                )
        except IntegrityError as e:
            raise ConflictError(f"{org.name} already has an org unit named {unit!r}") from e
        return UnitInfo(unit_id, org.id, unit), secret

    def rotate_unit_secret(self, org_id: int, unit: str, *, actor: str, now: dt.datetime) -> str:
        """Replace an org unit's enrolment secret; return it (enrolled hosts keep theirs)."""
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        with self._write() as conn:
            done = conn.execute(
                update(OrgUnit)
                .where(OrgUnit.org_id == org_id, OrgUnit.name == unit)
                .values(secret_hash=secrets.lookup_hash(secret))
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no org unit named {unit!r}")
            self._audit(conn, now, [(actor, "unit.secret", f"unit:{unit}", org_id, {"unit": unit})])
        return secret

    def units(self, org_id: int) -> list[UnitInfo]:
        """An organisation's org units."""
        with self._read() as conn:
            rows = conn.execute(
                select(OrgUnit).where(OrgUnit.org_id == org_id).order_by(OrgUnit.id)
            )
            return [UnitInfo(r.id, r.org_id, r.name) for r in rows]

    def unit_id(self, org_id: int, name: str) -> int:
        """The id of an org unit by name."""
        with self._read() as conn:
            found = conn.execute(
                select(OrgUnit.id).where(OrgUnit.org_id == org_id, OrgUnit.name == name)
            ).scalar()
        if found is None:
            raise NotFoundError(f"no org unit named {name!r}")
        return int(found)

    def create_user(
        self,
        name: str,
        *,
        org: str,
        role: Role,
        password: str | None,
        unit: str | None = None,
        actor: str,
        now: dt.datetime,
    ) -> UserInfo:
        """Create a user (password hashed with argon2id; None means token-only)."""
        info = self.org(org)
        unit_id = self.unit_id(info.id, unit) if unit else None
        name = _clean_name(name, "a user")
        if password is not None:
            problem = secrets.password_problem(password, context=(name, info.name))
            if problem:
                raise InvalidValueError(problem)
        hashed = secrets.hash_password(password) if password else None
        try:
            with self._write() as conn:
                user_id = conn.execute(
                    insert(User)
                    .values(
                        org_id=info.id,
                        org_unit_id=unit_id,
                        name=name,
                        role=role.value,
                        password_hash=hashed,
                        disabled=False,
                        created_at=now,
                    )
                    .returning(User.id)
                ).scalar_one()
                payload = {"role": role.value, "unit": unit, "password": hashed is not None}
                self._audit(conn, now, [(actor, "user.create", f"user:{name}", info.id, payload)])
        except IntegrityError as e:
            # Names are unique per organisation: this one is taken in the caller's own.
            raise ConflictError(f"{info.name} already has a user named {name!r}") from e
        return UserInfo(user_id, info.id, name, role, unit_id)

    def users(self, org_id: int) -> list[UserInfo]:
        """An organisation's users."""
        with self._read() as conn:
            rows = conn.execute(select(User).where(User.org_id == org_id).order_by(User.id))
            return [UserInfo(r.id, r.org_id, r.name, Role(r.role), r.org_unit_id) for r in rows]

    def create_token(
        self,
        user: str,
        *,
        days: int | None,
        label: str = "",
        actor: str,
        now: dt.datetime,
        org_id: int | None = None,
        max_days: Mapping[str, int] | None = None,
    ) -> tuple[TokenInfo, str]:
        """Issue an API token for ``user``; return its record and the token (shown only now).

        :param days: lifetime; None for a token that does not expire (refused under
            ``max_days``).
        :param org_id: the user's organisation; without it the name must be unique on the
            server (user names are unique per organisation only).
        :param max_days: the longest lifetime per role; a longer (or endless) one is refused
            with :class:`InvalidValueError`.
        """
        if days is not None and days < 0:
            raise InvalidValueError(f"a token's lifetime is a number of days, not {days}")
        token = secrets.new_secret(secrets.TOKEN_PREFIX)
        expires = now + dt.timedelta(days=days) if days else None
        with self._write() as conn:
            stmt = select(User.id, User.org_id, User.role).where(User.name == user)
            if org_id is not None:
                stmt = stmt.where(User.org_id == org_id)
            rows = conn.execute(stmt.limit(2)).all()
            if not rows:
                raise NotFoundError(f"no user named {user!r}")
            if len(rows) > 1:
                raise ConflictError(
                    f"users named {user!r} exist in several organisations: give --org"
                )
            row = rows[0]
            if max_days is not None:
                longest = max_days.get(row.role)
                if longest is not None and (not days or days > longest):
                    asked = f"{days} days" if days else "a token that never expires"
                    raise InvalidValueError(
                        f"tokens of the {row.role} role last at most {longest} days "
                        f"({asked} was asked); ask for {longest} or fewer"
                    )
            token_id = conn.execute(
                insert(ApiToken)
                .values(
                    user_id=row.id,
                    lookup=secrets.lookup_hash(token),
                    label=label,
                    created_at=now,
                    expires_at=expires,
                )
                .returning(ApiToken.id)
            ).scalar_one()
            payload = {"token": token_id, "label": label, "expires": expires and _iso(expires)}
            self._audit(conn, now, [(actor, "token.create", f"user:{user}", row.org_id, payload)])
        return TokenInfo(token_id, user, label, now, expires), token

    def user_role(self, org_id: int, name: str) -> Role | None:
        """The role of the organisation's user ``name`` (None when it has no such user)."""
        with self._read() as conn:
            role = conn.execute(
                select(User.role).where(User.org_id == org_id, User.name == name)
            ).scalar()
        return Role(role) if role is not None else None

    def tokens(self, org_id: int, user: str | None = None) -> list[TokenInfo]:
        """Tokens of an organisation's users (records only)."""
        stmt = (
            select(ApiToken, User.name)
            .join(User, User.id == ApiToken.user_id)
            .where(User.org_id == org_id)
            .order_by(ApiToken.id)
        )
        if user is not None:
            stmt = stmt.where(User.name == user)
        with self._read() as conn:
            return [
                TokenInfo(
                    r.id, r.name, r.label, r.created_at, r.expires_at, r.revoked_at is not None
                )
                for r in conn.execute(stmt)
            ]

    def revoke_token(self, org_id: int, token_id: int, *, actor: str, now: dt.datetime) -> None:
        """Revoke a token of one of the organisation's users."""
        with self._write() as conn:
            row = conn.execute(
                select(ApiToken.id, User.name)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id, User.org_id == org_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no token {token_id}")
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now))
            self._audit(
                conn,
                now,
                [(actor, "token.revoke", f"user:{row.name}", org_id, {"token": token_id})],
            )

    def principal_for_token(self, token: str, now: dt.datetime) -> Principal | None:
        """The user an API token belongs to, if the token is valid now."""
        stmt = (
            select(User.id, User.name, User.org_id, User.role, User.org_unit_id)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.lookup == secrets.lookup_hash(token),
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                ~User.disabled,
            )
        )
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return Principal(row.id, row.name, row.org_id, Role(row.role), row.org_unit_id)

    def principal_for_password(
        self, name: str, password: str, *, org: str | None = None
    ) -> Principal | None:
        """The user ``name`` (of ``org``, when given) if ``password`` is theirs.

        User names are unique per organisation: without ``org`` every user of that name is
        tried, and the password must match exactly one. A name no one has still costs one
        argon2 verification, so the answer's timing does not tell taken names from free ones.
        """
        stmt = select(User).where(User.name == name, ~User.disabled)
        if org is not None:
            stmt = stmt.join(Org, Org.id == User.org_id).where(Org.name == org)
        with self._read() as conn:
            rows = conn.execute(stmt.limit(10)).all()
        hashes = [r for r in rows if r.password_hash]
        if not hashes:
            secrets.check_password(_dummy_hash(), password)
            return None
        matches = [r for r in hashes if secrets.check_password(r.password_hash, password)]
        if len(matches) != 1:
            return None
        row = matches[0]
        return Principal(row.id, row.name, row.org_id, Role(row.role), row.org_unit_id)

    # -- directives adopted ---------------------------------------------------------------------

    def adopt(
        self, org_name: str, directive: str, start: dt.date, *, actor: str, now: dt.datetime
    ) -> None:
        """Record that an organisation follows ``directive`` on its own clock from ``start``."""
        org = self.org(org_name)
        with self._write() as conn:
            done = conn.execute(
                update(Adoption)
                .where(Adoption.org_id == org.id, Adoption.directive == directive)
                .values(start=start)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(Adoption).values(
                        org_id=org.id, directive=directive, start=start, created_at=now
                    )
                )
            payload = {"directive": directive, "start": start.isoformat()}
            self._audit(conn, now, [(actor, "directive.adopt", f"org:{org.name}", org.id, payload)])

    def adoptions(self, org_id: int) -> dict[str, dt.date]:
        """An organisation's own start dates, by directive."""
        with self._read() as conn:
            rows = conn.execute(select(Adoption).where(Adoption.org_id == org_id))
            return {r.directive: r.start for r in rows}

    # -- determinations of questions of scope ---------------------------------------------------

    def record_determination(
        self,
        org_id: int,
        determination: Determination,
        *,
        actor: str,
        now: dt.datetime,
        products: Iterable[str] = (),
        catalog_version: str = "",
    ) -> Determination:
        """Record an organisation's determination of a question, fleet-wide, with its audit event.

        The organisation's previous determination of the same question, if any, is revoked in the
        same transaction. The organisation's hosts linked to software matched (under
        ``catalog_version``) as one of ``products`` (the products the question can apply to) are
        queued, so the worker's next pass moves them. The caller checks the determination first
        (:meth:`~evict.compliance.determinations.Determination.check`).
        """
        d = dataclasses.replace(
            determination, decided_by=_clean_name(determination.decided_by, "decided by")
        )
        with self._write() as conn:
            replaced = self._revoke_determinations(conn, org_id, d.question, actor=actor, now=now)
            new_id = conn.execute(
                insert(DeterminationRow)
                .values(
                    org_id=org_id,
                    question=d.question,
                    answer=d.answer.value,
                    reasoning=d.reasoning,
                    decided_by=d.decided_by,
                    decided_on=d.decided_on,
                    created_at=now,
                    created_by=actor,
                )
                .returning(DeterminationRow.id)
            ).scalar_one()
            payload: dict[str, object] = {
                "question": d.question,
                "answer": d.answer.value,
                "reasoning": d.reasoning,
                "decided_by": d.decided_by,
                "decided_on": d.decided_on.isoformat(),
            }
            if replaced:
                payload["replaces"] = replaced
            subject = f"question:{d.question}"
            self._audit(conn, now, [(actor, "determination.record", subject, org_id, payload)])
            self._queue_question_hosts(conn, org_id, products, catalog_version)
        return dataclasses.replace(
            d, id=int(new_id), recorded_by=actor, recorded_at=now, revoked=False
        )

    def revoke_determination(
        self,
        org_id: int,
        question: str,
        *,
        actor: str,
        now: dt.datetime,
        products: Iterable[str] = (),
        catalog_version: str = "",
    ) -> None:
        """Revoke an organisation's determination of ``question``: its findings need one again.

        Raises :class:`NotFoundError` when the organisation has none in force.
        """
        with self._write() as conn:
            revoked = self._revoke_determinations(conn, org_id, question, actor=actor, now=now)
            if not revoked:
                raise NotFoundError(f"no determination of {question!r} is in force")
            payload = {"question": question, "revoked": revoked}
            self._audit(
                conn,
                now,
                [(actor, "determination.revoke", f"question:{question}", org_id, payload)],
            )
            self._queue_question_hosts(conn, org_id, products, catalog_version)

    @staticmethod
    def _revoke_determinations(
        conn: Connection, org_id: int, question: str, *, actor: str, now: dt.datetime
    ) -> list[int]:
        active = (
            DeterminationRow.org_id == org_id,
            DeterminationRow.question == question,
            DeterminationRow.revoked_at.is_(None),
        )
        ids = [int(i) for i in conn.execute(select(DeterminationRow.id).where(*active)).scalars()]
        if ids:
            conn.execute(
                update(DeterminationRow)
                .where(DeterminationRow.id.in_(ids))
                .values(revoked_at=now, revoked_by=actor)
            )
        return ids

    @staticmethod
    def _queue_question_hosts(
        conn: Connection, org_id: int, products: Iterable[str], version: str
    ) -> None:
        """Queue the organisation's hosts linked to software matched as one of ``products``."""
        wanted = set(products)
        if not wanted or not version:
            return
        rows = conn.execute(
            select(SoftwareMatch.software_id, SoftwareMatch.hits).where(
                SoftwareMatch.catalog_version == version, SoftwareMatch.matched
            )
        )
        software = sorted(
            int(r.software_id)
            for r in rows
            if any(h.get("product") in wanted for h in json.loads(r.hits))
        )
        for chunk in _chunks(software):
            linked = select(HostSoftware.host_id).where(HostSoftware.software_id.in_(chunk))
            conn.execute(
                update(Host)
                .where(Host.org_id == org_id, Host.id.in_(linked), ~Host.dirty)
                .values(dirty=True)
            )

    @staticmethod
    def _determination(row: Any) -> Determination:
        return Determination(
            question=row.question,
            answer=Answer(row.answer),
            reasoning=row.reasoning,
            decided_by=row.decided_by,
            decided_on=row.decided_on,
            id=row.id,
            recorded_by=row.created_by,
            recorded_at=row.created_at,
            revoked=row.revoked_at is not None,
        )

    def determinations(self, org_id: int, *, revoked: bool = False) -> list[Determination]:
        """An organisation's determinations in force (with ``revoked``, every one), newest first."""
        stmt = (
            select(DeterminationRow)
            .where(DeterminationRow.org_id == org_id)
            .order_by(DeterminationRow.id.desc())
        )
        if not revoked:
            stmt = stmt.where(DeterminationRow.revoked_at.is_(None))
        with self._read() as conn:
            return [self._determination(r) for r in conn.execute(stmt)]

    def active_determinations(self, org_ids: Iterable[int]) -> dict[int, dict[str, Determination]]:
        """The determinations in force, by organisation and question (for the worker)."""
        wanted = sorted(set(org_ids))
        out: dict[int, dict[str, Determination]] = defaultdict(dict)
        if not wanted:
            return out
        with self._read() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    select(DeterminationRow).where(
                        DeterminationRow.org_id.in_(chunk), DeterminationRow.revoked_at.is_(None)
                    )
                )
                for r in rows:
                    out[r.org_id][r.question] = self._determination(r)
        return out

    def hosts_needing_determination(
        self, org_id: int, *, unit_id: int | None = None, limit: int = 10_000
    ) -> list[tuple[int, str, str, str, tuple[str, ...]]]:
        """The organisation's hosts waiting for a determination: ``(host id, identifier,
        hostname, directive, products)`` per host and directive, at most ``limit``."""
        stmt = (
            select(
                Host.id, Host.identifier, Host.hostname, HostStateRow.directive,
                HostStateRow.products,
            )
            .join(HostStateRow, HostStateRow.host_id == Host.id)
            .where(
                HostStateRow.org_id == org_id,
                HostStateRow.state == State.NEEDS_DETERMINATION.value,
            )
            .order_by(Host.hostname, Host.id, HostStateRow.directive)
            .limit(limit)
        )  # fmt: skip
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        with self._read() as conn:
            return [
                (int(r.id), r.identifier, r.hostname, r.directive, tuple(json.loads(r.products)))
                for r in conn.execute(stmt)
            ]

    # -- enrolment and hosts --------------------------------------------------------------------

    def enroll(
        self,
        secret: str,
        identifier: str,
        *,
        hostname: str,
        platform: str,
        now: dt.datetime,
        credential: str | None = None,
        address: str = "",
        stale_after: dt.timedelta | None = REENROLL_STALE,
    ) -> tuple[HostInfo, str]:
        """Enrol a host with an org unit's secret; return it with a fresh host credential.

        An identifier already enrolled is a takeover attempt unless one of these holds (then
        a new credential is issued and the old one retired):

        - ``credential`` is the host's current credential (the agent proves it is the host);
        - an admin allowed the host to enrol again (:meth:`allow_reenroll`; used up here);
        - the host has not been seen (nor enrolled) for ``stale_after`` (None: never).

        Otherwise :class:`ConflictError` (the attempt is audit-logged with ``address``).
        Every re-enrolment is audit-logged with ``address`` and the ground it was allowed on.
        """
        new_credential = secrets.new_secret(secrets.HOST_PREFIX)
        lookup = secrets.lookup_hash(new_credential)
        proof = secrets.lookup_hash(credential) if credential else None
        for attempt in range(2):
            try:
                host = self._enroll(
                    secret,
                    identifier,
                    hostname,
                    platform,
                    lookup,
                    now,
                    proof=proof,
                    address=address,
                    stale_after=stale_after,
                )
            except IntegrityError as e:
                if attempt:
                    raise ConflictError(f"could not enrol {identifier!r}: {e.orig}") from e
                continue
            if host is None:
                raise ConflictError(
                    f"host {identifier!r} is already enrolled and was seen recently: an admin "
                    "must allow it to enrol again (evict host allow-reenroll, or the host's "
                    "page), or the agent must present its current credential"
                )
            self._host_changed(host)
            return host, new_credential
        raise AssertionError("unreachable")  # pragma: no cover

    def _enroll(
        self,
        secret: str,
        identifier: str,
        hostname: str,
        platform: str,
        lookup: str,
        now: dt.datetime,
        *,
        proof: str | None,
        address: str,
        stale_after: dt.timedelta | None,
    ) -> HostInfo | None:
        """Enrol or re-enrol in one transaction; None when a re-enrolment is refused."""
        with self._write() as conn:
            unit = conn.execute(
                select(OrgUnit.id, OrgUnit.org_id, OrgUnit.name).where(
                    OrgUnit.secret_hash == secrets.lookup_hash(secret)
                )
            ).first()
            if unit is None:
                raise NotFoundError("unknown enrolment secret")
            existing = conn.execute(
                self._for_update(
                    select(
                        Host.id,
                        Host.credential_hash,
                        Host.enrolled_at,
                        Host.last_seen,
                        Host.reenroll_until,
                    ).where(Host.org_id == unit.org_id, Host.identifier == identifier)
                )
            ).first()
            values: dict[str, object] = {
                "org_unit_id": unit.id,
                "hostname": hostname,
                "platform": platform,
                "credential_hash": lookup,
            }
            payload: dict[str, object] = {
                "unit": unit.name,
                "hostname": hostname,
                "platform": platform,
                "address": address,
            }
            subject = f"host:{identifier}"
            if existing is None:
                host_id = conn.execute(
                    insert(Host)
                    .values(
                        org_id=unit.org_id,
                        identifier=identifier,
                        enrolled_at=now,
                        digest="",
                        last_checkin="",
                        observations=0,
                        inventory_version=0,
                        dirty=False,
                        **values,
                    )
                    .returning(Host.id)
                ).scalar_one()
                action = "host.enroll"
            else:
                host_id = existing.id
                ground = _reenroll_ground(existing, proof, now, stale_after)
                if ground is None:
                    self._audit(
                        conn,
                        now,
                        [(subject, "host.reenroll_refused", subject, unit.org_id, payload)],
                    )
                    return None
                payload["allowed_by"] = ground
                values["reenroll_until"] = None
                conn.execute(update(Host).where(Host.id == host_id).values(**values))
                action = "host.reenroll"
            self._audit(conn, now, [(subject, action, subject, unit.org_id, payload)])
        return self._host_where(Host.id == host_id)

    def allow_reenroll(
        self,
        host: HostInfo,
        *,
        actor: str,
        now: dt.datetime,
        valid_for: dt.timedelta = dt.timedelta(days=7),
    ) -> dt.datetime:
        """Let ``host`` enrol again once with its unit's secret, within ``valid_for``.

        Returns when the permission lapses. The next enrolment of the host uses it up.
        """
        until = now + valid_for
        with self._write() as conn:
            conn.execute(update(Host).where(Host.id == host.id).values(reenroll_until=until))
            subject = f"host:{host.identifier}"
            payload = {"until": _iso(until)}
            self._audit(conn, now, [(actor, "host.reenroll_allow", subject, host.org_id, payload)])
        return until

    def _host_select(self) -> Any:
        return select(Host, OrgUnit.name.label("unit_name")).join(
            OrgUnit, OrgUnit.id == Host.org_unit_id
        )

    @staticmethod
    def _host_info(row: Any) -> HostInfo:
        return HostInfo(
            id=row.id,
            org_id=row.org_id,
            org_unit_id=row.org_unit_id,
            identifier=row.identifier,
            hostname=row.hostname,
            platform=row.platform,
            org_unit=row.unit_name,
            enrolled_at=row.enrolled_at,
            last_seen=row.last_seen,
            collected_at=row.collected_at,
            observations=row.observations,
            digest=row.digest,
            last_checkin=row.last_checkin,
            kinds=kinds_from_text(row.kinds),
            held=(
                HeldInventory(
                    row.held_report, row.held_digest or "", row.held_at, row.held_address or ""
                )
                if row.held_report
                else None
            ),
            reenroll_until=row.reenroll_until,
        )

    def _host_where(self, *conditions: Any) -> HostInfo:
        with self._read_one() as conn:
            row = conn.execute(self._host_select().where(*conditions)).first()
        if row is None:
            raise NotFoundError("no such host")
        return self._host_info(row)

    def host_for_credential(self, credential: str) -> HostInfo | None:
        """The host a credential was issued to, if it is still its current one."""
        try:
            return self._host_where(Host.credential_hash == secrets.lookup_hash(credential))
        except NotFoundError:
            return None

    def host(self, org_id: int, identifier: str, *, unit_id: int | None = None) -> HostInfo:
        """An organisation's host by identifier (within ``unit_id`` when the caller is limited)."""
        self.flush_checkins()
        conditions = [Host.org_id == org_id, Host.identifier == identifier]
        if unit_id is not None:
            conditions.append(Host.org_unit_id == unit_id)
        try:
            return self._host_where(*conditions)
        except NotFoundError:
            raise NotFoundError(f"no host {identifier!r}") from None

    def find_host(self, identifier: str, *, org: str | None = None) -> HostInfo:
        """A host by identifier (or hostname) across organisations, for the command line."""
        self.flush_checkins()
        stmt = self._host_select().join(Org, Org.id == Host.org_id)
        if org is not None:
            stmt = stmt.where(Org.name == org)
        with self._read() as conn:
            rows = conn.execute(stmt.where(Host.identifier == identifier)).all()
            if not rows:
                rows = conn.execute(stmt.where(Host.hostname == identifier)).all()
        if not rows:
            raise NotFoundError(f"no host {identifier!r}" + (f" in {org}" if org else ""))
        if len(rows) > 1:
            raise ConflictError(
                f"{identifier!r} names {len(rows)} hosts: give --org, or the host id"
            )
        return self._host_info(rows[0])

    # -- ingestion ------------------------------------------------------------------------------

    def checkin_unchanged(
        self, host: HostInfo, report_id: str, digest: str, *, now: dt.datetime
    ) -> bool:
        """Record a check-in whose inventory is the stored one; False if the digest differs.

        Only ``last_seen`` moves (and the host is queued when a ``replaced`` state waits for a
        later check-in to be verified); nothing else is written, so an unchanged fleet costs one
        short UPDATE per host. On PostgreSQL it commits without waiting for the WAL flush.

        On a server (:meth:`serve_agents`) the digest is compared with ``host``'s, as read or
        remembered, and the check-in waits in memory for the next batch write instead.
        """
        if self.checkins is not None:
            held = host.held.digest if host.held else None
            if not ((digest == host.digest and digest) or digest == held):
                return False
            self.checkins.add(Checkin(host.id, report_id, digest, now))
            return True
        # A replaced host waits for a later check-in to be verified; a stale one is fresh again.
        waiting = exists().where(
            HostStateRow.host_id == Host.id,
            HostStateRow.state.in_([State.REPLACED.value, State.STALE.value]),
        )
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Losing the last moments of check-ins in a crash only leaves last_seen a little
                # older (the agent checks in again); not waiting for the WAL flush lets one
                # flush serve many check-ins.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            done = conn.execute(
                update(Host)
                .where(
                    Host.id == host.id,
                    or_(and_(Host.digest == digest, Host.digest != ""), Host.held_digest == digest),
                )
                .values(
                    last_seen=now,
                    last_checkin=report_id,
                    dirty=or_(Host.dirty, waiting),
                )
            )
        return bool(done.rowcount)

    def prune_reports(self, before: dt.datetime, *, now: dt.datetime, limit: int = 10_000) -> int:
        """Forget up to ``limit`` stored reports received before ``before``; return how many.

        A stored report only lets a resend of the same report id get its first answer (agents
        resend only what was not acknowledged, within hours), so old ones can go; each host's
        latest report is kept whatever its age. The audit log keeps every ingest's report id
        and digest, and records each pruning.
        """
        latest = exists().where(
            Host.id == ReportRow.host_id, Host.last_checkin == ReportRow.report_id
        )
        old = (
            select(ReportRow.report_id)
            .where(ReportRow.received_at < before, ~latest)
            .order_by(ReportRow.received_at)
            .limit(limit)
        )
        with self._write() as conn:
            ids = list(conn.execute(old).scalars())
            for chunk in _chunks(ids):
                conn.execute(delete(ReportRow).where(ReportRow.report_id.in_(chunk)))
            if ids:
                payload = {"reports": len(ids), "received_before": _iso(before)}
                self._audit(conn, now, [("worker", "reports.prune", "reports", None, payload)])
        return len(ids)

    def _ack(self, row: Any, host: HostInfo) -> IngestAck:
        return IngestAck(
            row.report_id,
            host.identifier,
            row.status,
            row.observations,
            row.software,
            row.received_at,
        )

    def _existing_ack(self, conn: Connection, host: HostInfo, report_id: str) -> IngestAck | None:
        row = conn.execute(select(ReportRow).where(ReportRow.report_id == report_id)).first()
        if row is None:
            return None
        if row.host_id != host.id:
            raise ConflictError(f"report id {report_id!r} was already used by another host")
        return self._ack(row, host)

    def ingest(
        self,
        host: HostInfo,
        report: InventoryReport,
        *,
        now: dt.datetime,
        address: str = "",
    ) -> IngestAck:
        """Store a host's full inventory; a report id seen before returns its first answer.

        An inventory with no observations for a host whose stored one has some is held for
        review (status ``held``, see :meth:`review_held`) instead of clearing the host; a later
        inventory with observations supersedes a held one. ``address`` (the client's) goes into
        the audit event.
        """
        # A resend (rare) is found in the write's transaction below; reading for it first too
        # cost every ingest a connection and three round trips.
        distinct: dict[str, Observation] = {}
        links: set[tuple[str, str, str]] = set()
        keys = self._key_cache  # most of a fleet's software is known: its key is remembered
        if len(keys) > SOFTWARE_CACHE:
            keys.clear()
        for o in report.observations:
            identity = distinct_key(o)
            key = keys.get(identity)
            if key is None:
                key = keys[identity] = software_key(o)
            distinct.setdefault(key, o)
            links.add((key, o.version[:MAX_VERSION], o.source[:MAX_SOURCE]))
        ids = self._software_ids(distinct)
        rows = [
            {"host_id": host.id, "software_id": ids[k], "version": v, "source": s}
            for k, v, s in sorted(links)
        ]
        try:
            return self._ingest_rows(host, report, rows, len(distinct), now=now, address=address)
        except IntegrityError:
            # The same report id sent twice at once (a retrying agent, two servers): the other
            # transaction stored it first and this one rolled back; answer as for a resend.
            with self._read() as conn:
                ack = self._existing_ack(conn, host, report.report_id)
            if ack is None:
                raise
            return ack
        finally:
            self._host_changed(host)

    def _ingest_rows(
        self,
        host: HostInfo,
        report: InventoryReport,
        rows: list[dict[str, object]],
        software: int,
        *,
        now: dt.datetime,
        address: str,
    ) -> IngestAck:
        """The write of :meth:`ingest`, in one transaction."""
        with self._write() as conn:
            ack = self._existing_ack(conn, host, report.report_id)
            if ack is not None:
                return ack
            if not report.observations:
                held = self._hold_if_emptied(conn, host, report, now=now, address=address)
                if held is not None:
                    return held
            self._replace_links(conn, host.id, rows)
            values: dict[str, object] = {
                "last_seen": now,
                "digest": report.digest,
                "last_checkin": report.report_id,
                "observations": len(report.observations),
                "kinds": kinds_text(o.kind for o in report.observations),
                "inventory_version": Host.inventory_version + 1,
                "dirty": True,
                "collected_at": report.collected_at or now,
                "held_report": None,
                "held_digest": None,
                "held_at": None,
                "held_address": None,
            }
            if report.hostname:
                values["hostname"] = report.hostname
            if report.platform:
                values["platform"] = report.platform
            conn.execute(update(Host).where(Host.id == host.id).values(**values))
            conn.execute(
                insert(ReportRow).values(
                    report_id=report.report_id,
                    host_id=host.id,
                    received_at=now,
                    digest=report.digest,
                    status="stored",
                    observations=len(report.observations),
                    software=software,
                )
            )
            payload: dict[str, object] = {
                "report_id": report.report_id,
                "digest": report.digest,
                "observations": len(report.observations),
                "software": software,
            }
            if address:
                payload["address"] = address
            subject = f"host:{host.identifier}"
            self._audit(conn, now, [(subject, "inventory.ingest", subject, host.org_id, payload)])
        return IngestAck(
            report.report_id,
            host.identifier,
            "stored",
            len(report.observations),
            software,
            now,
        )

    def _hold_if_emptied(
        self,
        conn: Connection,
        host: HostInfo,
        report: InventoryReport,
        *,
        now: dt.datetime,
        address: str,
    ) -> IngestAck | None:
        """Hold an empty inventory of a host that has observations; None if it has none."""
        row = conn.execute(
            self._for_update(select(Host.observations, Host.held_digest).where(Host.id == host.id))
        ).first()
        if row is None or not row.observations:
            return None
        conn.execute(
            update(Host)
            .where(Host.id == host.id)
            .values(
                last_seen=now,
                last_checkin=report.report_id,
                held_report=report.report_id,
                held_digest=report.digest,
                held_at=now,
                held_address=address[:64],
            )
        )
        conn.execute(
            insert(ReportRow).values(
                report_id=report.report_id,
                host_id=host.id,
                received_at=now,
                digest=report.digest,
                status="held",
                observations=0,
                software=0,
            )
        )
        if row.held_digest != report.digest:
            subject = f"host:{host.identifier}"
            payload = {
                "report_id": report.report_id,
                "digest": report.digest,
                "observations": 0,
                "stored_observations": int(row.observations),
                "address": address,
            }
            self._audit(conn, now, [(subject, "inventory.held", subject, host.org_id, payload)])
        return IngestAck(report.report_id, host.identifier, "held", 0, 0, now)

    def review_held(self, host: HostInfo, *, accept: bool, actor: str, now: dt.datetime) -> bool:
        """Accept or reject the inventory held for ``host``; False if none is held.

        Accepting makes the empty inventory the host's (its links are dropped and the worker
        evaluates it, so its findings become ``removed``); rejecting discards it and the host
        keeps its stored inventory. Either way the decision is audit-logged with the address
        the held inventory came from.
        """
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(Host.held_report, Host.held_digest, Host.held_address).where(
                        Host.id == host.id
                    )
                )
            ).first()
            if row is None or not row.held_report:
                return False
            cleared: dict[str, object] = {
                "held_report": None,
                "held_digest": None,
                "held_at": None,
                "held_address": None,
            }
            if accept:
                self._replace_links(conn, host.id, [])
                cleared.update(
                    digest=row.held_digest or "",
                    observations=0,
                    inventory_version=Host.inventory_version + 1,
                    dirty=True,
                    collected_at=now,
                )
            conn.execute(update(Host).where(Host.id == host.id).values(**cleared))
            subject = f"host:{host.identifier}"
            payload = {
                "report_id": row.held_report,
                "digest": row.held_digest,
                "address": row.held_address or "",
            }
            action = "inventory.accept_empty" if accept else "inventory.reject_empty"
            self._audit(conn, now, [(actor, action, subject, host.org_id, payload)])
        self._host_changed(host)
        return True

    def bulk_load(
        self,
        unit_id: int,
        hosts: Iterable[BulkHost],
        *,
        actor: str,
        now: dt.datetime,
        batch: int = 2000,
    ) -> int:
        """Add many new hosts with their inventories to an org unit, the fastest way the store has.

        For fleet imports and benchmarks: hosts arrive already credentialed (their credential's
        lookup hash) and queued for the worker. For each batch of ``batch`` hosts, its new
        distinct software is upserted first (a short transaction of its own, as in
        :meth:`ingest`); then one transaction inserts the hosts in multi-row statements, writes
        their software links with COPY (PostgreSQL) or ``executemany`` (SQLite) and appends one
        audit event for the batch. Returns the hosts added.
        An identifier already enrolled in the organisation fails its batch with
        :class:`ConflictError` (earlier batches stay).
        """
        with self._read() as conn:
            unit = conn.execute(
                select(OrgUnit.id, OrgUnit.org_id, OrgUnit.name).where(OrgUnit.id == unit_id)
            ).first()
        if unit is None:
            raise NotFoundError(f"no org unit {unit_id}")
        keys = self._key_cache
        if len(keys) > SOFTWARE_CACHE:
            keys.clear()
        ids: dict[str, int] = {}
        total = 0
        iterator = iter(hosts)
        while chunk := list(itertools.islice(iterator, batch)):
            fresh: dict[str, Observation] = {}
            links: list[set[tuple[str, str, str]]] = []
            for h in chunk:
                seen: set[tuple[str, str, str]] = set()
                for o in h.observations:
                    identity = distinct_key(o)
                    key = keys.get(identity)
                    if key is None:
                        key = keys[identity] = software_key(o)
                    if key not in ids:
                        fresh.setdefault(key, o)
                    seen.add((key, o.version[:MAX_VERSION], o.source[:MAX_SOURCE]))
                links.append(seen)
            if fresh:
                ids.update(self._software_ids(fresh))
            values = [
                {
                    "org_id": unit.org_id,
                    "org_unit_id": unit.id,
                    "identifier": h.identifier,
                    "hostname": h.hostname,
                    "platform": h.platform,
                    "credential_hash": h.credential_hash,
                    "enrolled_at": now,
                    "last_seen": h.collected_at or now,
                    "collected_at": h.collected_at or now,
                    "digest": h.digest,
                    "last_checkin": "",
                    "observations": len(h.observations),
                    "kinds": kinds_text(o.kind for o in h.observations),
                    "inventory_version": 1,
                    "dirty": True,
                }
                for h in chunk
            ]
            try:
                with self._write() as conn:
                    host_ids = (
                        conn.execute(
                            insert(Host).returning(Host.id, sort_by_parameter_order=True), values
                        )
                        .scalars()
                        .all()
                    )
                    rows = [
                        {"host_id": hid, "software_id": ids[k], "version": v, "source": s}
                        for hid, seen in zip(host_ids, links, strict=True)
                        for k, v, s in sorted(seen)
                    ]
                    self._insert_links(conn, rows)
                    payload = {"hosts": len(chunk), "first": chunk[0].identifier}
                    subject = f"unit:{unit.name}"
                    self._audit(
                        conn, now, [(actor, "host.bulk_load", subject, unit.org_id, payload)]
                    )
            except IntegrityError as e:
                raise ConflictError(
                    f"a host of the batch starting at {chunk[0].identifier!r} is already enrolled "
                    f"(or its credential is in use): {e.orig}"
                ) from e
            total += len(chunk)
        return total

    def _replace_links(
        self, conn: Connection, host_id: int, rows: Sequence[Mapping[str, object]]
    ) -> None:
        """Make the host's links exactly ``rows``, writing only the difference.

        A host's new inventory mostly repeats its last one. Deleting and inserting every link
        rewrote about 250 rows and their index entries per report, and left as many dead rows
        for vacuum, in a table of hundreds of millions; the difference is usually a handful.
        """
        if self.dialect == "postgresql":
            # Two reports of one host at once would both read the old links: the host's row,
            # which this transaction updates anyway, is locked first so the second waits.
            conn.execute(select(Host.id).where(Host.id == host_id).with_for_update())
        key = (HostSoftware.software_id, HostSoftware.version, HostSoftware.source)
        old = {tuple(r) for r in conn.execute(select(*key).where(HostSoftware.host_id == host_id))}
        new = {(r["software_id"], r["version"], r["source"]): r for r in rows}
        gone = old - new.keys()
        if gone == old and old:
            conn.execute(delete(HostSoftware).where(HostSoftware.host_id == host_id))
            old = set()
        else:
            for chunk in _chunks(sorted(gone)):
                conn.execute(
                    delete(HostSoftware).where(
                        HostSoftware.host_id == host_id, tuple_(*key).in_(list(chunk))
                    )
                )
        self._insert_links(conn, [r for k, r in new.items() if k not in old])

    def _insert_links(self, conn: Connection, rows: Sequence[Mapping[str, object]]) -> None:
        """Insert host_software rows: COPY on PostgreSQL (2-3x faster), executemany on SQLite."""
        self._insert_rows(conn, HostSoftware.__table__, rows)

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

    def _software_ids(self, distinct: Mapping[str, Observation]) -> dict[str, int]:
        """Upsert distinct software (sorted, so concurrent ingests lock in one order)."""
        cache = self._software_cache
        ids: dict[str, int] = {}
        keys = []
        for k in sorted(distinct):
            known = cache.get(k)
            if known is None:
                keys.append(k)
            else:
                ids[k] = known
        if not keys:
            return ids
        found_ids = self._upsert_software(keys, distinct)
        if len(cache) + len(found_ids) > SOFTWARE_CACHE:
            cache.clear()
        cache.update(found_ids)
        ids.update(found_ids)
        return ids

    def _upsert_software(
        self, keys: Sequence[str], distinct: Mapping[str, Observation]
    ) -> dict[str, int]:
        ids: dict[str, int] = {}
        with self._write() as conn:
            for chunk in _chunks(keys):
                found = conn.execute(
                    select(Software.key, Software.id).where(Software.key.in_(chunk))
                )
                ids.update({r.key: r.id for r in found})
                missing = [k for k in chunk if k not in ids]
                if not missing:
                    continue
                values = []
                for k in missing:
                    o = distinct[k]
                    values.append(
                        {
                            "key": k,
                            "kind": o.kind.value,
                            "name": o.name,
                            "publisher": o.publisher,
                            "identifiers": canonical_json([list(p) for p in o.identifiers]),
                        }
                    )
                conn.execute(self._insert_ignore(Software, ["key"]), values)
                found = conn.execute(
                    select(Software.key, Software.id).where(Software.key.in_(missing))
                )
                ids.update({r.key: r.id for r in found})
        return ids

    # -- the matching worker --------------------------------------------------------------------

    def prepare_catalog(
        self,
        version: str,
        *,
        now: dt.datetime,
        shape: str = "",
        directives: Sequence[str] = (),
    ) -> bool:
        """Note the catalog version the worker matches with; on a change, queue hosts.

        Returns True when the version changed. Each software row is then matched again (cheap:
        distinct software, not host links). Which hosts are evaluated again depends on what
        changed, from narrowest to widest:

        - ``shape`` (a fingerprint of everything in the catalog except its recognition rules:
          directives, products, protection) is the previous catalog's: only the rules changed,
          and :meth:`queue_changed_matches` later queues just the hosts linked to software whose
          hits changed.
        - ``directives`` (the catalog's directive ids) are the previous catalog's: products,
          vendors, scopes or the protection products changed, which can change the state only
          of a host that carries a covered product under either catalog, or whose state is not
          ``clean`` or ``verified`` (every other host has no finding under either catalog, and
          :func:`evict.compliance.lifecycle.observe` leaves such a state as it is);
          :meth:`queue_changed_matches` queues those hosts.
        - Otherwise (a directive added or withdrawn, or nothing to compare) every host is queued.

        In the first two cases the previous version's matches are kept until
        :meth:`queue_changed_matches` has compared them; in the last they are dropped.
        """
        keys = [
            "catalog_version",
            "catalog_shape",
            "catalog_previous",
            "catalog_directives",
            "catalog_requeue",
        ]
        scope = ",".join(sorted(directives))
        with self._write() as conn:
            meta = dict(conn.execute(select(Meta.key, Meta.value).where(Meta.key.in_(keys))).all())
            current = meta.get("catalog_version")
            if current == version:
                return False
            comparable = current is not None and "catalog_previous" not in meta
            requeue = "all"
            if comparable and shape and meta.get("catalog_shape") == shape:
                requeue = "changed"
            elif comparable and scope and meta.get("catalog_directives") == scope:
                requeue = "covered"
            if requeue != "all":
                assert current is not None
                self._set_meta(conn, meta, "catalog_previous", current)
                self._set_meta(conn, meta, "catalog_requeue", requeue)
            else:
                conn.execute(delete(SoftwareMatch).where(SoftwareMatch.catalog_version != version))
                conn.execute(
                    delete(Meta).where(Meta.key.in_(["catalog_previous", "catalog_requeue"]))
                )
                # A host enrolled but never inventoried has nothing to evaluate: marking it
                # would record it as clean, a "none found" nobody looked for.
                conn.execute(update(Host).where(Host.collected_at.is_not(None)).values(dirty=True))
            self._set_meta(conn, meta, "catalog_version", version)
            self._set_meta(conn, meta, "catalog_shape", shape)
            self._set_meta(conn, meta, "catalog_directives", scope)
            payload = {"from": current, "to": version, "requeue": requeue}
            self._audit(conn, now, [("worker", "catalog.change", "catalog", None, payload)])
        return True

    @staticmethod
    def _set_meta(conn: Connection, meta: Mapping[str, str], key: str, value: str) -> None:
        if key in meta:
            conn.execute(update(Meta).where(Meta.key == key).values(value=value))
        else:
            conn.execute(insert(Meta).values(key=key, value=value))

    def queue_linked(self, software_ids: Sequence[int]) -> None:
        """Queue every host linked to one of ``software_ids`` (not already queued).

        For software the worker has just matched for the first time: a host whose inventory
        was stored after the worker's matching step but evaluated in the same pass was
        decided without that software's hits, and must be decided again.
        """
        if software_ids:
            with self._write() as conn:
                self._queue_linked(conn, sorted(software_ids))

    @staticmethod
    def _queue_linked(conn: Connection, software_ids: Sequence[int]) -> None:
        for chunk in _chunks(software_ids):
            linked = select(HostSoftware.host_id).where(HostSoftware.software_id.in_(chunk))
            conn.execute(update(Host).where(Host.id.in_(linked), ~Host.dirty).values(dirty=True))

    def queue_changed_matches(
        self, version: str, *, covered: frozenset[str] | None = None
    ) -> int | None:
        """After a catalog change that kept the directives, queue the hosts it can affect.

        Every software row must have been matched with ``version`` first. After a rules-only
        change, the hosts linked to software whose hits differ between the previous version
        and ``version`` are queued. After a wider change (see :meth:`prepare_catalog`), the
        hosts linked to software with a hit, under either version, on a product in ``covered``
        (the products some directive of the new catalog covers; every matched row when
        ``covered`` is None) are queued, with every host whose state for some directive is
        neither ``clean`` nor ``verified`` (only such a host can have had a finding under the
        previous catalog). The previous version's matches are dropped. Returns the number of
        software rows that decided the queue, or None when no comparison was pending.
        """
        with self._write() as conn:
            meta = dict(
                conn.execute(
                    select(Meta.key, Meta.value).where(
                        Meta.key.in_(["catalog_previous", "catalog_requeue"])
                    )
                ).all()
            )
            previous = meta.get("catalog_previous")
            if previous is None:
                return None
            hits: dict[str, dict[int, str]] = {previous: {}, version: {}}
            rows = conn.execute(
                select(
                    SoftwareMatch.software_id, SoftwareMatch.catalog_version, SoftwareMatch.hits
                ).where(
                    SoftwareMatch.catalog_version.in_([previous, version]), SoftwareMatch.matched
                )
            )
            for r in rows:
                hits[r.catalog_version][r.software_id] = r.hits
            old, new = hits[previous], hits[version]
            if meta.get("catalog_requeue", "changed") == "changed":
                chosen = sorted(
                    sid for sid in old.keys() | new.keys() if old.get(sid) != new.get(sid)
                )
            else:
                chosen = sorted(
                    sid
                    for sid in old.keys() | new.keys()
                    if _covered_hit(old.get(sid), covered) or _covered_hit(new.get(sid), covered)
                )
                # Spelled as the partial index's predicate, so the planner can use it.
                unsettled = select(HostStateRow.host_id).where(text(UNSETTLED))
                conn.execute(
                    update(Host).where(Host.id.in_(unsettled), ~Host.dirty).values(dirty=True)
                )
            self._queue_linked(conn, chosen)
            conn.execute(delete(SoftwareMatch).where(SoftwareMatch.catalog_version != version))
            conn.execute(delete(Meta).where(Meta.key.in_(["catalog_previous", "catalog_requeue"])))
        return len(chosen)

    def unmatched_software(
        self, version: str, *, after: int = 0, limit: int = 5000
    ) -> list[tuple[int, Observation]]:
        """Software rows with no match result for ``version``, in id order after ``after``."""
        done = exists().where(
            SoftwareMatch.software_id == Software.id, SoftwareMatch.catalog_version == version
        )
        stmt = select(Software).where(Software.id > after, ~done).order_by(Software.id).limit(limit)
        with self._read() as conn:
            return [(r.id, self._software_observation(r)) for r in conn.execute(stmt)]

    @staticmethod
    def _software_observation(row: Any, version: str = "", source: str = "") -> Observation:
        idents = dict(json.loads(row.identifiers))
        return Observation.make(
            Kind(row.kind),
            row.name,
            version=version,
            publisher=row.publisher,
            identifiers=idents,
            source=source,
        )

    def save_matches(
        self, version: str, results: Sequence[tuple[int, Sequence[Mapping[str, str]]]]
    ) -> None:
        """Store the hits of matched software rows (an empty list: matched, nothing fired)."""
        rows = [
            {
                "software_id": sid,
                "catalog_version": version,
                "matched": bool(hits),
                "hits": canonical_json([dict(h) for h in hits]),
            }
            for sid, hits in results
        ]
        with self._write() as conn:
            if self.dialect == "postgresql" and rows:
                # One statement over arrays instead of one INSERT per row (5x faster).
                conn.execute(
                    text(
                        "INSERT INTO software_match (software_id, catalog_version, matched, hits)"
                        " SELECT s, :version, m, h FROM unnest("
                        "CAST(:ids AS bigint[]), CAST(:matched AS boolean[]), CAST(:hits AS text[])"
                        ") AS r(s, m, h) ON CONFLICT (software_id, catalog_version) DO NOTHING"
                    ),
                    {
                        "version": version,
                        "ids": [r["software_id"] for r in rows],
                        "matched": [r["matched"] for r in rows],
                        "hits": [r["hits"] for r in rows],
                    },
                )
                return
            for chunk in _chunks(rows, 2000):
                conn.execute(
                    self._insert_ignore(SoftwareMatch, ["software_id", "catalog_version"]),
                    list(chunk),
                )

    def matched_software(self, version: str) -> dict[int, tuple[Observation, list[dict[str, str]]]]:
        """Every software row some rule fired on under ``version``, with its hits.

        Small by nature (the covered and protection products among the distinct software), so
        the worker loads it once per pass and evaluates hosts against it.
        """
        stmt = (
            select(Software, SoftwareMatch.hits)
            .join(SoftwareMatch, SoftwareMatch.software_id == Software.id)
            .where(SoftwareMatch.catalog_version == version, SoftwareMatch.matched)
        )
        with self._read() as conn:
            return {
                r.id: (self._software_observation(r), json.loads(r.hits))
                for r in conn.execute(stmt)
            }

    def queue_expired_waivers(self, today: dt.date) -> int:
        """Queue hosts whose waiver has expired or was revoked, so the worker reverts them."""
        active = exists().where(
            WaiverRow.host_id == HostStateRow.host_id,
            WaiverRow.directive == HostStateRow.directive,
            WaiverRow.revoked_at.is_(None),
            WaiverRow.expires > today,
        )
        lapsed = select(HostStateRow.host_id).where(
            HostStateRow.state == State.WAIVED.value, ~active
        )
        with self._write() as conn:
            done = conn.execute(
                update(Host).where(Host.id.in_(lapsed), ~Host.dirty).values(dirty=True)
            )
        return int(done.rowcount or 0)

    def queue_stale(self, now: dt.datetime) -> int:
        """Queue ``clean`` hosts whose last inventory is older than their organisation's
        freshness limit, so the worker marks them ``stale``; return how many."""
        self.flush_checkins()
        total = 0
        with self._write() as conn:
            limits = conn.execute(select(Org.id, Org.freshness_days)).all()
            for org_id, days in limits:
                clean = select(HostStateRow.host_id).where(
                    HostStateRow.org_id == org_id, HostStateRow.state == State.CLEAN.value
                )
                done = conn.execute(
                    update(Host)
                    .where(
                        Host.org_id == org_id,
                        Host.last_seen < now - dt.timedelta(days=days),
                        Host.id.in_(clean),
                        ~Host.dirty,
                    )
                    .values(dirty=True)
                )
                total += int(done.rowcount or 0)
        return total

    def set_freshness(self, org_id: int, days: int, *, actor: str, now: dt.datetime) -> None:
        """Set how old a host's last inventory may be before the host is ``stale``.

        Hosts are re-judged against the new limit: clean ones past it are queued now, and
        stale ones within it at their next check-in or the next worker pass.
        """
        if not 1 <= days <= 3650:
            raise InvalidValueError(f"a freshness limit is 1 to 3650 days, not {days}")
        with self._write() as conn:
            name = conn.execute(select(Org.name).where(Org.id == org_id)).scalar_one_or_none()
            if name is None:
                raise NotFoundError(f"no organisation {org_id}")
            conn.execute(update(Org).where(Org.id == org_id).values(freshness_days=days))
            stale = select(HostStateRow.host_id).where(
                HostStateRow.org_id == org_id, HostStateRow.state == State.STALE.value
            )
            conn.execute(update(Host).where(Host.id.in_(stale)).values(dirty=True))
            payload = {"freshness_days": days}
            self._audit(conn, now, [(actor, "org.freshness", f"org:{name}", org_id, payload)])

    def newest_software(self) -> int:
        """The highest software id stored (0 before any)."""
        with self._read() as conn:
            return int(conn.execute(select(func.max(Software.id))).scalar_one() or 0)

    def linked_beyond(self, host_ids: Sequence[int], software_id: int) -> set[int]:
        """The hosts among ``host_ids`` linked to software newer than ``software_id``."""
        out: set[int] = set()
        with self._read() as conn:
            for chunk in _chunks(list(host_ids)):
                stmt = (
                    select(HostSoftware.host_id)
                    .where(HostSoftware.host_id.in_(chunk), HostSoftware.software_id > software_id)
                    .distinct()
                )
                out.update(int(h) for h in conn.execute(stmt).scalars())
        return out

    def dirty_hosts(self, *, after: int = 0, limit: int = 1000) -> list[DirtyHost]:
        """Hosts queued for evaluation, in id order after ``after``."""
        self.flush_checkins()
        stmt = (
            select(
                Host.id,
                Host.org_id,
                Host.inventory_version,
                Host.last_checkin,
                Host.platform,
                Host.kinds,
                Host.last_seen,
                Org.freshness_days,
            )
            .join(Org, Org.id == Host.org_id)
            .where(Host.dirty, Host.id > after)
            .order_by(Host.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [
                DirtyHost(
                    r.id,
                    r.org_id,
                    r.inventory_version,
                    r.last_checkin,
                    r.platform,
                    kinds_from_text(r.kinds),
                    r.last_seen,
                    r.freshness_days,
                )
                for r in conn.execute(stmt)
            ]

    def host_links(
        self, host_ids: Sequence[int], software_ids: Iterable[int]
    ) -> dict[int, list[tuple[int, str, str]]]:
        """For each host, its links to the given software: ``(software_id, version, source)``."""
        wanted = list(software_ids)
        out: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        if not wanted or not host_ids:
            return out
        with self._read() as conn:
            for hosts in _chunks(list(host_ids)):
                for soft in _chunks(wanted):
                    stmt = select(HostSoftware).where(
                        HostSoftware.host_id.in_(hosts), HostSoftware.software_id.in_(soft)
                    )
                    for r in conn.execute(stmt):
                        out[r.host_id].append((r.software_id, r.version, r.source))
        return out

    def states(self, host_ids: Sequence[int]) -> dict[int, dict[str, HostState]]:
        """Current lifecycle states of hosts, by host and directive."""
        out: dict[int, dict[str, HostState]] = defaultdict(dict)
        with self._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(select(HostStateRow).where(HostStateRow.host_id.in_(chunk)))
                for r in rows:
                    out[r.host_id][r.directive] = _state_from_row(r)
        return out

    def active_waivers(self, host_ids: Sequence[int], today: dt.date) -> set[tuple[int, str]]:
        """(host, directive) pairs with an unexpired, unrevoked waiver."""
        out: set[tuple[int, str]] = set()
        with self._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(
                    select(WaiverRow.host_id, WaiverRow.directive).where(
                        WaiverRow.host_id.in_(chunk),
                        WaiverRow.revoked_at.is_(None),
                        WaiverRow.expires > today,
                    )
                )
                out.update((r.host_id, r.directive) for r in rows)
        return out

    def apply_evaluation(
        self,
        hosts: Sequence[DirtyHost],
        changes: Sequence[StateChange],
        *,
        now: dt.datetime,
        identifiers: Mapping[int, str] | None = None,
    ) -> int:
        """Write the worker's decisions for a batch of hosts and take them off the queue.

        A state that changed underneath (an operator's move in the meantime) is not
        overwritten: the host stays queued and is evaluated again. Returns the number of
        state changes written.
        """
        names = dict(identifiers or {})
        org_of = {h.id: h.org_id for h in hosts}
        requeue: set[int] = set()
        written = 0
        with self._write() as conn:
            if not names:
                names = self._identifiers(conn, [h.id for h in hosts])
            events: list[AuditSpec] = []
            first = [c for c in changes if c.old is None]
            first_failed = False
            if first and not self._insert_states(conn, first, org_of):
                first_failed = True
                requeue.update(c.host_id for c in first)
            later = [c for c in changes if c.old is not None]
            stale = self._update_states(conn, later, org_of) if later else set()
            requeue.update(host_id for host_id, _ in stale)
            # A host's first evaluation that finds nothing anywhere is one event, not one per
            # directive: most of a fleet, most of the log otherwise.
            by_host: dict[int, list[StateChange]] = defaultdict(list)
            for c in changes:
                by_host[c.host_id].append(c)
            collapsed = {
                hid
                for hid, mine in by_host.items()
                if len(mine) > 1 and all(c.old is None and c.new.state is State.CLEAN for c in mine)
            }
            for change in changes:
                if change.old is None and first_failed:
                    continue
                if change.old is not None and (change.host_id, change.directive) in stale:
                    continue
                written += 1
                old = change.old.state.value if change.old else None
                if change.host_id in collapsed:
                    continue
                if old != change.new.state.value:
                    subject = f"host:{names.get(change.host_id, change.host_id)}"
                    payload = {
                        "directive": change.directive,
                        "from": old,
                        "to": change.new.state.value,
                        "reason": change.new.reason,
                        "products": list(change.new.products),
                        "checkin": change.new.checkin,
                    }
                    events.append(
                        ("worker", "state.change", subject, org_of[change.host_id], payload)
                    )
            for hid in sorted(collapsed - requeue):
                mine = by_host[hid]
                payload = {
                    "directive": "every directive",
                    "directives": [c.directive for c in mine],
                    "from": None,
                    "to": State.CLEAN.value,
                    "reason": mine[0].new.reason,
                    "products": [],
                    "checkin": mine[0].new.checkin,
                }
                subject = f"host:{names.get(hid, hid)}"
                events.append(("worker", "state.change", subject, org_of[hid], payload))
            done = [
                {"hid": h.id, "seen": h.inventory_version} for h in hosts if h.id not in requeue
            ]
            if done and self.dialect == "postgresql":
                # One statement for the batch instead of one per host.
                conn.execute(
                    text(
                        "UPDATE hosts SET dirty = false"
                        " FROM unnest(CAST(:ids AS bigint[]), CAST(:seen AS integer[]))"
                        " AS done(id, seen)"
                        " WHERE hosts.id = done.id AND hosts.inventory_version = done.seen"
                    ),
                    {"ids": [d["hid"] for d in done], "seen": [d["seen"] for d in done]},
                )
            elif done:
                conn.execute(
                    update(Host)
                    .where(Host.id == bindparam("hid"), Host.inventory_version == bindparam("seen"))
                    .values(dirty=False),
                    done,
                )
            self._audit(conn, now, events)
        return written

    def _identifiers(self, conn: Connection, host_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(list(host_ids)):
            rows = conn.execute(select(Host.id, Host.identifier).where(Host.id.in_(chunk)))
            out.update({r.id: r.identifier for r in rows})
        return out

    def _insert_states(
        self, conn: Connection, changes: Sequence[StateChange], org_of: Mapping[int, int]
    ) -> bool:
        """Insert first states in one batch; False if any already existed (none are kept then).

        Only the worker creates states (an operator's move needs one to exist), and one worker
        runs at a time, so a clash means a state appeared meanwhile: the caller requeues.
        """
        rows = [
            {
                "host_id": c.host_id,
                "directive": c.directive,
                "org_id": org_of[c.host_id],
                **_state_values(c.new),
            }
            for c in changes
        ]
        try:
            with conn.begin_nested():
                self._insert_rows(conn, HostStateRow.__table__, rows)
        except (IntegrityError, psycopg.IntegrityError):
            return False
        return True

    def _update_states(
        self, conn: Connection, changes: Sequence[StateChange], org_of: Mapping[int, int]
    ) -> set[tuple[int, str]]:
        """Write state changes whose stored state is still ``change.old``; return the
        ``(host, directive)`` pairs that changed underneath and were not written.

        PostgreSQL takes the batch in one statement over arrays; SQLite one UPDATE a change.
        """
        if self.dialect != "postgresql":
            return {
                (c.host_id, c.directive)
                for c in changes
                if not self._write_state(conn, c, org_of[c.host_id])
            }
        columns: dict[str, list[object]] = defaultdict(list)
        for c in changes:
            assert c.old is not None
            columns["host_id"].append(c.host_id)
            columns["directive"].append(c.directive)
            columns["old_state"].append(c.old.state.value)
            columns["old_since"].append(_naive_utc(c.old.since))
            for key, value in _state_values(c.new).items():
                columns[key].append(_naive_utc(value))
        types = {"host_id": "bigint", "old_since": "timestamp", "since": "timestamp"}
        names = list(columns)
        arrays = ", ".join(f"CAST(:{n} AS {types.get(n, 'text')}[])" for n in names)
        assigned = ", ".join(f"{n} = u.{n}" for n in _STATE_COLUMNS)
        written = conn.execute(
            text(
                f"UPDATE host_states SET {assigned} FROM unnest({arrays}) AS u({', '.join(names)})"
                " WHERE host_states.host_id = u.host_id AND host_states.directive = u.directive"
                " AND host_states.state = u.old_state AND host_states.since = u.old_since"
                " RETURNING host_states.host_id, host_states.directive"
            ),
            dict(columns),
        )
        done = {(int(r[0]), str(r[1])) for r in written}
        return {(c.host_id, c.directive) for c in changes} - done

    def _write_state(self, conn: Connection, change: StateChange, org_id: int) -> bool:
        """Write one state change if the stored state is still ``change.old``."""
        values = _state_values(change.new)
        if change.old is None:
            stmt = self._insert_ignore(HostStateRow, ["host_id", "directive"]).values(
                host_id=change.host_id, directive=change.directive, org_id=org_id, **values
            )
            return bool(conn.execute(stmt).rowcount)
        done = conn.execute(
            update(HostStateRow)
            .where(
                HostStateRow.host_id == change.host_id,
                HostStateRow.directive == change.directive,
                HostStateRow.state == change.old.state.value,
                HostStateRow.since == change.old.since,
            )
            .values(**values)
        )
        return bool(done.rowcount)

    # -- operators: transitions and waivers -----------------------------------------------------

    def change_state(
        self,
        host: HostInfo,
        directive: str,
        decide: Callable[[HostState | None], HostState],
        *,
        actor: str,
        now: dt.datetime,
        waiver: Mapping[str, object] | None = None,
    ) -> StateChange:
        """Apply an operator's decision to a host's state, atomically, with its audit event.

        :param decide: the lifecycle rule to apply (e.g. a ``lifecycle.transition`` partial); it
            raises when the move is not allowed, and nothing is written.
        :param waiver: when the decision is a waiver, its record (justification, approver,
            expires as a date, optionally grounds), stored beside the state change.
        """
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(HostStateRow).where(
                        HostStateRow.host_id == host.id, HostStateRow.directive == directive
                    )
                )
            ).first()
            old = _state_from_row(row) if row is not None else None
            new = decide(old)
            change = StateChange(host.id, directive, old, new)
            if not self._write_state(conn, change, host.org_id):
                raise ConflictError("the host's state changed meanwhile; try again")
            subject = f"host:{host.identifier}"
            payload: dict[str, object] = {
                "directive": directive,
                "from": old.state.value if old else None,
                "to": new.state.value,
                "reason": new.reason,
            }
            action = "state.change"
            if waiver is not None:
                expires = waiver["expires"]
                assert isinstance(expires, dt.date)
                conn.execute(
                    insert(WaiverRow).values(
                        host_id=host.id,
                        directive=directive,
                        justification=str(waiver["justification"]),
                        grounds=str(waiver.get("grounds", "")),
                        approver=str(waiver["approver"]),
                        expires=expires,
                        created_at=now,
                        created_by=actor,
                    )
                )
                action = "waiver.create"
                payload.update(
                    justification=str(waiver["justification"]),
                    approver=str(waiver["approver"]),
                    expires=expires.isoformat(),
                )
                if waiver.get("grounds"):
                    payload["grounds"] = str(waiver["grounds"])
            self._audit(conn, now, [(actor, action, subject, host.org_id, payload)])
        return change

    def waive(
        self,
        host: HostInfo,
        waiver: Waiver,
        *,
        actor: str,
        now: dt.datetime,
        today: dt.date,
        allowed_grounds: Sequence[str] = (),
    ) -> StateChange:
        """Grant ``waiver`` on ``host``: checked, the state moved to ``waived``, the record and
        its audit event written together.

        :param allowed_grounds: the directive's ``exception_grounds`` (see
            :meth:`evict.compliance.lifecycle.Waiver.check`).
        Raises :class:`~evict.compliance.lifecycle.WaiverError` when it cannot be granted
        (:func:`~evict.compliance.lifecycle.waive` checks it before anything is written).
        """
        decide = functools.partial(
            waive, waiver=waiver, today=today, now=now, allowed_grounds=allowed_grounds
        )
        record = {
            "justification": waiver.justification,
            "approver": waiver.approver,
            "expires": waiver.expires,
            "grounds": waiver.grounds,
        }
        return self.change_state(
            host, waiver.directive, decide, actor=actor, now=now, waiver=record
        )

    def waiver(self, org_id: int, waiver_id: int, *, unit_id: int | None = None) -> WaiverInfo:
        """One waiver of the organisation (or of one org unit's hosts); NotFoundError else."""
        for w in self.waivers(org_id, unit_id=unit_id, waiver_id=waiver_id):
            return w
        raise NotFoundError(f"no waiver {waiver_id}")

    def revoke_waiver(
        self, org_id: int, waiver_id: int, *, reason: str, actor: str, now: dt.datetime
    ) -> WaiverInfo:
        """End a waiver now, with the reason; the worker returns its host to its earlier state.

        Raises :class:`NotFoundError` for another organisation's waiver and
        :class:`ConflictError` for one already revoked.
        """
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(
                        WaiverRow.id,
                        WaiverRow.host_id,
                        WaiverRow.directive,
                        WaiverRow.revoked_at,
                        Host.identifier,
                    )
                    .join(Host, Host.id == WaiverRow.host_id)
                    .where(WaiverRow.id == waiver_id, Host.org_id == org_id)
                )
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no waiver {waiver_id}")
            if row.revoked_at is not None:
                raise ConflictError(f"waiver {waiver_id} was already revoked")
            conn.execute(update(WaiverRow).where(WaiverRow.id == waiver_id).values(revoked_at=now))
            conn.execute(update(Host).where(Host.id == row.host_id).values(dirty=True))
            payload = {"waiver": waiver_id, "directive": row.directive, "reason": reason}
            self._audit(
                conn, now, [(actor, "waiver.revoke", f"host:{row.identifier}", org_id, payload)]
            )
        return self.waiver(org_id, waiver_id)

    def waivers(
        self,
        org_id: int,
        *,
        host: str | None = None,
        unit_id: int | None = None,
        waiver_id: int | None = None,
    ) -> list[WaiverInfo]:
        """An organisation's waivers, newest first (of one host, or one org unit's hosts)."""
        stmt = (
            select(WaiverRow, Host.identifier)
            .join(Host, Host.id == WaiverRow.host_id)
            .where(Host.org_id == org_id)
            .order_by(WaiverRow.id.desc())
        )
        if host is not None:
            stmt = stmt.where(Host.identifier == host)
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        if waiver_id is not None:
            stmt = stmt.where(WaiverRow.id == waiver_id)
        with self._read() as conn:
            return [
                WaiverInfo(
                    r.id,
                    r.identifier,
                    r.directive,
                    r.justification,
                    r.approver,
                    r.expires,
                    r.created_at,
                    r.created_by,
                    r.revoked_at is not None,
                    r.grounds,
                )
                for r in conn.execute(stmt)
            ]

    # -- reading for the API and reports --------------------------------------------------------

    def list_hosts(
        self,
        org_id: int,
        *,
        unit_id: int | None = None,
        directive: str | None = None,
        state: str | None = None,
        product: str | None = None,
        platform: str | None = None,
        name: str | None = None,
        catalog_version: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[HostRow]:
        """One page of an organisation's hosts, by id after ``after`` (keyset paging).

        :param state: with ``directive``, hosts in that state (``pending``: not yet evaluated).
        :param product: hosts whose current inventory matched this product
            (needs ``catalog_version``).
        :param name: a prefix of the hostname or the identifier.
        """
        self.flush_checkins()
        stmt = self._host_select().where(Host.org_id == org_id, Host.id > after)
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        if platform:
            stmt = stmt.where(Host.platform == platform)
        if name:
            stmt = stmt.where(
                or_(
                    Host.hostname.startswith(name, autoescape=True),
                    Host.identifier.startswith(name, autoescape=True),
                )
            )
        if directive and state:
            in_state = exists().where(
                HostStateRow.host_id == Host.id, HostStateRow.directive == directive
            )
            if state == PENDING:
                stmt = stmt.where(~in_state)
            else:
                stmt = stmt.where(in_state.where(HostStateRow.state == state))
        if product and catalog_version:
            needle = f'"product":"{product}"'
            with_product = (
                select(HostSoftware.host_id)
                .join(SoftwareMatch, SoftwareMatch.software_id == HostSoftware.software_id)
                .where(
                    SoftwareMatch.catalog_version == catalog_version,
                    SoftwareMatch.matched,
                    SoftwareMatch.hits.contains(needle, autoescape=True),
                )
            )
            stmt = stmt.where(Host.id.in_(with_product))
        stmt = stmt.order_by(Host.id).limit(limit)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            ids = [r.id for r in rows]
            states: dict[int, list[tuple[str, str]]] = defaultdict(list)
            if ids:
                srows = conn.execute(
                    select(HostStateRow.host_id, HostStateRow.directive, HostStateRow.state)
                    .where(HostStateRow.host_id.in_(ids))
                    .order_by(HostStateRow.directive)
                )
                for s in srows:
                    states[s.host_id].append((s.directive, s.state))
        return [
            HostRow(
                r.id,
                r.identifier,
                r.hostname,
                r.platform,
                r.unit_name,
                r.last_seen,
                r.observations,
                tuple(states.get(r.id, ())),
                kinds_from_text(r.kinds),
            )
            for r in rows
        ]

    def host_software(
        self, host_id: int, software_ids: Iterable[int]
    ) -> list[tuple[int, str, str]]:
        """One host's links to the given software rows."""
        return self.host_links([host_id], software_ids).get(host_id, [])

    def fleet_rows(
        self,
        directive: str,
        *,
        org_id: int | None = None,
        unit_id: int | None = None,
        page: int = 1000,
    ) -> Iterator[FleetRow]:
        """Every host's standing against ``directive``, a page at a time (for reports)."""
        self.flush_checkins()
        after = 0
        while True:
            stmt = (
                select(
                    Host.id,
                    Host.identifier,
                    Host.hostname,
                    Host.platform,
                    Host.last_seen,
                    Org.name.label("org_name"),
                    OrgUnit.name.label("unit_name"),
                    HostStateRow.state,
                    HostStateRow.products,
                    HostStateRow.since,
                    Adoption.start,
                )
                .join(Org, Org.id == Host.org_id)
                .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
                .outerjoin(
                    HostStateRow,
                    and_(HostStateRow.host_id == Host.id, HostStateRow.directive == directive),
                )
                .outerjoin(
                    Adoption, and_(Adoption.org_id == Host.org_id, Adoption.directive == directive)
                )
                .where(Host.id > after)
                .order_by(Host.id)
                .limit(page)
            )
            if org_id is not None:
                stmt = stmt.where(Host.org_id == org_id)
            if unit_id is not None:
                stmt = stmt.where(Host.org_unit_id == unit_id)
            with self._scan() as conn:
                rows = conn.execute(stmt).all()
            for r in rows:
                yield FleetRow(
                    host=r.identifier,
                    hostname=r.hostname,
                    org=r.org_name,
                    org_unit=r.unit_name,
                    platform=r.platform,
                    state=r.state or PENDING,
                    products=tuple(json.loads(r.products)) if r.products else (),
                    since=r.since,
                    last_seen=r.last_seen,
                    start=r.start,
                )
            if len(rows) < page:
                return
            after = rows[-1].id

    def fleet_counts(
        self,
        directive: str,
        *,
        org_id: int | None = None,
        unit_id: int | None = None,
    ) -> list[tuple[str, str, dt.date | None, int]]:
        """``(org_unit, state, organisation's start date, hosts)`` over the hosts
        :meth:`fleet_rows` lists, counted in SQL (the streamed report's summary)."""
        state = func.coalesce(HostStateRow.state, literal(PENDING))
        stmt = (
            select(OrgUnit.name, state.label("state"), Adoption.start, func.count().label("n"))
            .select_from(Host)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .outerjoin(
                HostStateRow,
                and_(HostStateRow.host_id == Host.id, HostStateRow.directive == directive),
            )
            .outerjoin(
                Adoption, and_(Adoption.org_id == Host.org_id, Adoption.directive == directive)
            )
            .group_by(OrgUnit.name, state, Adoption.start)
        )
        if org_id is not None:
            stmt = stmt.where(Host.org_id == org_id)
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        with self._scan() as conn:
            return [(r.name, r.state, r.start, int(r.n)) for r in conn.execute(stmt)]

    def state_counts(
        self, directive: str, org_id: int, *, unit_id: int | None = None
    ) -> list[tuple[str, str, int]]:
        """``(org_unit, state, hosts)`` for one directive, counted in SQL."""
        state = func.coalesce(HostStateRow.state, literal(PENDING))
        stmt = (
            select(OrgUnit.name, state.label("state"), func.count().label("n"))
            .select_from(Host)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .outerjoin(
                HostStateRow,
                and_(HostStateRow.host_id == Host.id, HostStateRow.directive == directive),
            )
            .where(Host.org_id == org_id)
            .group_by(OrgUnit.name, state)
        )
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        with self._read() as conn:
            return [(r.name, r.state, int(r.n)) for r in conn.execute(stmt)]

    def source_hosts(
        self, org_id: int, *, unit_id: int | None = None
    ) -> list[tuple[str, str, int]]:
        """``(org_unit, source family, hosts)``: which inventory sources reported, for reports.

        The family is a source name up to its first ``:`` (``osquery`` for ``osquery:programs``);
        a host counts once per family. Reads every software link of the organisation's hosts, so
        it is for reports, not for pages.
        """
        source = HostSoftware.source
        if self.dialect == "postgresql":
            family: Any = func.split_part(source, ":", 1)
        else:
            colon = func.instr(source, ":")
            family = case((colon > 0, func.substr(source, 1, colon - 1)), else_=source)
        stmt = (
            select(
                OrgUnit.name,
                family.label("family"),
                func.count(func.distinct(HostSoftware.host_id)).label("n"),
            )
            .select_from(HostSoftware)
            .join(Host, Host.id == HostSoftware.host_id)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .where(Host.org_id == org_id)
            .group_by(OrgUnit.name, family)
        )
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        with self._read() as conn:
            return [(r.name, r.family, int(r.n)) for r in conn.execute(stmt)]

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
