"""The planner on inventories with awkward contents: hostile values never become code, products
without a recipe, mobile hosts, protection the catalog cannot confirm, one directive at a time."""

from __future__ import annotations

import datetime as dt

from evict.matching.engine import Matcher
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform
from evict.remediation import Op, Phase, Policy
from evict.remediation.planner import plan_inventory
from tests.remediation.remedykit import TODAY

K = Kind
WHEN = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def host(platform: Platform, *observations: Observation, name: str = "h1") -> HostInventory:
    return HostInventory(HostID(name), name, platform, WHEN, observations, source="test")


def obs(kind: Kind, name: str, publisher: str = "", **ids: str) -> Observation:
    return Observation.make(kind, name, publisher=publisher, identifiers=ids, source="test")


DEFENDER = obs(K.SERVICE, "WinDefend")
KES_WIN = obs(
    K.PROGRAM,
    "Kaspersky Endpoint Security for Windows",
    "AO Kaspersky Lab",
    product_code="{9EE91037-F015-4120-ACC8-C673D5134034}",
    path="C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\",
)


def plan(matcher: Matcher, inventory: HostInventory, **policy: object):  # type: ignore[no-untyped-def]
    return plan_inventory(inventory, matcher, policy=Policy(**policy), today=TODAY)  # type: ignore[arg-type]


def test_a_hostile_product_code_is_skipped_and_never_reaches_a_command(matcher: Matcher) -> None:
    evil = obs(
        K.PROGRAM,
        "Kaspersky Endpoint Security for Windows",
        "AO Kaspersky Lab",
        product_code="{x}'); Remove-Item C:\\ -Recurse; ('",
    )
    p = plan(matcher, host(Platform.WINDOWS, DEFENDER, evil))
    text = "\n".join(s.command + s.check for s in p.steps)
    assert "Remove-Item C:\\ -Recurse" not in text
    manual = [s for s in p.steps if s.phase is Phase.REMOVE]
    assert [s.operation.op for s in manual] == [Op.PROGRAM_ABSENT] and manual[0].manual
    assert any("no MSI product code" in w for w in p.warnings)


def test_hostile_names_are_quoted_and_foreign_paths_are_not_deleted(matcher: Matcher) -> None:
    folder = obs(K.FILE, "x", path="/opt/kaspersky/kesl/$(reboot) kaspersky's")
    unit = obs(K.SERVICE, "kesl")
    package = obs(K.PACKAGE, "kesl", "AO Kaspersky Lab", purl="pkg:deb/debian/kesl@12.1")
    clam = obs(K.PACKAGE, "clamav-daemon", purl="pkg:deb/debian/clamav-daemon@1.4")
    foreign = obs(K.FILE, "kesl-control", "AO Kaspersky Lab", path="/usr/bin/kesl-control")
    p = plan(matcher, host(Platform.LINUX, folder, unit, package, clam, foreign))
    assert p.replacement == "clamav" and not p.refusal
    leftovers = [s for s in p.steps if s.phase is Phase.LEFTOVER]
    (odd,) = [s for s in leftovers if "reboot" in s.title]
    assert odd.command == "rm -rf -- '/opt/kaspersky/kesl/$(reboot) kaspersky'\"'\"'s'"
    assert all("/usr/bin" not in (s.operation.paths or ("",))[0] for s in leftovers), (
        "a path that does not name the vendor is not a leftover to delete"
    )


def test_a_product_without_recipe_is_uninstalled_by_its_own_product_code(
    matcher: Matcher,
) -> None:
    kis = obs(
        K.PROGRAM,
        "Kaspersky Internet Security",
        "AO Kaspersky Lab",
        product_code="{5E3A1C2B-0D4F-4A6B-9C8D-7E6F5A4B3C2D}",
    )
    p = plan(matcher, host(Platform.WINDOWS, DEFENDER, kis))
    (remove,) = [s for s in p.steps if s.phase is Phase.REMOVE]
    assert remove.operation.op is Op.MSI_UNINSTALL and remove.operation.properties == ()
    assert any("no vendor recipe" in w for w in p.warnings)


