"""Directives as the caller's organisation follows them: clocks, adoption, summaries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from evict.compliance.milestones import current_milestone
from evict.report.fleet import summarise_counts
from evict.server.api.hosts import unit_scope
from evict.server.deps import Admin, Caller, Ctx
from evict.server.errors import Forbidden
from evict.server.models import (
    AdoptRequest,
    DirectiveModel,
    ErrorResponse,
    MilestoneModel,
    SummaryModel,
)

router = APIRouter(prefix="/api/v1/directives", tags=["directives"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}


@router.get("", response_model=list[DirectiveModel], responses=ERRORS, summary="List directives")
def list_directives(ctx: Ctx, caller: Caller) -> list[DirectiveModel]:
    """Every directive of the catalog with the organisation's clock and current milestone."""
    adopted = ctx.store.adoptions(caller.org_id)
    out = []
    for d in ctx.catalog.directives:
        start = adopted.get(d.id, d.start)
        status = current_milestone(d, today=ctx.today(), start=start)
        out.append(
            DirectiveModel(
                id=d.id,
                title=d.title,
                authority=d.authority,
                start=start,
                adopted=d.id in adopted,
                milestone=MilestoneModel.model_validate(status.to_json()),
            )
        )
    return out


@router.get(
    "/{directive}/summary",
    response_model=SummaryModel,
    responses=ERRORS,
    summary="Counts per state and org unit, milestone, overdue hosts",
)
def summary(
    directive: str,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> SummaryModel:
    """How the organisation stands against one directive today."""
    d = ctx.directive(directive)
    counts = ctx.store.state_counts(d.id, caller.org_id, unit_id=unit_scope(ctx, caller, org_unit))
    start = ctx.store.adoptions(caller.org_id).get(d.id)
    result = summarise_counts(counts, d, today=ctx.today(), start=start)
    return SummaryModel.model_validate(result.to_json())


@router.post(
    "/{directive}/adopt",
    response_model=DirectiveModel,
    responses=ERRORS,
    summary="Adopt a directive with the organisation's own start date",
)
def adopt(directive: str, body: AdoptRequest, ctx: Ctx, caller: Admin) -> DirectiveModel:
    """Record the organisation's start date; its milestones become due from it."""
    if caller.org_unit_id is not None:
        raise Forbidden("an admin limited to one org unit cannot set the organisation's clock")
    d = ctx.directive(directive)
    org = ctx.store.org_by_id(caller.org_id)
    ctx.store.adopt(org.name, d.id, body.start, actor=caller.actor, now=ctx.now())
    status = current_milestone(d, today=ctx.today(), start=body.start)
    return DirectiveModel(
        id=d.id,
        title=d.title,
        authority=d.authority,
        start=body.start,
        adopted=True,
        milestone=MilestoneModel.model_validate(status.to_json()),
    )
