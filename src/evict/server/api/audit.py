"""The audit chain: read the organisation's events; verify the whole chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evict.compliance.audit import check_anchors
from evict.model.records import NotFoundError
from evict.server.deps import Caller, Ctx
from evict.server.errors import Forbidden
from evict.server.models import AuditEventModel, AuditPage, ErrorResponse, VerifyResponse
from evict.service.audit import signed_head as sign
from evict.signing import read_anchors

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}


@router.get("", response_model=AuditPage, responses=ERRORS, summary="Read audit events")
def list_events(
    ctx: Ctx,
    caller: Caller,
    subject: Annotated[str | None, Query(description="e.g. host:ID, user:NAME")] = None,
    action: Annotated[str | None, Query(description="Prefix, e.g. state. or waiver.")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> AuditPage:
    """The organisation's events in chain order (org-wide users only: events are not per unit;
    a user limited to an org unit reads its hosts' timelines on the hosts themselves)."""
    if caller.org_unit_id is not None:
        raise Forbidden("the organisation's audit trail is for users not limited to an org unit")
    events = ctx.store.audit_events(
        org_id=caller.org_id, subject=subject, action_prefix=action, after=after, limit=limit
    )
    return AuditPage(
        events=[AuditEventModel.model_validate(e.to_json() | {"hash": e.hash}) for e in events],
        next_after=events[-1].seq if len(events) == limit else None,
    )


@router.get("/verify", response_model=VerifyResponse, responses=ERRORS, summary="Verify the chain")
def verify(ctx: Ctx, caller: Caller) -> VerifyResponse:
    """Recompute the whole chain; name the first altered, deleted or reordered event, and check
    it against the signed heads of the server's anchor file (events cut off the end, or
    rewritten and re-chained). A missing head row is a 503."""

    anchors = []
    path = ctx.settings.anchor_path
    if ctx.audit_key is not None and path is not None and path.exists():
        anchors = read_anchors(path)
        problems = check_anchors(anchors, ctx.audit_key.public_key())
        if problems:
            body = ctx.store.verify_audit().to_json()
            body["ok"] = False
            body["first_bad"] = {"seq": None, "fault": "anchor", "message": problems[0]}
            return VerifyResponse.model_validate(body)
    return VerifyResponse.model_validate(ctx.store.verify_audit(anchors).to_json())


@router.get(
    "/head",
    response_model=dict[str, Any],
    responses=ERRORS,
    summary="The chain head, signed now",
)
def signed_head(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The recorded head signed with the audit key, to keep outside the server as an anchor
    (one line of an anchor file). 404 when the server has no audit key."""

    if ctx.audit_key is None:
        raise NotFoundError("this server has no audit key: its heads are not signed")
    return sign(ctx.store, ctx.audit_key, ctx.now()).to_json()
