"""The overview: how far the organisation is from a directive's next deadline, at a glance.

The counts are the API's (``/api/v1/directives/{id}/summary``): the store's
:meth:`~evict.store.store.Store.state_counts` summarised by
:func:`evict.report.fleet.summarise_counts`, so the page and the API cannot disagree. They, the
burn-down and the products chart are computed through the dashboard's
:class:`~evict.server.views.cache.Refresher`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from evict.catalog.interface import CatalogLookupError, Directive
from evict.compliance.milestones import current_milestone, schedule
from evict.model.states import PENDING, PRESENT, STATE_ORDER, UNCONCLUDED_STATES
from evict.report.fleet import Summary, summarise_counts
from evict.server.deps import Ctx, ServerContext
from evict.server.views import charts
from evict.server.views.unmanaged import unmanaged_count
from evict.server.views.web import Dash, PageNotFound, ViewerDep

router = APIRouter(include_in_schema=False)

REMOVED = frozenset({"removed", "replaced", "verified"})
"""States in which a covered product was found and is gone."""


@dataclass(frozen=True, slots=True)
class OverviewFacts:
    """What the overview reads from the database for one directive and scope."""

    counts: tuple[tuple[str, str, int], ...]
    """``(org unit, state, hosts)``, as the API's summary counts them."""
    changes: tuple[tuple[dt.date, int], ...]
    """Day-by-day change in hosts carrying a covered product."""
    products: tuple[tuple[tuple[str, ...], str, int], ...]
    """``(products, state, hosts)`` over the hosts something was found on."""


def read_facts(
    ctx: ServerContext, org_id: int, unit_id: int | None, directive: str
) -> OverviewFacts:
    """Read the overview's facts (the slow part, run by the refresher)."""
    queries = ctx.fleet.dashboard
    return OverviewFacts(
        counts=tuple(ctx.store.state_counts(directive, org_id, unit_id=unit_id)),
        changes=tuple(queries.carrying_changes(org_id, directive, unit_id=unit_id)),
        products=tuple(queries.product_states(org_id, directive, unit_id=unit_id)),
    )


def default_directive(ctx: ServerContext, org_id: int) -> Directive:
    """The directive shown when none is asked for: the first adopted one, in catalog order."""
    adopted = ctx.store.adoptions(org_id)
    for d in ctx.catalog.directives:
        if d.id in adopted:
            return d
    return ctx.catalog.directives[0]


def pick_directive(ctx: ServerContext, org_id: int, wanted: str | None) -> Directive:
    """The directive asked for (404 page when unknown), else the default."""
    if not wanted:
        return default_directive(ctx, org_id)
    try:
        return ctx.catalog.directive(wanted)
    except CatalogLookupError as e:
        raise PageNotFound(f"no directive {wanted!r} in the catalog") from e


def burndown_points(
    changes: Sequence[tuple[dt.date, int]], today: dt.date
) -> list[tuple[dt.date, int]]:
    """The running total of ``changes`` as points, carried on to ``today``."""
    points: list[tuple[dt.date, int]] = []
    total = 0
    for day, delta in changes:
        total += delta
        points.append((day, max(0, total)))
    if points and points[-1][0] < today:
        points.append((today, points[-1][1]))
    return points


def product_bars(ctx: ServerContext, facts: OverviewFacts) -> list[tuple[str, str, int, int]]:
    """``(product id, name, hosts still carrying, hosts removed)``, most carried first."""
    carrying: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for products, state, n in facts.products:
        for p in products:
            if state in PRESENT:
                carrying[p] += n
            elif state in REMOVED:
                removed[p] += n
    names: dict[str, str] = {p.id: p.name for p in ctx.catalog.products}
    ids = set(carrying) | set(removed)
    generic = {str(p.id) for p in ctx.catalog.products if p.generic and p.id in ids}
    if generic:
        # The catch-all names no product: say what showed the vendor's code instead.
        for pid, kinds in _evidence_kinds(ctx, generic).items():
            names[pid] = f"{names.get(pid, pid)}: {', '.join(kinds)}"
    rows = [(p, names.get(p, p), carrying[p], removed[p]) for p in ids]
    rows.sort(key=lambda r: (-r[2], -r[3], r[1]))
    return rows


def _evidence_kinds(ctx: ServerContext, products: set[str]) -> dict[str, list[str]]:
    """The observation kinds (driver, service, certificate...) that matched each product."""
    kinds: dict[str, set[str]] = {p: set() for p in products}
    for observation, hits in ctx.store.matched_software(ctx.catalog.version).values():
        for hit in hits:
            if hit.product in kinds:
                kinds[hit.product].add(observation.kind.value.replace("_", " "))
    return {p: sorted(k) for p, k in kinds.items() if k}


