"""Notifications: where the organisation's reminders and alerts go (e-mail, webhook, syslog).

Everyone signed in sees the channels; only an organisation-wide admin adds, removes or tests
one. Secrets (a webhook's HMAC key, an SMTP password) are never shown back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from evict.model.records import NotFoundError, Role
from evict.notify.interface import ChannelKind, Event, NotifyError, PayloadStyle
from evict.server.deps import Ctx
from evict.server.views.web import BadRequest, Dash, PageForbidden, PageNotFound, Viewer, ViewerDep
from evict.service.notify import send_test

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form(max_length=500)]

EVENT_NAMES = {
    Event.MILESTONE_DUE: "A milestone is due within the reminder distance",
    Event.HOST_OVERDUE: "Hosts become overdue",
    Event.NEW_PRODUCT: "A covered product is found for the first time",
    Event.WAIVER_EXPIRING: "A waiver ends within the reminder distance",
}


def _require_admin(viewer: Viewer) -> None:
    if viewer.principal.role is not Role.ADMIN or viewer.unit_id is not None:
        raise PageForbidden("only an organisation-wide admin sets up notifications")


def _page(
    request: Request, ctx: Ctx, dashboard: Dash, viewer: Viewer, *, message: str = "",
    error: str = "", status: int = 200,
) -> Response:  # fmt: skip
    channels = ctx.fleet.notifications.channels(viewer.principal.org_id)
    return dashboard.render(
        request,
        "notifications.html",
        viewer=viewer,
        status_code=status,
        title="Notifications",
        section="notifications",
        channels=channels,
        event_names=EVENT_NAMES,
        kinds=[k.value for k in ChannelKind],
        styles=[s.value for s in PayloadStyle],
        can_edit=viewer.principal.role is Role.ADMIN and viewer.unit_id is None,
        message=message or request.query_params.get("done", ""),
        error=error,
    )


@router.get("/notifications")
def notifications(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """The organisation's notification channels, and a form to add one."""
    return _page(request, ctx, dashboard, viewer)


@router.post("/notifications")
async def add_channel(request: Request, ctx: Ctx, viewer: ViewerDep) -> Response:
    """Add a channel (admins)."""
    form = await request.form()
    viewer.check_csrf(str(form.get("csrf", "")))
    _require_admin(viewer)
    kind_value, target = str(form.get("kind", "")), str(form.get("target", "")).strip()[:500]
    try:
        kind = ChannelKind(kind_value)
        events = {Event(str(e)) for e in form.getlist("events")}
        days = int(str(form.get("days_before", "7")))
    except ValueError as e:
        raise BadRequest(f"a field cannot be used: {e}") from e
    if not target or not events or not 0 <= days <= 365:
        raise BadRequest("give a target, at least one event, and 0 to 365 days before")
    options: dict[str, str] = {}
    if kind is ChannelKind.EMAIL:
        options = {"smtp": str(form.get("smtp", "")) or "localhost:25",
                   "sender": str(form.get("sender", "")) or "evict@localhost"}  # fmt: skip
    elif kind is ChannelKind.WEBHOOK:
        if not target.startswith(("https://", "http://")):
            raise BadRequest("a webhook target is an http(s) URL")
        options = {"style": str(form.get("style", "json"))}
        if form.get("secret"):
            options["secret"] = str(form.get("secret"))[:500]
    else:
        options = {"transport": "tcp" if form.get("transport") == "tcp" else "udp"}
    now = ctx.now()
    channel = ctx.fleet.notifications.add(
        viewer.principal.org_id, kind=kind, target=target, events=events, days_before=days,
        options=options, actor=viewer.principal.actor, now=now,
    )  # fmt: skip
    ctx.store.audit(
        actor=viewer.principal.actor, action="notify.channel-added",
        subject=f"notify:{kind.value}:{channel.id}", org=viewer.principal.org_id,
        payload={"target": target, "events": sorted(e.value for e in events)}, now=now,
    )  # fmt: skip
    return RedirectResponse("/notifications?done=added", status_code=303)


@router.post("/notifications/{channel_id}/remove")
def remove_channel(channel_id: int, ctx: Ctx, viewer: ViewerDep, csrf: Field = "") -> Response:
    """Remove a channel (admins)."""
    viewer.check_csrf(csrf)
    _require_admin(viewer)
    try:
        channel = ctx.fleet.notifications.remove(viewer.principal.org_id, channel_id)
    except NotFoundError as e:
        raise PageNotFound(str(e)) from e
    ctx.store.audit(
        actor=viewer.principal.actor, action="notify.channel-removed",
        subject=f"notify:{channel.kind.value}:{channel.id}", org=viewer.principal.org_id,
        payload={"target": channel.target}, now=ctx.now(),
    )  # fmt: skip
    return RedirectResponse("/notifications?done=removed", status_code=303)


@router.post("/notifications/{channel_id}/test")
def test_channel(
    channel_id: int, request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep,
    csrf: Field = "",
) -> Response:  # fmt: skip
    """Send a test notification on a channel now (admins); the outcome shows on the page."""
    viewer.check_csrf(csrf)
    _require_admin(viewer)
    try:
        channel = ctx.fleet.notifications.get(viewer.principal.org_id, channel_id)
        outcome = send_test(ctx.store, channel, actor=viewer.principal.actor, now=ctx.now())
    except NotFoundError as e:
        raise PageNotFound(str(e)) from e
    except NotifyError as e:
        return _page(request, ctx, dashboard, viewer, error=str(e), status=502)
    return _page(request, ctx, dashboard, viewer, message=f"test sent: {outcome}")
