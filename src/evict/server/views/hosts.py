"""Hosts: the filtered listing with keyset pages and CSV export; one host and its actions.

Every read is scoped to the viewer's organisation (and org unit, for a user limited to one): a
host of another organisation is a 404, exactly like a host that does not exist. Moves and
waivers are POST forms carrying the session's CSRF token; read-only roles get no form, and a
forged POST is refused (403) before anything is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from evict.catalog.interface import CatalogLookupError, Directive
from evict.compliance.lifecycle import (
    OPEN_STATES,
    OPERATOR_MOVES,
    LifecycleError,
    State,
    WaiverError,
    transition,
)
from evict.inventory.interface import Platform
from evict.report.cells import safe_cell
from evict.report.fleet import HostMilestone, host_milestone
from evict.server.api.hosts import get_host
from evict.server.deps import Ctx, ServerContext
from evict.server.models import EvidenceModel, FindingModel
from evict.server.views.overview import default_directive
from evict.server.views.plans import host_plan
from evict.server.views.products import kept_product_uses
from evict.server.views.unmanaged import host_network
from evict.server.views.web import (
    SECURITY_HEADERS,
    BadRequest,
    Dash,
    Dashboard,
    PageNotFound,
    Viewer,
    ViewerDep,
    page_url,
)
from evict.service import waivers as waiver_service
from evict.store.dashboard import (
    CARRYING,
    STATE_ORDER,
    DashboardQueries,
    HostFilter,
    HostListRow,
    HostSort,
)
from evict.store.interface import ConflictError, HostInfo, InvalidValueError, NotFoundError

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Hosts per page."""
COUNT_CAP = 2_000
"""Matching hosts are counted up to this many; past it the page says "2,000+" (counting costs
a row visit per host, so the cap bounds it at any fleet size; the overview has exact counts)."""
CSV_PAGE = 1000
"""Hosts read per query while streaming a CSV export."""

STATE_GROUPS: Mapping[str, frozenset[str]] = {
    "carrying": CARRYING,
    "open": frozenset(s.value for s in OPEN_STATES),
    **{s: frozenset({s}) for s in STATE_ORDER},
}
"""The state filter's choices: each state, plus two groups."""

SORT_LABELS: Mapping[str, str] = {
    HostSort.NAME.value: "Hostname",
    HostSort.STATE.value: "State (most urgent first)",
    HostSort.LAST_SEEN.value: "Last seen (longest silent first)",
    HostSort.RECENT.value: "Last seen (most recent first)",
}

CSV_COLUMNS = (
    "host",
    "hostname",
    "org_unit",
    "platform",
    "directive",
    "state",
    "products",
    "last_seen",
    "milestone",
    "due",
    "days_left",
    "overdue",
)
"""The export's header; ``host`` and ``state`` as in the fleet report, and each host's milestone
as the fleet report has it (:func:`evict.report.fleet.host_milestone`)."""


def _clock(
    ctx: ServerContext, viewer: Viewer, d: Directive
) -> Callable[[HostListRow], HostMilestone]:
    """Each listed host's milestone for ``d``, on the organisation's clock, as the reports say."""
    start = ctx.store.adoptions(viewer.principal.org_id).get(d.id)
    today = ctx.today()
    memo: dict[str, HostMilestone] = {}

    def of(row: HostListRow) -> HostMilestone:
        found = memo.get(row.state)
        if found is None:
            found = memo[row.state] = host_milestone(d, row.state, today=today, start=start)
        return found

    return of


@dataclass(frozen=True, slots=True)
class HostQuery:
    """The listing's parameters as the user gave them (to refill the form and build links)."""

    q: str = ""
    org_unit: str = ""
    directive: str = ""
    state: str = ""
    product: str = ""
    platform: str = ""
    seen_days: str = ""
    sort: str = HostSort.NAME.value

    def params(self) -> dict[str, str]:
        """The non-empty parameters, for links that keep the filters."""
        return {
            "q": self.q,
            "org_unit": self.org_unit,
            "directive": self.directive,
            "state": self.state,
            "product": self.product,
            "platform": self.platform,
            "seen_days": self.seen_days,
            "sort": self.sort if self.sort != HostSort.NAME.value else "",
        }


