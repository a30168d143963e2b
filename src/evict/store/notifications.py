"""Notification channels and what each has delivered (see :mod:`evict.notify`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from evict.model.records import NotFoundError
from evict.notify.interface import Channel, ChannelKind, Event
from evict.store.tables import NotifyChannelRow, NotifySentRow


class NotificationStore:
    """The ``notify_channels`` and ``notify_sent`` tables.

    :param engine: the store's engine (each call is its own short transaction).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        org_id: int,
        *,
        kind: ChannelKind,
        target: str,
        events: Iterable[Event],
        days_before: int,
        options: dict[str, str],
        actor: str,
        now: dt.datetime,
    ) -> Channel:
        """Add a channel to the organisation and return it."""
        values = {
            "org_id": org_id,
            "kind": kind.value,
            "target": target,
            "events": ",".join(sorted(e.value for e in events)),
            "days_before": days_before,
            "options": json.dumps(options, sort_keys=True),
            "enabled": True,
            "created_by": actor,
            "created_at": now,
        }
        with self.engine.begin() as conn:
            key = conn.execute(insert(NotifyChannelRow).values(**values)).inserted_primary_key
        assert key is not None
        return self.get(org_id, int(key[0]))

    def get(self, org_id: int, channel_id: int) -> Channel:
        """One channel of ``org_id`` (:class:`NotFoundError` for another organisation's)."""
        for channel in self.channels(org_id):
            if channel.id == channel_id:
                return channel
        raise NotFoundError(f"no notification channel {channel_id}")

    def channels(self, org_id: int | None = None) -> list[Channel]:
        """The channels of one organisation, or of all."""
        stmt = select(*NotifyChannelRow.__table__.columns).order_by(NotifyChannelRow.id)
        if org_id is not None:
            stmt = stmt.where(NotifyChannelRow.org_id == org_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            Channel(
                id=r["id"],
                org_id=r["org_id"],
                kind=ChannelKind(r["kind"]),
                target=r["target"],
                events=frozenset(Event(e) for e in r["events"].split(",") if e),
                days_before=r["days_before"],
                options=json.loads(r["options"] or "{}"),
                enabled=bool(r["enabled"]),
            )
            for r in rows
        ]

    def remove(self, org_id: int, channel_id: int) -> Channel:
        """Remove a channel of ``org_id`` and what it delivered; return it."""
        channel = self.get(org_id, channel_id)
        with self.engine.begin() as conn:
            conn.execute(delete(NotifyChannelRow).where(NotifyChannelRow.id == channel_id))
        return channel

    def sent(self, channel_id: int) -> set[str]:
        """The keys already delivered on a channel."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(NotifySentRow.key).where(NotifySentRow.channel_id == channel_id)
                ).scalars()
            )

    def mark_sent(self, channel_id: int, keys: Iterable[str], *, now: dt.datetime) -> None:
        """Record keys as delivered on a channel."""
        rows = [{"channel_id": channel_id, "key": k[:300], "sent_at": now} for k in keys]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(NotifySentRow), rows)
