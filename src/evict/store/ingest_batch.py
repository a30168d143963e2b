"""Full inventories written in batches: one transaction for many reports (group commit).

A request hands its checked report to an :class:`IngestBatcher` and waits; one writer thread
per store takes every report waiting (up to ``max_batch``) and writes them together:

- their new distinct software in one short transaction (as :meth:`Store.ingest` does);
- then one transaction: the reports already stored are answered as resends, the hosts' rows
  locked in id order (PostgreSQL), every host's links made equal to its new ones by two
  set-based statements over the batch (the difference computed by the database: on PostgreSQL
  from arrays, on SQLite from a temporary table), the hosts updated and the reports inserted
  in one statement each, and the audit chain appended under one hold of its head's lock (one
  ``inventory.ingest`` event per report, as before: the directories of other servers drop a
  host by the events that name it).

Each request is answered only after that transaction commits, so an acknowledged report is
durable exactly as before; a crash before the commit loses only reports not yet acknowledged,
which their agents send again. A report the batch cannot take as is — an empty inventory (it
may be held for review), a second report of a host or a report id already in the batch — and
every report of a batch whose transaction failed on a clash (the same report stored meanwhile
by another server) go through :meth:`Store.ingest` one at a time, with its answers and errors.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from evict.compliance.coverage import families_text, kinds_text
from evict.model.observations import Observation
from evict.model.records import ConflictError, HostInfo, IngestAck, InventoryReport
from evict.store.tables import Host, ReportRow

if TYPE_CHECKING:
    from evict.store.store import Store

log = logging.getLogger(__name__)

MAX_BATCH = 64
"""Reports written in one transaction at most."""

Link = tuple[str, str, str]
"""A link before its software id is known: (software key, version, source)."""


@dataclass(slots=True)
class Pending:
    """One report waiting for the writer, and the answer its request waits for."""

    host: HostInfo
    report: InventoryReport
    now: dt.datetime
    address: str
    future: concurrent.futures.Future[IngestAck] = field(default_factory=concurrent.futures.Future)
    distinct: dict[str, Observation] = field(default_factory=dict)
    links: set[Link] = field(default_factory=set)


def report_links(store: Store, pending: Pending) -> None:
    """Fill ``pending``'s distinct software (by key) and its links, as :meth:`Store.ingest`."""
    report = pending.report
    store._software_of(report.observations, pending.distinct, pending.links, report.software_keys)


def split(batch: Sequence[Pending]) -> tuple[list[Pending], list[Pending]]:
    """The reports the batch can write together, and those to write one by one after it."""
    together: list[Pending] = []
    alone: list[Pending] = []
    hosts: set[int] = set()
    reports: set[str] = set()
    for p in batch:
        if not p.report.observations or p.host.id in hosts or p.report.report_id in reports:
            alone.append(p)
        else:
            together.append(p)
            hosts.add(p.host.id)
            reports.add(p.report.report_id)
    return together, alone


