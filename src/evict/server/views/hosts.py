"""Hosts: the filtered listing with keyset pages, its CSV export, and its bulk actions (move,
waive or plan many hosts at once).

Every read is scoped to the viewer's organisation (and org unit, for a user limited to one). One
host's page is :mod:`evict.server.views.host_page`, the forms that act on it are
:mod:`evict.server.views.host_actions`. Forms are POSTs carrying the session's CSRF token.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from evict.catalog.interface import CatalogLookupError, Directive
from evict.compliance.lifecycle import WaiverError
from evict.model.listings import HostFilter, HostListRow, HostSort
from evict.model.observations import Platform
from evict.model.records import HostInfo, InvalidValueError, NotFoundError
from evict.model.states import OPEN_STATES, PRESENT, STATE_ORDER, UNCONCLUDED_STATES, State
from evict.remediation import renderer
from evict.remediation.interface import RemediationError
from evict.report.cells import safe_cell
from evict.report.fleet import HostMilestone, host_milestone
from evict.server.deps import Ctx, ServerContext
from evict.server.views.host_actions import Directives, Field, grounds_for
from evict.server.views.overview import default_directive
from evict.server.views.plans import hosts_plans
from evict.server.views.products import kept_product_uses
from evict.server.views.web import (
    SECURITY_HEADERS,
    BadRequest,
    Dash,
    Dashboard,
    Viewer,
    ViewerDep,
    page_url,
)
from evict.service import states as state_service
from evict.service import waivers as waiver_service

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Hosts per page."""
COUNT_CAP = 2_000
"""Matching hosts are counted up to this many; past it the page says "2,000+" (counting costs
a row visit per host, so the cap bounds it at any fleet size; the overview has exact counts)."""
CSV_PAGE = 1000
"""Hosts read per query while streaming a CSV export."""

OPEN = frozenset(s.value for s in OPEN_STATES)
STATE_GROUPS: Mapping[str, frozenset[str]] = {
    "open": OPEN,
    "carrying": PRESENT,
    "all": frozenset(),
    "removed": frozenset({State.REMOVED.value, State.REPLACED.value, State.VERIFIED.value}),
    "unconcluded": frozenset(s.value for s in UNCONCLUDED_STATES),
    **{s: frozenset({s}) for s in STATE_ORDER},
}
"""The state filter's choices: each state, plus groups (``all`` filters nothing)."""

NO_STATE = frozenset({"-"})
"""A state filter no host matches (overdue asked for while nothing is overdue)."""

DEFAULT_STATE = "open"
"""The hosts page opens on the work queue: hosts with a covered product still open."""
DEFAULT_SORT = HostSort.DUE.value
"""... overdue first, then by due date."""

BULK_MAX = 10_000
"""The most hosts one bulk action touches; past it the action is refused, with the count."""
BULK_PLAN_MAX = 1_000
"""The most hosts one bulk plan download is made for (each plan reads the host's inventory)."""
BULK_PLAN_FORMATS = ("json", "ansible")
"""The plan formats one document of many hosts can be written in."""

SORT_LABELS: Mapping[str, str] = {
    HostSort.DUE.value: "Due (overdue first)",
    HostSort.DUE_DESC.value: "Due (not due first)",
    HostSort.NAME.value: "Hostname (A to Z)",
    HostSort.NAME_DESC.value: "Hostname (Z to A)",
    HostSort.STATE.value: "State (most urgent first)",
    HostSort.STATE_DESC.value: "State (least urgent first)",
    HostSort.LAST_SEEN.value: "Last seen (longest silent first)",
    HostSort.RECENT.value: "Last seen (most recent first)",
}

