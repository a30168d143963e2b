"""Waivers: one host, one directive, a justification, an approver and an expiry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evict.compliance.lifecycle import Waiver
from evict.server.api.hosts import find_host
from evict.server.deps import Caller, Ctx, Writer
from evict.server.models import ErrorResponse, WaiverModel, WaiverRequest

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
    waiver = Waiver(body.host, d.id, body.justification, body.approver, body.expires, body.grounds)
    waiver.check(ctx.today(), allowed_grounds=d.exception_grounds)
    info = find_host(ctx, caller, body.host)
    ctx.store.waive(
        info,
        waiver,
        actor=caller.actor,
        now=ctx.now(),
        today=ctx.today(),
        allowed_grounds=d.exception_grounds,
    )
    return WaiverModel.model_validate(
        ctx.store.waivers(caller.org_id, host=info.identifier)[0].to_json()
    )
