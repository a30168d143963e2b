"""MDM exports: Intune discovered apps (CSV, Graph JSON) and Jamf Pro (search CSV, Classic XML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.inventory.interface import SourceInputError
from evict.inventory.mdm import (
    MAX_BAD_ROWS,
    MAX_CSV_BYTES,
    MAX_PROBLEMS,
    IntuneSource,
    JamfSource,
    MdmInputError,
)
from evict.inventory.registry import open_source
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Ident, Kind, Platform

ASSETS = Path(__file__).parent.parent / "assets"
INTUNE = ASSETS / "intune"
JAMF = ASSETS / "jamf"

FIN = "0d9c5e7a-3b1f-4a62-9c8e-51f0a2b4c6d8"
MAC = "9f8e7d6c-5b4a-4392-8a1b-0c2d3e4f5a6b"
PIXEL = "c3b2a190-8f7e-4d6c-b5a4-93827160f5e4"
IPHONE = "e5d4c3b2-a190-4f8e-9d6c-5b4a39281706"
HR = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
HEADER = (
    '"ApplicationKey","ApplicationName","ApplicationPublisher","ApplicationShortVersion",'
    '"ApplicationVersion","DeviceId","DeviceName","OSDescription","OSVersion","Platform",'
    '"UserId","EmailAddress","UserName"\n'
)


def intune(*paths: Path) -> tuple[dict[str, HostInventory], IntuneSource]:
    source = IntuneSource(list(paths))
    return {inv.host: inv for inv in source.collect()}, source


def jamf(*paths: Path) -> tuple[dict[str, HostInventory], JamfSource]:
    source = JamfSource(list(paths))
    return {inv.host: inv for inv in source.collect()}, source


def row(name: str, device: str = "FIN-LT-0142", device_id: str = FIN) -> str:
    return (
        f'"k","{name}","","1.0","1.0","{device_id}","{device}","Windows 10 Enterprise",'
        '"10.0.19045.3803","Windows","u","jsmith@contoso.example","John Smith"\n'
    )


def names(inventory: HostInventory) -> set[str]:
    return {o.name for o in inventory.observations}


# -- Intune CSV --------------------------------------------------------------------------------


def test_intune_raw_data_gives_one_host_per_device_with_its_platform() -> None:
    hosts, source = intune(INTUNE / "AppInvRawData.csv")
    assert {h: (i.hostname, i.platform) for h, i in hosts.items()} == {
        FIN: ("FIN-LT-0142", Platform.WINDOWS),
        MAC: ("MKT-MBP-07", Platform.MACOS),
        PIXEL: ("Pixel-7-jsmith", Platform.ANDROID),
        IPHONE: ("iPhone-akim", Platform.IOS),
        HR: ("HR-DT-0007", Platform.WINDOWS),
    }
    assert [s.state for s in source.statuses] == ["ok"]
    assert source.statuses[0].source == f"intune:{INTUNE / 'AppInvRawData.csv'}"


def test_intune_windows_apps_are_programs_and_the_rest_apps() -> None:
    hosts, _ = intune(INTUNE / "AppInvRawData.csv")
    kes = {o.name: o for o in hosts[FIN].observations}["Kaspersky Endpoint Security for Windows"]
    assert (kes.kind, kes.version, kes.publisher) == (
        Kind.PROGRAM,
        "12.3.0.493",
        "AO Kaspersky Lab",
    )
    assert kes.source == "intune:discovered_apps"
    assert {o.kind for o in hosts[MAC].observations} == {Kind.APP}
    assert {o.kind for o in hosts[PIXEL].observations} == {Kind.APP}


def test_intune_mobile_app_ids_in_the_name_become_identifiers() -> None:
    hosts, _ = intune(INTUNE / "AppInvRawData.csv")
    android = {o.name: dict(o.identifiers) for o in hosts[PIXEL].observations}
    assert android["com.kms.free"] == {"package_id": "com.kms.free"}
    assert android["com.deepseek.chat"] == {"package_id": "com.deepseek.chat"}
    iphone = {o.name: dict(o.identifiers) for o in hosts[IPHONE].observations}
    assert iphone == {
        "Kaspersky Security Cloud": {},
        "com.zhiliaoapp.musically": {"bundle_id": "com.zhiliaoapp.musically"},
    }  # the TikTok row appears twice in the export and once here
    windows = {o.name: dict(o.identifiers) for o in hosts[FIN].observations}
    assert windows["Microsoft.WindowsCalculator"] == {}


def test_intune_utf16_tab_delimited_export_reads_like_the_csv() -> None:
    csv_hosts, _ = intune(INTUNE / "AppInvRawData.csv")
    unicode_hosts, source = intune(INTUNE / "AppInvRawData-unicode.txt")
    assert {h: set(i.observations) for h, i in unicode_hosts.items()} == {
        h: set(i.observations) for h, i in csv_hosts.items()
    }
    assert source.statuses[0].state == "ok"


def test_intune_utf8_bom_per_device_report() -> None:
    hosts, _ = intune(INTUNE / "AppInvByDevice.csv")
    assert list(hosts) == [PIXEL]
    assert names(hosts[PIXEL]) == {"com.kms.free", "com.deepseek.chat", "com.whatsapp"}


def test_intune_header_only_export_has_no_hosts() -> None:
    hosts, source = intune(INTUNE / "header-only.csv")
    assert hosts == {}
    assert source.statuses[0].state == "ok"


def test_intune_header_with_device_name_only_keys_hosts_by_name(tmp_path: Path) -> None:
    path = tmp_path / "by-name.csv"
    path.write_text(
        "Device name,Application name,Version,Publisher,Platform\n"
        "FIN-LT-0142,Kaspersky Anti-Virus,21.3.10.391,AO Kaspersky Lab,Windows\n"
    )
    hosts, _ = intune(path)
    assert hosts["FIN-LT-0142"].platform is Platform.WINDOWS
    assert names(hosts["FIN-LT-0142"]) == {"Kaspersky Anti-Virus"}


@pytest.mark.parametrize(
    ("name", "message", "line"),
    [
        ("empty.csv", "empty file: a header row is required", 1),
        ("AppInvAggregate.csv", "an aggregate export", 1),
        ("Devices.csv", "accepted columns: DeviceId or Device ID", 1),
        ("latin1.csv", "not UTF-8 or UTF-16 text", 2),
        ("truncated.json", "not valid JSON", 6),
        ("detectedApps-no-devices.json", "$expand=managedDevices", None),
    ],
)
def test_intune_unreadable_exports_name_the_file_and_place(
    name: str, message: str, line: int | None
) -> None:
    with pytest.raises(MdmInputError) as e:
        intune(INTUNE / name)
    assert e.value.path == str(INTUNE / name)
    assert e.value.line == line
    assert message in str(e.value)


def test_intune_aggregate_error_says_which_export_to_take() -> None:
    with pytest.raises(MdmInputError, match="AppInvRawData"):
        intune(INTUNE / "AppInvAggregate.csv")


def test_intune_wrong_columns_error_lists_the_accepted_columns() -> None:
    with pytest.raises(MdmInputError) as e:
        intune(INTUNE / "Devices.csv")
    assert "the header has no column ApplicationName" in e.value.message


def test_intune_malformed_rows_are_problems_with_line_numbers() -> None:
    hosts, source = intune(INTUNE / "malformed.csv")
    assert names(hosts[FIN]) == {"Kaspersky Endpoint Security for Windows"}
    assert names(hosts[MAC]) == {"Kaspersky Internet Security", "Slack"}
    (status,) = source.statuses
    assert status.state == "partial"
    assert status.problems == (
        "line 3: 4 cells where the header has 13; skipped",
        "line 4: no application name or no device; skipped",
    )


def test_intune_formula_looking_cells_stay_text() -> None:
    hosts, _ = intune(INTUNE / "hostile.csv")
    inv = hosts[FIN]
    assert inv.hostname == '=HYPERLINK("http://evil.example/","FIN-LT-0142")'
    formula = {o.name: o for o in inv.observations}["=cmd|' /C calc'!A0"]
    assert formula.publisher == "@SUM(1+1)*cmd|' /C calc'!A0"
    assert formula.version == "-1"


def test_intune_oversized_field_is_a_problem_of_its_row(tmp_path: Path) -> None:
    path = tmp_path / "big-field.csv"
    path.write_text(HEADER + row("x" * 200_000) + row("Kaspersky Anti-Virus"))
    hosts, source = intune(path)
    assert names(hosts[FIN]) == {"Kaspersky Anti-Virus"}
    assert source.statuses[0].problems == (
        "line 2: field larger than field limit (131072); skipped",
    )


def test_intune_too_many_bad_rows_make_the_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_text(HEADER + "a,b\n" * (MAX_BAD_ROWS + 1))
    with pytest.raises(MdmInputError) as e:
        intune(path)
    assert e.value.line == MAX_BAD_ROWS + 2
    assert "unreadable rows" in e.value.message


def test_intune_problems_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "many-bad.csv"
    path.write_text(HEADER + "a,b\n" * (MAX_PROBLEMS + 10) + row("Slack"))
    hosts, source = intune(path)
    assert names(hosts[FIN]) == {"Slack"}
    problems = source.statuses[0].problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == "... and 10 more problems"


@pytest.mark.timeout(10)
def test_intune_export_over_the_size_bound_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.write(HEADER.encode())
        f.truncate(MAX_CSV_BYTES + 1)  # sparse: the size is declared, not written
    with pytest.raises(MdmInputError, match="over the .*-byte limit"):
        intune(path)


def test_intune_refuses_missing_files_folders_and_xml(tmp_path: Path) -> None:
    for path, message in (
        (tmp_path / "nope.csv", "no such file"),
        (tmp_path, "a folder, not an export file"),
        (JAMF / "computer-42.xml", "XML is not an Intune export"),
    ):
        with pytest.raises(SourceInputError, match=message):
            intune(path)


# -- Intune Graph JSON -------------------------------------------------------------------------


def test_intune_graph_detected_apps_with_managed_devices() -> None:
    hosts, source = intune(INTUNE / "detectedApps-expanded.json")
    assert {h: i.platform for h, i in hosts.items()} == {
        FIN: Platform.WINDOWS,
        PIXEL: Platform.ANDROID,  # "androidWorkProfile" on the app, "Android" on the device
        IPHONE: Platform.IOS,
        HR: Platform.WINDOWS,
    }
    assert names(hosts[FIN]) == {"Kaspersky Endpoint Security for Windows", "Google Chrome"}
    deepseek = {o.name: o for o in hosts[PIXEL].observations}["com.deepseek.chat"]
    assert (deepseek.kind, deepseek.ident(Ident.PACKAGE_ID)) == (Kind.APP, "com.deepseek.chat")
    assert deepseek.source == "intune:graph"
    assert source.statuses[0].problems == (
        "value[4].managedDevices[2]: no displayName, or a device without id and deviceName; "
        "skipped",
    )


def test_intune_graph_managed_device_with_detected_apps() -> None:
    hosts, source = intune(INTUNE / "managedDevice-detectedApps.json")
    assert hosts[MAC].hostname == "MKT-MBP-07"
    assert hosts[MAC].platform is Platform.MACOS
    assert names(hosts[MAC]) == {"Kaspersky Internet Security", "Slack"}
    assert source.statuses[0].state == "ok"


def test_intune_graph_empty_page_has_no_hosts() -> None:
    hosts, source = intune(INTUNE / "empty-page.json")
    assert hosts == {}
    assert source.statuses[0].state == "ok"


def test_intune_graph_deep_nesting_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"value": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(MdmInputError) as e:
        intune(path)
    assert e.value.path == str(path)


def test_several_files_are_read_in_turn_with_one_status_each() -> None:
    source = open_source("intune", [INTUNE / "AppInvByDevice.csv", INTUNE / "header-only.csv"])
    assert [i.host for i in source.collect()] == [PIXEL]
    assert [s.source for s in source.statuses] == [
        f"intune:{INTUNE / 'AppInvByDevice.csv'}",
        f"intune:{INTUNE / 'header-only.csv'}",
    ]


# -- Jamf Classic API XML ----------------------------------------------------------------------


def test_jamf_computer_record() -> None:
    hosts, source = jamf(JAMF / "computer-42.xml")
    inv = hosts["C02ZK1ABMD6M"]
    assert (inv.hostname, inv.platform, inv.source) == ("MKT-MBP-07", Platform.MACOS, "jamf")
    kis = {o.name: o for o in inv.observations}["Kaspersky Internet Security"]
    assert (kis.kind, kis.version, kis.source) == (Kind.APP, "21.0.22", "jamf:computer")
    assert dict(kis.identifiers) == {
        "bundle_id": "com.kaspersky.kav",
        "path": "/Applications/Kaspersky Internet Security.app",
    }
    assert names(inv) == {"Kaspersky Internet Security", "Google Chrome", "Kaspa Wallet", "Safari"}
    assert source.statuses[0].state == "ok"


def test_jamf_mobile_device_record() -> None:
    hosts, source = jamf(JAMF / "mobiledevice-7.xml")
    inv = hosts["F2LZK0ABCD12"]
    assert (inv.hostname, inv.platform) == ("iPhone-akim", Platform.IOS)
    tiktok = {o.name: o for o in inv.observations}["TikTok"]
    assert tiktok.version == "32.0.0"  # the short version, as the App Store shows it
    assert tiktok.ident(Ident.BUNDLE_ID) == "com.zhiliaoapp.musically"
    assert source.statuses[0].problems == (
        "mobile device iPhone-akim: an app without a name; skipped",
    )


def test_jamf_records_gathered_under_one_root(tmp_path: Path) -> None:
    body = (JAMF / "computer-42.xml").read_text().split("?>", 1)[1]
    second = body.replace("C02ZK1ABMD6M", "C02XG2CDJHD5").replace("MKT-MBP-07", "DES-IMAC-03")
    path = tmp_path / "computers.xml"
    path.write_text(f"<computers>{body}{second}</computers>")
    hosts, _ = jamf(path)
    assert {h: i.hostname for h, i in hosts.items()} == {
        "C02ZK1ABMD6M": "MKT-MBP-07",
        "C02XG2CDJHD5": "DES-IMAC-03",
    }


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["billion-laughs.xml", "xxe.xml"])
def test_jamf_xml_with_a_dtd_is_refused(name: str) -> None:
    with pytest.raises(MdmInputError) as e:
        jamf(JAMF / name)
    assert (e.value.path, e.value.where) == (str(JAMF / name), "DOCTYPE")


@pytest.mark.parametrize(
    ("name", "message", "line"),
    [
        ("truncated.xml", "not well-formed XML", 28),
        ("policy.xml", "root element <policy> is not a Jamf Pro computer", None),
        ("wrong-columns.csv", "accepted columns: Serial Number or UDID", 1),
    ],
)
def test_jamf_unreadable_exports_name_the_file_and_place(
    name: str, message: str, line: int | None
) -> None:
    with pytest.raises(MdmInputError) as e:
        jamf(JAMF / name)
    assert e.value.path == str(JAMF / name)
    assert e.value.line == line
    assert message in str(e.value)


def test_jamf_refuses_json() -> None:
    with pytest.raises(MdmInputError, match="JSON is not read from Jamf Pro"):
        jamf(INTUNE / "managedDevice-detectedApps.json")


# -- Jamf advanced search CSV ------------------------------------------------------------------


def test_jamf_computer_search_one_row_per_computer_and_application() -> None:
    hosts, source = jamf(JAMF / "computer-search.csv")
    assert {h: (i.hostname, i.platform) for h, i in hosts.items()} == {
        "C02ZK1ABMD6M": ("MKT-MBP-07", Platform.MACOS),
        "C02XG2CDJHD5": ("DES-IMAC-03", Platform.MACOS),
    }
    assert names(hosts["C02ZK1ABMD6M"]) == {
        "Kaspersky Internet Security",
        "Google Chrome",
        "Kaspa Wallet",
    }
    assert source.statuses[0].state == "ok"


def test_jamf_mobile_search_tab_delimited() -> None:
    hosts, _ = jamf(JAMF / "mobile-search.txt")
    iphone = hosts["F2LZK0ABCD12"]
    assert (iphone.hostname, iphone.platform) == ("iPhone-akim", Platform.IOS)
    assert {o.name: o.ident(Ident.BUNDLE_ID) for o in iphone.observations} == {
        "TikTok": "com.zhiliaoapp.musically",
        "Slack": "com.tinyspeck.chatlyio",
    }


def test_jamf_malformed_search_rows_are_problems_with_line_numbers() -> None:
    hosts, source = jamf(JAMF / "malformed-search.csv")
    assert names(hosts["C02ZK1ABMD6M"]) == {"Kaspersky Internet Security"}
    assert names(hosts["C02XG2CDJHD5"]) == {"Safari"}  # trailing empty cells are fine
    assert source.statuses[0].problems == (
        "line 3: 2 cells where the header has 4; skipped",
        "line 4: no application or no device; skipped",
        "line 5: 6 cells where the header has 4; skipped",
    )


# -- what the matcher makes of it --------------------------------------------------------------


def products(inventories: list[HostInventory]) -> dict[str, set[str]]:
    findings = Matcher(load_catalog()).match_hosts(inventories)
    return {host: {f.product for f in found} for host, found in findings.items()}


def vendors(inventories: list[HostInventory]) -> dict[str, set[str]]:
    findings = Matcher(load_catalog()).match_hosts(inventories)
    return {host: {f.vendor for f in found} for host, found in findings.items()}


def test_matcher_on_intune_raw_data() -> None:
    hosts, _ = intune(INTUNE / "AppInvRawData.csv")
    found = products(list(hosts.values()))
    assert "kaspersky-internet-security" in found[MAC]
    assert "deepseek" in found[PIXEL]
    assert "tiktok" in found[IPHONE]
    assert found[HR] == set()
    by_vendor = vendors(list(hosts.values()))
    for host in (FIN, PIXEL, IPHONE):  # KES; com.kms.free; Kaspersky Security Cloud
        assert "kaspersky" in by_vendor[host]


def test_matcher_on_intune_graph_json() -> None:
    hosts, _ = intune(INTUNE / "detectedApps-expanded.json")
    found = products(list(hosts.values()))
    assert "deepseek" in found[PIXEL]
    assert "tiktok" in found[IPHONE]
    assert "kaspersky" in vendors(list(hosts.values()))[PIXEL]


def test_matcher_on_jamf_records_and_searches() -> None:
    computer, _ = jamf(JAMF / "computer-42.xml", JAMF / "mobiledevice-7.xml")
    found = products(list(computer.values()))
    assert "kaspersky-internet-security" in found["C02ZK1ABMD6M"]
    assert "tiktok" in found["F2LZK0ABCD12"]
    findings = Matcher(load_catalog()).match_hosts(list(computer.values()))
    evidence = {e.observation.name for f in findings["C02ZK1ABMD6M"] for e in f.evidence}
    assert "Kaspa Wallet" not in evidence
    search, _ = jamf(JAMF / "computer-search.csv")
    assert "kaspersky-internet-security" in products(list(search.values()))["C02ZK1ABMD6M"]
