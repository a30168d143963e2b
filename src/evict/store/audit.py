"""The audit chain: appending an event on its own, reading and verifying the chain.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    select,
)

from evict.compliance.audit import (
    Anchor,
    AuditEvent,
    ChainVerdict,
    StoredEvent,
    verify_chain,
)
from evict.model.records import (
    AuditHeadMissing,
)
from evict.store.core import (
    StoreCore,
)
from evict.store.tables import (
    AuditEventRow,
    AuditHead,
)

EVENT_COLUMNS = (
    AuditEventRow.seq,
    AuditEventRow.at,
    AuditEventRow.actor,
    AuditEventRow.action,
    AuditEventRow.subject,
    AuditEventRow.org_id,
    AuditEventRow.payload,
    AuditEventRow.prev_hash,
    AuditEventRow.hash,
)
"""The columns an event is read from, in the order :meth:`AuditLog._event` takes them."""


class AuditLog(StoreCore):
    """The audit chain: appending an event on its own, reading and verifying the chain."""

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
        stmt = select(*EVENT_COLUMNS).where(AuditEventRow.seq > after)
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
        """An event from a row of :data:`EVENT_COLUMNS`."""
        return StoredEvent(*row).event()

    def iter_audit(self, page: int = 5000, *, after: int = 0) -> Iterator[StoredEvent]:
        """Every event after sequence number ``after`` in stored order, a page at a time, as
        stored (:meth:`StoredEvent.event` decodes one; :func:`verify_chain` takes them as
        they are)."""
        while True:
            stmt = select(*EVENT_COLUMNS).where(AuditEventRow.seq > after)
            with self._scan() as conn:
                found = conn.execute(stmt.order_by(AuditEventRow.seq).limit(page)).all()
            rows = [StoredEvent(*r) for r in found]
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].seq

    def verify_audit(self, anchors: Sequence[Anchor] = ()) -> ChainVerdict:
        """Recompute the whole chain and compare it with the recorded head and with ``anchors``
        (signed heads kept outside the database, their signatures already checked)."""
        head = self.audit_head()
        return verify_chain(self.iter_audit(), head=head, anchors=anchors)
