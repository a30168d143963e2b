"""Hostile request bodies against every POST route: a clear 4xx, never a 5xx, nothing lost.

Hypothesis draws bodies (random bytes, broken and truncated JSON, JSON of the wrong shape,
NUL characters, huge strings, deep nesting) for each route that takes one; fixed cases cover gzip
bombs, unknown content encodings, too many observations and oversized bodies. After each
answer the rows already stored are all still there, and at the end the audit chain verifies.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evict.catalog.interface import Catalog
from evict.server.limits import SMALL_BODY_BYTES
from tests.security.seckit import DIRECTIVE, World, make_world

EXAMPLES = 25
"""Bodies drawn per route and backend (the fuzz run in docs/security.md draws more)."""

MAX_OBSERVATIONS = 50
INFLATED = 256 * 1024
"""The world's limits, small so the tests stay fast (the defaults are in evict.settings)."""

ROUTES: dict[str, str] = {
    "/api/v1/enroll": "anonymous",
    "/api/v1/inventory/digest": "host",
    "/api/v1/inventory": "host",
    "/api/v1/hosts/east-1/state": "admin",
    "/api/v1/waivers": "admin",
    f"/api/v1/directives/{DIRECTIVE}/adopt": "admin",
    "/api/v1/orgs/units": "admin",
    "/api/v1/users": "admin",
    "/api/v1/tokens": "admin",
    "/api/v1/login": "anonymous",
}
"""Every POST route of the API and who sends to it (so the body, not the token, is judged)."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)
FIELDS = (
    "secret host hostname platform report_id digest observations kind name version publisher "
    "identifiers source directive to reason justification approver expires start role "
    "password org_unit user days label collected_at"
).split()
shaped = st.dictionaries(st.sampled_from(FIELDS), json_values | st.text(), max_size=8)
hostile_text = st.sampled_from(
    ["\x00", "a\x00b", "\u202e", "\ud7ff", "x" * 5000, "=cmd|' /C calc'!A0", "../../etc/passwd"]
)
with_hostile_strings = st.dictionaries(st.sampled_from(FIELDS), hostile_text, min_size=1)


def encoded(value: Any) -> bytes:
    """JSON as the server would read it (NaN and friends refused by the strategy)."""
    return json.dumps(value).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(encoded, json_values),
    st.builds(encoded, shaped),
    st.builds(encoded, with_hostile_strings),
    st.builds(lambda d: ("[" * d).encode(), st.integers(1000, 200_000)),
    st.builds(lambda d: ('{"a":' * d).encode(), st.integers(1000, 100_000)),
    st.builds(lambda v, n: encoded(v)[:n], shaped, st.integers(0, 60)),
)


@pytest.fixture
def small_world(migrated_url: str, security_catalog: Catalog) -> Any:
    """The world with small inventory limits and generous rate limits."""
    yield from make_world(
        migrated_url,
        security_catalog,
        max_observations=MAX_OBSERVATIONS,
        max_inflated_bytes=INFLATED,
        max_body_bytes=INFLATED // 2,
        enroll_rate=(10_000.0, 10_000.0),
        login_rate=(10_000.0, 10_000.0),
    )


def post(world: World, path: str, who: str, content: bytes, **headers: str) -> Any:
    """POST raw bytes as ``who``."""
    all_headers = {"Content-Type": "application/json", **world.headers(who), **headers}
    return world.client.post(path, content=content, headers=all_headers)


def assert_refused_cleanly(response: Any, what: str) -> None:
    """A 4xx in evict's error format, with a message a person can act on."""
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    error = response.json().get("error")
    assert error and error["message"], f"{what}: no error message in {response.text[:300]}"


def assert_nothing_lost(world: World, before: dict[str, int], response: Any) -> None:
    """A refused body changes no table; an accepted one only adds."""
    after = world.counts()
    if 200 <= response.status_code < 300:
        shrunk = {t: (n, after[t]) for t, n in before.items() if after[t] < n}
        assert not shrunk, f"rows lost after an accepted body: {shrunk}"
    else:
        assert after == before, "a refused body changed the database"


def test_hypothesis_bodies_get_a_4xx_and_lose_nothing(small_world: World) -> None:
    world = small_world
    seen: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES * len(ROUTES),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(path=st.sampled_from(sorted(ROUTES)), body=bodies, gzipped=st.booleans())
    def check(path: str, body: bytes, gzipped: bool) -> None:
        seen[path] = seen.get(path, 0) + 1
        before = world.counts()
        headers = {"Content-Encoding": "gzip"} if gzipped else {}
        content = gzip.compress(body) if gzipped else body
        response = post(world, path, ROUTES[path], content, **headers)
        assert response.status_code < 500, f"{path}: {response.status_code} {response.text}"
        if response.status_code >= 400:
            assert_refused_cleanly(response, path)
        assert_nothing_lost(world, before, response)

    check()
    assert set(seen) == set(ROUTES), "every route got bodies"
    assert world.store.verify_audit().ok


def inventory(world: World, observations: list[dict[str, Any]]) -> bytes:
    """A full report for east-1 with these observations."""
    body = world.report("east-1")
    body["observations"] = observations
    return json.dumps(body).encode()