def _markers(
    directive: Directive, start: dt.date | None, today: dt.date, first: dt.date
) -> list[charts.Marker]:
    status = current_milestone(directive, today=today, start=start)
    markers = [charts.Marker(today, "today", "today")]
    seen = {status.due}
    label = str(status.to_json()["name"])
    markers.append(
        charts.Marker(
            status.due, f"{label}: {status.due.isoformat()}", short=f"due {status.due.isoformat()}"
        )
    )
    for milestone, due in schedule(directive, start):
        if due not in seen and first <= due <= max(today, status.due):
            seen.add(due)
            markers.append(
                charts.Marker(
                    due, f"{milestone.name}: {due.isoformat()}", short=f"due {due.isoformat()}"
                )
            )
    return markers


def _burndown_chart(
    directive: Directive, start: dt.date | None, today: dt.date, points: list[tuple[dt.date, int]]
) -> Markup:
    status = current_milestone(directive, today=today, start=start)
    markers = _markers(directive, start, today, points[0][0])
    when = "overdue since" if status.overdue else "due"
    description = (
        f"Hosts carrying products covered by {directive.id}: {points[0][1]:,} on "
        f"{points[0][0].isoformat()}, {points[-1][1]:,} on {points[-1][0].isoformat()}. "
        f"Next milestone {status.to_json()['name']} {when} {status.due.isoformat()}."
    )
    return _both(
        lambda width, suffix: charts.burndown(
            points,
            markers=markers,
            title=f"Burn-down: hosts still carrying covered products ({directive.id})",
            description=description,
            ident=f"burndown{suffix}",
            width=width,
        )
    )


def _both(draw: Callable[[int, str], Markup]) -> Markup:
    """A chart drawn for wide screens and again for phones; the stylesheet shows one."""
    wide = draw(charts.WIDTH, "")
    narrow = draw(charts.NARROW, "-narrow")
    return Markup(f'<div class="chart-wide">{wide}</div><div class="chart-narrow">{narrow}</div>')


def _products_chart(directive: Directive, rows: list[tuple[str, str, int, int]]) -> Markup:
    total = sum(r[2] + r[3] for r in rows)
    description = f"{len(rows)} covered products found on {directive.id} hosts; " + "; ".join(
        f"{name}: {c:,} still present, {r:,} removed" for _, name, c, r in rows[:10]
    )
    return _both(
        lambda width, suffix: charts.stacked_bars(
            [(name, (c, r)) for _, name, c, r in rows],
            series=(
                charts.Series("Still present", "present"),
                charts.Series("Removed", "removed"),
            ),
            title=f"Endpoints per covered product ({total:,} product installations)",
            description=description,
            axis_label="Endpoints (hosts)",
            ident=f"products{suffix}",
            width=width,
        )
    )


@router.get("/")
def home() -> Response:
    """The dashboard starts at the overview."""
    return RedirectResponse("/overview", status_code=303)


@router.get("/overview")
def overview(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    directive: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Hosts by state, per org unit, the clock, overdue counts, burn-down and products found."""
    org_id, unit_id = viewer.principal.org_id, viewer.unit_id
    d = pick_directive(ctx, org_id, directive)
    adopted = ctx.store.adoptions(org_id)
    start = adopted.get(d.id)
    today = ctx.today()
    version = ctx.store.audit_head()[0]
    cached = dashboard.cache.get(
        ("overview", org_id, unit_id, d.id),
        version,
        lambda: read_facts(ctx, org_id, unit_id, d.id),
        now=ctx.now(),
    )
    context: dict[str, Any] = {
        "title": f"Overview: {d.id}",
        "section": "overview",
        "directive": d,
        "directives": ctx.catalog.directives,
        "adopted": adopted,
        "start": start or d.start,
        "own_clock": start is not None,
        "states": STATE_ORDER,
        "cached": cached,
    }
    if cached is None:
        return dashboard.render(
            request,
            "overview.html",
            viewer=viewer,
            summary=None,
            headers={"Refresh": "5"},
            **context,
        )
    facts: OverviewFacts = cached.value
    summary: Summary = summarise_counts(facts.counts, d, today=today, start=start)
    status = current_milestone(d, today=today, start=start)
    points = burndown_points(facts.changes, today)
    bars = product_bars(ctx, facts)
    carrying = sum(n for s, n in summary.states.items() if s in PRESENT)
    removed = sum(n for s, n in summary.states.items() if s in REMOVED)
    milestones = [
        (m, due, "past" if due < today else ("next" if due == status.due else "later"))
        for m, due in schedule(d, start)
    ]
    return dashboard.render(
        request,
        "overview.html",
        viewer=viewer,
        summary=summary,
        clock=status,
        milestone_action=status.milestone.action,
        milestones=milestones,
        carrying=carrying,
        removed=removed,
        clean=summary.states.get("clean", 0),
        unconcluded=sum(summary.states.get(s.value, 0) for s in UNCONCLUDED_STATES),
        pending=summary.states.get(PENDING, 0),
        burndown=_burndown_chart(d, start, today, points) if points else None,
        points=points,
        bars=bars,
        products_chart=_products_chart(d, bars) if bars else None,
        unmanaged=unmanaged_count(ctx, viewer.principal.org_id, viewer.unit_id),
        **context,
    )
