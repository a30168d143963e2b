"""Reports of one directive: CSV (one line per host) and JSON (summary and hosts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from evict.report.fleet import report_json, report_lines, to_csv
from evict.server.api.hosts import unit_scope
from evict.server.deps import Caller, Ctx
from evict.server.models import ErrorResponse

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}


@router.get(
    "/{directive}.csv",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "One line per host."}},
    summary="The directive's fleet report as CSV",
)
def report_csv(
    directive: str,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> StreamingResponse:
    """One line per host with its state, products, milestone, due date and last check-in."""
    d = ctx.directive(directive)
    rows = ctx.store.fleet_rows(
        d.id, org_id=caller.org_id, unit_id=unit_scope(ctx, caller, org_unit)
    )
    lines = report_lines(rows, d, today=ctx.today())
    return StreamingResponse(
        to_csv(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{d.id}.csv"'},
    )


@router.get(
    "/{directive}.json",
    response_class=JSONResponse,
    responses=ERRORS,
    summary="The directive's fleet report as JSON",
)
def report_as_json(
    directive: str,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> JSONResponse:
    """The summary and one object per host (the same fields as the CSV)."""
    d = ctx.directive(directive)
    rows = ctx.store.fleet_rows(
        d.id, org_id=caller.org_id, unit_id=unit_scope(ctx, caller, org_unit)
    )
    start = ctx.store.adoptions(caller.org_id).get(d.id)
    body = report_json(
        report_lines(rows, d, today=ctx.today()),
        d,
        today=ctx.today(),
        generated_at=ctx.now(),
        start=start,
    )
    return JSONResponse(body)