def test_a_windows_host_without_defender_gets_it_enabled_first(matcher: Matcher) -> None:
    p = plan(matcher, host(Platform.WINDOWS, KES_WIN))
    assert p.coverage_gap and p.replacement == "microsoft-defender" and not p.refusal
    phases = [s.phase for s in p.steps]
    assert phases[:3] == [Phase.REPLACE, Phase.CONFIRM, Phase.REMOVE]
    assert "Install-WindowsFeature -Name Windows-Defender" in p.steps[0].command


def test_policy_without_defender_makes_the_same_host_refuse(matcher: Matcher) -> None:
    p = plan(matcher, host(Platform.WINDOWS, KES_WIN), approved=("clamav",))
    assert p.refusal and not p.removes and p.steps == ()


def test_android_plan_asks_the_mdm_to_remove_the_app(matcher: Matcher) -> None:
    app = obs(K.APP, "TikTok", package_id="com.zhiliaoapp.musically")
    p = plan(matcher, host(Platform.ANDROID, app))
    assert p.shell.value == "mdm" and not p.coverage_gap, "TikTok protects nothing: no gap"
    (step,) = p.steps
    assert step.operation.op is Op.MDM_REMOVE and step.operation.names == (
        "com.zhiliaoapp.musically",
    )
    assert step.manual and step.command == ""


def test_protection_the_catalog_cannot_confirm_is_relied_on_with_a_warning(
    matcher: Matcher,
) -> None:
    sophos = obs(K.FILE, "avscanner", path="/opt/sophos-spl/plugins/av/bin/avscanner")
    kesl = obs(K.PACKAGE, "kesl", purl="pkg:deb/debian/kesl@12.1")
    p = plan(matcher, host(Platform.LINUX, sophos, kesl))
    assert p.protection == ("sophos-endpoint",) and not p.coverage_gap and not p.refusal
    assert p.steps[0].phase is Phase.REMOVE
    assert any("confirm it by hand" in w for w in p.warnings)


def test_only_the_directives_asked_for_are_planned(matcher: Matcher) -> None:
    tiktok = obs(K.PACKAGE, "TikTok", package_id="BytedancePte.Ltd.TikTok")
    inventory = host(Platform.WINDOWS, DEFENDER, KES_WIN, tiktok)
    both = plan(matcher, inventory)
    assert {"kaspersky-endpoint-security", "tiktok"} <= set(both.products)
    only = plan_inventory(
        inventory,
        matcher,
        policy=Policy(),
        today=TODAY,
        directives=[matcher.catalog.directive("omb-m-23-13")],
    )
    assert only.products == ("tiktok",) and only.directives == ("omb-m-23-13",)
    (remove,) = [s for s in only.steps if s.phase is Phase.REMOVE]
    assert "Remove-AppxPackage -AllUsers" in remove.command


def test_plan_json_carries_milestones_and_sources(matcher: Matcher) -> None:
    p = plan(matcher, host(Platform.WINDOWS, DEFENDER, KES_WIN))
    doc = p.to_json()
    assert doc["milestones"]["bod-17-01"]["due"] == "2026-12-25"  # type: ignore[index]
    steps = doc["steps"]
    assert isinstance(steps, list)
    assert all(s["check"] for s in steps), "every step has a check"
    assert any("support.kaspersky.com" in s.get("source", "") for s in steps)


def test_a_gap_withholds_the_antivirus_but_still_removes_unrelated_apps(matcher: Matcher) -> None:
    tiktok = obs(K.APP, "TikTok", package_id="com.zhiliaoapp.musically")
    kaspersky = obs(K.APP, "Kaspersky Security & VPN", package_id="com.kms.free")
    p = plan(matcher, host(Platform.ANDROID, tiktok, kaspersky))
    assert p.coverage_gap and "Kaspersky for Android" in p.refusal
    (step,) = p.steps
    assert step.operation.names == ("com.zhiliaoapp.musically",), "TikTok still goes"
    assert any(w.startswith("withheld until a replacement") for w in p.warnings)