def write_batch(store: Store, batch: Sequence[Pending]) -> dict[str, IngestAck | Exception]:
    """Write reports of distinct hosts and report ids, all with observations, in one
    transaction; return each report id's answer (an error for a report id another host used).

    Raises what the transaction raised (:class:`IntegrityError` on a clash with a report stored
    meanwhile); nothing of the batch is then written.
    """
    distinct: dict[str, Observation] = {}
    for p in batch:
        for k, o in p.distinct.items():
            distinct.setdefault(k, o)
    ids = store._software_ids(distinct)
    answers: dict[str, IngestAck | Exception] = {}
    with store._write() as conn:
        stored = conn.execute(
            select(ReportRow).where(ReportRow.report_id.in_([p.report.report_id for p in batch]))
        ).all()
        by_id = {p.report.report_id: p for p in batch}
        for row in stored:
            p = by_id[row.report_id]
            if row.host_id != p.host.id:
                answers[row.report_id] = ConflictError(
                    f"report id {row.report_id!r} was already used by another host"
                )
            else:
                answers[row.report_id] = store._ack(row, p.host)
        fresh = [p for p in batch if p.report.report_id not in answers]
        if not fresh:
            return answers
        fresh.sort(key=lambda p: p.host.id)
        host_ids = [p.host.id for p in fresh]
        if store.dialect == "postgresql":
            # Two reports of one host at once (two servers) would both read the old links.
            conn.execute(
                select(Host.id).where(Host.id.in_(host_ids)).order_by(Host.id).with_for_update()
            )
        columns: tuple[list[int], list[int], list[str], list[str]] = ([], [], [], [])
        h, s, v, src = columns
        for p in fresh:
            hid = p.host.id
            for key, version, source in p.links:
                h.append(hid)
                s.append(ids[key])
                v.append(version)
                src.append(source)
        if store.dialect == "postgresql":
            _diff_links_postgresql(conn, host_ids, columns)
        else:
            _diff_links_sqlite(conn, host_ids, columns)
        _update_hosts(conn, fresh)
        rows = [
            {
                "report_id": p.report.report_id,
                "host_id": p.host.id,
                "received_at": p.now,
                "digest": p.report.digest,
                "status": "stored",
                "observations": len(p.report.observations),
                "software": len(p.distinct),
            }
            for p in fresh
        ]
        store._insert_rows(conn, ReportRow.__table__, rows)
        specs = []
        for p in fresh:
            payload: dict[str, object] = {
                "report_id": p.report.report_id,
                "digest": p.report.digest,
                "observations": len(p.report.observations),
                "software": len(p.distinct),
            }
            if p.address:
                payload["address"] = p.address
            subject = f"host:{p.host.identifier}"
            specs.append((subject, "inventory.ingest", subject, p.host.org_id, payload))
        store._audit(conn, max(p.now for p in fresh), specs)
    for p in fresh:
        answers[p.report.report_id] = IngestAck(
            p.report.report_id,
            p.host.identifier,
            "stored",
            len(p.report.observations),
            len(p.distinct),
            p.now,
        )
    return answers


_PG_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS ingest_links (host_id bigint, software_id bigint,"
    " version varchar(200), source varchar(100)) ON COMMIT DELETE ROWS"
)
_PG_DIFF = """
WITH gone AS (
    DELETE FROM host_software AS o
    WHERE o.host_id = ANY(%(hosts)s::bigint[])
      AND NOT EXISTS (
        SELECT 1 FROM ingest_links AS n
        WHERE n.host_id = o.host_id AND n.software_id = o.software_id
          AND n.version = o.version AND n.source = o.source)
    RETURNING 1
)
INSERT INTO host_software (host_id, software_id, version, source)
SELECT n.host_id, n.software_id, n.version, n.source FROM ingest_links AS n
WHERE NOT EXISTS (
    SELECT 1 FROM host_software AS o
    WHERE o.host_id = n.host_id AND o.software_id = n.software_id
      AND o.version = n.version AND o.source = n.source)
"""
"""The batch's links made exact in one statement: rows no longer reported are deleted, new
ones inserted; the rows that stay (nearly all) are not touched. The DELETE and the INSERT see
the same snapshot and touch disjoint rows."""


def _diff_links_postgresql(
    conn: Connection,
    host_ids: list[int],
    columns: tuple[list[int], list[int], list[str], list[str]],
) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        # The new links go in by COPY (psycopg writes rows in C; arrays as parameters were
        # dumped element by element in Python) into a session table emptied at commit.
        cursor.execute(_PG_STAGE)
        copy_sql = "COPY ingest_links (host_id, software_id, version, source) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        cursor.execute("ANALYZE ingest_links")
        cursor.execute(_PG_DIFF, {"hosts": host_ids})


def _diff_links_sqlite(
    conn: Connection,
    host_ids: list[int],
    columns: tuple[list[int], list[int], list[str], list[str]],
) -> None:
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS ingest_links (host_id INTEGER, software_id INTEGER,"
        " version TEXT, source TEXT, PRIMARY KEY (host_id, software_id, version, source))"
    )
    conn.exec_driver_sql("DELETE FROM ingest_links")
    rows = list(zip(*columns, strict=True))
    conn.exec_driver_sql("INSERT INTO ingest_links VALUES (?, ?, ?, ?)", rows)
    marks = ", ".join("?" for _ in host_ids)
    conn.exec_driver_sql(
        f"DELETE FROM host_software WHERE host_id IN ({marks}) AND NOT EXISTS ("
        "SELECT 1 FROM ingest_links AS n WHERE n.host_id = host_software.host_id"
        " AND n.software_id = host_software.software_id AND n.version = host_software.version"
        " AND n.source = host_software.source)",
        tuple(host_ids),
    )
    conn.exec_driver_sql(
        "INSERT INTO host_software (host_id, software_id, version, source)"
        " SELECT n.host_id, n.software_id, n.version, n.source FROM ingest_links AS n"
        " WHERE NOT EXISTS (SELECT 1 FROM host_software AS o WHERE o.host_id = n.host_id"
        " AND o.software_id = n.software_id AND o.version = n.version AND o.source = n.source)"
    )
    conn.exec_driver_sql("DELETE FROM ingest_links")


