"""The authorisation matrix: every route of the app x every caller x own/other unit/other org.

The routes come from the app's own route table: a route the table below does not describe fails
:func:`test_every_route_of_the_app_is_in_the_matrix`, so a new endpoint cannot ship without its
access rules being written down and checked. Each cell sends one real request and compares the
status with the expected one; a refused write must leave every table and every host state as it
was; a listing must not show another organisation (nor, for a user limited to an org unit,
another org unit).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from evict.catalog.interface import Catalog
from evict.server.app import create_app
from evict.settings import Settings
from tests.security.seckit import (
    CALLERS,
    DIRECTIVE,
    HOSTS,
    PASSWORD,
    TARGETS,
    UNITS,
    USER_CALLERS,
    World,
    is_scoped,
    make_world,
    role_of,
)

OK = "ok"
"""Expected: a 2xx answer."""

WAIVER_HOSTS = {"own": "east-w", "other-unit": "west-w", "other-org": "rival-w"}
"""Hosts the waiver cells work on (kept apart from the state cells' hosts)."""

TOKEN_USERS = {"own": "east-extra", "other-unit": "west-extra", "other-org": "rival-admin"}
"""Whose token the token cells create or revoke (``self`` is the caller)."""

OTHER_ORG_MARKERS = ("rival-", '"Rival"', ",Rival,")
OTHER_UNIT_MARKERS = ("west-1", "west-w", '"West"', ",West,")

Expect = int | str


@dataclass(frozen=True)
class Call:
    """One request of a cell."""

    method: str
    url: str
    json: Any = None
    params: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Spec:
    """How to call one route, who may, and what its answer may show.

    :param call: builds the request of a cell (it may prepare rows first, e.g. a token to
        revoke).
    :param expect: the expected status class of a cell (``OK`` or an exact 4xx).
    :param callers: the callers the cells use (all by default).
    :param targets: the targets the cells use (own, other unit, other org by default).
    :param writes: whether the route changes anything (refused cells must change nothing).
    :param listing: whether a 2xx body must not show other organisations' or units' data.
    """

    call: Callable[[World, str, str], Call]
    expect: Callable[[str, str], Expect]
    callers: tuple[str, ...] = CALLERS
    targets: tuple[str, ...] = TARGETS
    writes: bool = False
    listing: bool = False


# -- expectations --------------------------------------------------------------------------------


def gate(caller: str, need: str = "user") -> Expect | None:
    """The answer of the credential and role checks, before anything is looked up."""
    if caller not in USER_CALLERS:
        return 401
    if need == "writer" and role_of(caller) == "auditor":
        return 403
    if need == "admin" and role_of(caller) != "admin":
        return 403
    return None


def scoped(caller: str, target: str, need: str = "user") -> Expect:
    """A request about one host or unit: other orgs never; other units for org-wide users."""
    denied = gate(caller, need)
    if denied is not None:
        return denied
    if target == "other-org" or (target == "other-unit" and is_scoped(caller)):
        return 404
    return OK


def any_user(caller: str, target: str) -> Expect:
    """A read every user may make (its answer is limited to what they may see)."""
    return gate(caller) or OK


def org_wide_admin(caller: str, target: str) -> Expect:
    """Something only an admin of the whole organisation may do."""
    denied = gate(caller, "admin")
    if denied is not None:
        return denied
    return 403 if is_scoped(caller) else OK


def org_wide_writer(caller: str, target: str) -> Expect:
    """An organisation-wide change an admin or operator may make (a determination of scope)."""
    denied = gate(caller, "writer")
    if denied is not None:
        return denied
    return 403 if is_scoped(caller) else OK


def org_wide_reader(caller: str, target: str) -> Expect:
    """A read of organisation-wide records (the audit trail): not for unit-limited users."""
    return gate(caller) or (403 if is_scoped(caller) else OK)


def unit_query(caller: str, target: str) -> Expect:
    """A read narrowed by ``?org_unit=``: scoped users stay in their unit whatever they ask."""
    denied = gate(caller)
    if denied is not None:
        return denied
    if is_scoped(caller):
        return OK
    return 404 if target == "other-org" else OK


def token_rule(caller: str, target: str) -> Expect:
    """Tokens: your own always; an admin's for users of the organisation (unit-limited: unit)."""
    denied = gate(caller)
    if denied is not None:
        return denied
    if target == "self":
        return OK
    if role_of(caller) != "admin":
        return 403
    if target == "other-org":
        return 404
    if target == "other-unit" and is_scoped(caller):
        return 403
    return OK


def public(caller: str, target: str) -> Expect:
    """Anyone, with or without a token."""
    return OK


def host_only(caller: str, target: str) -> Expect:
    """A host credential's request about its own host; another host's report is refused."""
    if caller != "host":
        return 401
    return OK if target == "own" else 422


def by_secret(caller: str, target: str) -> Expect:
    """Enrolment: the secret decides (any bearer token is ignored)."""
    return 404 if target == "none" else OK


def by_password(caller: str, target: str) -> Expect:
    """Login: the password decides (any bearer token is ignored)."""
    return OK if target == "own" else 401


# -- requests ------------------------------------------------------------------------------------


def _host_state(world: World, host: str) -> str:
    info = world.store.host(
        world.store.org("Rival" if host.startswith("rival") else "DHS").id, host
    )
    states = world.store.states([info.id]).get(info.id, {})
    return states[DIRECTIVE].state.value if DIRECTIVE in states else "pending"


def state_call(world: World, caller: str, target: str) -> Call:
    """Toggle the target host between identified and planned (both allowed moves)."""
    host = HOSTS[target]
    to = "identified" if _host_state(world, host) == "planned" else "planned"
    return Call("POST", f"/api/v1/hosts/{host}/state", json={"directive": DIRECTIVE, "to": to})


def waiver_call(world: World, caller: str, target: str) -> Call:
    """Waive (or renew the waiver of) the target's waiver host."""
    body = {
        "host": WAIVER_HOSTS[target],
        "directive": DIRECTIVE,
        "justification": "Air-gapped lab; removal scheduled with the vendor's tool.",
        "approver": "CISO",
        "expires": (world.clock().date() + dt.timedelta(days=60)).isoformat(),
    }
    return Call("POST", "/api/v1/waivers", json=body)


def _fresh_waiver(world: World, target: str) -> int:
    """A waiver of the target's waiver host made for this cell (its id)."""
    from evict.compliance.lifecycle import Waiver

    host = WAIVER_HOSTS[target]
    org = world.store.org("Rival" if host.startswith("rival") else "DHS").id
    info = world.store.host(org, host)
    expires = world.clock().date() + dt.timedelta(days=30)
    waiver = Waiver(host, DIRECTIVE, "Lab controller, vendor swap ordered.", "CISO", expires)
    world.store.waive(info, waiver, actor="cli:test", now=world.clock(), today=world.clock().date())
    return world.store.waivers(org, host=host)[0].id


def waiver_revoke_call(world: World, caller: str, target: str) -> Call:
    """Revoke a waiver of the target's waiver host, made for this cell."""
    body = {"reason": "Controller replaced early."}
    return Call("POST", f"/api/v1/waivers/{_fresh_waiver(world, target)}/revoke", json=body)


def waiver_renew_call(world: World, caller: str, target: str) -> Call:
    """Renew a waiver of the target's waiver host, made for this cell, by 60 more days."""
    body = {
        "justification": "Vendor swap slipped a quarter.",
        "approver": "CISO",
        "expires": (world.clock().date() + dt.timedelta(days=90)).isoformat(),
    }
    return Call("POST", f"/api/v1/waivers/{_fresh_waiver(world, target)}/renew", json=body)


QUESTION = "kaspersky-white-label-bod-17-01"
"""The question of scope the determination cells answer (it asks about BOD 17-01)."""


def determination_call(world: World, caller: str, target: str) -> Call:
    """Answer the question for the caller's organisation."""
    body = {
        "question": QUESTION,
        "answer": "not-covered",
        "reasoning": "BOD 17-01: 'does not address Kaspersky code embedded in the products'.",
        "decided_by": "Office of General Counsel",
    }
    return Call("POST", "/api/v1/determinations", json=body)


def determination_revoke_call(world: World, caller: str, target: str) -> Call:
    """Revoke a determination of DHS's made for this cell."""
    from evict.compliance.determinations import Answer, Determination

    world.store.record_determination(
        world.store.org("DHS").id,
        Determination(QUESTION, Answer.COVERED, "memo 12", "OGC", world.clock().date()),
        actor="cli:test",
        now=world.clock(),
    )
    return Call("DELETE", f"/api/v1/determinations/{QUESTION}")


def held_call(world: World, caller: str, target: str) -> Call:
    """Reject an empty inventory of the target host, held for review (made for this cell)."""
    from evict.model.records import InventoryReport

    host = HOSTS[target]
    info = world.store.host(
        world.store.org("Rival" if host.startswith("rival") else "DHS").id, host
    )
    empty = InventoryReport(world.next("held").replace("-", "_") + "_report", "0" * 64, ())
    assert world.store.ingest(info, empty, now=world.clock()).status == "held"
    return Call("POST", f"/api/v1/hosts/{host}/held", json={"decision": "reject"})


def token_user(world: World, caller: str, target: str) -> str:
    """The user a token cell is about."""
    if target == "self":
        return world.users.get(caller, "east-extra")
    return TOKEN_USERS[target]


def token_create_call(world: World, caller: str, target: str) -> Call:
    """Ask for a token for the target user."""
    return Call(
        "POST", "/api/v1/tokens", json={"user": token_user(world, caller, target), "days": 1}
    )


def token_revoke_call(world: World, caller: str, target: str) -> Call:
    """Revoke a fresh token of the target user (made for this cell)."""
    user = token_user(world, caller, target)
    info, _ = world.store.create_token(user, days=30, actor="cli:test", now=world.clock())
    return Call("DELETE", f"/api/v1/tokens/{info.id}")


def user_create_call(world: World, caller: str, target: str) -> Call:
    """Create an auditor in the target unit."""
    body = {"name": world.next("new-user"), "role": "auditor", "org_unit": UNITS[target]}
    return Call("POST", "/api/v1/users", json=body)


def inventory_call(world: World, caller: str, target: str) -> Call:
    """A full report about the target's host, sent with the caller's credential."""
    import gzip
    import json

    body = world.report("east-1", about=HOSTS[target])
    return Call(
        "POST",
        "/api/v1/inventory",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )


def digest_call(world: World, caller: str, target: str) -> Call:
    """The digest of east-1's stored inventory."""
    body = world.report("east-1")
    return Call(
        "POST",
        "/api/v1/inventory/digest",
        json={"report_id": body["report_id"], "digest": body["digest"]},
    )


def enroll_call(world: World, caller: str, target: str) -> Call:
    """Enrol a new host with the target unit's secret (``none``: a made-up one)."""
    secret = "eve_not-a-real-secret" if target == "none" else world.secrets[UNITS[target]]
    body = {"secret": secret, "host": world.next("new-host"), "platform": "linux"}
    return Call("POST", "/api/v1/enroll", json=body)


def login_call(world: World, caller: str, target: str) -> Call:
    """Log in as DHS's password user, with the right password (own) or a wrong one."""
    password = PASSWORD if target == "own" else PASSWORD + "!"
    return Call("POST", "/api/v1/login", json={"name": "dhs-login", "password": password})


def get(path: str, **params: str) -> Callable[[World, str, str], Call]:
    """A GET of ``path`` (``{host}``, ``{unit}`` and ``{directive}`` filled per target)."""

    def call(world: World, caller: str, target: str) -> Call:
        url = path.format(host=HOSTS[target], unit=UNITS[target], directive=DIRECTIVE)
        values = {k: v.format(host=HOSTS[target], unit=UNITS[target]) for k, v in params.items()}
        return Call("GET", url, params=values or None)

    return call


def post(path: str, body: dict[str, Any]) -> Callable[[World, str, str], Call]:
    """A POST of a fixed body (names made unique per cell)."""

    def call(world: World, caller: str, target: str) -> Call:
        values = {k: world.next(v) if k == "name" else v for k, v in body.items()}
        return Call("POST", path.format(directive=DIRECTIVE), json=values)

    return call


ONE = ("own",)
API: dict[tuple[str, str], Spec] = {
    ("POST", "/api/v1/enroll"): Spec(
        enroll_call, by_secret, callers=("anonymous", "admin", "host"), targets=(*TARGETS, "none")
    ),
    ("POST", "/api/v1/inventory/digest"): Spec(digest_call, host_only, targets=ONE, writes=True),
    ("POST", "/api/v1/inventory"): Spec(inventory_call, host_only, writes=True),
    ("POST", "/api/v1/network"): Spec(
        post("/api/v1/network", {"devices": []}), org_wide_writer, targets=ONE, writes=True
    ),
    ("GET", "/api/v1/network/unmanaged"): Spec(
        get("/api/v1/network/unmanaged"), org_wide_reader, targets=ONE, listing=True
    ),
    ("GET", "/api/v1/hosts"): Spec(
        get("/api/v1/hosts", org_unit="{unit}"), unit_query, listing=True
    ),
    ("GET", "/api/v1/hosts/{host:path}"): Spec(get("/api/v1/hosts/{host}"), scoped, listing=True),
    ("POST", "/api/v1/hosts/{host:path}/state"): Spec(
        state_call, lambda c, t: scoped(c, t, "writer"), writes=True
    ),
    ("POST", "/api/v1/hosts/{host:path}/reenroll"): Spec(
        lambda w, c, t: Call("POST", f"/api/v1/hosts/{HOSTS[t]}/reenroll"),
        lambda c, t: scoped(c, t, "admin"),
        writes=True,
    ),
    ("POST", "/api/v1/hosts/{host:path}/held"): Spec(
        held_call, lambda c, t: scoped(c, t, "admin"), writes=True
    ),
    ("GET", "/api/v1/waivers"): Spec(get("/api/v1/waivers"), any_user, targets=ONE, listing=True),
    ("POST", "/api/v1/waivers"): Spec(
        waiver_call, lambda c, t: scoped(c, t, "writer"), writes=True
    ),
    ("POST", "/api/v1/waivers/{waiver_id}/revoke"): Spec(
        waiver_revoke_call, lambda c, t: scoped(c, t, "writer"), writes=True
    ),
    ("POST", "/api/v1/waivers/{waiver_id}/renew"): Spec(
        waiver_renew_call, lambda c, t: scoped(c, t, "writer"), writes=True
    ),
    ("GET", "/api/v1/questions"): Spec(
        get("/api/v1/questions"), any_user, targets=ONE, listing=True
    ),
    ("GET", "/api/v1/determinations"): Spec(
        get("/api/v1/determinations"), any_user, targets=ONE, listing=True
    ),
    ("POST", "/api/v1/determinations"): Spec(
        determination_call, org_wide_writer, targets=ONE, writes=True
    ),
    ("DELETE", "/api/v1/determinations/{question}"): Spec(
        determination_revoke_call, org_wide_writer, targets=ONE, writes=True
    ),
    ("GET", "/api/v1/directives"): Spec(get("/api/v1/directives"), any_user, targets=ONE),
    ("GET", "/api/v1/directives/{directive}/summary"): Spec(
        get("/api/v1/directives/{directive}/summary", org_unit="{unit}"), unit_query, listing=True
    ),
    ("POST", "/api/v1/directives/{directive}/adopt"): Spec(
        post("/api/v1/directives/{directive}/adopt", {"start": "2026-01-01"}),
        org_wide_admin,
        targets=ONE,
        writes=True,
    ),
    ("GET", "/api/v1/reports/{directive}.csv"): Spec(
        get("/api/v1/reports/{directive}.csv", org_unit="{unit}"), unit_query, listing=True
    ),
    ("GET", "/api/v1/reports/{directive}.json"): Spec(
        get("/api/v1/reports/{directive}.json", org_unit="{unit}"), unit_query, listing=True
    ),
    ("GET", "/api/v1/reports/{directive}.jsonl"): Spec(
        get("/api/v1/reports/{directive}.jsonl", org_unit="{unit}"), unit_query, listing=True
    ),
    ("GET", "/api/v1/reports/{directive}/{report}.{fmt}"): Spec(
        get("/api/v1/reports/{directive}/hosts.json", org_unit="{unit}"), unit_query, listing=True
    ),
    ("POST", "/api/v1/reports/{directive}/{report}.{fmt}"): Spec(
        lambda w, c, t: Call(
            "POST",
            f"/api/v1/reports/{DIRECTIVE}/hosts.json",
            json={"profile": None},
            params={"org_unit": UNITS[t]},
        ),
        unit_query,
        listing=True,
    ),
    ("GET", "/api/v1/audit"): Spec(
        get("/api/v1/audit"), org_wide_reader, targets=ONE, listing=True
    ),
    ("GET", "/api/v1/audit/verify"): Spec(get("/api/v1/audit/verify"), any_user, targets=ONE),
    ("GET", "/api/v1/audit/head"): Spec(get("/api/v1/audit/head"), any_user, targets=ONE),
    ("GET", "/api/v1/orgs"): Spec(get("/api/v1/orgs"), any_user, targets=ONE, listing=True),
    ("POST", "/api/v1/orgs/units"): Spec(
        post("/api/v1/orgs/units", {"name": "unit"}), org_wide_admin, targets=ONE, writes=True
    ),
    ("GET", "/api/v1/users"): Spec(get("/api/v1/users"), any_user, targets=ONE),
    ("POST", "/api/v1/users"): Spec(
        user_create_call,
        lambda c, t: scoped(c, t, "admin") if t != "other-unit" or not is_scoped(c) else 403,
        writes=True,
    ),
    ("GET", "/api/v1/tokens"): Spec(get("/api/v1/tokens"), any_user, targets=ONE),
    ("POST", "/api/v1/tokens"): Spec(
        token_create_call, token_rule, targets=("self", *TARGETS), writes=True
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): Spec(
        token_revoke_call, token_rule, targets=("self", *TARGETS), writes=True
    ),
    ("POST", "/api/v1/login"): Spec(
        login_call, by_password, callers=("anonymous", "admin"), targets=("own", "wrong")
    ),
    ("GET", "/api/v1/health"): Spec(get("/api/v1/health"), public, targets=ONE),
    ("GET", "/openapi.json"): Spec(get("/openapi.json"), public, targets=ONE),
}
"""Every API and documentation route: how to call it and who may."""

PUBLIC_PAGES = {("GET", "/login"), ("POST", "/login"), ("GET", "/")}
"""Dashboard pages anyone may open (the login form, and the root that redirects to a page)."""


def app_routes(catalog: Catalog) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; mounts (static files) as ``MOUNT``."""
    app = create_app(Settings(database_url="sqlite://", run_worker=False), catalog=catalog)
    found: set[tuple[str, str]] = set()
    for path, route in _flatten(app.routes):
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.add((method, path))
        elif isinstance(route, Mount):
            found.add(("MOUNT", path))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def _flatten(routes: Any) -> Any:
    """(full path, route) of every route, through routers FastAPI includes lazily."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route.path, route
            continue
        for context in contexts():
            yield context.path, context.original_route


def is_page(key: tuple[str, str]) -> bool:
    """Whether a route is one of the dashboard's pages (or its static files)."""
    method, path = key
    return method == "MOUNT" or not (path.startswith("/api/") or key in API)


def test_every_route_of_the_app_is_in_the_matrix(security_catalog: Catalog) -> None:
    routes = app_routes(security_catalog)
    api = {r for r in routes if not is_page(r)} | {r for r in routes if r[1].startswith("/api/")}
    missing = sorted(api - set(API))
    assert not missing, f"routes without access expectations (add them to API): {missing}"


def send(world: World, caller: str, call: Call) -> httpx.Response:
    """Send a cell's request as ``caller``."""
    headers = {**world.headers(caller), **(call.headers or {})}
    return world.client.request(
        call.method,
        call.url,
        json=call.json,
        params=call.params,
        content=call.content,
        headers=headers,
        follow_redirects=False,
    )


def snapshot(world: World) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """Row counts per table and every host's states: what a refused write must not change."""
    from sqlalchemy import select

    from evict.store.tables import HostStateRow

    with world.store.engine.connect() as conn:
        states = [
            tuple(r) for r in conn.execute(select(HostStateRow).order_by(HostStateRow.host_id))
        ]
    return world.counts(), states


def leaks(caller: str, text: str) -> list[str]:
    """Markers of data the caller must not see that appear in ``text``."""
    markers = OTHER_ORG_MARKERS + (OTHER_UNIT_MARKERS if is_scoped(caller) else ())
    return [m for m in markers if m in text]


def run_cell(world: World, key: tuple[str, str], spec: Spec, caller: str, target: str) -> str:
    """Check one cell; return what is wrong with it ('' when nothing is)."""
    expected = spec.expect(caller, target)
    call = spec.call(world, caller, target)
    before = snapshot(world) if spec.writes and expected != OK else None
    response = send(world, caller, call)
    status = response.status_code
    where = f"{key[0]} {key[1]} as {caller} on {target}: {status}"
    if expected == OK and not 200 <= status < 300:
        return f"{where}, expected 2xx: {response.text[:200]}"
    if expected != OK and status != expected:
        return f"{where}, expected {expected}: {response.text[:200]}"
    if before is not None and snapshot(world) != before:
        return f"{where}: a refused write changed the database"
    if spec.listing and 200 <= status < 300 and (found := leaks(caller, response.text)):
        return f"{where}: shows {found}"
    return ""


def page_cell(world: World, key: tuple[str, str], caller: str) -> str:
    """A dashboard route without a dashboard session: the login page, or nothing."""
    method, path = key
    if method == "MOUNT" or key in PUBLIC_PAGES:
        return ""
    url = path.replace("{host_id}", "east-1").replace("{host}", "east-1")
    response = world.client.request(
        method, url, headers=world.headers(caller), follow_redirects=False
    )
    status = response.status_code
    if status == 303 and response.headers.get("location", "").startswith("/login"):
        return ""
    if status in (401, 403):
        return ""
    return f"{method} {path} as {caller} without a session: {status}"


def matrix_cells(specs: dict[tuple[str, str], Spec]) -> int:
    """How many cells the API matrix checks for ``specs`` (docs/security.md quotes it)."""
    return sum(len(s.callers) * len(s.targets) for s in specs.values())


def test_the_access_matrix_holds_for_every_route_caller_and_target(
    migrated_url: str, security_catalog: Catalog
) -> None:
    world_iter = make_world(
        migrated_url,
        security_catalog,
        passwords=True,
        login_rate=(1000.0, 1000.0),
        enroll_rate=(1000.0, 1000.0),
        audit_key=Path(os.environ["EVICT_AUDIT_KEY"]),
        audit_anchor_interval=0.0,
    )
    world = next(world_iter)
    for target, host in WAIVER_HOSTS.items():
        world.enroll(host, UNITS[target])
        assert world.push(host).status_code == 200
    world.work()
    problems: list[str] = []
    checked = 0
    routes = app_routes(security_catalog)
    served = {k: s for k, s in API.items() if k in routes}
    for key, spec in served.items():
        for caller in spec.callers:
            for target in spec.targets:
                checked += 1
                problem = run_cell(world, key, spec, caller, target)
                if problem:
                    problems.append(problem)
    pages = sorted(r for r in routes if is_page(r))
    for key in pages:
        for caller in CALLERS:
            checked += 1
            if problem := page_cell(world, key, caller):
                problems.append(problem)
    world_iter.close()
    assert checked == matrix_cells(served) + len(pages) * len(CALLERS)
    assert not problems, f"{len(problems)} of {checked} cells fail:\n" + "\n".join(problems)
