"""The forms that act on one host: move it, waive it, let it enrol again, review its held
inventory.

Each is a POST form carrying the session's CSRF token; read-only roles get no form, and a forged
POST is refused (403) before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from evict.catalog.interface import CatalogLookupError, Directive
from evict.compliance.lifecycle import LifecycleError, WaiverError
from evict.model.records import ConflictError, Role
from evict.model.states import State
from evict.server.deps import Ctx, ServerContext
from evict.server.views.host_page import render_host, visible_host
from evict.server.views.web import BadRequest, Dash, PageForbidden, Viewer, ViewerDep
from evict.service import states as state_service
from evict.service import waivers as waiver_service

router = APIRouter(include_in_schema=False)


def _directive(ctx: ServerContext, directive: str) -> Directive:
    try:
        return ctx.catalog.directive(directive)
    except CatalogLookupError as e:
        raise BadRequest(f"no directive {directive!r} in the catalog") from e


Field = Annotated[str, Form(max_length=5000)]
Directives = Annotated[list[str] | None, Form()]


def _directives(ctx: ServerContext, wanted: Sequence[str] | None) -> list[Directive]:
    """The directives a form ticked (each once, in catalog order); :class:`BadRequest` when none
    is, or one is unknown."""
    if not wanted:
        raise BadRequest("tick at least one directive")
    ids = {_directive(ctx, w).id for w in wanted[: len(ctx.catalog.directives) + 1]}
    return [d for d in ctx.catalog.directives if d.id in ids]


def _form(**values: str | list[str] | None) -> dict[str, Any]:
    return {k: v if v is not None else "" for k, v in values.items()}


@router.post("/hosts/{host_id}/state")
def move_state(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    directive: Directives = None,
    to: Field = "",
    reason: Field = "",
) -> Response:
    """Move a host to planned, removing or back to identified (admins and operators), for each
    directive ticked."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    info = visible_host(ctx, viewer, host_id)
    chosen = _directives(ctx, directive)
    form = _form(directive=[d.id for d in chosen], to=to, reason=reason)
    now = ctx.now()
    refused = []
    for d in chosen:
        try:
            state_service.change_state(
                ctx.store, d.id, info, to, reason=reason, actor=viewer.principal.actor, now=now
            )
        except (LifecycleError, ConflictError) as e:
            refused.append(f"{d.id}: {e}")
    if len(refused) < len(chosen):
        dashboard.invalidate(viewer.principal.org_id)
    if refused:
        status = 422 if to not in {s.value for s in State} else 409
        return render_host(
            request, ctx, dashboard, viewer, host_id, error="; ".join(refused), status=status,
            form=form,
        )  # fmt: skip
    return RedirectResponse(f"/hosts/{host_id}?done=state", status_code=303)


def _require_admin(viewer: Viewer) -> None:
    if viewer.principal.role is not Role.ADMIN:
        raise PageForbidden("only an admin may do this")


@router.post("/hosts/{host_id}/reenroll")
def allow_reenroll(
    host_id: int,
    ctx: Ctx,
    viewer: ViewerDep,
    csrf: Field = "",
) -> Response:
    """Let the host enrol again once with its unit's secret, within seven days (admins)."""
    viewer.check_csrf(csrf)
    _require_admin(viewer)
    info = visible_host(ctx, viewer, host_id)
    ctx.store.allow_reenroll(info, actor=viewer.principal.actor, now=ctx.now())
    return RedirectResponse(f"/hosts/{host_id}?done=reenroll", status_code=303)


@router.post("/hosts/{host_id}/held")
def review_held(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    decision: Field = "",
) -> Response:
    """Accept or reject the inventory held for review (admins)."""
    viewer.check_csrf(csrf)
    _require_admin(viewer)
    info = visible_host(ctx, viewer, host_id)
    if decision not in ("accept", "reject"):
        raise BadRequest("decision: accept or reject")
    accept = decision == "accept"
    if not ctx.store.review_held(info, accept=accept, actor=viewer.principal.actor, now=ctx.now()):
        return render_host(
            request,
            ctx,
            dashboard,
            viewer,
            host_id,
            error="No inventory of this host is held for review any more.",
            status=409,
        )
    if accept:
        ctx.wake_worker()
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse(f"/hosts/{host_id}?done=held-{decision}", status_code=303)


@router.post("/hosts/{host_id}/waive")
def waive_host(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    directive: Directives = None,
    justification: Field = "",
    grounds: Field = "",
    approver: Field = "",
    expires: Field = "",
) -> Response:
    """Waive one host for each directive ticked, with justification, approver and expiry."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    info = visible_host(ctx, viewer, host_id)
    chosen = _directives(ctx, directive)
    form = _form(
        directive=[d.id for d in chosen], justification=justification, grounds=grounds,
        approver=approver, expires=expires,
    )  # fmt: skip

    def refuse(message: str, status: int) -> Response:
        return render_host(
            request, ctx, dashboard, viewer, host_id, error=message, status=status, form=form
        )

    try:
        until = dt.date.fromisoformat(expires)
    except ValueError:
        return refuse("the expiry date must be a date (YYYY-MM-DD)", 422)
    now = ctx.now()
    try:
        # Every waiver is checked before any is granted: a form error changes nothing.
        for d in chosen:
            waiver_service.check(
                d, info.identifier, justification=justification, approver=approver,
                expires=until, grounds=grounds_for(d, grounds), today=now.date(),
            )  # fmt: skip
    except WaiverError as e:
        return refuse(f"{d.id}: {e}" if len(chosen) > 1 else str(e), 422)
    refused = []
    status = 409
    for d in chosen:
        try:
            waiver_service.grant(
                ctx.store, d, info, justification=justification, approver=approver,
                expires=until, grounds=grounds_for(d, grounds), actor=viewer.principal.actor,
                now=now,
            )  # fmt: skip
        except (LifecycleError, ConflictError) as e:
            status = 422 if isinstance(e, WaiverError) else status
            refused.append(f"{d.id}: {e}" if len(chosen) > 1 else str(e))
    if len(refused) < len(chosen):
        dashboard.invalidate(viewer.principal.org_id)
    if refused:
        return refuse("; ".join(refused), status)
    return RedirectResponse(f"/hosts/{host_id}?done=waiver", status_code=303)


def grounds_for(directive: Directive, grounds: str) -> str:
    """The grounds a form gave, for a directive that asks for grounds (others take none)."""
    return grounds if directive.exception_grounds else ""