def _filter(
    ctx: ServerContext, viewer: Viewer, query: HostQuery
) -> tuple[HostFilter, Directive, HostSort]:
    """Turn the query into a store filter; :class:`BadRequest` names what cannot be used."""
    org_id = viewer.principal.org_id
    unit_id = viewer.unit_id
    if query.org_unit and unit_id is None:
        try:
            unit_id = ctx.store.unit_id(org_id, query.org_unit)
        except NotFoundError as e:
            raise BadRequest(f"no org unit named {query.org_unit!r}") from e
    try:
        directive = ctx.catalog.directive(query.directive) if query.directive else None
    except CatalogLookupError as e:
        raise BadRequest(f"no directive {query.directive!r} in the catalog") from e
    if directive is None:
        directive = default_directive(ctx, org_id)
    if query.state and query.state not in STATE_GROUPS:
        raise BadRequest(f"no state {query.state!r}")
    if query.product:
        try:
            ctx.catalog.product(query.product)
        except CatalogLookupError as e:
            raise BadRequest(f"no product {query.product!r} in the catalog") from e
    if query.platform and query.platform not in {p.value for p in Platform}:
        raise BadRequest(f"no platform {query.platform!r}")
    seen_before = None
    if query.seen_days:
        if not query.seen_days.isdigit() or not 1 <= int(query.seen_days) <= 36500:
            raise BadRequest("last seen: give a number of days from 1 to 36500")
        seen_before = ctx.now() - dt.timedelta(days=int(query.seen_days))
    try:
        sort = HostSort(query.sort or HostSort.NAME.value)
    except ValueError as e:
        raise BadRequest(f"cannot sort by {query.sort!r}") from e
    f = HostFilter(
        unit_id=unit_id,
        directive=directive.id,
        states=STATE_GROUPS.get(query.state, frozenset()),
        product=query.product or None,
        catalog_version=ctx.catalog.version,
        platform=query.platform or None,
        name=query.q.strip() or None,
        seen_before=seen_before,
    )
    return f, directive, sort


Text = Annotated[str, Query(max_length=200)]


def _query(
    q: Text = "",
    org_unit: Text = "",
    directive: Text = "",
    state: Text = "",
    product: Text = "",
    platform: Text = "",
    seen_days: Text = "",
    sort: Text = "",
) -> HostQuery:
    return HostQuery(q, org_unit, directive, state, product, platform, seen_days, sort or "name")


def _choices(ctx: ServerContext, viewer: Viewer) -> dict[str, Any]:
    units = [
        u.name for u in ctx.store.units(viewer.principal.org_id) if viewer.unit_id in (None, u.id)
    ]
    products = sorted(
        (p for p in ctx.catalog.products if p.id not in ctx.protection),
        key=lambda p: p.name.lower(),
    )
    return {
        "units": units,
        "directives": ctx.catalog.directives,
        "state_choices": [("carrying", "carrying (open or waived)"), ("open", "open (work due)")]
        + [(s, s) for s in STATE_ORDER],
        "products": products,
        "platforms": [p.value for p in Platform],
        "sorts": SORT_LABELS,
    }


