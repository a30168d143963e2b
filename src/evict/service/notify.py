"""One notification pass: for each organisation with channels, gather the fleet's facts once,
work out what each channel has not been told yet, deliver it, and record each delivery (and
each failure) in the audit log. The server runs a pass on a schedule; ``evict notify run``
runs one from cron.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from evict.catalog.interface import Catalog
from evict.compliance.milestones import schedule
from evict.notify.channels import send as deliver
from evict.notify.events import (
    HostFact,
    MilestoneFact,
    WaiverFact,
    hosts_overdue,
    milestones_due,
    new_products,
    waivers_expiring,
)
from evict.notify.interface import Channel, Event, Notification, NotifyError
from evict.report.fleet import is_open, report_lines
from evict.store.notifications import NotificationStore
from evict.store.store import NOTIFY_LOCK_KEY, Store

log = logging.getLogger(__name__)

ACTOR = "system:notify"
"""Who the audit log names for deliveries."""

Sender = Callable[[Channel, Notification], str]
"""Delivers one notification on one channel; returns a short description."""


@dataclass(frozen=True)
class OrgFacts:
    """What one organisation's notifications are computed from."""

    org_id: int
    milestones: list[MilestoneFact]
    hosts: list[HostFact]
    waivers: list[WaiverFact]
    names: dict[str, str]


@dataclass
class NotifyStats:
    """What a pass did."""

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def gather(store: Store, catalog: Catalog, org_id: int, *, today: dt.date) -> OrgFacts:
    """The facts of one organisation: the milestones of the directives it adopted, the
    standing of each host still carrying covered software (per directive), and its waivers
    in force."""
    adopted = store.adoptions(org_id)
    milestones = [
        MilestoneFact(d.id, d.title, m.id, m.name, due, m.action)
        for d in catalog.directives
        if d.id in adopted
        for m, due in schedule(d, adopted[d.id])
    ]
    hosts = [
        HostFact(
            line.row.host,
            line.row.hostname,
            d.id,
            line.row.state,
            tuple(line.row.products),
            line.milestone,
            line.due,
            line.overdue,
        )
        for d in catalog.directives
        for line in report_lines(store.fleet_rows(d.id, org_id=org_id), d, today=today)
        if is_open(line.row.state)
    ]
    waivers = [
        WaiverFact(w.id, w.host, w.hostname, w.directive, w.expires)
        for w in store.waivers(org_id, soonest_first=True)
        if not w.revoked and w.expires >= today
    ]
    return OrgFacts(org_id, milestones, hosts, waivers, {p.id: p.name for p in catalog.products})


def due_for(
    channel: Channel, facts: OrgFacts, *, today: dt.date, sent: set[str]
) -> list[Notification]:
    """What ``channel`` should be told now that it has not been told."""
    out: list[Notification] = []
    if Event.MILESTONE_DUE in channel.events:
        out += milestones_due(
            facts.org_id, facts.milestones, today=today, days_before=channel.days_before, sent=sent
        )
    if Event.HOST_OVERDUE in channel.events:
        out += hosts_overdue(facts.org_id, facts.hosts, sent=sent)
    if Event.NEW_PRODUCT in channel.events:
        out += new_products(facts.org_id, facts.hosts, names=facts.names, sent=sent)
    if Event.WAIVER_EXPIRING in channel.events:
        out += waivers_expiring(
            facts.org_id, facts.waivers, today=today, days_before=channel.days_before, sent=sent
        )
    return out


def notify_once(
    store: Store,
    catalog: Catalog,
    *,
    now: dt.datetime,
    org_id: int | None = None,
    send: Callable[..., str] = deliver,
) -> NotifyStats:
    """Deliver what every enabled channel (of ``org_id``, or of all) has not been told.

    One pass at a time across every server on the database (nothing is done while another
    holds the lock), so no notification goes out twice.
    """
    with store.worker_lock(NOTIFY_LOCK_KEY) as mine:
        if not mine:
            return NotifyStats()
        return _pass(store, catalog, now=now, org_id=org_id, send=send)


def _pass(
    store: Store,
    catalog: Catalog,
    *,
    now: dt.datetime,
    org_id: int | None,
    send: Callable[..., str],
) -> NotifyStats:
    notes = NotificationStore(store.engine)
    stats = NotifyStats()
    by_org: dict[int, list[Channel]] = {}
    for channel in notes.channels(org_id):
        if channel.enabled:
            by_org.setdefault(channel.org_id, []).append(channel)
    today = now.date()
    for org, channels in sorted(by_org.items()):
        facts = gather(store, catalog, org, today=today)
        for channel in channels:
            for note in due_for(channel, facts, today=today, sent=notes.sent(channel.id)):
                _deliver(store, notes, channel, note, now=now, send=send, stats=stats)
    return stats


def _deliver(
    store: Store,
    notes: NotificationStore,
    channel: Channel,
    note: Notification,
    *,
    now: dt.datetime,
    send: Callable[..., str],
    stats: NotifyStats,
) -> None:
    subject = f"notify:{channel.kind.value}:{channel.id}"
    payload: dict[str, object] = {"event": note.event.value, "subject": note.subject[:200]}
    try:
        outcome = send(channel, note, now=now)
    except NotifyError as e:
        stats.failed += 1
        stats.errors.append(str(e))
        log.warning("notification not delivered: %s", e)
        store.audit(
            actor=ACTOR, action="notify.failed", subject=subject, org=channel.org_id,
            payload={**payload, "error": str(e)[:500]}, now=now,
        )  # fmt: skip
        return
    notes.mark_sent(channel.id, note.key.split(";"), now=now)
    stats.delivered += 1
    store.audit(
        actor=ACTOR, action="notify.delivered", subject=subject, org=channel.org_id,
        payload={**payload, "delivery": outcome}, now=now,
    )  # fmt: skip


def send_test(store: Store, channel: Channel, *, actor: str, now: dt.datetime,
              send: Callable[..., str] = deliver) -> str:  # fmt: skip
    """Deliver a test notification on ``channel`` now (audit-logged); return the outcome."""
    note = Notification(
        channel.org_id,
        Event.MILESTONE_DUE,
        f"test:{now.isoformat()}",
        "evict: test notification",
        f"This is a test of the {channel.kind.value} channel {channel.target}, sent by {actor}.",
        {"test": "yes"},
    )
    outcome = send(channel, note, now=now)
    store.audit(
        actor=actor, action="notify.tested", subject=f"notify:{channel.kind.value}:{channel.id}",
        org=channel.org_id, payload={"delivery": outcome}, now=now,
    )  # fmt: skip
    return outcome
