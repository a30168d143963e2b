"""One host's page: its findings grouped by product, its states, timeline and plan, and the
forms that act on it.

A host of another organisation (or org unit, for a user limited to one) is a 404, exactly like a
host that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from evict.catalog.interface import Directive
from evict.compliance.lifecycle import OPERATOR_MOVES
from evict.model.records import HostInfo, NotFoundError
from evict.model.states import OPEN_STATES, State
from evict.server.deps import Ctx, ServerContext
from evict.server.detail import host_detail
from evict.server.models import EvidenceModel, FindingModel
from evict.server.views.plans import host_plan
from evict.server.views.unmanaged import host_network
from evict.server.views.web import Dash, Dashboard, PageNotFound, Viewer, ViewerDep

router = APIRouter(include_in_schema=False)


def visible_host(ctx: ServerContext, viewer: Viewer, host_id: int) -> HostInfo:
    """The host ``host_id`` if the viewer may see it; :class:`PageNotFound` otherwise."""
    try:
        return ctx.fleet.dashboard.host_by_id(
            viewer.principal.org_id, host_id, unit_id=viewer.unit_id
        )
    except NotFoundError as e:
        raise PageNotFound(f"no host {host_id}") from e


@dataclass(frozen=True, slots=True)
class ProductFinding:
    """One covered product on a host with its evidence, and every directive that covers it."""

    product: str
    product_name: str
    confidence: str
    embedded: bool
    directives: tuple[str, ...]
    evidence: tuple[EvidenceModel, ...]
    questions: tuple[tuple[str, str], ...] = ()
    """``(directive, question)`` where the finding waits for a scope determination."""


def by_product(findings: Sequence[FindingModel]) -> list[ProductFinding]:
    """The API's findings (one per product and directive) grouped by product; directives under
    which the product waits for a scope determination are listed apart from those covering it."""
    grouped: dict[str, list[FindingModel]] = {}
    for f in findings:
        grouped.setdefault(f.product, []).append(f)

    def needed(f: FindingModel) -> bool:
        return f.determination is not None and f.determination.get("state") == "needed"

    return [
        ProductFinding(
            fs[0].product,
            fs[0].product_name,
            fs[0].confidence,
            fs[0].embedded,
            tuple(f.directive for f in fs if not needed(f)),
            tuple(fs[0].evidence),
            tuple(
                (f.directive, f.determination["question"])
                for f in fs
                if needed(f) and f.determination is not None
            ),
        )
        for fs in grouped.values()
    ]


@dataclass(frozen=True, slots=True)
class DirectiveActions:
    """What can be done to a host for one directive."""

    directive: Directive
    state: str
    moves: tuple[str, ...]
    can_waive: bool


@dataclass(frozen=True, slots=True)
class ActionGroup:
    """The directives a host stands in the same state for: one move form and one waiver form
    apply to all of them (each directive a checkbox, all ticked)."""

    state: str
    directives: tuple[Directive, ...]
    moves: tuple[str, ...]
    can_waive: bool

    @property
    def key(self) -> str:
        """A name for the group's form controls (unique on the page)."""
        return self.state

    @property
    def grounds(self) -> tuple[str, ...]:
        """The exception grounds any of the directives allows (empty: none asked for)."""
        return tuple(sorted({g for d in self.directives for g in d.exception_grounds}))


def group_actions(actions: Sequence[DirectiveActions]) -> list[ActionGroup]:
    """``actions`` grouped by state, in the order of the first directive of each state."""
    groups: dict[str, list[DirectiveActions]] = {}
    for a in actions:
        if a.moves or a.can_waive:
            groups.setdefault(a.state, []).append(a)
    return [
        ActionGroup(state, tuple(a.directive for a in group), group[0].moves, group[0].can_waive)
        for state, group in groups.items()
    ]


def render_host(
    request: Request,
    ctx: ServerContext,
    dashboard: Dashboard,
    viewer: Viewer,
    host_id: int,
    *,
    error: str = "",
    status: int = 200,
    form: Mapping[str, str] | None = None,
    done: str = "",
) -> Response:
    """The host page, optionally with a form's error (and the values to refill it with)."""
    info = visible_host(ctx, viewer, host_id)
    detail = host_detail(ctx, info)
    actions = []
    for d in ctx.catalog.directives:
        standing = detail.states.get(d.id)
        if standing is None:
            continue
        state = State(standing.state)
        actions.append(
            DirectiveActions(
                d,
                state.value,
                tuple(sorted(s.value for s in OPERATOR_MOVES.get(state, frozenset()))),
                state in OPEN_STATES or state is State.WAIVED,
            )
        )
    waivers = ctx.store.waivers(viewer.principal.org_id, host=info.identifier)
    today = ctx.today()
    return dashboard.render(
        request,
        "host.html",
        viewer=viewer,
        status_code=status,
        title=f"Host {info.hostname or info.identifier}",
        section="hosts",
        info=info,
        detail=detail,
        findings=by_product(detail.findings),
        actions=actions,
        groups=group_actions(actions),
        waivers=waivers,
        plan=host_plan(ctx, info, detail),
        error=error,
        form=form or {},
        done=done,
        today=today,
        default_expiry=(today + dt.timedelta(days=30)).isoformat(),
        min_expiry=(today + dt.timedelta(days=1)).isoformat(),
        directive_titles={d.id: d.title for d in ctx.catalog.directives},
        **host_network(ctx, info.id),
    )


@router.get("/hosts/{host_id}")
def host(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One host: findings with evidence, states, the timeline, the plan, and the actions."""
    return render_host(request, ctx, dashboard, viewer, host_id, done=done)
