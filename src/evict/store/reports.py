"""What a directive's documents read from the store: counts in SQL, and the few hosts they name.

A document meant to be read (day 30, day 60, status, exceptions, FAR) counts endpoints by org
unit, state and product; those counts are one ``GROUP BY`` here (:meth:`ReportQueries.groups`),
whose size depends on the org units, states, platforms and product combinations, never on the
number of hosts. The hosts a document does name (a bounded sample, the hosts of waivers) and the
hosts that hold matched software (whose findings are rebuilt one page at a time) are read by
keyset pages. Every read runs as a scan (:meth:`Store._scan`): a small page cache on SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import and_, func, literal, select

from evict.compliance.coverage import families_from_text
from evict.model.records import FleetRow
from evict.model.states import PENDING
from evict.store.core import _chunks
from evict.store.listings import fleet_row, fleet_row_select
from evict.store.store import Store
from evict.store.tables import Host, HostSoftware, HostStateRow, OrgUnit

GroupKey = tuple[str, str, str, tuple[str, ...], bool]
"""``(org unit, state, platform, products, seen)``: one group of endpoints (``seen``: the host
has checked in at least once)."""


class ReportQueries:
    """The store's reads for a directive's documents, scoped to an organisation or unit."""

    def __init__(
        self, store: Store, directive: str, *, org_id: int | None, unit_id: int | None
    ) -> None:
        self.store = store
        self.directive = directive
        self.org_id = org_id
        self.unit_id = unit_id

    def _scoped(self, stmt: Any) -> Any:
        if self.org_id is not None:
            stmt = stmt.where(Host.org_id == self.org_id)
        if self.unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == self.unit_id)
        return stmt

    def _state_join(self) -> Any:
        return and_(HostStateRow.host_id == Host.id, HostStateRow.directive == self.directive)

    def groups(self) -> dict[GroupKey, int]:
        """Endpoints per org unit, state, platform, product list and whether seen: one
        ``GROUP BY`` (hosts without a state for the directive are :data:`PENDING`)."""
        self.store.flush_checkins()
        state = func.coalesce(HostStateRow.state, literal(PENDING))
        seen = Host.last_seen.is_not(None)
        stmt = self._scoped(
            select(
                OrgUnit.name,
                state.label("state"),
                Host.platform,
                HostStateRow.products,
                seen.label("seen"),
                func.count().label("n"),
            )
            .select_from(Host)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .outerjoin(HostStateRow, self._state_join())
            .group_by(OrgUnit.name, state, Host.platform, HostStateRow.products, seen)
        )
        out: dict[GroupKey, int] = {}
        with self.store._scan() as conn:
            for r in conn.execute(stmt):
                products = tuple(json.loads(r.products)) if r.products else ()
                key = (r.name, r.state, r.platform, products, bool(r.seen))
                out[key] = out.get(key, 0) + int(r.n)
        return out

    def source_families(self) -> list[tuple[str, str, int]]:
        """``(org unit, source family, hosts)``: which inventory sources reported (the family is
        a source name up to its first ``:``; a host counts once per family).

        Each host keeps the families of its latest inventory on its row (``hosts.sources``,
        written at ingest), so this is one ``GROUP BY`` over hosts whose size is the org units
        times the combinations of families, not a read of every software link."""
        stmt = self._scoped(
            select(OrgUnit.name, Host.sources, func.count().label("n"))
            .select_from(Host)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .group_by(OrgUnit.name, Host.sources)
        )
        out: Counter[tuple[str, str]] = Counter()
        with self.store._scan() as conn:
            for r in conn.execute(stmt):
                for family in set(families_from_text(r.sources)):
                    out[(r.name, family)] += int(r.n)
        return [(unit, family, n) for (unit, family), n in out.items()]

    def cleared_on(self, states: Collection[str]) -> dict[tuple[str, dt.date], int]:
        """Endpoints per state in ``states`` and the day (UTC) they reached it."""
        day = func.date(HostStateRow.since)
        stmt = self._scoped(
            select(HostStateRow.state, day.label("day"), func.count().label("n"))
            .select_from(Host)
            .join(HostStateRow, self._state_join())
            .where(HostStateRow.state.in_(list(states)), HostStateRow.since.is_not(None))
            .group_by(HostStateRow.state, day)
        )
        out: dict[tuple[str, dt.date], int] = {}
        with self.store._scan() as conn:
            for r in conn.execute(stmt):
                d = r.day if isinstance(r.day, dt.date) else dt.date.fromisoformat(str(r.day))
                out[(r.state, d)] = out.get((r.state, d), 0) + int(r.n)
        return out

    def _rows(self) -> Any:
        return self._scoped(fleet_row_select(self.directive))

    def in_states(self, states: Collection[str], limit: int) -> list[FleetRow]:
        """The first ``limit`` hosts (in stored order) in one of ``states``."""
        stmt = self._rows().order_by(Host.id).limit(limit)
        wanted = [s for s in states if s != PENDING]
        condition: Any = HostStateRow.state.in_(wanted)
        if PENDING in states:
            condition = condition | HostStateRow.state.is_(None)
        with self.store._scan() as conn:
            return [fleet_row(r) for r in conn.execute(stmt.where(condition))]

    def named(self, identifiers: Collection[str]) -> dict[str, FleetRow]:
        """The hosts of these identifiers (those enrolled in scope)."""
        out: dict[str, FleetRow] = {}
        with self.store._scan() as conn:
            for chunk in _chunks(sorted(identifiers)):
                stmt = self._rows().where(Host.identifier.in_(list(chunk)))
                for r in conn.execute(stmt):
                    out[r.identifier] = fleet_row(r)
        return out

    def holding(
        self, software_ids: Sequence[int], *, page: int = 1000
    ) -> Iterator[list[tuple[int, FleetRow]]]:
        """Pages of ``(host id, row)`` of the hosts linked to any of ``software_ids`` (the
        software some rule fired on), in stored order."""
        if not software_ids:
            return
        self.store.flush_checkins()
        holds = select(HostSoftware.host_id).where(HostSoftware.software_id.in_(list(software_ids)))
        after = 0
        while True:
            stmt = (
                self._rows()
                .where(Host.id > after, Host.id.in_(holds))
                .order_by(Host.id)
                .limit(page)
            )
            with self.store._scan() as conn:
                rows = conn.execute(stmt).all()
            if rows:
                yield [(int(r.id), fleet_row(r)) for r in rows]
            if len(rows) < page:
                return
            after = int(rows[-1].id)
