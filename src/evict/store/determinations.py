"""Determinations of scope: recorded once per organisation, revoked, and the hosts they touch.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    insert,
    select,
    update,
)

from evict.compliance.determinations import Answer, Determination
from evict.model.records import (
    NotFoundError,
)
from evict.model.states import State
from evict.store.core import (
    StoreCore,
    _chunks,
    _clean_name,
)
from evict.store.tables import (
    DeterminationRow,
    Host,
    HostSoftware,
    HostStateRow,
    SoftwareMatch,
)


class Determinations(StoreCore):
    """Determinations of scope: recorded once per organisation, revoked, and the hosts they
    touch.
    """

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
