"""Waivers: every exception granted, soonest expiry first, with expiry warnings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from evict.compliance.lifecycle import LifecycleError
from evict.model.records import ConflictError, NotFoundError, WaiverInfo
from evict.server.deps import Ctx
from evict.server.views.web import Dash, PageNotFound, Viewer, ViewerDep
from evict.service import waivers as waiver_service

router = APIRouter(include_in_schema=False)

WARN_DAYS = 14
"""A waiver expiring within this many days is flagged."""


@dataclass(frozen=True, slots=True)
class WaiverStatus:
    """A waiver and where it stands today."""

    waiver: WaiverInfo
    status: str
    """``revoked``, ``expired``, ``expiring`` (within :data:`WARN_DAYS`) or ``active``."""
    days_left: int


def waiver_status(waiver: WaiverInfo, today: dt.date) -> WaiverStatus:
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


Field = Annotated[str, Form(max_length=5000)]


@router.get("/waivers")
def waivers(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """The organisation's waivers with their status, and revoke and renew forms for writers."""
    return _page(request, ctx, dashboard, viewer)


def _page(
    request: Request, ctx: Ctx, dashboard: Dash, viewer: Viewer, *, error: str = "",
    status: int = 200,
) -> Response:  # fmt: skip
    today = ctx.today()
    rows = [
        waiver_status(w, today)
        for w in ctx.store.waivers(
            viewer.principal.org_id, unit_id=viewer.unit_id, soonest_first=True
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
        error=error,
        status_code=status,
        done=request.query_params.get("done", ""),
    )


def _waiver(ctx: Ctx, viewer: Viewer, waiver_id: int) -> WaiverInfo:
    """The viewer's organisation's (and unit's) waiver, or a 404 page."""
    try:
        return ctx.store.waiver(viewer.principal.org_id, waiver_id, unit_id=viewer.unit_id)
    except NotFoundError as e:
        raise PageNotFound(str(e)) from e


@router.post("/waivers/{waiver_id}/revoke")
def revoke(
    waiver_id: int, request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep,
    csrf: Field = "", reason: Field = "",
) -> Response:  # fmt: skip
    """End a waiver now, with the reason (writers)."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    _waiver(ctx, viewer, waiver_id)
    try:
        waiver_service.revoke(
            ctx.store, viewer.principal.org_id, waiver_id, reason=reason,
            actor=viewer.principal.actor, now=ctx.now(),
        )  # fmt: skip
    except (LifecycleError, ConflictError) as e:
        return _page(request, ctx, dashboard, viewer, error=str(e), status=409)
    dashboard.invalidate(viewer.principal.org_id)
    ctx.wake_worker()
    return RedirectResponse("/waivers?done=revoked", status_code=303)


@router.post("/waivers/{waiver_id}/renew")
def renew(
    waiver_id: int, request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep,
    csrf: Field = "", expires: Field = "", justification: Field = "", approver: Field = "",
) -> Response:  # fmt: skip
    """Renew a waiver until a later date, with a new justification and approver (writers)."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    old = _waiver(ctx, viewer, waiver_id)
    try:
        until = dt.date.fromisoformat(expires)
    except ValueError:
        return _page(
            request, ctx, dashboard, viewer, error="give the new end as YYYY-MM-DD", status=422
        )
    host = ctx.store.host(viewer.principal.org_id, old.host)
    try:
        waiver_service.renew(
            ctx.store, ctx.directive(old.directive), host, old, justification=justification,
            approver=approver, expires=until, actor=viewer.principal.actor, now=ctx.now(),
        )  # fmt: skip
    except (LifecycleError, ConflictError) as e:
        return _page(request, ctx, dashboard, viewer, error=str(e), status=422)
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse("/waivers?done=renewed", status_code=303)