def _update_hosts(conn: Connection, batch: Sequence[Pending]) -> None:
    """Each host's row as :meth:`Store.ingest` leaves it, one statement for the batch."""
    stmt = (
        update(Host)
        .where(Host.id == bindparam("b_id"))
        .values(
            last_seen=bindparam("b_now", type_=Host.last_seen.type),
            digest=bindparam("b_digest"),
            last_checkin=bindparam("b_report"),
            observations=bindparam("b_observations"),
            kinds=bindparam("b_kinds"),
            sources=bindparam("b_sources"),
            inventory_version=Host.inventory_version + 1,
            dirty=True,
            collected_at=bindparam("b_collected", type_=Host.collected_at.type),
            held_report=None,
            held_digest=None,
            held_at=None,
            held_address=None,
            # An empty hostname or platform leaves the stored one, as in Store.ingest.
            hostname=func.coalesce(func.nullif(bindparam("b_hostname"), ""), Host.hostname),
            platform=func.coalesce(func.nullif(bindparam("b_platform"), ""), Host.platform),
        )
    )
    rows: list[dict[str, Any]] = [
        {
            "b_id": p.host.id,
            "b_now": p.now,
            "b_digest": p.report.digest,
            "b_report": p.report.report_id,
            "b_observations": len(p.report.observations),
            "b_kinds": kinds_text(o.kind for o in p.report.observations),
            "b_sources": families_text({s for _, _, s in p.links}),
            "b_collected": p.report.collected_at or p.now,
            "b_hostname": p.report.hostname,
            "b_platform": p.report.platform,
        }
        for p in batch
    ]
    conn.execute(stmt, rows)


class IngestBatcher:
    """One writer thread applying the reports handed to it in batches (see the module).

    :param store: the store written to.
    :param max_batch: reports per transaction at most.
    """

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._pending: list[Pending] = []
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Batches written so far (for tests and the bench)."""

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="evict-ingest", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what waits, then stop the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
        self._drain()

    def submit(
        self, host: HostInfo, report: InventoryReport, *, now: dt.datetime, address: str = ""
    ) -> concurrent.futures.Future[IngestAck]:
        """Queue a report; the future gets its answer once the report is committed."""
        pending = Pending(host, report, now, address)
        report_links(self.store, pending)
        with self._ready:
            if self._stopping:
                raise RuntimeError("the ingest writer has stopped")
            self._pending.append(pending)
            self._ready.notify()
        return pending.future

    def _take(self) -> list[Pending]:
        with self._ready:
            while not self._pending and not self._stopping:
                self._ready.wait()
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            self.apply(batch)

    def _drain(self) -> None:
        while True:
            with self._ready:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            if not batch:
                return
            self.apply(batch)

    def apply(self, batch: Sequence[Pending]) -> None:
        """Write ``batch`` and answer each of its requests."""
        store = self.store
        together, alone = split(batch)
        try:
            answers = write_batch(store, together) if together else {}
        except IntegrityError:
            answers = {}  # a report stored meanwhile: one at a time says which
        except Exception as e:
            answers = {p.report.report_id: e for p in together}
        finally:
            for p in together:
                store._host_changed(p.host)
        if together and not answers:
            alone, together = list(batch), []
        self.batches += 1
        for p in together:
            if p.future.done():
                continue
            answer = answers[p.report.report_id]
            if isinstance(answer, Exception):
                p.future.set_exception(answer)
            else:
                p.future.set_result(answer)
        for p in alone:
            if p.future.done():
                continue
            try:
                p.future.set_result(store.ingest(p.host, p.report, now=p.now, address=p.address))
            except Exception as e:
                p.future.set_exception(e)
