"""The agent-server protocol: the inventory digest and report checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from evict.agent.wire import (
    TooManyObservations,
    WireError,
    decode_report,
    inventory_digest,
    parse_report,
    report_body,
)
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform

A = Observation.make(Kind.PACKAGE, "kesl", version="12.1.0-1297", source="osquery:deb_packages")
B = Observation.make(Kind.PACKAGE, "bash", version="5.1", source="osquery:deb_packages")


def inventory(*observations: Observation) -> HostInventory:
    return HostInventory(
        HostID("lx-app-03"),
        "lx-app-03",
        Platform.LINUX,
        dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC),
        observations,
        "osquery",
    )


def test_the_digest_ignores_order_but_not_versions_or_sources() -> None:
    assert inventory_digest([A, B]) == inventory_digest([B, A])
    newer = Observation.make(Kind.PACKAGE, "kesl", version="12.2", source="osquery:deb_packages")
    assert inventory_digest([A, B]) != inventory_digest([newer, B])
    elsewhere = Observation.make(Kind.PACKAGE, "kesl", version="12.1.0-1297", source="local:dpkg")
    assert inventory_digest([A]) != inventory_digest([elsewhere])
    assert inventory_digest([]) == inventory_digest(())


def test_a_report_round_trips_through_the_checks() -> None:
    body = report_body(inventory(A, B), "0123456789abcdef")
    parsed = parse_report(body, max_observations=10)
    assert (parsed.report_id, parsed.host, parsed.platform) == (
        "0123456789abcdef",
        "lx-app-03",
        "linux",
    )
    assert parsed.observations == (A, B)
    assert body["digest"] == inventory_digest(parsed.observations)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.update(report_id="short"), "report_id"),
        (lambda b: b.update(host="lx"), "host"),
        (lambda b: b["host"].update(id=""), "host.id"),
        (lambda b: b["host"].update(id="a\x00b"), "host.id"),
        (lambda b: b["host"].update(platform="beos"), "host.platform"),
        (lambda b: b.update(collected_at="yesterday"), "collected_at"),
        (lambda b: b.update(observations={}), "observations"),
        (lambda b: b["observations"].append("kesl"), "observations[2]"),
        (lambda b: b["observations"][1].update(kind="rootkit"), "observations[1].kind"),
        (lambda b: b["observations"][0].update(version=12), "observations[0].version"),
        (
            lambda b: b["observations"][0].update(identifiers={"purl": 1}),
            "observations[0].identifiers",
        ),
    ],
)
def test_a_bad_report_names_the_field(change, where: str) -> None:
    body = report_body(inventory(A, B), "0123456789abcdef")
    change(body)
    with pytest.raises(WireError) as e:
        parse_report(body, max_observations=10)
    assert e.value.where == where


def test_too_many_observations_is_its_own_error() -> None:
    body = report_body(inventory(A, B, A), "0123456789abcdef")
    with pytest.raises(TooManyObservations, match="holds 3 observations; at most 2"):
        parse_report(body, max_observations=2)


def test_the_body_must_be_an_object() -> None:
    with pytest.raises(WireError, match="JSON object"):
        parse_report([1, 2], max_observations=10)


def test_software_seen_before_is_checked_and_cleaned_the_same_way() -> None:
    odd = Observation.make(Kind.PROGRAM, "Kaspersky\x1b[31m Agent", version="1\x00.2", source="x")
    first = parse_report(report_body(inventory(odd, B), "0123456789abcdef"), max_observations=10)
    again = parse_report(report_body(inventory(odd, B), "0123456789abcdeg"), max_observations=10)
    assert first.observations == again.observations == (odd, B)
    body = report_body(inventory(B), "0123456789abcdeh")
    body["observations"][0]["name"] = "b" * 100_000
    with pytest.raises(WireError) as e:
        parse_report(body, max_observations=10)
    assert e.value.where == "observations[0].name"
    body["observations"][0]["name"] = ["bash"]
    with pytest.raises(WireError) as e:
        parse_report(body, max_observations=10)
    assert e.value.where == "observations[0].name"


def _both(body: object, limit: int = 100_000) -> tuple[object, object]:
    """What the compiled decoder and the parser make of one body (an error as its text)."""
    import json

    from evict.agent.wire import decode_report
    from evict.matching.engine import software_key

    raw = json.dumps(body, ensure_ascii=False).encode()
    try:
        fast: object = decode_report(raw, max_observations=limit)
    except WireError as e:
        fast = f"error: {e}"
    if isinstance(fast, tuple):  # with each observation's software key, as the store makes it
        report, digest = fast
        assert report.software_keys == tuple(software_key(o) for o in report.observations)
        fast = (dataclasses.replace(report, software_keys=None), digest)
    try:
        parsed = parse_report(json.loads(raw), max_observations=limit)
        slow: object = (parsed, inventory_digest(parsed.observations))
    except WireError as e:
        slow = f"error: {e}"
    return fast, slow


def test_the_compiled_decoder_gives_the_parsers_report_and_digest() -> None:
    from evict.demo.simulate import generate_host

    at = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    for index in range(60):  # every platform, covered products, hostile-looking names
        host = generate_host(11, index, snapshot=index % 3, at=at)
        body = report_body(host, f"report-{index:06d}", addresses=["10.0.0.7"])
        fast, slow = _both(body)
        assert fast is not None and fast == slow
        assert fast[1] == body["digest"]  # type: ignore[index]
    odd = Observation.make(
        Kind.PROGRAM, "Ünïcødé \u202e app", version="1.0", publisher="株式会社", source="x",
        identifiers={"product_code": "{ABC}", "path": "C:\\Program Files\\é"},
    )  # fmt: skip
    fast, slow = _both(report_body(inventory(odd, A, odd, B), "report-odd-1"))
    assert fast is not None and fast == slow
    # The software key is the one stored since the first schema (a change would split every
    # stored software row from its new reports).
    report = decode_report(json.dumps(report_body(inventory(odd), "report-odd-2")).encode(),
                           max_observations=10)  # fmt: skip
    assert report is not None and report[0].software_keys == (
        "506d96bda7b0e263b1563b24b85b5557e39f84f8bff7584aa01f663b2b06dc21",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"identifiers": {"cpe": ["cpe:2.3:a:x:y", "cpe:2.3:a:x:z"]}},  # several values: a list
        {"name": 12},
        {"kind": "firmware"},
        {"kind": None},
        {"version": "x" * 5000},
        {"identifiers": {"k": 1}},
    ],
)
def test_an_uncommon_observation_is_left_to_the_parser(change: dict[str, object]) -> None:
    body = report_body(inventory(A, B), "report-uncommon")
    observations = body["observations"]
    assert isinstance(observations, list)
    observations[1] = {**observations[1], **change}
    fast, slow = _both(body)
    # The parser decides: an error saying where, or (a list of identifiers) the report.
    assert fast is None or fast == slow
    if fast is None and not isinstance(slow, str):
        assert slow[0].observations[0] == A  # type: ignore[index]


def test_header_errors_and_the_observation_limit_are_the_parsers() -> None:
    body = report_body(inventory(A, B), "report-header")
    fast, slow = _both({**body, "report_id": "no"})
    assert fast == slow and str(fast).startswith("error: report_id")
    fast, slow = _both({**body, "host": "lx-app-03"})
    assert fast == slow and str(fast).startswith("error: host")
    fast, slow = _both(body, limit=1)
    assert fast is None and "at most 1 are accepted" in str(slow)
    fast, slow = _both([body])
    assert fast is None and "JSON object" in str(slow)


def test_a_body_nested_too_deeply_is_left_to_the_parser() -> None:
    from evict.agent.wire import decode_report

    assert decode_report(b'{"a":' * 5000, max_observations=10) is None
    assert decode_report(b'{"observations": []' + b', "x": [' * 5000, max_observations=10) is None