SORTABLE: Mapping[str, tuple[str, str]] = {
    "name": (HostSort.NAME.value, HostSort.NAME_DESC.value),
    "state": (HostSort.STATE.value, HostSort.STATE_DESC.value),
    "last_seen": (HostSort.LAST_SEEN.value, HostSort.RECENT.value),
    "due": (HostSort.DUE.value, HostSort.DUE_DESC.value),
}
"""Each sortable column's two orders, ascending first (a header link toggles between them)."""

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
    "product_names",
)
"""The export's header; ``host`` and ``state`` as in the fleet report, and each host's milestone
as the fleet report has it (:func:`evict.report.fleet.host_milestone`). Every column of the
page, with the products both as catalog ids and as the names the page shows."""


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
    sort: str = DEFAULT_SORT
    overdue: str = ""
    """``1``: only overdue hosts."""

    def params(self) -> dict[str, str]:
        """The non-default parameters, for links that keep the filters."""
        return {
            "q": self.q,
            "org_unit": self.org_unit,
            "directive": self.directive,
            "state": self.state if self.state != DEFAULT_STATE else "",
            "product": self.product,
            "platform": self.platform,
            "seen_days": self.seen_days,
            "overdue": self.overdue,
            "sort": self.sort if self.sort != DEFAULT_SORT else "",
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
        sort = HostSort(query.sort or DEFAULT_SORT)
    except ValueError as e:
        raise BadRequest(f"cannot sort by {query.sort!r}") from e
    states = STATE_GROUPS.get(query.state, frozenset())
    if query.overdue not in ("", "1"):
        raise BadRequest("overdue: give 1 for overdue hosts only")
    if query.overdue:
        # Every open host of the organisation has the same milestone for the directive, so the
        # overdue hosts are the open ones while a deadline has passed, else none: the overview's
        # count (summarise_counts applies the same host_milestone).
        start = ctx.store.adoptions(org_id).get(directive.id)
        late = host_milestone(
            directive, State.IDENTIFIED.value, today=ctx.today(), start=start
        ).overdue
        states = ((states or frozenset(STATE_ORDER)) & OPEN if late else frozenset()) or NO_STATE
    f = HostFilter(
        unit_id=unit_id,
        directive=directive.id,
        states=states,
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
    overdue: Text = "",
) -> HostQuery:
    return HostQuery(
        q.strip(),
        org_unit,
        directive,
        state or DEFAULT_STATE,
        product,
        platform,
        seen_days,
        sort or DEFAULT_SORT,
        overdue,
    )


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
        "state_choices": [
            ("open", "needs action (identified, planned, removing)"),
            ("all", "any state (all hosts)"),
            ("carrying", "carrying (open or waived)"),
            ("removed", "removed, replaced or verified"),
            ("unconcluded", "cannot conclude (incomplete or stale)"),
        ]
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
    overdue: Text = "",
    after: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """One page of hosts matching the filters, in the chosen order (by default the work
    queue: hosts with a covered product open, overdue first)."""
    query = _query(q, org_unit, directive, state, product, platform, seen_days, sort, overdue)
    f, d, order = _filter(ctx, viewer, query)
    queries = ctx.fleet.dashboard
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
    total, capped = _count(ctx, dashboard, viewer, f)
    clock = _clock(ctx, viewer, d)
    params = query.params()
    names = _product_names(ctx)
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
        product_names=[[names(p) for p in r.products] for r in page.rows],
        sort_headers=_sort_headers(params, query.sort),
        queue=query.state == DEFAULT_STATE and not query.overdue,
        all_url=page_url("/hosts", {**params, "state": "all", "overdue": ""}),
        queue_url=page_url("/hosts", {**params, "state": "", "overdue": ""}),
        next_url=page_url("/hosts", params, after=page.next_cursor) if page.next_cursor else "",
        first_url=page_url("/hosts", params) if after else "",
        csv_url=page_url("/hosts.csv", params),
        total=total,
        capped=capped,
        cap=COUNT_CAP,
        bulk_max=BULK_MAX,
        today=ctx.today(),
        default_expiry=(ctx.today() + dt.timedelta(days=30)).isoformat(),
        min_expiry=(ctx.today() + dt.timedelta(days=1)).isoformat(),
        **_choices(ctx, viewer),
    )


