"""Hostile agents and insiders, in process, on each backend: host takeover by re-enrolment,
emptied inventories, endless tokens, other organisations' user names, weak passwords,
account lockout.

Each test is one attack of the threat model (docs/security.md, "Hostile agents and insiders")
played against the app; every one of them succeeded before the defence it checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from evict.catalog.interface import Catalog
from evict.model.records import Role
from tests.security.seckit import ACTOR, DIRECTIVE, PASSWORD, World, make_world


@pytest.fixture
def login_world(migrated_url: str, security_catalog: Catalog) -> Iterator[World]:
    """The world with password users and the default per-address login limit."""
    yield from make_world(migrated_url, security_catalog, passwords=True)


def state(world: World, host: str, caller: str = "admin") -> str:
    response = world.client.get(f"/api/v1/hosts/{host}", headers=world.headers(caller))
    assert response.status_code == 200, response.text
    return str(response.json()["states"][DIRECTIVE]["state"])


def empty_report(world: World, host: str) -> dict[str, Any]:
    body = world.report(host)
    from evict.agent.wire import inventory_digest

    body["observations"] = []
    body["digest"] = inventory_digest(())
    return body


# -- attack 4: re-enrolment takes over a host ----------------------------------------------------


def test_the_unit_secret_alone_cannot_take_over_an_enrolled_host(world: World) -> None:
    real = world.credentials["east-1"]
    response = world.client.post(
        "/api/v1/enroll",
        json={"secret": world.secrets["East"], "host": "east-1", "platform": "windows"},
    )
    assert response.status_code == 409, "the holder of the unit's secret got a new credential"
    assert "allow" in response.json()["error"]["message"]
    assert world.push("east-1").status_code == 200, "the real agent is not locked out"
    refused = world.store.audit_events(action_prefix="host.reenroll_refused")
    assert [e.subject for e in refused] == ["host:east-1"]
    assert refused[0].payload["address"] == "testclient"
    # Proving the current credential is enough (an agent moving to another unit, say).
    world.enroll("east-1", "East", credential=real)
    assert world.push("east-1").status_code == 200


def test_an_admin_allows_one_reenrolment_and_it_is_audit_logged(world: World) -> None:
    refused = world.client.post("/api/v1/hosts/east-1/reenroll", headers=world.headers("operator"))
    assert refused.status_code == 403
    allowed = world.client.post("/api/v1/hosts/east-1/reenroll", headers=world.headers("admin"))
    assert allowed.status_code == 200 and allowed.json()["host"] == "east-1"
    detail = world.client.get("/api/v1/hosts/east-1", headers=world.headers("admin")).json()
    assert detail["reenroll_until"] is not None
    world.enroll("east-1", "East")
    again = world.client.post(
        "/api/v1/enroll",
        json={"secret": world.secrets["East"], "host": "east-1", "platform": "windows"},
    )
    assert again.status_code == 409, "the permission is good for one enrolment"
    reenrolled = [
        e for e in world.store.audit_events(action_prefix="host.re") if e.action == "host.reenroll"
    ]
    assert [(e.payload["allowed_by"], e.payload["address"]) for e in reenrolled] == [
        ("admin", "testclient")
    ]


def test_an_inventory_dropping_every_observation_is_held_for_an_admin(world: World) -> None:
    assert state(world, "east-1") == "identified"
    held = world.push("east-1", empty_report(world, "east-1"))
    assert held.status_code == 200 and held.json()["status"] == "held"
    world.work()
    assert state(world, "east-1") == "identified", "an empty inventory cleared the host"
    detail = world.client.get("/api/v1/hosts/east-1", headers=world.headers("auditor")).json()
    assert detail["held"]["address"] == "testclient" and detail["observations"] == 2

    rejected = world.client.post(
        "/api/v1/hosts/east-1/held", json={"decision": "reject"}, headers=world.headers("admin")
    )
    assert rejected.status_code == 200
    world.work()
    assert state(world, "east-1") == "identified"

    assert world.push("east-1", empty_report(world, "east-1")).json()["status"] == "held"
    operator = world.client.post(
        "/api/v1/hosts/east-1/held", json={"decision": "accept"}, headers=world.headers("operator")
    )
    assert operator.status_code == 403, "only an admin decides"
    accepted = world.client.post(
        "/api/v1/hosts/east-1/held", json={"decision": "accept"}, headers=world.headers("admin")
    )
    assert accepted.status_code == 200
    world.work()
    # Accepted, the empty inventory is the host's now; but an inventory with nothing in it
    # cannot show a product removed (it is incomplete for any platform), so the host stays
    # identified until a complete inventory without the product arrives.
    assert (
        world.client.get("/api/v1/hosts/east-1", headers=world.headers("admin")).json()[
            "observations"
        ]
        == 0
    )
    assert state(world, "east-1") == "identified"
    events = {e.action: e for e in world.store.audit_events(subject="host:east-1")}
    assert events["inventory.held"].payload["address"] == "testclient"
    assert events["inventory.accept_empty"].payload["address"] == "testclient"
    assert events["inventory.accept_empty"].actor == "user:dhs-admin"


# -- attack 6: tokens that never expire ----------------------------------------------------------


@pytest.mark.parametrize("caller", ["auditor", "operator", "admin"])
def test_no_user_can_mint_a_token_that_never_expires(world: World, caller: str) -> None:
    endless = world.client.post(
        "/api/v1/tokens", json={"days": None}, headers=world.headers(caller)
    )
    assert endless.status_code == 422, endless.text
    assert "never expires" in endless.json()["error"]["message"]
    longest = {"admin": 90, "operator": 90, "auditor": 30}[caller]
    too_long = world.client.post(
        "/api/v1/tokens", json={"days": longest + 1}, headers=world.headers(caller)
    )
    assert too_long.status_code == 422
    assert f"at most {longest} days" in too_long.json()["error"]["message"]
    default = world.client.post("/api/v1/tokens", json={}, headers=world.headers(caller))
    assert default.status_code == 201
    expires = dt.datetime.fromisoformat(default.json()["expires_at"])
    assert expires <= world.clock() + dt.timedelta(days=longest)


def test_an_admin_cannot_give_an_auditor_a_long_token(world: World) -> None:
    response = world.client.post(
        "/api/v1/tokens",
        json={"user": "east-extra", "days": 60},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert "auditor role last at most 30 days" in response.json()["error"]["message"]


# -- attack 7: other organisations' user names -----------------------------------------------


def test_a_user_name_of_another_organisation_looks_free(world: World) -> None:
    body = {"name": "rival-admin", "role": "auditor", "password": "plum vortex gravel sonnet"}
    created = world.client.post("/api/v1/users", json=body, headers=world.headers("admin"))
    assert created.status_code == 201, "a name taken in another organisation leaked"
    own = {**body, "name": "dhs-operator"}
    taken = world.client.post("/api/v1/users", json=own, headers=world.headers("admin"))
    assert taken.status_code == 409, "a name of one's own organisation is still unique"
    # Both users named rival-admin go on working, each in its organisation.
    rival = world.client.get("/api/v1/users", headers=world.headers("rival-admin"))
    assert [u["role"] for u in rival.json() if u["name"] == "rival-admin"] == ["admin"]
    login = world.client.post(
        "/api/v1/login", json={"name": "rival-admin", "password": body["password"]}
    )
    assert login.status_code == 200
    token = {"Authorization": f"Bearer {login.json()['token']}"}
    orgs = world.client.get("/api/v1/orgs", headers=token).json()
    assert [o["name"] for o in orgs] == ["DHS"]


# -- attack 9: weak passwords --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaaaa", "at least 15 characters"),
        ("password1234", "at least 15 characters"),
        ("aaaaaaaaaaaaaaaaaaaa", "commonly used or easy to guess"),
        ("passwordpassword", "commonly used or easy to guess"),
        ("123456789012345", "commonly used or easy to guess"),
        ("qwertyuiopasdfgh", "commonly used or easy to guess"),
        ("dhs-new-user-dhs", "commonly used or easy to guess"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    world: World, password: str, reason: str
) -> None:
    body = {"name": "dhs-new-user", "role": "operator", "password": password}
    response = world.client.post("/api/v1/users", json=body, headers=world.headers("admin"))
    assert response.status_code == 422, f"{password!r} was accepted"
    assert reason in response.json()["error"]["message"]


def test_a_long_uncommon_password_is_accepted_whatever_its_characters(world: World) -> None:
    for i, password in enumerate(["plum vortex gravel sonnet", "lúpulo-ámbar-níquel-fiordo"]):
        body = {"name": f"dhs-new-{i}", "role": "operator", "password": password}
        response = world.client.post("/api/v1/users", json=body, headers=world.headers("admin"))
        assert response.status_code == 201, response.text


# -- attack 5 (in part): no per-account limit ----------------------------------------------------


def test_an_account_is_locked_with_backoff_after_failed_logins(login_world: World) -> None:
    from evict.server.ratelimit import LoginGuard, RateLimiter

    world = login_world
    moment = [1000.0]
    world.ctx.lockout = LoginGuard(after=5, base=30, cap=900, clock=lambda: moment[0])
    world.ctx.login_limit = RateLimiter(1000.0, 1000.0)  # the per-address limit is not tested here
    for i in range(5):
        wrong = world.client.post(
            "/api/v1/login",
            json={"name": "dhs-login", "password": f"guess number {i}"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert wrong.status_code == 401
    locked = world.client.post("/api/v1/login", json={"name": "dhs-login", "password": PASSWORD})
    assert locked.status_code == 429, "the right password after five guesses: no lockout"
    assert "failed logins for this account" in locked.json()["error"]["message"]
    assert int(locked.headers["Retry-After"]) == 30
    event = world.store.audit_events(action_prefix="login.lockout")[-1]
    assert event.subject == "user:dhs-login" and event.payload["address"] == "testclient"
    # A name no one has is locked the same way: lockouts do not reveal which names exist.
    for i in range(6):
        world.client.post("/api/v1/login", json={"name": "no-such-user", "password": f"x{i}"})
    ghost = world.client.post("/api/v1/login", json={"name": "no-such-user", "password": "x"})
    assert ghost.status_code == 429
    moment[0] += 31
    wrong = world.client.post("/api/v1/login", json={"name": "dhs-login", "password": "nope"})
    assert wrong.status_code == 401
    again = world.client.post("/api/v1/login", json={"name": "dhs-login", "password": PASSWORD})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 60, "backoff"
    moment[0] += 61
    ok = world.client.post("/api/v1/login", json={"name": "dhs-login", "password": PASSWORD})
    assert ok.status_code == 200


def test_the_lockout_guards_the_dashboard_sign_in_too(login_world: World) -> None:
    import re

    from evict.server.ratelimit import LoginGuard

    world = login_world
    world.ctx.lockout = LoginGuard(after=2, base=30, cap=900, clock=lambda: 5.0)

    def sign_in(password: str) -> int:
        page = world.client.get("/login")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce
        response = world.client.post(
            "/login",
            data={"name": "dhs-login", "password": password, "csrf": nonce.group(1)},
            follow_redirects=False,
        )
        return response.status_code

    assert [sign_in("wrong one"), sign_in("wrong two"), sign_in(PASSWORD)] == [401, 401, 429]


def test_store_level_token_cap_also_binds_the_command_line_path(world: World) -> None:
    from evict.model.records import InvalidValueError

    world.store.create_user(
        "cli-auditor", org="DHS", role=Role.AUDITOR, password=None, actor=ACTOR, now=world.clock()
    )
    limits = world.ctx.settings.token_max_days
    with pytest.raises(InvalidValueError, match="at most 30 days"):
        world.store.create_token(
            "cli-auditor", days=None, actor=ACTOR, now=world.clock(), max_days=limits
        )
    info, _ = world.store.create_token(
        "cli-auditor", days=30, actor=ACTOR, now=world.clock(), max_days=limits
    )
    assert info.expires_at == world.clock() + dt.timedelta(days=30)


def test_the_host_page_shows_a_held_inventory_and_lets_an_admin_decide(
    login_world: World,
) -> None:
    import re

    world = login_world
    world.store.create_user(
        "page-admin", org="DHS", role=Role.ADMIN, password=PASSWORD, actor=ACTOR, now=world.clock()
    )
    page = world.client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce
    signed_in = world.client.post(
        "/login",
        data={"name": "page-admin", "password": PASSWORD, "csrf": nonce.group(1)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert world.push("east-1", empty_report(world, "east-1")).json()["status"] == "held"
    host_id = world.store.host(world.store.org("DHS").id, "east-1").id
    html = world.client.get(f"/hosts/{host_id}").text
    assert "Inventory held for review" in html and "testclient" in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    decided = world.client.post(
        f"/hosts/{host_id}/held",
        data={"csrf": csrf.group(1), "decision": "reject"},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert "Inventory held for review" not in world.client.get(f"/hosts/{host_id}").text
    allowed = world.client.post(
        f"/hosts/{host_id}/reenroll", data={"csrf": csrf.group(1)}, follow_redirects=False
    )
    assert allowed.status_code == 303
    world.enroll("east-1", "East")  # the permission works once
    assert [e.action for e in world.store.audit_events(action_prefix="inventory.reject")] == [
        "inventory.reject_empty"
    ]
