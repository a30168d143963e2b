"""Waivers: every exception granted, soonest expiry first, with expiry warnings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from evict.server.deps import Ctx
from evict.server.views.web import Dash, ViewerDep
from evict.store.dashboard import DashboardQueries, WaiverView

router = APIRouter(include_in_schema=False)

WARN_DAYS = 14
"""A waiver expiring within this many days is flagged."""


@dataclass(frozen=True, slots=True)
class WaiverStatus:
    """A waiver and where it stands today."""

    waiver: WaiverView
    status: str
    """``revoked``, ``expired``, ``expiring`` (within :data:`WARN_DAYS`) or ``active``."""
    days_left: int


def waiver_status(waiver: WaiverView, today: dt.date) -> WaiverStatus:
    """Classify ``waiver`` as of ``today`` (a waiver ends on its expiry date)."""
    days = (waiver.expires - today).days
    if waiver.revoked:
        status = "revoked"
    elif days <= 0:
        status = "expired"
    elif days <= WARN_DAYS:
        status = "expiring"
    else:
        status = "active"
    return WaiverStatus(waiver, status, days)


@router.get("/waivers")
def waivers(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """The organisation's waivers with their status."""
    today = ctx.today()
    rows = [
        waiver_status(w, today)
        for w in DashboardQueries(ctx.store).waivers(
            viewer.principal.org_id, unit_id=viewer.unit_id
        )
    ]
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("expired", "expiring", "active")}
    return dashboard.render(
        request,
        "waivers.html",
        viewer=viewer,
        title="Waivers",
        section="waivers",
        rows=rows,
        counts=counts,
        warn_days=WARN_DAYS,
        today=today,
    )
