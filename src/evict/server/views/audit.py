"""The audit log: the organisation's events newest first, filtered, with the chain's verdict.

The verdict recomputes the whole chain, which is long at scale, so it goes through the dashboard's
:class:`~evict.server.views.cache.Refresher` keyed by the chain head and recomputed at least every
:data:`VERIFY_EVERY` seconds (an edited event does not move the head); the page says which head
it covers and when it was verified.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from evict.server.deps import Ctx
from evict.server.views.web import BadRequest, Dash, ViewerDep, page_url
from evict.store.dashboard import DashboardQueries

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
"""Events per page."""

ACTIONS: tuple[tuple[str, str], ...] = (
    ("state.", "state changes"),
    ("waiver.", "waivers"),
    ("determination.", "scope determinations"),
    ("inventory.", "inventories"),
    ("host.", "enrolments"),
    ("token.", "tokens and sign-ins"),
    ("user.", "users"),
    ("directive.", "directive adoptions"),
    ("org.", "organisation"),
    ("unit.", "org units"),
)
"""The action filter's choices: prefixes of the actions evict records."""

VERIFY_EVERY = 60.0
"""Seconds after which the chain is verified again even when no event was added."""

Text = Annotated[str, Query(max_length=300)]


def _day(value: str, what: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise BadRequest(f"{what}: give a date as YYYY-MM-DD") from e


@router.get("/audit")
def audit(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    actor: Text = "",
    action: Text = "",
    host: Text = "",
    since: Text = "",
    until: Text = "",
    before: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Events newest first (filter by actor, action, host, dates) and the chain's verdict."""
    org_id, unit_id = viewer.principal.org_id, viewer.unit_id
    queries = DashboardQueries(ctx.store)
    if before and not before.isdigit():
        raise BadRequest("before: give an event number")
    subject = None
    host_missing = False
    if host:
        identifier = queries.host_identifier(org_id, host.strip(), unit_id=unit_id)
        host_missing = identifier is None
        subject = f"host:{identifier}"
    events = (
        []
        if host_missing
        else queries.audit_page(
            org_id,
            unit_id=unit_id,
            actor=actor.strip() or None,
            action=action or None,
            subject=subject,
            since=_day(since, "since"),
            until=_day(until, "until"),
            before=int(before) if before else None,
            limit=PAGE_SIZE + 1,
        )
    )
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    params = {"actor": actor, "action": action, "host": host, "since": since, "until": until}
    head = ctx.store.audit_head()
    verdict = dashboard.cache.get(
        ("verify",), head, ctx.store.verify_audit, now=ctx.now(), max_age=VERIFY_EVERY
    )
    identifiers = sorted({e.subject[5:] for e in events if e.subject.startswith("host:")})
    hosts = queries.host_names(org_id, identifiers, unit_id=unit_id)
    return dashboard.render(
        request,
        "audit.html",
        viewer=viewer,
        title="Audit log",
        section="audit",
        events=events,
        params=params,
        actions=ACTIONS,
        host_missing=host_missing,
        hosts=hosts,
        verdict=verdict,
        next_url=page_url("/audit", params, before=events[-1].seq) if more and events else "",
        first_url=page_url("/audit", params) if before else "",
        headers=None if verdict else {"Refresh": "10"},
    )
