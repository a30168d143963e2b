"""The agent-server protocol: the inventory digest and report checks."""

from __future__ import annotations

import datetime as dt

import pytest

from evict.agent.wire import (
    TooManyObservations,
    WireError,
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
