"""Reports: each directive's documents and evidence bundle, generated in the background.

A form asks for one document (report and format) or the bundle; the server queues a job, runs
it on its report thread (:class:`evict.service.reports.ReportRunner`) and the page lists the
organisation's jobs with who asked, when, how far they got, and the output's size and SHA-256.
While a job runs the page refreshes itself every few seconds (a ``<meta>`` refresh: the
dashboard runs no script).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from evict.catalog.interface import CatalogLookupError
from evict.model.listings import DONE
from evict.model.records import NotFoundError
from evict.report.directives import available
from evict.report.interface import Format, ReportKind
from evict.server.deps import Ctx, ServerContext
from evict.server.views.web import BadRequest, Dash, PageNotFound, ViewerDep
from evict.service.reports import EVIDENCE, ReportRunner

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form(max_length=200)]

KIND_NAMES: dict[str, str] = {
    ReportKind.HOSTS.value: "Hosts (one line per host)",
    ReportKind.DAY30.value: "Day 30: identification report",
    ReportKind.DAY60.value: "Day 60: plan of action",
    ReportKind.STATUS.value: "Status report",
    ReportKind.EXCEPTIONS.value: "Exceptions (waivers)",
    ReportKind.FAR_INITIAL.value: "FAR 52.204-23 initial report",
    ReportKind.FAR_FOLLOWUP.value: "FAR 52.204-23 follow-up report",
    EVIDENCE: "Evidence bundle (every report, findings, audit chain, catalog)",
}
"""What each report is called on the page."""

REFRESH_SECONDS = 3
"""How often the page reloads itself while a job is queued or running."""


def _runner(ctx: ServerContext) -> ReportRunner:
    if ctx.reports is None:
        raise PageNotFound("this server generates no reports")
    return ctx.reports


@router.get("/reports")
def reports_page(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """Each directive's reports with a form to generate one, and the jobs asked for so far."""
    runner = _runner(ctx)
    jobs = runner.jobs.list(viewer.principal.org_id, unit_id=viewer.unit_id)
    directives = [
        (d, [(k.value, KIND_NAMES.get(k.value, k.value)) for k in available(d)])
        for d in ctx.catalog.directives
    ]
    running = any(not j.finished for j in jobs)
    return dashboard.render(
        request,
        "reports.html",
        viewer=viewer,
        title="Reports",
        section="reports",
        directives=directives,
        formats=[f.value for f in Format],
        jobs=jobs,
        kind_names=KIND_NAMES,
        refresh=REFRESH_SECONDS if running else None,
        asked=request.query_params.get("asked", ""),
    )


@router.post("/reports")
def generate(
    ctx: Ctx,
    viewer: ViewerDep,
    csrf: Field = "",
    directive: Field = "",
    report: Field = "",
    format: Field = "",
) -> Response:
    """Queue one document or the evidence bundle, then come back to the list."""
    viewer.check_csrf(csrf)
    runner = _runner(ctx)
    try:
        d = ctx.catalog.directive(directive)
    except CatalogLookupError as e:
        raise BadRequest(str(e)) from e
    if report == EVIDENCE:
        fmt = "zip"
    else:
        kinds = {k.value for k in available(d)}
        if report not in kinds:
            raise BadRequest(f"{d.id} has no report {report!r}: one of {', '.join(sorted(kinds))}")
        if format not in {f.value for f in Format}:
            raise BadRequest(f"no format {format!r}: csv, json, html or pdf")
        fmt = format
    job = runner.jobs.create(
        org_id=viewer.principal.org_id,
        unit_id=viewer.unit_id,
        directive=d.id,
        kind=report,
        fmt=fmt,
        requested_by=viewer.principal.actor,
        now=ctx.now(),
    )
    ctx.store.audit(
        actor=viewer.principal.actor,
        action="report.requested",
        subject=f"{d.id}/{report}",
        org=viewer.principal.org_id,
        payload={"job": job.id, "report": report, "format": fmt, "unit": viewer.unit_id},
        now=ctx.now(),
    )
    runner.submit(job)
    return RedirectResponse(f"/reports?asked={job.id}", status_code=303)


@router.get("/reports/{job_id}/download")
def download(job_id: int, ctx: Ctx, viewer: ViewerDep) -> Response:
    """The output of a finished job of the viewer's organisation (and unit)."""
    runner = _runner(ctx)
    jobs = runner.jobs
    try:
        job = jobs.get(viewer.principal.org_id, job_id)
    except NotFoundError as e:
        raise PageNotFound(str(e)) from e
    if viewer.unit_id is not None and job.unit_id != viewer.unit_id:
        raise PageNotFound(f"no report job {job_id}")
    path = runner.path(job)
    if job.status != DONE or not path.is_file():
        raise PageNotFound(f"report job {job_id} has no file to download ({job.status})")
    media = "application/zip" if job.kind == EVIDENCE else Format(job.format).media_type
    return FileResponse(
        path,
        media_type=media,
        filename=job.file,
        headers={"X-Content-SHA256": job.sha256, "Cache-Control": "no-store"},
    )