@router.get("/hosts")
def hosts(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    q: Text = "",
    org_unit: Text = "",
    directive: Text = "",
    state: Text = "",
    product: Text = "",
    platform: Text = "",
    seen_days: Text = "",
    sort: Text = "",
    after: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """One page of hosts matching the filters, in the chosen order."""
    query = _query(q, org_unit, directive, state, product, platform, seen_days, sort)
    f, d, order = _filter(ctx, viewer, query)
    queries = DashboardQueries(ctx.store)
    try:
        page = queries.host_page(
            viewer.principal.org_id,
            f,
            sort=order,
            directive=d.id,
            after=after or None,
            limit=PAGE_SIZE,
        )
    except InvalidValueError as e:
        raise BadRequest(str(e)) from e
    total, capped = _count(ctx, dashboard, viewer, queries, f)
    clock = _clock(ctx, viewer, d)
    params = query.params()
    return dashboard.render(
        request,
        "hosts.html",
        viewer=viewer,
        title="Hosts",
        section="hosts",
        query=query,
        params=params,
        directive=d,
        rows=page.rows,
        clocks=[clock(r) for r in page.rows],
        next_url=page_url("/hosts", params, after=page.next_cursor) if page.next_cursor else "",
        first_url=page_url("/hosts", params) if after else "",
        csv_url=page_url("/hosts.csv", params),
        total=total,
        capped=capped,
        cap=COUNT_CAP,
        **_choices(ctx, viewer),
    )


def _count(
    ctx: ServerContext,
    dashboard: Dashboard,
    viewer: Viewer,
    queries: DashboardQueries,
    f: HostFilter,
) -> tuple[int, bool]:
    """How many hosts the filter matches: ``(n, capped)``.

    A filter on org unit, directive and state only is answered from the organisation's state
    counts per org unit, kept like the overview's (exact while the audit chain's head has not
    moved): counting a rare state's hosts one by one takes longer than a page may at a million
    hosts. Any other filter is counted in SQL, up to :data:`COUNT_CAP`.
    """
    org_id = viewer.principal.org_id
    if f.product and not (f.states or f.platform or f.name or f.seen_before is not None):
        counted = _product_count(ctx, dashboard, viewer, f.product, f.unit_id)
        if counted is not None:
            return counted, False
    plain = not (f.product or f.platform or f.name or f.seen_before is not None)
    if plain and f.directive:
        directive = f.directive
        cached = dashboard.cache.get(
            ("state-counts", org_id, directive),
            ctx.store.audit_head()[0],
            lambda: ctx.store.state_counts(directive, org_id),
            now=ctx.now(),
        )
        if cached is not None:
            unit = None if f.unit_id is None else _unit_name(ctx, org_id, f.unit_id)
            n = sum(
                count
                for unit_name, state, count in cached.value
                if unit in (None, unit_name) and (not f.states or state in f.states)
            )
            return n, False
    return queries.count_hosts(org_id, f, cap=COUNT_CAP)


def _product_count(
    ctx: ServerContext, dashboard: Dashboard, viewer: Viewer, product: str, unit_id: int | None
) -> int | None:
    """Hosts carrying ``product`` (in ``unit_id``), from the products page's kept aggregate.

    None when there is none yet or the product is approved protection (which that page leaves
    out): the caller counts in SQL then.
    """
    if product in ctx.protection:
        return None
    org_id = viewer.principal.org_id
    cached = kept_product_uses(ctx, dashboard, org_id, viewer.unit_id)
    if cached is None:
        return None
    use = next((u for u in cached.value if u.product.id == product), None)
    if use is None:
        return 0
    if unit_id is None or unit_id == viewer.unit_id:
        return use.hosts
    return dict(use.units).get(_unit_name(ctx, org_id, unit_id), 0)


def _unit_name(ctx: ServerContext, org_id: int, unit_id: int) -> str:
    return next((u.name for u in ctx.store.units(org_id) if u.id == unit_id), "")


@router.get("/hosts.csv")
def hosts_csv(
    ctx: Ctx,
    viewer: ViewerDep,
    q: Text = "",
    org_unit: Text = "",
    directive: Text = "",
    state: Text = "",
    product: Text = "",
    platform: Text = "",
    seen_days: Text = "",
    sort: Text = "",
) -> Response:
    """Every host of the filtered view as CSV, streamed a page at a time."""
    query = _query(q, org_unit, directive, state, product, platform, seen_days, sort)
    f, d, order = _filter(ctx, viewer, query)
    queries = DashboardQueries(ctx.store)
    org_id = viewer.principal.org_id

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")

        def line(cells: list[str]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([safe_cell(c) for c in cells])
            return buffer.getvalue()

        yield line(list(CSV_COLUMNS))
        clock = _clock(ctx, viewer, d)
        after: str | None = None
        while True:
            page = queries.host_page(
                org_id, f, sort=order, directive=d.id, after=after, limit=CSV_PAGE
            )
            for r in page.rows:
                yield line(_csv_cells(r, d.id, clock(r)))
            if page.next_cursor is None:
                return
            after = page.next_cursor

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="hosts-{d.id}.csv"',
            **SECURITY_HEADERS,
        },
    )