def _product_names(ctx: ServerContext) -> Callable[[str], str]:
    """A product id's catalog name (the id itself when the catalog no longer has it)."""

    @functools.cache
    def name(product: str) -> str:
        try:
            return ctx.catalog.product(product).name
        except CatalogLookupError:
            return product

    return name


@dataclass(frozen=True, slots=True)
class SortHeader:
    """A sortable column's header link: to its other order when it is the current sort."""

    url: str
    current: str
    """``ascending``, ``descending`` or empty (for ``aria-sort``)."""


def _sort_headers(params: Mapping[str, str], current: str) -> dict[str, SortHeader]:
    out = {}
    for column, (up, down) in SORTABLE.items():
        if current == up:
            target, state = down, "ascending"
        elif current == down:
            target, state = up, "descending"
        else:
            target, state = up, ""
        sort = "" if target == DEFAULT_SORT else target
        out[column] = SortHeader(page_url("/hosts", {**params, "sort": sort}), state)
    return out


def _count(
    ctx: ServerContext,
    dashboard: Dashboard,
    viewer: Viewer,
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
    return ctx.fleet.dashboard.count_hosts(org_id, f, cap=COUNT_CAP)


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
    overdue: Text = "",
) -> Response:
    """Every host of the filtered view as CSV, in the page's order, streamed a page at a
    time: the same filter, order and columns as the hosts page."""
    query = _query(q, org_unit, directive, state, product, platform, seen_days, sort, overdue)
    f, d, order = _filter(ctx, viewer, query)
    queries = ctx.fleet.dashboard
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
        names = _product_names(ctx)
        after: str | None = None
        while True:
            page = queries.host_page(
                org_id, f, sort=order, directive=d.id, after=after, limit=CSV_PAGE
            )
            for r in page.rows:
                yield line(_csv_cells(r, d.id, clock(r), names))
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


def _csv_cells(
    row: HostListRow, directive: str, clock: HostMilestone, names: Callable[[str], str]
) -> list[str]:
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
        "; ".join(names(p) for p in row.products),
    ]


# -- one host -------------------------------------------------------------------------------------


# -- many hosts -----------------------------------------------------------------------------------


class BulkRefused(Exception):
    """A bulk action that cannot run as asked (nothing chosen, too many hosts)."""


def _bulk_hosts(
    ctx: ServerContext,
    viewer: Viewer,
    query: HostQuery,
    scope: str,
    picked: Sequence[str],
    *,
    limit: int,
) -> tuple[list[HostInfo], Directive]:
    """The hosts a bulk action applies to: those ticked, or all the filter matches (refused
    past ``limit`` hosts, with the count)."""
    f, d, order = _filter(ctx, viewer, query)
    queries = ctx.fleet.dashboard
    org_id = viewer.principal.org_id
    if scope == "all":
        n, capped = queries.count_hosts(org_id, f, cap=limit)
        if capped:
            raise BulkRefused(
                f"more than {limit:,} hosts match this filter: narrow it (by org unit, state or "
                f"product) and act on each part, at most {limit:,} hosts at a time"
            )
        ids: list[int] = []
        after: str | None = None
        while True:
            page = queries.host_page(
                org_id, f, sort=order, directive=d.id, after=after, limit=CSV_PAGE
            )
            ids.extend(r.id for r in page.rows)
            if page.next_cursor is None:
                break
            after = page.next_cursor
    elif scope == "selected":
        if len(picked) > limit:
            raise BulkRefused(f"{len(picked):,} hosts ticked: at most {limit:,} at a time")
        try:
            ids = [int(h) for h in picked]
        except ValueError as e:
            raise BadRequest("a ticked host is not a host id") from e
    else:
        raise BadRequest(f"no scope {scope!r}: selected or all")
    if not ids:
        raise BulkRefused("no host chosen: tick hosts in the list, or choose all matching hosts")
    return queries.hosts_by_ids(org_id, ids, unit_id=viewer.unit_id), d


