"""Which notifications are due: pure functions of the fleet's facts, today and what was sent.

Each notification carries a key; a key already sent to a channel is never sent to it again, so
a pass can run every few minutes and each fact is told once: a milestone once per reminder
distance, a host once per milestone it misses, a product once per organisation and directive,
a waiver once per expiry date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from evict.notify.interface import Event, Notification

MAX_LISTED = 20
"""Most hosts or waivers a notification's text names; the rest are counted."""


@dataclass(frozen=True, slots=True)
class MilestoneFact:
    """A milestone of a directive the organisation follows, on its own clock."""

    directive: str
    directive_title: str
    milestone: str
    name: str
    due: dt.date
    action: str


@dataclass(frozen=True, slots=True)
class HostFact:
    """A host's standing for one directive today."""

    host: str
    hostname: str
    directive: str
    state: str
    products: tuple[str, ...]
    milestone: str
    due: dt.date
    overdue: bool


@dataclass(frozen=True, slots=True)
class WaiverFact:
    """A waiver in force."""

    id: int
    host: str
    hostname: str
    directive: str
    expires: dt.date


def milestones_due(
    org_id: int,
    milestones: Iterable[MilestoneFact],
    *,
    today: dt.date,
    days_before: int,
    sent: Container[str],
) -> list[Notification]:
    """A reminder for each milestone due within ``days_before`` days (today included)."""
    out = []
    for m in milestones:
        left = (m.due - today).days
        key = f"milestone:{m.directive}:{m.milestone}:{m.due.isoformat()}"
        if not 0 <= left <= days_before or key in sent:
            continue
        when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
        out.append(
            Notification(
                org_id,
                Event.MILESTONE_DUE,
                key,
                f"{m.directive}: {m.name} is due {when} ({m.due.isoformat()})",
                f"{m.directive_title}\n{m.name}, due {m.due.isoformat()} ({when}).\n{m.action}",
                {
                    "directive": m.directive,
                    "milestone": m.milestone,
                    "due": m.due.isoformat(),
                    "days_left": left,
                },
            )
        )
    return out


def hosts_overdue(
    org_id: int, hosts: Iterable[HostFact], *, sent: Container[str]
) -> list[Notification]:
    """One alert per directive and milestone for the hosts newly overdue on it."""
    groups: dict[tuple[str, str, dt.date], list[HostFact]] = {}
    for h in hosts:
        if h.overdue and _overdue_key(h) not in sent:
            groups.setdefault((h.directive, h.milestone, h.due), []).append(h)
    out = []
    for (directive, milestone, due), group in sorted(groups.items()):
        group.sort(key=lambda h: h.hostname or h.host)
        names = [f"- {h.hostname or h.host} ({', '.join(h.products) or h.state})" for h in group]
        more = len(names) - MAX_LISTED
        text = "\n".join(names[:MAX_LISTED]) + (f"\n... and {more} more" if more > 0 else "")
        out.append(
            Notification(
                org_id,
                Event.HOST_OVERDUE,
                ";".join(_overdue_key(h) for h in group),
                f"{directive}: {len(group)} host{'s' if len(group) != 1 else ''} overdue for "
                f"{milestone} (due {due.isoformat()})",
                f"These hosts still carry covered software after {milestone} "
                f"(due {due.isoformat()}):\n{text}",
                {
                    "directive": directive,
                    "milestone": milestone,
                    "due": due.isoformat(),
                    "hosts": [h.host for h in group],
                },
                severity="warning",
            )
        )
    return out


def _overdue_key(h: HostFact) -> str:
    return f"overdue:{h.directive}:{h.milestone}:{h.due.isoformat()}:{h.host}"


def new_products(
    org_id: int,
    hosts: Iterable[HostFact],
    *,
    names: Mapping[str, str],
    sent: Container[str],
) -> list[Notification]:
    """An alert for each covered product found on the organisation's carrying hosts
    (``hosts``) for the first time (per directive), with the hosts that carry it."""
    found: dict[tuple[str, str], list[HostFact]] = {}
    for h in hosts:
        for product in h.products:
            key = f"product:{h.directive}:{product}"
            if key not in sent:
                found.setdefault((h.directive, product), []).append(h)
    out = []
    for (directive, product), group in sorted(found.items()):
        name = names.get(product, product)
        listed = ", ".join(sorted(h.hostname or h.host for h in group)[:MAX_LISTED])
        out.append(
            Notification(
                org_id,
                Event.NEW_PRODUCT,
                f"product:{directive}:{product}",
                f"{directive}: {name} found on {len(group)} host{'s' if len(group) != 1 else ''}",
                f"{name} ({product}), covered by {directive}, was found for the first time on: "
                f"{listed}" + (" ..." if len(group) > MAX_LISTED else ""),
                {"directive": directive, "product": product, "hosts": len(group)},
                severity="warning",
            )
        )
    return out


def waivers_expiring(
    org_id: int,
    waivers: Sequence[WaiverFact],
    *,
    today: dt.date,
    days_before: int,
    sent: Container[str],
) -> list[Notification]:
    """A reminder for each waiver that ends within ``days_before`` days."""
    out = []
    for w in waivers:
        left = (w.expires - today).days
        key = f"waiver:{w.id}:{w.expires.isoformat()}"
        if not 0 <= left <= days_before or key in sent:
            continue
        out.append(
            Notification(
                org_id,
                Event.WAIVER_EXPIRING,
                key,
                f"{w.directive}: the waiver of {w.hostname or w.host} ends "
                f"{w.expires.isoformat()} ({left} day{'s' if left != 1 else ''} left)",
                f"The waiver of {w.hostname or w.host} for {w.directive} ends on "
                f"{w.expires.isoformat()}: renew it with a new justification, or finish the "
                "removal before then.",
                {"directive": w.directive, "host": w.host, "expires": w.expires.isoformat()},
            )
        )
    return out