def _csv_cells(row: HostListRow, directive: str, clock: HostMilestone) -> list[str]:
    return [
        row.identifier,
        row.hostname,
        row.org_unit,
        row.platform,
        directive,
        row.state,
        ";".join(row.products),
        row.last_seen.isoformat() if row.last_seen else "",
        clock.name,
        clock.due.isoformat(),
        str(clock.days_left),
        "yes" if clock.overdue else "no",
    ]


# -- one host -------------------------------------------------------------------------------------


def _host(ctx: ServerContext, viewer: Viewer, host_id: int) -> HostInfo:
    try:
        return DashboardQueries(ctx.store).host_by_id(
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


def by_product(findings: Sequence[FindingModel]) -> list[ProductFinding]:
    """The API's findings (one per product and directive) grouped by product."""
    grouped: dict[str, list[FindingModel]] = {}
    for f in findings:
        grouped.setdefault(f.product, []).append(f)
    return [
        ProductFinding(
            fs[0].product,
            fs[0].product_name,
            fs[0].confidence,
            fs[0].embedded,
            tuple(f.directive for f in fs),
            tuple(fs[0].evidence),
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
    info = _host(ctx, viewer, host_id)
    detail = get_host(info.identifier, ctx, viewer.principal)
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


def _directive(ctx: ServerContext, directive: str) -> Directive:
    try:
        return ctx.catalog.directive(directive)
    except CatalogLookupError as e:
        raise BadRequest(f"no directive {directive!r} in the catalog") from e


Field = Annotated[str, Form(max_length=5000)]


@router.post("/hosts/{host_id}/state")
def move_state(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    directive: Field = "",
    to: Field = "",
    reason: Field = "",
) -> Response:
    """Move a host to planned, removing or back to identified (admins and operators)."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    info = _host(ctx, viewer, host_id)
    d = _directive(ctx, directive)
    form = {"directive": directive, "to": to, "reason": reason}
    try:
        target = State(to)
    except ValueError:
        return render_host(
            request,
            ctx,
            dashboard,
            viewer,
            host_id,
            error=f"no state {to!r}",
            status=422,
            form=form,
        )
    now = ctx.now()
    decide = functools.partial(transition, to=target, now=now, reason=reason.strip())
    try:
        ctx.store.change_state(info, d.id, decide, actor=viewer.principal.actor, now=now)
    except (LifecycleError, ConflictError) as e:
        return render_host(
            request, ctx, dashboard, viewer, host_id, error=str(e), status=409, form=form
        )
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse(f"/hosts/{host_id}?done=state", status_code=303)


@router.post("/hosts/{host_id}/waive")
def waive_host(
    host_id: int,
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    directive: Field = "",
    justification: Field = "",
    grounds: Field = "",
    approver: Field = "",
    expires: Field = "",
) -> Response:
    """Waive one host for one directive, with justification, approver and expiry."""
    viewer.check_csrf(csrf)
    viewer.require_write()
    info = _host(ctx, viewer, host_id)
    d = _directive(ctx, directive)
    form = {
        "directive": directive,
        "justification": justification,
        "grounds": grounds,
        "approver": approver,
        "expires": expires,
    }

    def refuse(message: str, status: int) -> Response:
        return render_host(
            request, ctx, dashboard, viewer, host_id, error=message, status=status, form=form
        )

    try:
        until = dt.date.fromisoformat(expires)
    except ValueError:
        return refuse("the expiry date must be a date (YYYY-MM-DD)", 422)
    try:
        waiver_service.grant(
            ctx.store, d, info, justification=justification, approver=approver, expires=until,
            grounds=grounds, actor=viewer.principal.actor, now=ctx.now(),
        )  # fmt: skip
    except WaiverError as e:
        return refuse(str(e), 422)
    except (LifecycleError, ConflictError) as e:
        return refuse(str(e), 409)
    dashboard.invalidate(viewer.principal.org_id)
    return RedirectResponse(f"/hosts/{host_id}?done=waiver", status_code=303)
