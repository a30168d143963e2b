"""Reports of one directive: CSV (one line per host) and JSON (summary and hosts); and the
directive's own reports (day 30, day 60, status, exceptions, FAR 52.204-23) in csv, json, html and
pdf, built as :mod:`evict.report.directives` builds them for ``evict report``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from evict.model.records import Principal
from evict.report.directives import default_kind
from evict.report.interface import Format, ReportKind, ReportNotAskedError
from evict.report.profile import Profile, profile_from_data
from evict.server.api.hosts import unit_scope
from evict.server.deps import Caller, Ctx, ServerContext
from evict.server.models import ErrorResponse
from evict.service.reports import LISTING_MEDIA, ReportScope, host_listing, render_document

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}


def _listing(
    directive: str,
    fmt: str,
    ctx: ServerContext,
    caller: Principal,
    org_unit: str | None,
    disposition: dict[str, str] | None = None,
) -> StreamingResponse:
    """The per-host listing streamed (chunked): read a page at a time, sent as it is read
    (``disposition``: the Content-Disposition header, instead of the listing's own)."""

    d = ctx.directive(directive)
    chunks = host_listing(
        ctx.store,
        d,
        fmt,
        org_id=caller.org_id,
        unit_id=unit_scope(ctx, caller, org_unit),
        today=ctx.today(),
        generated_at=ctx.now(),
        start=ctx.store.adoptions(caller.org_id).get(d.id),
    )
    if disposition is None:
        attached = {"Content-Disposition": f'attachment; filename="{d.id}.{fmt}"'}
        disposition = attached if fmt != "json" else {}
    return StreamingResponse(
        (chunk.encode() for chunk in chunks),
        media_type=LISTING_MEDIA[fmt],
        headers=disposition | ctx.audit_head_header(),
    )


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
    return _listing(directive, "csv", ctx, caller, org_unit)


@router.get(
    "/{directive}.json",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {"content": {"application/json": {}}, "description": "Summary and hosts."},
    },
    summary="The directive's fleet report as JSON",
)
def report_as_json(
    directive: str,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> StreamingResponse:
    """The summary (counted in SQL) and one object per host (the same fields as the CSV),
    streamed."""
    return _listing(directive, "json", ctx, caller, org_unit)


@router.get(
    "/{directive}.jsonl",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {"content": {"application/jsonl": {}}, "description": "One host a line."},
    },
    summary="The directive's fleet report as JSON Lines",
)
def report_jsonl(
    directive: str,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> StreamingResponse:
    """One JSON object a line per host, the fields of the JSON report's ``hosts``, streamed."""
    return _listing(directive, "jsonl", ctx, caller, org_unit)


class ReportRequest(BaseModel):
    """What a caller may add to a directive's report: the organisation profile."""

    profile: dict[str, Any] | None = Field(
        None,
        description="The organisation profile (point of contact, contracts, costs...), with the "
        "keys of the profile YAML file (docs/reports.md).",
    )


REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": ErrorResponse},
    200: {
        "content": {f.media_type.split(";")[0]: {} for f in Format},
        "description": "The report in the format asked for.",
    },
}

REPORT_DESCRIPTION = (
    "`report` is `current` (the report the directive's current milestone asks for) or one of "
    + ", ".join(f"`{k.value}`" for k in ReportKind)
    + "; `fmt` is csv, json, html or pdf."
)


def _directive_report(
    directive: str,
    report: str,
    fmt: Format,
    ctx: ServerContext,
    caller: Principal,
    org_unit: str | None,
    profile: Profile,
) -> Response:

    d = ctx.directive(directive)
    if report == "current":
        start = ctx.store.adoptions(caller.org_id).get(d.id)
        kind = default_kind(d, today=ctx.today(), start=start)
    else:
        try:
            kind = ReportKind(report)
        except ValueError:
            raise ReportNotAskedError(f"no report named {report!r}") from None
    disposition = "inline" if fmt in (Format.HTML, Format.JSON) else "attachment"
    named = {"Content-Disposition": f'{disposition}; filename="{d.id}-{kind.value}.{fmt}"'}
    if kind is ReportKind.HOSTS and fmt in (Format.CSV, Format.JSON):
        # one line per host: streamed as it is read, as the listing's own URL sends it
        return _listing(d.id, fmt.value, ctx, caller, org_unit, named)
    scope = ReportScope(
        store=ctx.store,
        matcher=ctx.matcher,
        directive=d,
        org_id=caller.org_id,
        unit_id=unit_scope(ctx, caller, org_unit),
        protection=ctx.protection,
        today=ctx.today(),
        generated_at=ctx.now(),
        profile=profile,
    )
    return Response(
        render_document(scope, kind, fmt),
        media_type=fmt.media_type,
        headers=named | ctx.audit_head_header(),
    )


@router.get(
    "/{directive}/{report}.{fmt}",
    response_class=Response,
    responses=REPORT_RESPONSES,
    summary="One of the directive's own reports",
    description=REPORT_DESCRIPTION,
)
def directive_report(
    directive: str,
    report: str,
    fmt: Format,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> Response:
    """The directive's report (day 30, day 60, status, exceptions, FAR...) in csv, json, html or
    pdf; fields only the organisation knows show as NOT PROVIDED (POST a profile to fill them)."""
    return _directive_report(directive, report, fmt, ctx, caller, org_unit, Profile())


@router.post(
    "/{directive}/{report}.{fmt}",
    response_class=Response,
    responses={**REPORT_RESPONSES, 422: {"model": ErrorResponse}},
    summary="One of the directive's own reports, with the organisation profile",
    description=REPORT_DESCRIPTION,
)
def directive_report_with_profile(
    directive: str,
    report: str,
    fmt: Format,
    body: ReportRequest,
    ctx: Ctx,
    caller: Caller,
    org_unit: Annotated[str | None, Query(description="Org unit name.")] = None,
) -> Response:
    """The directive's report, with the organisation profile given in the body."""
    profile = profile_from_data(body.profile, "profile")
    return _directive_report(directive, report, fmt, ctx, caller, org_unit, profile)
