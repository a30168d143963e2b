"""Read queries of the dashboard, composed over a :class:`~evict.store.store.Store`'s engine.

The dashboard asks questions the API does not: a page of hosts in name, last-seen or state order
with any mix of filters; the history of hosts carrying covered products; endpoints per product;
the audit log newest first. Everything here is shaped for a million hosts:

- **Keyset paging, never OFFSET.** A page continues from an opaque cursor that holds the last
  row's sort key and id, so page 10,000 costs what page 1 does. Sorting by state walks the states
  one at a time, most urgent first, each in id order, so every step is an index range.
- **Counts are capped.** :meth:`DashboardQueries.count_hosts` stops at ``cap`` and says so
  ("10,000+ hosts") instead of counting a million rows per request.
- **History comes from the hosts that ever carried something.** Only hosts whose state is not
  ``clean`` can have carried a covered product, so the burn-down reads their audit events through
  the ``(org_id, subject, seq)`` index rather than scanning the whole log.

Nothing here writes, except :meth:`DashboardQueries.session_key`, which creates the key that
signs dashboard sessions once and keeps it in ``meta`` so that every server of a fleet shares it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import OperationalError

from evict.compliance.audit import AuditEvent
from evict.model.listings import HostFilter, HostListRow, HostPage, HostSort
from evict.model.observations import Observation
from evict.model.records import DatabaseError, HostInfo, InvalidValueError, NotFoundError
from evict.model.states import OPEN_STATES, PENDING, PRESENT, STATE_ORDER, State
from evict.store.audit import EVENT_COLUMNS
from evict.store.engine import WRITE
from evict.store.store import Store
from evict.store.tables import (
    AuditEventRow,
    Host,
    HostSoftware,
    HostStateRow,
    Meta,
    OrgUnit,
    Software,
    SoftwareMatch,
)

HOST_IDS = 50_000
"""Past this many hosts with one product, its filter stays a subquery instead of a list of
ids read first (PostgreSQL)."""

WALK_PAST = 2_000
"""Past this many listed hosts, a page walks its order instead of reading each listed host."""

SESSION_KEY = "dashboard_session_key"
"""The ``meta`` row holding the key that signs dashboard session cookies."""


@dataclass(frozen=True, slots=True)
class ProductLink:
    """One host's link to one matched software row: what the products page aggregates."""

    host_id: int
    software_id: int
    version: str
    org_unit: str


@dataclass(frozen=True, slots=True)
class _Phase:
    """One step of a listing: rows in one key order, optionally limited to one state."""

    key: str
    """``name``, ``name_desc``, ``seen``, ``seen_desc`` or ``id`` (the phase's order)."""
    state: str | None = None
    null_seen: bool | None = None
    """For last-seen orders: the phase of hosts never seen (True) or seen (False)."""


def _next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (code point order)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(last + 1)


