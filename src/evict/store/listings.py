"""Listings of the fleet for the command line, the API and reports: hosts, their software, rows and
counts.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    and_,
    exists,
    func,
    literal,
    or_,
    select,
)

from evict.compliance.coverage import kinds_from_text
from evict.model.records import (
    FleetRow,
    HostRow,
)
from evict.model.states import PENDING
from evict.store.core import (
    _chunks,
)
from evict.store.hosts import Hosts
from evict.store.tables import (
    Adoption,
    Host,
    HostSoftware,
    HostStateRow,
    Org,
    OrgUnit,
    SoftwareMatch,
)


def fleet_row_select(directive: str) -> Any:
    """Hosts with their organisation, org unit, state for ``directive`` and the organisation's
    start date: the columns :func:`fleet_row` reads (filter and order it as needed)."""
    return (
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
        .outerjoin(Adoption, and_(Adoption.org_id == Host.org_id, Adoption.directive == directive))
    )


@functools.lru_cache(maxsize=4096)
def _products(text: str) -> tuple[str, ...]:
    """A state's stored product list (a fleet has few distinct ones: decoded once each)."""
    return tuple(json.loads(text))


def fleet_row(r: Any) -> FleetRow:
    """A row of :func:`fleet_row_select` as a :class:`FleetRow`."""
    return FleetRow(
        host=r.identifier,
        hostname=r.hostname,
        org=r.org_name,
        org_unit=r.unit_name,
        platform=r.platform,
        state=r.state or PENDING,
        products=_products(r.products) if r.products else (),
        since=r.since,
        last_seen=r.last_seen,
        start=r.start,
    )


class Listings(Hosts):
    """Listings of the fleet for the command line, the API and reports: hosts, their software,
    rows and counts.
    """

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
            stmt = fleet_row_select(directive).where(Host.id > after).order_by(Host.id).limit(page)
            if org_id is not None:
                stmt = stmt.where(Host.org_id == org_id)
            if unit_id is not None:
                stmt = stmt.where(Host.org_unit_id == unit_id)
            with self._scan() as conn:
                rows = conn.execute(stmt).all()
            yield from (fleet_row(r) for r in rows)
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
