"""Hosts: a filtered, keyset-paged listing; one host's findings, states and timeline; moves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evict.model.records import HostInfo, InvalidValueError, NotFoundError, Principal
from evict.server.deps import Admin, Caller, Ctx, ServerContext, Writer
from evict.server.detail import coverage_model, host_detail, host_milestones
from evict.server.models import (
    ErrorResponse,
    HeldDecided,
    HeldDecision,
    HostDetail,
    HostPage,
    HostSummary,
    ReenrollAllowed,
    StateChangeResponse,
    StateRequest,
)
from evict.service import states as state_service

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}


def unit_scope(ctx: ServerContext, caller: Principal, org_unit: str | None) -> int | None:
    """The org unit a query is limited to: the caller's own, or the one asked for."""
    if caller.org_unit_id is not None:
        return caller.org_unit_id
    if org_unit:
        return ctx.store.unit_id(caller.org_id, org_unit)
    return None


def find_host(ctx: ServerContext, caller: Principal, host: str) -> HostInfo:
    """A host the caller may see (404 otherwise)."""
    return ctx.store.host(caller.org_id, host, unit_id=caller.org_unit_id)


@router.get("", response_model=HostPage, responses=ERRORS, summary="List hosts")
def list_hosts(
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
    directive: Annotated[str | None, Query(description="With state: filter on it.")] = None,
    state: Annotated[str | None, Query(description="A lifecycle state, or pending.")] = None,
    product: Annotated[str | None, Query(description="A catalog product id.")] = None,
    platform: Annotated[str | None, Query()] = None,
    name: Annotated[str | None, Query(description="Prefix of hostname or identifier.")] = None,
    after: Annotated[int, Query(ge=0, description="next_after of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HostPage:
    """One page of the organisation's hosts in a stable order, with their states."""
    if state and not directive:
        raise InvalidValueError("filtering by state needs a directive")
    if directive:
        ctx.directive(directive)
    if product:
        ctx.catalog.product(product)
    rows = ctx.store.list_hosts(
        caller.org_id,
        unit_id=unit_scope(ctx, caller, org_unit),
        directive=directive,
        state=state,
        product=product,
        platform=platform,
        name=name,
        catalog_version=ctx.catalog.version,
        after=after,
        limit=limit,
    )
    hosts = [
        HostSummary(
            host=r.identifier,
            hostname=r.hostname,
            platform=r.platform,
            org_unit=r.org_unit,
            last_seen=r.last_seen,
            observations=r.observations,
            states=dict(r.states),
            milestones=host_milestones(ctx, caller.org_id, dict(r.states)),
            coverage=coverage_model(r.platform, r.kinds) if r.last_seen else None,
        )
        for r in rows
    ]
    return HostPage(hosts=hosts, next_after=rows[-1].id if len(rows) == limit else None)


@router.post(
    "/{host:path}/state",
    response_model=StateChangeResponse,
    responses={**ERRORS, 409: {"model": ErrorResponse}},
    summary="Move a host to planned, removing or back to identified",
)
def change_state(host: str, body: StateRequest, ctx: Ctx, caller: Writer) -> StateChangeResponse:
    """Apply an operator's move; states set by evidence or waivers are refused (409)."""
    ctx.directive(body.directive)
    info = find_host(ctx, caller, host)
    change = state_service.change_state(
        ctx.store, body.directive, info, body.to, reason=body.reason, actor=caller.actor,
        now=ctx.now(),
    )  # fmt: skip
    return StateChangeResponse(
        host=info.identifier,
        directive=body.directive,
        from_state=change.old.state.value if change.old else None,
        to=change.new.state.value,
        reason=change.new.reason,
        since=change.new.since,
    )


@router.post(
    "/{host:path}/reenroll",
    response_model=ReenrollAllowed,
    responses=ERRORS,
    summary="Allow a host to enrol again once (admins)",
)
def allow_reenroll(host: str, ctx: Ctx, caller: Admin) -> ReenrollAllowed:
    """Let the host enrol again with its unit's secret, once, within seven days.

    Without this, an enrolled host seen recently can enrol again only with its current
    credential: the unit's secret alone must not let anyone take a host over.
    """
    info = find_host(ctx, caller, host)
    until = ctx.store.allow_reenroll(info, actor=caller.actor, now=ctx.now())
    return ReenrollAllowed(host=info.identifier, until=until)


@router.post(
    "/{host:path}/held",
    response_model=HeldDecided,
    responses=ERRORS,
    summary="Accept or reject the inventory held for review (admins)",
)
def review_held(host: str, body: HeldDecision, ctx: Ctx, caller: Admin) -> HeldDecided:
    """Decide on an inventory that would have dropped every observation of the host at once."""
    info = find_host(ctx, caller, host)
    accept = body.decision == "accept"
    if not ctx.store.review_held(info, accept=accept, actor=caller.actor, now=ctx.now()):
        raise NotFoundError(f"no inventory of {info.identifier!r} is held for review")
    if accept:
        ctx.wake_worker()
    return HeldDecided(host=info.identifier, decision=body.decision)


@router.get(
    "/{host:path}",
    response_model=HostDetail,
    responses=ERRORS,
    summary="One host: findings with evidence, states, timeline",
)
def get_host(host: str, ctx: Ctx, caller: Caller) -> HostDetail:
    """The host's current findings (from its stored inventory), states and audit timeline."""
    return host_detail(ctx, find_host(ctx, caller, host))