def test_a_gzip_bomb_is_refused_before_it_inflates(small_world: World) -> None:
    world = small_world
    bomb = gzip.compress(b" " * (INFLATED * 40), compresslevel=9)
    assert len(bomb) < INFLATED // 2, "small on the wire"
    before = world.counts()
    response = post(world, "/api/v1/inventory", "host", bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "inflates to over" in response.json()["error"]["message"]
    assert world.counts() == before


def test_a_deflate_stream_passed_off_as_gzip_is_refused(small_world: World) -> None:
    raw = inventory(small_world, [])
    response = post(
        small_world, "/api/v1/inventory", "host", zlib.compress(raw), **{"Content-Encoding": "gzip"}
    )
    assert response.status_code == 422
    assert "not valid gzip" in response.json()["error"]["message"]


def test_an_unknown_content_encoding_is_refused(small_world: World) -> None:
    raw = inventory(small_world, [])
    for encoding in ("br", "deflate", "compress", "gzip, gzip", "x-evil"):
        headers = {"Content-Encoding": encoding}
        response = post(small_world, "/api/v1/inventory", "host", raw, **headers)
        assert response.status_code == 422, encoding
        assert "Content-Encoding" in response.json()["error"]["message"]
        response = post(small_world, "/api/v1/login", "anonymous", b"{}", **headers)
        assert response.status_code == 415, "only inventory reports may be compressed"


def test_a_truncated_gzip_body_is_refused(small_world: World) -> None:
    data = gzip.compress(inventory(small_world, [{"kind": "program", "name": "7-Zip"}]))
    response = post(
        small_world,
        "/api/v1/inventory",
        "host",
        data[: len(data) // 2],
        **{"Content-Encoding": "gzip"},
    )
    assert response.status_code == 422
    assert "truncated" in response.json()["error"]["message"]


def test_one_observation_over_the_limit_is_refused_and_the_limit_is_stored_as_is(
    small_world: World,
) -> None:
    world = small_world
    many = [{"kind": "program", "name": f"Tool {i}", "source": "osquery"} for i in range(51)]
    before = world.counts()
    response = post(world, "/api/v1/inventory", "host", inventory(world, many))
    assert response.status_code == 413
    assert "at most 50" in response.json()["error"]["message"]
    assert world.counts() == before
    response = post(world, "/api/v1/inventory", "host", inventory(world, many[:50]))
    assert response.status_code == 200, response.text
    assert response.json()["observations"] == 50


OBSERVATION_LIMITS = [
    ({"kind": "program", "name": "x" * 5000}, "observations[0].name: must be at most 4096"),
    ({"kind": "program", "name": "a", "identifiers": {"cpe": ["c"] * 300}}, "at most 256"),
    ({"kind": "program", "name": "a", "identifiers": {"cpe": [1]}}, "lists of strings"),
    ({"kind": "rootkit", "name": "a"}, "unknown kind"),
]


def test_observation_fields_have_limits(small_world: World) -> None:
    for observation, says in OBSERVATION_LIMITS:
        body = inventory(small_world, [observation])
        response = post(small_world, "/api/v1/inventory", "host", body)
        assert response.status_code == 422
        assert says in response.json()["error"]["message"]


def test_several_values_of_one_identifier_are_accepted(small_world: World) -> None:
    observation = {
        "kind": "program",
        "name": "Kaspersky Endpoint Security for Windows",
        "identifiers": {"cpe": ["cpe:2.3:a:kaspersky:endpoint_security:*", "cpe:/a:kaspersky"]},
        "source": "sbom",
    }
    response = post(small_world, "/api/v1/inventory", "host", inventory(small_world, [observation]))
    assert response.status_code == 200, response.text


def test_inventory_bodies_over_the_sent_limit_are_refused(small_world: World) -> None:
    body = b" " * (INFLATED // 2 + 1)
    response = post(small_world, "/api/v1/inventory", "host", body)
    assert response.status_code == 413


def test_other_bodies_over_a_mebibyte_are_refused_declared_or_not(small_world: World) -> None:
    world = small_world
    big = json.dumps({"name": "a" * SMALL_BODY_BYTES, "password": "b"}).encode()

    def chunks() -> Any:
        for _ in range(SMALL_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    for path in ("/api/v1/login", "/api/v1/waivers", "/api/v1/enroll"):
        who = ROUTES[path]
        response = post(world, path, who, big)
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "BodyTooLarge"
        headers = {"Content-Type": "application/json", **world.headers(who)}
        response = world.client.post(path, content=chunks(), headers=headers)
        assert response.status_code == 413, "a body without a length is counted as it comes"


def test_nul_characters_in_lookups_are_a_4xx_on_every_backend(small_world: World) -> None:
    world = small_world
    cases = [
        ("/api/v1/login", "anonymous", {"name": "a\x00b", "password": "x"}),
        ("/api/v1/tokens", "admin", {"user": "dhs-\x00admin"}),
        (
            "/api/v1/enroll",
            "anonymous",
            {"secret": world.secrets["East"], "host": "h", "hostname": "a\x00"},
        ),
    ]
    for path, who, body in cases:
        before = world.counts()
        response = post(world, path, who, json.dumps(body).encode())
        assert_refused_cleanly(response, path)
        assert world.counts() == before
