"""Ingestion, the hot path: distinct software upserted, a host's links replaced, held inventories,
fleet imports.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    exists,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from evict.compliance.audit import (
    canonical_json,
)
from evict.compliance.coverage import families_text, kinds_text
from evict.model.observations import Observation
from evict.model.records import (
    BulkHost,
    ConflictError,
    HostInfo,
    IngestAck,
    InventoryReport,
    NotFoundError,
)
from evict.store.core import (
    SOFTWARE_CACHE,
    _chunks,
    _iso,
)
from evict.store.hosts import Hosts
from evict.store.tables import (
    Host,
    HostSoftware,
    OrgUnit,
    ReportRow,
    Software,
)


class Ingest(Hosts):
    """Ingestion, the hot path: distinct software upserted, a host's links replaced, held
    inventories, fleet imports.
    """

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
        self._software_of(report.observations, distinct, links, report.software_keys)
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
                "sources": families_text({str(r["source"]) for r in rows}),
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
                    sources=families_text(()),
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
        ids: dict[str, int] = {}
        total = 0
        iterator = iter(hosts)
        while chunk := list(itertools.islice(iterator, batch)):
            fresh: dict[str, Observation] = {}
            links: list[set[tuple[str, str, str]]] = []
            for h in chunk:
                seen: set[tuple[str, str, str]] = set()
                found: dict[str, Observation] = {}
                self._software_of(h.observations, found, seen)
                for key, o in found.items():
                    if key not in ids:
                        fresh.setdefault(key, o)
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
                    "sources": families_text({s for _, _, s in seen}),
                    "inventory_version": 1,
                    "dirty": True,
                }
                for h, seen in zip(chunk, links, strict=True)
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
