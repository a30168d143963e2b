"""Determinations: an organisation's answers to the catalog's questions of scope.

A determination applies to the whole organisation, so only an org-wide admin or operator may
record or revoke one; every user may read them. Recording one queues the hosts that carry the
question's products, and the worker's next pass moves them (``needs_determination`` to
``identified`` or ``clean``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from evict.catalog.export import question_json
from evict.compliance.determinations import Determination, parse_answer, question_products
from evict.model.records import Principal
from evict.server.deps import Caller, Ctx, Writer
from evict.server.errors import Forbidden
from evict.server.models import (
    DeterminationModel,
    DeterminationRequest,
    ErrorResponse,
    QuestionModel,
)

router = APIRouter(tags=["determinations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def _org_wide(caller: Principal) -> None:
    if caller.org_unit_id is not None:
        raise Forbidden(
            "a determination applies to the whole organisation: a user limited to an org unit "
            "cannot record or revoke one"
        )


@router.get(
    "/api/v1/questions",
    response_model=list[QuestionModel],
    responses=ERRORS,
    summary="List the catalog's questions of scope",
)
def list_questions(ctx: Ctx, caller: Caller) -> list[QuestionModel]:
    """Every question of scope, with the cited text and the organisation's determination."""
    answers = {d.question: d for d in ctx.store.determinations(caller.org_id)}
    out = []
    for q in ctx.catalog.questions:
        d = answers.get(q.id)
        out.append(
            QuestionModel.model_validate(
                {**question_json(q), "determination": d.to_json() if d else None}
            )
        )
    return out


@router.get(
    "/api/v1/determinations",
    response_model=list[DeterminationModel],
    responses=ERRORS,
    summary="List determinations",
)
def list_determinations(
    ctx: Ctx, caller: Caller, all: Annotated[bool, Query()] = False
) -> list[DeterminationModel]:
    """The organisation's determinations in force, newest first (``all``: revoked ones too)."""
    found = ctx.store.determinations(caller.org_id, revoked=all)
    return [DeterminationModel.model_validate(d.to_json()) for d in found]


@router.post(
    "/api/v1/determinations",
    response_model=DeterminationModel,
    status_code=201,
    responses=ERRORS,
    summary="Record a determination",
)
def record_determination(
    body: DeterminationRequest, ctx: Ctx, caller: Writer
) -> DeterminationModel:
    """Answer one question of scope for the whole organisation (replacing any earlier answer)."""
    _org_wide(caller)
    determination = Determination(
        question=body.question,
        answer=parse_answer(body.answer),
        reasoning=body.reasoning,
        decided_by=body.decided_by,
        decided_on=body.decided_on or ctx.today(),
    )
    determination.check(ctx.catalog, today=ctx.today())
    saved = ctx.store.record_determination(
        caller.org_id,
        determination,
        actor=caller.actor,
        now=ctx.now(),
        products=question_products(ctx.catalog, body.question),
        catalog_version=ctx.catalog.version,
    )
    ctx.wake_worker()
    return DeterminationModel.model_validate(saved.to_json())


@router.delete(
    "/api/v1/determinations/{question}",
    status_code=204,
    responses=ERRORS,
    summary="Revoke a determination",
)
def revoke_determination(question: str, ctx: Ctx, caller: Writer) -> Response:
    """Withdraw the organisation's determination of ``question``: its findings need one again."""
    _org_wide(caller)
    ctx.catalog.question(question)
    ctx.store.revoke_determination(
        caller.org_id,
        question,
        actor=caller.actor,
        now=ctx.now(),
        products=question_products(ctx.catalog, question),
        catalog_version=ctx.catalog.version,
    )
    ctx.wake_worker()
    return Response(status_code=204)
