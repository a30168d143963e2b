"""Waivers: one host, one directive, a justification, an approver and an expiry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evict.server.api.hosts import find_host
from evict.server.deps import Caller, Ctx, Writer
from evict.server.models import (
    ErrorResponse,
    WaiverModel,
    WaiverRenewRequest,
    WaiverRequest,
    WaiverRevokeRequest,
)
from evict.service import waivers

router = APIRouter(prefix="/api/v1/waivers", tags=["waivers"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
}


@router.get("", response_model=list[WaiverModel], responses=ERRORS, summary="List waivers")
def list_waivers(
    ctx: Ctx, caller: Caller, host: Annotated[str | None, Query()] = None
) -> list[WaiverModel]:
    """The organisation's waivers, newest first (optionally for one host)."""
    found = ctx.store.waivers(caller.org_id, host=host, unit_id=caller.org_unit_id)
    return [WaiverModel.model_validate(w.to_json()) for w in found]


@router.post(
    "", response_model=WaiverModel, status_code=201, responses=ERRORS, summary="Waive one host"
)
def create_waiver(body: WaiverRequest, ctx: Ctx, caller: Writer) -> WaiverModel:
    """Put one host under a waiver for one directive; a blanket waiver is refused."""
    d = ctx.directive(body.directive)
    waivers.check(
        d, body.host, justification=body.justification, approver=body.approver,
        expires=body.expires, grounds=body.grounds, today=ctx.today(),
    )  # fmt: skip
    info = find_host(ctx, caller, body.host)
    waivers.grant(
        ctx.store, d, info, justification=body.justification, approver=body.approver,
        expires=body.expires, grounds=body.grounds, actor=caller.actor, now=ctx.now(),
    )  # fmt: skip
    return WaiverModel.model_validate(
        ctx.store.waivers(caller.org_id, host=info.identifier)[0].to_json()
    )


@router.post(
    "/{waiver_id}/revoke",
    response_model=WaiverModel,
    responses=ERRORS,
    summary="Revoke a waiver, with the reason",
)
def revoke_waiver(
    waiver_id: int, body: WaiverRevokeRequest, ctx: Ctx, caller: Writer
) -> WaiverModel:
    """End the waiver now; the host returns to its earlier state at the next evaluation."""
    ctx.store.waiver(caller.org_id, waiver_id, unit_id=caller.org_unit_id)
    revoked = waivers.revoke(
        ctx.store, caller.org_id, waiver_id, reason=body.reason, actor=caller.actor, now=ctx.now()
    )
    ctx.wake_worker()
    return WaiverModel.model_validate(revoked.to_json())


@router.post(
    "/{waiver_id}/renew",
    response_model=WaiverModel,
    status_code=201,
    responses=ERRORS,
    summary="Renew a waiver until a later date, with a new justification",
)
def renew_waiver(waiver_id: int, body: WaiverRenewRequest, ctx: Ctx, caller: Writer) -> WaiverModel:
    """Grant the same host a new waiver until a later date; the old one is retired."""
    old = ctx.store.waiver(caller.org_id, waiver_id, unit_id=caller.org_unit_id)
    info = find_host(ctx, caller, old.host)
    waivers.renew(
        ctx.store, ctx.directive(old.directive), info, old, justification=body.justification,
        approver=body.approver, expires=body.expires, actor=caller.actor, now=ctx.now(),
    )  # fmt: skip
    return WaiverModel.model_validate(
        ctx.store.waivers(caller.org_id, host=info.identifier)[0].to_json()
    )