def encode_cursor(phase: int, host_id: int, key: str = "") -> str:
    """An opaque cursor for the row after ``(phase, key, host_id)``."""
    raw = json.dumps([phase, host_id, key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int, str]:
    """Inverse of :func:`encode_cursor`; raise :class:`InvalidValueError` on anything else."""
    if len(cursor) > 2000:
        raise InvalidValueError("the page cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        phase, host_id, key = json.loads(raw)
    except (ValueError, TypeError) as e:
        raise InvalidValueError("the page cursor is not one this server issued") from e
    if not (isinstance(phase, int) and isinstance(host_id, int) and isinstance(key, str)):
        raise InvalidValueError("the page cursor is not one this server issued")
    return phase, host_id, key


class DashboardQueries:
    """The dashboard's reads (and its session key) over ``store``'s database.

    :param store: the fleet store; its engine is shared, so nothing new is opened.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self._product_hosts_read: dict[tuple[str, str], Any] = {}
        """Each product's hosts, read once for this instance (a page and its count share
        them): a list of ids, or a condition when there are too many to list."""

    def _read(self, *, page: bool = False) -> AbstractContextManager[Connection]:
        """A read-only transaction of the store (:meth:`StoreCore._read`); with ``page``, for a
        few rows of a listing."""
        return self.store._read(page=page)

    # -- hosts ----------------------------------------------------------------------------------

    def host_by_id(self, org_id: int, host_id: int, *, unit_id: int | None = None) -> HostInfo:
        """A host of the organisation by its database id (within ``unit_id`` when limited).

        Raise :class:`NotFoundError` for a host of another organisation or org unit too, so that
        a guessed id tells nothing.
        """
        stmt = (
            select(Host, OrgUnit.name.label("unit_name"))
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .where(Host.id == host_id, Host.org_id == org_id)
        )
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(f"no host {host_id}")
        return Store._host_info(row)

    def hosts_by_ids(
        self, org_id: int, host_ids: Sequence[int], *, unit_id: int | None = None
    ) -> list[HostInfo]:
        """The organisation's hosts among ``host_ids`` (within ``unit_id`` when limited), in id
        order; ids of other organisations' hosts, or of none, are left out."""
        wanted = sorted(set(host_ids))
        out: list[HostInfo] = []
        with self._read() as conn:
            for i in range(0, len(wanted), 500):
                stmt = (
                    select(Host, OrgUnit.name.label("unit_name"))
                    .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
                    .where(Host.org_id == org_id, Host.id.in_(wanted[i : i + 500]))
                    .order_by(Host.id)
                )
                if unit_id is not None:
                    stmt = stmt.where(Host.org_unit_id == unit_id)
                out.extend(Store._host_info(r) for r in conn.execute(stmt))
        return out

    def host_observations(self, host_id: int) -> list[Observation]:
        """A host's stored inventory as observations (for planning its removal)."""
        stmt = (
            select(Software, HostSoftware.version, HostSoftware.source)
            .join(HostSoftware, HostSoftware.software_id == Software.id)
            .where(HostSoftware.host_id == host_id)
            .order_by(Software.id, HostSoftware.version, HostSoftware.source)
        )
        with self._read() as conn:
            return [Store._software_observation(r, r.version, r.source) for r in conn.execute(stmt)]

    def _conditions(self, org_id: int, f: HostFilter, *, walk: bool = False) -> list[Any]:
        """The WHERE conditions of a filter (the state filter included).

        :param walk: for a page (rows in an index's order, a few wanted): a long list of
            hosts is tested row by row while walking that order instead of read host by host.
        """
        conditions: list[Any] = [Host.org_id == org_id]
        if f.unit_id is not None:
            conditions.append(Host.org_unit_id == f.unit_id)
        if f.platform:
            conditions.append(Host.platform == f.platform)
        if f.name:
            conditions.append(
                or_(*(self._contains(c, f.name) for c in (Host.hostname, Host.identifier)))
            )
        if f.seen_before is not None:
            conditions.append(or_(Host.last_seen < f.seen_before, Host.last_seen.is_(None)))
        if f.product and f.catalog_version:
            key = (f.product, f.catalog_version)
            if key not in self._product_hosts_read:
                self._product_hosts_read[key] = self._product_hosts(*key)
            conditions.append(self._among(self._product_hosts_read[key], walk=walk))
        if f.directive and f.states:
            conditions.append(self._in_states(org_id, f.directive, f.states))
        return conditions

    def _among(self, hosts: Any, *, walk: bool) -> Any:
        """The condition "the host is one of ``hosts``" (a list of ids, or a condition)."""
        if not isinstance(hosts, list):
            return hosts
        if not hosts:
            return literal(False)
        # only the dialect in use
        from sqlalchemy.dialects.postgresql import ARRAY

        ids = bindparam(None, hosts, type_=ARRAY(BigInteger))
        if not walk or len(hosts) <= WALK_PAST:
            return Host.id == any_(ids)
        # Many hosts: walk the page's order and keep those listed (a hash lookup per row:
        # one row in 80 at a million hosts with 12,000 listed). On ``id`` itself the planner
        # reads every listed host by primary key and sorts them all: 12,000 random reads for
        # one page. ``id + 0`` is not indexed, which leaves it the walk.
        return (Host.id + 0) == any_(ids)

    def _product_hosts(self, product: str, catalog_version: str) -> Any:
        """The hosts whose current inventory matched ``product``: ids, or a condition."""
        software = self._product_software(product, catalog_version)
        if not software:
            return []
        linked = select(HostSoftware.host_id).where(HostSoftware.software_id.in_(software))
        if self.engine.dialect.name != "postgresql":
            return Host.id.in_(linked)
        # PostgreSQL estimates how many hosts link to a few software rows from averages, and
        # a low guess makes it walk every host in page order looking for them. The ids, read
        # first from the (software_id, host_id) index (the hosts carrying one product: a few
        # percent of a fleet), give it the exact number.
        with self._read() as conn:
            hosts = list(conn.execute(linked.distinct().limit(HOST_IDS + 1)).scalars())
        return Host.id.in_(linked) if len(hosts) > HOST_IDS else [int(h) for h in hosts]

    def _product_software(self, product: str, catalog_version: str) -> list[int]:
        """The software rows the matcher fired ``product`` on (a few, whatever the fleet size).

        Read first, so that the host query gets a short list of ids: the planner then goes
        through the ``host_software`` index instead of guessing at a join on JSON text.
        """
        needle = f'"product":{json.dumps(product)}'
        stmt = select(SoftwareMatch.software_id).where(
            SoftwareMatch.catalog_version == catalog_version,
            SoftwareMatch.matched.is_(True),
            SoftwareMatch.hits.contains(needle, autoescape=True),
        )
        with self._read() as conn:
            return sorted(int(r) for r in conn.execute(stmt).scalars())

    @staticmethod
    def _contains(column: Any, text: str) -> Any:
        # ILIKE on PostgreSQL, lower(column) LIKE lower(text) on SQLite; the text's own % and _
        # are escaped so that they match themselves. On PostgreSQL the trigram indexes of
        # migration 0012 serve it; elsewhere the page walks its order testing each host
        # (docs/dashboard.md, "At a million hosts").
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.ilike(f"%{escaped}%", escape="\\")

    @staticmethod
    def _prefix(column: Any, prefix: str) -> Any:
        # A range rather than LIKE: it is an index range on both backends (PostgreSQL only turns
        # LIKE into one under the C collation) and matches the same rows in code point order.
        upper = _next_prefix(prefix)
        if upper is None:
            return column >= prefix
        return and_(column >= prefix, column < upper)

    @staticmethod
    def _in_states(org_id: int, directive: str, states: frozenset[str]) -> Any:
        real = sorted(s for s in states if s != PENDING)
        # org_id too, so that the (org_id, directive, state) index finds the few hosts in a
        # rare state directly.
        has_row = exists().where(
            HostStateRow.host_id == Host.id,
            HostStateRow.org_id == org_id,
            HostStateRow.directive == directive,
        )
        parts: list[Any] = []
        if real:
            parts.append(has_row.where(HostStateRow.state.in_(real)))
        if PENDING in states:
            parts.append(~has_row)
        return or_(*parts) if len(parts) > 1 else parts[0]

    def _phases(self, sort: HostSort, f: HostFilter, directive: str | None) -> list[_Phase]:
        if sort is HostSort.NAME:
            return [_Phase("name")]
        if sort is HostSort.NAME_DESC:
            return [_Phase("name_desc")]
        if sort in (HostSort.STATE_DESC, HostSort.DUE, HostSort.DUE_DESC):
            if not directive:
                raise InvalidValueError(f"sorting by {sort.value.lstrip('-')} needs a directive")
            wanted = f.states if f.directive == directive and f.states else frozenset(STATE_ORDER)
            order = list(STATE_ORDER)
            if sort is not HostSort.STATE_DESC:
                opened = {s.value for s in OPEN_STATES}
                order = [s for s in order if s in opened] + [s for s in order if s not in opened]
            if sort is not HostSort.DUE:
                order.reverse()
            return [_Phase("id", state=s) for s in order if s in wanted]
        if sort is HostSort.LAST_SEEN:
            return [_Phase("id", null_seen=True), _Phase("seen", null_seen=False)]
        if sort is HostSort.RECENT:
            return [_Phase("seen_desc", null_seen=False), _Phase("id", null_seen=True)]
        if sort is HostSort.STATE:
            if not directive:
                raise InvalidValueError("sorting by state needs a directive")
            wanted = f.states if f.directive == directive and f.states else frozenset(STATE_ORDER)
            return [_Phase("id", state=s) for s in STATE_ORDER if s in wanted]
        raise AssertionError(f"unhandled sort {sort!r}")  # pragma: no cover

    def host_page(
        self,
        org_id: int,
        f: HostFilter,
        *,
        sort: HostSort = HostSort.NAME,
        directive: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> HostPage:
        """One page of the organisation's hosts matching ``f`` in ``sort`` order.

        :param directive: the directive whose state and products each row shows (and that a
            state sort walks); defaults to the filter's.
        :param after: the ``next_cursor`` of the previous page (None for the first page).
        """
        directive = directive or f.directive
        phases = self._phases(sort, f, directive)
        if not phases:
            return HostPage((), None)
        start, after_id, after_key = decode_cursor(after) if after else (0, 0, "")
        if not 0 <= start < len(phases):
            raise InvalidValueError("the page cursor does not fit this listing")
        base = self._conditions(org_id, f, walk=True)
        found: list[tuple[int, Any]] = []
        with self._read(page=True) as conn:
            for index in range(start, len(phases)):
                want = limit + 1 - len(found)
                if want <= 0:
                    break
                keyset = (after_id, after_key) if index == start and after else None
                stmt = self._phase_select(org_id, phases[index], base, directive, keyset).limit(
                    want
                )
                found.extend((index, r) for r in conn.execute(stmt))
            more = len(found) > limit
            found = found[:limit]
            states = self._row_states(conn, [r.id for _, r in found], directive)
        rows = []
        for _, r in found:
            state, products = states.get(r.id, (PENDING, ())) if directive else ("", ())
            rows.append(
                HostListRow(
                    r.id,
                    r.identifier,
                    r.hostname,
                    r.platform,
                    r.unit_name,
                    r.last_seen,
                    state,
                    products,
                )
            )
        cursor = None
        if more and found:
            index, last = found[-1]
            cursor = encode_cursor(index, last.id, self._key_of(phases[index], last))
        return HostPage(tuple(rows), cursor)

    @staticmethod
    def _key_of(phase: _Phase, row: Any) -> str:
        if phase.key in ("name", "name_desc"):
            return str(row.hostname)
        if phase.key in ("seen", "seen_desc"):
            return str(row.last_seen.isoformat())
        return ""

    def _phase_select(
        self,
        org_id: int,
        phase: _Phase,
        base: Sequence[Any],
        directive: str | None,
        keyset: tuple[int, str] | None,
    ) -> Any:
        stmt = (
            select(
                Host.id,
                Host.identifier,
                Host.hostname,
                Host.platform,
                Host.last_seen,
                OrgUnit.name.label("unit_name"),
            )
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .where(*base)
        )
        if phase.state is not None:
            assert directive is not None
            stmt = stmt.where(self._in_states(org_id, directive, frozenset({phase.state})))
        if phase.null_seen is True:
            stmt = stmt.where(Host.last_seen.is_(None))
        elif phase.null_seen is False:
            stmt = stmt.where(Host.last_seen.is_not(None))
        after_id, after_key = keyset if keyset else (0, "")
        if phase.key == "name":
            if keyset:
                stmt = stmt.where(
                    Host.hostname >= after_key,
                    or_(Host.hostname > after_key, Host.id > after_id),
                )
            return stmt.order_by(Host.hostname, Host.id)
        if phase.key == "name_desc":
            if keyset:
                stmt = stmt.where(
                    Host.hostname <= after_key,
                    or_(Host.hostname < after_key, Host.id < after_id),
                )
            return stmt.order_by(Host.hostname.desc(), Host.id.desc())
        if phase.key == "seen":
            if keyset:
                seen = _parse_time(after_key)
                stmt = stmt.where(
                    Host.last_seen >= seen, or_(Host.last_seen > seen, Host.id > after_id)
                )
            return stmt.order_by(Host.last_seen, Host.id)
        if phase.key == "seen_desc":
            if keyset:
                seen = _parse_time(after_key)
                stmt = stmt.where(
                    Host.last_seen <= seen, or_(Host.last_seen < seen, Host.id < after_id)
                )
            return stmt.order_by(Host.last_seen.desc(), Host.id.desc())
        if keyset:
            stmt = stmt.where(Host.id > after_id)
        return stmt.order_by(Host.id)

    @staticmethod
    def _row_states(
        conn: Connection, host_ids: Sequence[int], directive: str | None
    ) -> dict[int, tuple[str, tuple[str, ...]]]:
        if not directive or not host_ids:
            return {}
        rows = conn.execute(
            select(HostStateRow.host_id, HostStateRow.state, HostStateRow.products).where(
                HostStateRow.host_id.in_(list(host_ids)), HostStateRow.directive == directive
            )
        )
        return {r.host_id: (r.state, tuple(json.loads(r.products or "[]"))) for r in rows}

    def count_hosts(self, org_id: int, f: HostFilter, *, cap: int = 10_000) -> tuple[int, bool]:
        """How many hosts match ``f``, counting at most ``cap + 1``; ``(n, True)`` past the cap."""
        inner = select(Host.id).where(*self._conditions(org_id, f)).limit(cap + 1).subquery()
        with self._read(page=True) as conn:
            n = int(conn.execute(select(func.count()).select_from(inner)).scalar_one())
        return (cap, True) if n > cap else (n, False)

    # -- overview -------------------------------------------------------------------------------

    def carrying_changes(
        self, org_id: int, directive: str, *, unit_id: int | None = None
    ) -> list[tuple[dt.date, int]]:
        """Day by day, how the number of hosts carrying a covered product changed.

        Read from the audit log's ``state.change`` events of the hosts that ever carried one
        (any state but ``clean``): ``+1`` on the day a host entered a carrying state (identified,
        planned, removing, waived) from one that is not, ``-1`` on the day it left. A running
        sum of the result is the burn-down.
        """
        needle = f'"directive":{json.dumps(directive)}'
        stmt = (
            select(AuditEventRow.at, AuditEventRow.payload)
            .select_from(HostStateRow)
            .join(Host, Host.id == HostStateRow.host_id)
            .join(
                AuditEventRow,
                and_(
                    AuditEventRow.org_id == org_id,
                    AuditEventRow.subject == literal("host:") + Host.identifier,
                ),
            )
            .where(
                HostStateRow.org_id == org_id,
                HostStateRow.directive == directive,
                HostStateRow.state != State.CLEAN.value,
                Host.org_id == org_id,
                AuditEventRow.action.in_(("state.change", "waiver.create")),
                AuditEventRow.payload.contains(needle, autoescape=True),
            )
        )
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        deltas: dict[dt.date, int] = defaultdict(int)
        with self._read() as conn:
            for r in conn.execute(stmt):
                try:
                    payload = json.loads(r.payload)
                    day = dt.date.fromisoformat(r.at[:10])
                except ValueError:
                    continue  # an unreadable event is the chain verifier's to report
                before = payload.get("from") in PRESENT
                after = payload.get("to") in PRESENT
                if before != after:
                    deltas[day] += 1 if after else -1
        return sorted(deltas.items())

    def product_states(
        self, org_id: int, directive: str, *, unit_id: int | None = None
    ) -> list[tuple[tuple[str, ...], str, int]]:
        """``(products, state, hosts)`` over the hosts a directive found something on."""
        nothing = (State.CLEAN.value, State.INCOMPLETE.value, State.STALE.value, PENDING)
        found = [s for s in STATE_ORDER if s not in nothing]
        stmt = (
            select(HostStateRow.products, HostStateRow.state, func.count().label("n"))
            .where(
                HostStateRow.org_id == org_id,
                HostStateRow.directive == directive,
                HostStateRow.state.in_(found),
            )
            .group_by(HostStateRow.products, HostStateRow.state)
        )
        if unit_id is not None:
            stmt = stmt.join(Host, Host.id == HostStateRow.host_id).where(
                Host.org_unit_id == unit_id
            )
        with self._read() as conn:
            return [
                (tuple(json.loads(r.products or "[]")), r.state, int(r.n))
                for r in conn.execute(stmt)
            ]

    # -- products -------------------------------------------------------------------------------

    def product_links(
        self, org_id: int, software_ids: Sequence[int], *, unit_id: int | None = None
    ) -> list[ProductLink]:
        """Every link of the organisation's hosts to the given (matched) software rows."""
        out: list[ProductLink] = []
        ids = sorted(set(software_ids))
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                stmt = (
                    select(
                        HostSoftware.host_id,
                        HostSoftware.software_id,
                        HostSoftware.version,
                        OrgUnit.name.label("unit_name"),
                    )
                    .join(Host, Host.id == HostSoftware.host_id)
                    .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
                    .where(HostSoftware.software_id.in_(ids[i : i + 500]), Host.org_id == org_id)
                )
                if unit_id is not None:
                    stmt = stmt.where(Host.org_unit_id == unit_id)
                out.extend(
                    ProductLink(r.host_id, r.software_id, r.version, r.unit_name)
                    for r in conn.execute(stmt)
                )
        return out

    # -- audit ----------------------------------------------------------------------------------

    def audit_page(
        self,
        org_id: int,
        *,
        unit_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        subject: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """The organisation's events, newest first, before sequence number ``before``.

        :param unit_id: a user limited to one org unit sees the events of its hosts only.
        :param actor: exactly this actor (``user:NAME``, ``worker``, ``host:ID``).
        :param action: a prefix of the action (``state.``, ``waiver.create``).
        :param since: events on or after this day (UTC); ``until``: on or before it.
        """
        stmt = select(*EVENT_COLUMNS).where(AuditEventRow.org_id == org_id)
        if before is not None:
            stmt = stmt.where(AuditEventRow.seq < before)
        if actor:
            stmt = stmt.where(AuditEventRow.actor == actor)
        if action:
            stmt = stmt.where(AuditEventRow.action.startswith(action, autoescape=True))
        if subject:
            stmt = stmt.where(AuditEventRow.subject == subject)
        if since is not None:
            stmt = stmt.where(AuditEventRow.at >= since.isoformat())
        if until is not None:
            stmt = stmt.where(AuditEventRow.at < (until + dt.timedelta(days=1)).isoformat())
        if unit_id is not None:
            in_unit = exists().where(
                Host.org_id == org_id,
                Host.org_unit_id == unit_id,
                Host.identifier == func.substr(AuditEventRow.subject, 6),
            )
            stmt = stmt.where(AuditEventRow.subject.startswith("host:"), in_unit)
        stmt = stmt.order_by(AuditEventRow.seq.desc()).limit(limit)
        with self._read() as conn:
            return [Store._event(r) for r in conn.execute(stmt)]

    def host_identifier(self, org_id: int, name: str, *, unit_id: int | None = None) -> str | None:
        """The identifier of the host named ``name`` (identifier first, then hostname)."""
        for column in (Host.identifier, Host.hostname):
            stmt = select(Host.identifier).where(Host.org_id == org_id, column == name)
            if unit_id is not None:
                stmt = stmt.where(Host.org_unit_id == unit_id)
            with self._read() as conn:
                found = conn.execute(stmt.limit(1)).scalar()
            if found is not None:
                return str(found)
        return None

    def host_names(
        self, org_id: int, identifiers: Sequence[str], *, unit_id: int | None = None
    ) -> dict[str, tuple[int, str]]:
        """``identifier -> (database id, hostname)`` of the organisation's hosts among these."""
        out: dict[str, tuple[int, str]] = {}
        wanted = sorted(set(identifiers))
        with self._read() as conn:
            for i in range(0, len(wanted), 500):
                stmt = select(Host.identifier, Host.id, Host.hostname).where(
                    Host.org_id == org_id, Host.identifier.in_(wanted[i : i + 500])
                )
                if unit_id is not None:
                    stmt = stmt.where(Host.org_unit_id == unit_id)
                out.update({r.identifier: (r.id, r.hostname) for r in conn.execute(stmt)})
        return out

    # -- sessions -------------------------------------------------------------------------------

    def session_key(self) -> bytes:
        """The key that signs dashboard sessions: made once, shared by every server."""
        with self._read() as conn:
            found = conn.execute(select(Meta.value).where(Meta.key == SESSION_KEY)).scalar()
        if found is None:
            # Two servers starting at once both try; the database keeps the first key.
            try:
                with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    conn.execute(
                        self._insert_ignore()
                        .values(key=SESSION_KEY, value=secrets.token_hex(32))
                        .on_conflict_do_nothing(index_elements=["key"])
                    )
            except OperationalError as e:
                raise DatabaseError(f"database error: {e.orig}") from e
            with self._read() as conn:
                found = conn.execute(select(Meta.value).where(Meta.key == SESSION_KEY)).scalar()
        assert found is not None, "the key was just written"
        return bytes.fromhex(str(found))

    def _insert_ignore(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(Meta)
        # only the dialect in use
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(Meta)


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise InvalidValueError("the page cursor is not one this server issued") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
