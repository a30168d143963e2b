"""Rate limits on enrolment and login, revocation that takes effect at once, no secret in logs."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator

import pytest

from evict.catalog.interface import Catalog
from evict.server.ratelimit import RateLimiter
from evict.settings import Settings
from tests.security.seckit import PASSWORD, World, make_world


@pytest.fixture
def default_world(migrated_url: str, security_catalog: Catalog) -> Iterator[World]:
    """The world with the server's default rate limits and password users."""
    yield from make_world(migrated_url, security_catalog, passwords=True)


def frozen(limiter: RateLimiter) -> RateLimiter:
    """The same limit with time standing still: every request falls in one window."""
    return RateLimiter(limiter.burst, limiter.rate, clock=lambda: 1000.0)


def test_the_login_after_the_burst_gets_429_with_retry_after(default_world: World) -> None:
    world = default_world
    burst, _ = Settings(database_url="sqlite://").login_rate
    assert world.ctx.login_limit.burst == burst, "the server runs with the default limit"
    world.ctx.login_limit = frozen(world.ctx.login_limit)
    for i in range(int(burst)):
        # A name per attempt: the per-account lockout stays out of the way of this limit.
        response = world.client.post("/api/v1/login", json={"name": f"nobody-{i}", "password": "x"})
        assert response.status_code == 401
    response = world.client.post("/api/v1/login", json={"name": "dhs-login", "password": PASSWORD})
    assert response.status_code == 429, "even the right password waits once the burst is spent"
    assert int(response.headers["Retry-After"]) >= 1
    assert "too many login requests" in response.json()["error"]["message"]


def test_the_enrolment_after_the_burst_gets_429(default_world: World) -> None:
    world = default_world
    burst, _ = Settings(database_url="sqlite://").enroll_rate
    assert world.ctx.enroll_limit.burst == burst, "the server runs with the default limit"
    world.ctx.enroll_limit = frozen(world.ctx.enroll_limit)
    for i in range(int(burst)):
        body = {"secret": "eve_guess", "host": f"guess-{i}"}
        assert world.client.post("/api/v1/enroll", json=body).status_code == 404
    body = {"secret": world.secrets["East"], "host": "late"}
    response = world.client.post("/api/v1/enroll", json=body)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_a_revoked_token_is_refused_at_once(default_world: World) -> None:
    world = default_world
    created = world.client.post(
        "/api/v1/tokens", json={"days": 1}, headers=world.headers("operator")
    )
    assert created.status_code == 201
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    assert world.client.get("/api/v1/hosts", headers=token).status_code == 200
    revoked = world.client.delete(
        f"/api/v1/tokens/{created.json()['id']}", headers=world.headers("operator")
    )
    assert revoked.status_code == 204
    assert world.client.get("/api/v1/hosts", headers=token).status_code == 401


def test_a_host_enrolled_again_retires_its_old_credential_at_once(default_world: World) -> None:
    world = default_world
    old = world.credentials["east-1"]
    world.enroll("east-1", "East", credential=old)
    assert world.credentials["east-1"] != old
    world.credentials["old"] = old
    body = world.report("east-1")
    response = world.client.post(
        "/api/v1/inventory",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {old}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 401
    assert world.push("east-1").status_code == 200


def test_no_secret_password_or_token_appears_in_any_log(
    default_world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    world = default_world
    caplog.set_level(logging.DEBUG)
    client = world.client
    admin = world.headers("admin")
    unit = client.post("/api/v1/orgs/units", json={"name": "North"}, headers=admin).json()
    new_password = "another long passphrase 42"
    user = {"name": "north-admin", "role": "admin", "org_unit": "North", "password": new_password}
    assert client.post("/api/v1/users", json=user, headers=admin).status_code == 201
    login = client.post("/api/v1/login", json={"name": "north-admin", "password": new_password})
    assert login.status_code == 200
    bad_login = client.post("/api/v1/login", json={"name": "north-admin", "password": PASSWORD})
    assert bad_login.status_code == 401
    made = client.post("/api/v1/tokens", json={"days": 1}, headers=admin).json()
    enrolled = client.post(
        "/api/v1/enroll", json={"secret": unit["enroll_secret"], "host": "north-1"}
    ).json()
    world.credentials["north-1"] = enrolled["credential"]
    assert world.push("north-1").status_code == 200
    bad = client.post("/api/v1/enroll", json={"secret": unit["enroll_secret"] + "x", "host": "h"})
    assert bad.status_code == 404
    world.work()
    secrets = {
        "enrolment secret": unit["enroll_secret"],
        "password": new_password,
        "wrong password": PASSWORD,
        "login token": login.json()["token"],
        "API token": made["token"],
        "admin token": world.tokens["admin"],
        "host credential": enrolled["credential"],
    }
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert caplog.records, "the test captured log records (DEBUG and up)"
    leaked = [what for what, value in secrets.items() if value in logged]
    assert not leaked, f"logged: {leaked}"
    audit = client.get("/api/v1/audit", headers=admin).text
    assert not [w for w, v in secrets.items() if v in audit], "the audit trail holds no secret"
