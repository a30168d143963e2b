"""Whether an inventory shows enough of a host to conclude: the per-platform table."""

from __future__ import annotations

import pytest

from evict.compliance.coverage import REQUIREMENTS, assess, concludes
from evict.model.observations import Kind, Platform


@pytest.mark.parametrize(
    ("platform", "kinds", "complete", "missing"),
    [
        # Windows: installed programs AND services or drivers
        (Platform.WINDOWS, {Kind.PROGRAM}, False, ("driver|service",)),
        (Platform.WINDOWS, {Kind.PROGRAM, Kind.PROCESS}, False, ("driver|service",)),
        (Platform.WINDOWS, {Kind.SERVICE, Kind.DRIVER}, False, ("program",)),
        (Platform.WINDOWS, {Kind.PROGRAM, Kind.DRIVER}, True, ()),
        (Platform.WINDOWS, {Kind.PROGRAM, Kind.SERVICE}, True, ()),
        # macOS: apps AND launchd jobs, system extensions or installer receipts
        (Platform.MACOS, {Kind.APP}, False, ("driver|package|service",)),
        (Platform.MACOS, {Kind.APP, Kind.PACKAGE}, True, ()),
        (Platform.MACOS, {Kind.APP, Kind.SERVICE}, True, ()),
        # Linux: packages AND units, processes or kernel modules
        (Platform.LINUX, {Kind.PACKAGE}, False, ("kernel_module|process|service",)),
        (Platform.LINUX, {Kind.PACKAGE, Kind.KERNEL_MODULE}, True, ()),
        (Platform.LINUX, {Kind.PROCESS}, False, ("package",)),
        # mobile: apps
        (Platform.ANDROID, {Kind.APP}, True, ()),
        (Platform.IOS, set(), False, ("app",)),
        # nothing is required of an unknown platform, so nothing concludes
        (Platform.UNKNOWN, {Kind.PROGRAM, Kind.SERVICE}, False, ("platform",)),
    ],
)
def test_each_platform_needs_its_lists(
    platform: Platform, kinds: set[Kind], complete: bool, missing: tuple[str, ...]
) -> None:
    coverage = assess(platform, kinds)
    assert coverage.complete is complete
    assert coverage.missing == missing
    assert coverage.kinds == tuple(sorted(k.value for k in kinds))


def test_every_known_platform_has_a_rule() -> None:
    assert set(REQUIREMENTS) == set(Platform) - {Platform.UNKNOWN}


def test_an_sbom_concludes_for_embedded_code_only() -> None:
    sbom = assess(Platform.LINUX, {Kind.SBOM_COMPONENT})
    assert sbom.complete is False
    assert concludes(sbom, embedded=True)
    assert not concludes(sbom, embedded=False)
    host = assess(Platform.WINDOWS, {Kind.PROGRAM, Kind.SERVICE})
    assert concludes(host, embedded=True) and concludes(host, embedded=False)


def test_a_platform_or_kind_it_does_not_know_is_kept_not_trusted() -> None:
    coverage = assess("plan9", ["program", "wormhole"])
    assert coverage.complete is False and coverage.kinds == ("program", "wormhole")
    assert coverage.to_json() == {
        "kinds": ["program", "wormhole"],
        "complete": False,
        "missing": ["platform"],
    }
