"""Scope determinations: the catalog's questions of scope, the organisation's answers, and the
hosts waiting for one; a form to record or revoke an answer (org-wide admins and operators).

A determination applies to every host of the organisation, so a user limited to an org unit
reads this page (with its own unit's waiting hosts) but cannot record one. Forms carry the
session's CSRF token; every string shown (reasoning, names, host names) is escaped by the
templates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from evict.catalog.interface import CatalogLookupError, Question
from evict.compliance.determinations import (
    Determination,
    DeterminationError,
    parse_answer,
    question_products,
)
from evict.model.records import NotFoundError
from evict.server.deps import Ctx, ServerContext
from evict.server.views.web import Dash, Dashboard, PageForbidden, Viewer, ViewerDep

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form(max_length=10_000)]


@dataclass(frozen=True, slots=True)
class QuestionRow:
    """One question of scope as the page shows it."""

    question: Question
    determination: Determination | None
    waiting: tuple[tuple[int, str, str], ...]
    """Hosts waiting for it: ``(host id, hostname or identifier, directive)``."""


def _rows(ctx: ServerContext, viewer: Viewer) -> list[QuestionRow]:
    in_force = {d.question: d for d in ctx.store.determinations(viewer.principal.org_id)}
    waiting = ctx.store.hosts_needing_determination(viewer.principal.org_id, unit_id=viewer.unit_id)
    rows = []
    for q in ctx.catalog.questions:
        products = question_products(ctx.catalog, q.id)
        hosts = tuple(
            (host_id, hostname or identifier, directive)
            for host_id, identifier, hostname, directive, held in waiting
            if directive in q.directives and products & set(held)
        )
        rows.append(QuestionRow(q, in_force.get(q.id), hosts))
    return rows


def render_page(
    request: Request,
    ctx: ServerContext,
    dashboard: Dashboard,
    viewer: Viewer,
    *,
    done: str = "",
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    """The determinations page, with a notice, or an error and the form as it was sent."""
    history = ctx.store.determinations(viewer.principal.org_id, revoked=True)
    return dashboard.render(
        request,
        "determinations.html",
        viewer=viewer,
        title="Scope determinations",
        section="determinations",
        rows=_rows(ctx, viewer),
        history=history,
        may_decide=viewer.can_write and viewer.unit_id is None,
        today=ctx.today(),
        done=done,
        error=error,
        form=form or {},
        status_code=status,
    )


@router.get("/determinations")
def determinations(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The questions of scope with the organisation's determinations."""
    return render_page(request, ctx, dashboard, viewer, done=done)


def _require_org_wide_writer(viewer: Viewer) -> None:
    viewer.require_write()
    if viewer.unit_id is not None:
        raise PageForbidden(
            "a determination applies to the whole organisation: a user limited to an org unit "
            "cannot record or revoke one"
        )


@router.post("/determinations")
def record(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    question: Field = "",
    answer: Field = "",
    reasoning: Field = "",
    decided_by: Field = "",
    decided_on: Field = "",
) -> Response:
    """Record the organisation's determination of one question."""
    viewer.check_csrf(csrf)
    _require_org_wide_writer(viewer)
    form = {
        "question": question,
        "answer": answer,
        "reasoning": reasoning,
        "decided_by": decided_by,
        "decided_on": decided_on,
    }

    def refuse(message: str) -> Response:
        return render_page(request, ctx, dashboard, viewer, error=message, status=422, form=form)

    try:
        day = dt.date.fromisoformat(decided_on) if decided_on.strip() else ctx.today()
    except ValueError:
        return refuse("the decision date must be a date (YYYY-MM-DD)")
    try:
        determination = Determination(
            question=question,
            answer=parse_answer(answer),
            reasoning=reasoning.strip(),
            decided_by=decided_by.strip(),
            decided_on=day,
        )
        determination.check(ctx.catalog, today=ctx.today())
    except DeterminationError as e:
        return refuse(str(e))
    ctx.store.record_determination(
        viewer.principal.org_id,
        determination,
        actor=viewer.principal.actor,
        now=ctx.now(),
        products=question_products(ctx.catalog, question),
        catalog_version=ctx.catalog.version,
    )
    ctx.wake_worker()
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse("/determinations?done=recorded", status_code=303)


@router.post("/determinations/{question}/revoke")
def revoke(
    question: str,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
) -> Response:
    """Revoke the organisation's determination of ``question``."""
    viewer.check_csrf(csrf)
    _require_org_wide_writer(viewer)
    try:
        ctx.catalog.question(question)
        ctx.store.revoke_determination(
            viewer.principal.org_id,
            question,
            actor=viewer.principal.actor,
            now=ctx.now(),
            products=question_products(ctx.catalog, question),
            catalog_version=ctx.catalog.version,
        )
    except (CatalogLookupError, NotFoundError) as e:
        return render_page(request, ctx, dashboard, viewer, error=str(e), status=404)
    ctx.wake_worker()
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse("/determinations?done=revoked", status_code=303)
