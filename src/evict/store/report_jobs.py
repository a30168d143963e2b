"""Reports and evidence bundles generated in the background: their queue, progress and files.

A job is one organisation's request for one document (a directive's report in one format, or
its evidence bundle). The server that accepts it runs it and keeps the output in its reports
directory; the row records who asked and when, how far it got, and the output's size and
SHA-256, so the dashboard lists what was generated and an auditor can match a download to it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine, RowMapping

from evict.model.listings import DONE, FAILED, QUEUED, RUNNING, UNFINISHED, ReportJob
from evict.model.records import NotFoundError
from evict.store.tables import ReportJobRow


class ReportJobs:
    """The ``report_jobs`` table: create, advance, finish and list jobs.

    :param engine: the store's engine (each call is its own short transaction).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        org_id: int,
        unit_id: int | None,
        directive: str,
        kind: str,
        fmt: str,
        requested_by: str,
        now: dt.datetime,
    ) -> ReportJob:
        """Queue a job and return it."""
        values = {
            "org_id": org_id,
            "unit_id": unit_id,
            "directive": directive,
            "kind": kind,
            "format": fmt,
            "status": QUEUED,
            "phase": "waiting to start",
            "progress": 0,
            "requested_by": requested_by,
            "requested_at": now,
        }
        with self.engine.begin() as conn:
            job_id = conn.execute(insert(ReportJobRow).values(**values)).inserted_primary_key
        assert job_id is not None
        return self.get(org_id, int(job_id[0]))

    def advance(self, job_id: int, *, phase: str, progress: int) -> None:
        """Record that a job is running ``phase``, ``progress`` per cent done."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ReportJobRow)
                .where(ReportJobRow.id == job_id)
                .values(status=RUNNING, phase=phase[:200], progress=max(0, min(progress, 99)))
            )

    def finish(self, job_id: int, *, file: str, size: int, sha256: str, now: dt.datetime) -> None:
        """Record a job's output: done."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ReportJobRow)
                .where(ReportJobRow.id == job_id)
                .values(
                    status=DONE,
                    phase="done",
                    progress=100,
                    file=file,
                    size=size,
                    sha256=sha256,
                    finished_at=now,
                )
            )

    def fail(self, job_id: int, *, error: str, now: dt.datetime) -> None:
        """Record why a job failed."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ReportJobRow)
                .where(ReportJobRow.id == job_id)
                .values(status=FAILED, phase="failed", error=error[:2000], finished_at=now)
            )

    def abandon_unfinished(self, *, reason: str, now: dt.datetime) -> int:
        """Fail every job still queued or running (a server restarting ran none of them)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ReportJobRow)
                .where(ReportJobRow.status.in_(UNFINISHED))
                .values(status=FAILED, phase="failed", error=reason, finished_at=now)
            )
        return int(result.rowcount or 0)

    def get(self, org_id: int, job_id: int) -> ReportJob:
        """One job of ``org_id``; :class:`NotFoundError` for another organisation's or none."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(*COLUMNS).where(ReportJobRow.id == job_id, ReportJobRow.org_id == org_id)
                )
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise NotFoundError(f"no report job {job_id}")
        return _job(row)

    def list(self, org_id: int, *, unit_id: int | None = None, limit: int = 50) -> list[ReportJob]:
        """The organisation's latest jobs, newest first (only one unit's when ``unit_id``)."""
        stmt = select(*COLUMNS).where(ReportJobRow.org_id == org_id)
        if unit_id is not None:
            stmt = stmt.where(ReportJobRow.unit_id == unit_id)
        stmt = stmt.order_by(ReportJobRow.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(stmt).mappings()]


COLUMNS = tuple(ReportJobRow.__table__.columns)


def _job(row: RowMapping) -> ReportJob:
    return ReportJob(**{c.name: row[c.name] for c in COLUMNS})