@router.post("/hosts/bulk")
def bulk(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    csrf: Field = "",
    action: Field = "",
    scope: Field = "selected",
    host: Directives = None,
    q: Field = "",
    org_unit: Field = "",
    directive: Field = "",
    state: Field = "",
    product: Field = "",
    platform: Field = "",
    seen_days: Field = "",
    sort: Field = "",
    overdue: Field = "",
    to: Field = "",
    reason: Field = "",
    justification: Field = "",
    grounds: Field = "",
    approver: Field = "",
    expires: Field = "",
    plan_format: Field = "json",
) -> Response:
    """Move, waive or plan many hosts at once: those ticked on the hosts page, or every host
    its filter matches (up to :data:`BULK_MAX`; plans up to :data:`BULK_PLAN_MAX`). Each host's
    move or waiver is its own audit event; a host refused is listed with the reason."""
    viewer.check_csrf(csrf)
    if action not in ("state", "waive", "plan"):
        raise BadRequest(f"no bulk action {action!r}: state, waive or plan")
    if action != "plan":
        viewer.require_write()
    query = _query(q, org_unit, directive, state, product, platform, seen_days, sort, overdue)
    back = page_url("/hosts", query.params())

    def result(status: int = 200, **values: Any) -> Response:
        return dashboard.render(
            request, "bulk.html", viewer=viewer, status_code=status, title="Bulk action",
            section="hosts", back=back, action=action, **values,
        )  # fmt: skip

    limit = BULK_PLAN_MAX if action == "plan" else BULK_MAX
    try:
        infos, d = _bulk_hosts(ctx, viewer, query, scope, host or [], limit=limit)
    except BulkRefused as e:
        return result(422, error=str(e))
    actor = viewer.principal.actor
    now = ctx.now()
    if action == "plan":
        return _bulk_plan(ctx, infos, d, plan_format, result)
    if action == "state":
        outcome = state_service.change_states(
            ctx.store, d.id, infos, to, reason=reason, actor=actor, now=now
        )
        done, refused = len(outcome.changed), outcome.refused
        what = f"moved to {to}"
    else:
        try:
            until = dt.date.fromisoformat(expires)
            waiver_service.check(
                d, "bulk", justification=justification, approver=approver, expires=until,
                grounds=grounds_for(d, grounds), today=now.date(),
            )  # fmt: skip
        except ValueError:
            return result(422, error="the expiry date must be a date (YYYY-MM-DD)")
        except WaiverError as e:
            return result(422, error=str(e))
        granted = waiver_service.grant_many(
            ctx.store, d, infos, justification=justification, approver=approver,
            expires=until, grounds=grounds_for(d, grounds), actor=actor, now=now,
        )  # fmt: skip
        done, refused = len(granted.changed), granted.refused
        what = f"waived until {until.isoformat()}"
    if done:
        dashboard.invalidate(viewer.principal.org_id)
    return result(directive=d, error="", done=done, what=what, refused=refused, asked=len(infos))


def _bulk_plan(
    ctx: ServerContext,
    infos: Sequence[HostInfo],
    d: Directive,
    fmt: str,
    result: Callable[..., Response],
) -> Response:
    if fmt not in BULK_PLAN_FORMATS:
        return result(422, error=f"no plan format {fmt!r}: {', '.join(BULK_PLAN_FORMATS)}")
    plans = hosts_plans(ctx, infos)
    if plans is None:
        return result(422, error="this server has no remediation planner installed")
    render = renderer(fmt)
    kept = [p for p in plans if render.accepts(p)]
    if not kept:
        return result(
            422, error=f"none of the {len(infos):,} hosts has a plan to remove anything"
            + ("" if fmt == "json" or not plans else f" that {fmt} can express (json always can)"),
        )  # fmt: skip
    try:
        body = render.render(kept)
    except RemediationError as e:
        return result(422, error=str(e))
    name = f"plans-{d.id}-{len(kept)}-hosts{render.suffix}"
    return Response(
        body,
        media_type="application/json" if fmt == "json" else "text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS},
    )
