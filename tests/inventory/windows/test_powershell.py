"""PowerShell output (``--from powershell``): JSON and CSV as PowerShell 5 and 7 write it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.inventory.windows.powershell import (
    Cmdlet,
    PowerShellSource,
    detect,
    parse_dn,
    registry_path,
)
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Kind, Observation

PS = Path(__file__).parent.parent.parent / "assets" / "windows" / "powershell"
HOST = PS / "wks-fin-0042"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
KES_CODE = "{76940874-DCFA-4BC6-A4C0-1B838D420465}"


def read(*paths: Path) -> tuple[dict[str, HostInventory], PowerShellSource]:
    source = PowerShellSource(list(paths))
    return {inv.host: inv for inv in source.collect()}, source


def of_kind(inv: HostInventory, kind: Kind) -> dict[str, Observation]:
    found = [o for o in inv.observations if o.kind is kind]
    by_name = {o.name: o for o in found}
    assert len(by_name) == len(found), f"repeated names in {[o.name for o in found]}"
    return by_name


@pytest.fixture(scope="module")
def host() -> HostInventory:
    hosts, _ = read(HOST)
    assert list(hosts) == ["WKS-FIN-0042"]
    return hosts["WKS-FIN-0042"]


def test_a_folder_of_outputs_is_one_host_named_by_the_computer_they_came_from() -> None:
    source = open_source("powershell", [HOST])
    [inv] = list(source.collect())
    assert (inv.host, inv.platform.value) == ("WKS-FIN-0042", "windows")
    assert [s.state for s in source.statuses] == ["ok"]
    assert {o.source for o in inv.observations} == {
        "powershell:uninstall",
        "powershell:services",
        "powershell:drivers",
        "powershell:appx",
        "powershell:certificates",
    }


def test_uninstall_entries_from_windows_powershell_5_utf16_json(host: HostInventory) -> None:
    programs = of_kind(host, Kind.PROGRAM)
    kes = programs["Kaspersky Endpoint Security for Windows"]
    assert (kes.version, kes.publisher, kes.ident("product_code")) == (
        "12.3.0.493",
        "AO Kaspersky Lab",
        KES_CODE,
    )
    assert kes.ident("registry_key") == (
        f"HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{KES_CODE}"
    )
    spotify_key = programs["Spotify"].ident("registry_key") or ""
    assert spotify_key.startswith(f"HKU\\{SID}\\Software\\")
    assert set(programs) == {
        "7-Zip 23.01 (x64)",
        "Kaspersky Endpoint Security for Windows",
        "Kaspersky Security Center Network Agent",
        "Spotify",
    }  # no Office update (ParentKeyName), no AddressBook (no DisplayName)


def test_services_from_export_csv_with_its_type_line(host: HostInventory) -> None:
    services = of_kind(host, Kind.SERVICE)
    assert set(services) == {"AVP", "Dnscache", "klnagent", "Spooler"}


def test_drivers_from_win32_systemdriver_are_named_by_their_file(host: HostInventory) -> None:
    drivers = of_kind(host, Kind.DRIVER)
    assert set(drivers) == {"klif.sys", "klhk.sys", "tcpip.sys"}
    assert drivers["klif.sys"].ident("path") == "C:\\Windows\\system32\\DRIVERS\\klif.sys"


def test_msix_and_store_apps_are_packages_keyed_by_family_name(host: HostInventory) -> None:
    packages = of_kind(host, Kind.PACKAGE)
    tiktok = packages["BytedancePte.Ltd.TikTok"]
    assert tiktok.ident("package_id") == "BytedancePte.Ltd.TikTok_6yccndn6064se"
    assert tiktok.version == "1.0.21.0"
    assert tiktok.publisher == "Bytedance Pte. Ltd."
    assert (tiktok.ident("signer") or "").startswith("CN=Bytedance Pte. Ltd., O=")
    calculator = packages["Microsoft.WindowsCalculator"]
    assert calculator.ident("package_id") == "Microsoft.WindowsCalculator_8wekyb3d8bbwe"
    assert calculator.publisher == "Microsoft Corporation"
    assert "Microsoft.VCLibs.140.00" in packages  # frameworks are packages too


def test_root_certificates_are_named_by_cn_with_lower_case_thumbprints(host: HostInventory) -> None:
    certificates = of_kind(host, Kind.CERTIFICATE)
    kaspersky = certificates["Kaspersky Anti-Virus Personal Root Certificate"]
    assert kaspersky.publisher == "AO Kaspersky Lab"
    assert kaspersky.ident("cert_fingerprint") == "1eac5410d0c34b8f1d9f5b5bfb4dba35853b1582"
    assert kaspersky.ident("cert_subject") == (
        "CN=Kaspersky Anti-Virus Personal Root Certificate, O=AO Kaspersky Lab, C=RU"
    )
    starfield = certificates["Starfield Services Root Certificate Authority - G2"]
    assert starfield.publisher == "Starfield Technologies, Inc."  # a quoted O with a comma


def test_the_matcher_finds_kaspersky_endpoint_security(
    host: HostInventory, catalog_matcher: Matcher
) -> None:
    findings = catalog_matcher.match_hosts([host])[host.host]
    assert "kaspersky-endpoint-security" in {f.product for f in findings}


def test_output_from_several_computers_gives_one_host_each() -> None:
    hosts, _ = read(PS / "fleet-uninstall.json")
    assert set(hosts) == {"WKS-FIN-0042", "WKS-FIN-0043"}  # "wks-fin-0042" is the same computer
    assert set(of_kind(hosts["WKS-FIN-0042"], Kind.PROGRAM)) == {
        "Kaspersky Endpoint Security for Windows",
        "7-Zip 23.01 (x64)",
    }
    assert set(of_kind(hosts["WKS-FIN-0043"], Kind.PROGRAM)) == {"Mozilla Firefox (x64 en-US)"}


def test_empty_output_is_a_host_with_nothing_and_a_note_saying_so() -> None:
    hosts, source = read(PS / "empty.json")
    assert [(h, inv.observations) for h, inv in hosts.items()] == [("empty", ())]
    [status] = source.statuses
    assert status.state == "partial" and "no objects" in status.problems[0]


def test_formula_looking_cells_are_kept_as_plain_text() -> None:
    hosts, _ = read(PS / "formula.csv")
    [inv] = hosts.values()
    assert set(of_kind(inv, Kind.SERVICE)) == {"=cmd|' /C calc'!A0", "+klnagent"}


def test_powershell_5_wrapping_of_an_array_passed_with_inputobject(tmp_path: Path) -> None:
    rows = json.loads((PS / "fleet-uninstall.json").read_text())
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"value": rows, "Count": len(rows)}))
    hosts, _ = read(path)
    assert set(hosts) == {"WKS-FIN-0042", "WKS-FIN-0043"}


def test_a_single_object_semicolons_and_ansi_text_read_too(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    driver = {
        "Name": "klif",
        "PathName": "C:\\Windows\\system32\\DRIVERS\\klif.sys",
        "ServiceType": "File System Driver",
        "State": "Running",
    }
    single.write_text(json.dumps(driver))
    hosts, _ = read(single)
    assert set(of_kind(hosts["one"], Kind.DRIVER)) == {"klif.sys"}
    ansi = tmp_path / "ansi.csv"
    text = '"DisplayName";"DisplayVersion";"Publisher"\r\n'
    text += '"Müller Dateimanager";"2.1";"Müller GmbH"\r\n'
    ansi.write_bytes(text.encode("cp1252"))
    hosts, _ = read(ansi)
    [program] = of_kind(hosts["ansi"], Kind.PROGRAM).values()
    assert (program.name, program.publisher) == ("Müller Dateimanager", "Müller GmbH")


def expect_error(path: Path, words: str, line: int | None = None) -> SourceInputError:
    started = time.monotonic()
    with pytest.raises(SourceInputError) as caught:
        read(path)
    assert time.monotonic() - started < 5
    assert words in caught.value.message
    assert caught.value.path == str(path)
    if line is not None:
        assert caught.value.line == line
    return caught.value


def test_truncated_json_is_refused_with_its_line() -> None:
    expect_error(PS / "truncated.json", "not valid JSON", line=12)


def test_a_malformed_csv_row_is_refused_with_its_line_counting_the_type_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "services.csv"
    lines = (HOST / "services.csv").read_text().splitlines()
    lines.insert(3, '"AVP","broken"quote","x"')
    path.write_text("\r\n".join(lines) + "\r\n")
    expect_error(path, "not valid CSV", line=4)


def test_output_of_another_cmdlet_is_refused_naming_its_columns() -> None:
    error = expect_error(PS / "processes.csv", "not output of Get-ItemProperty")
    assert "handles" in error.message


def test_json_nested_a_million_levels_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 1_000_000 + "]" * 1_000_000)
    expect_error(path, "nested too deeply")


def test_a_ten_megabyte_csv_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text('"DisplayName","DisplayVersion"\r\n"' + "A" * 10_000_000 + '","1"\r\n')
    expect_error(path, "not valid CSV", line=2)


def test_binary_data_and_non_objects_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "services.json"
    binary.write_bytes(bytes(range(256)) * 8)
    expect_error(binary, "binary data")
    numbers = tmp_path / "numbers.json"
    numbers.write_text('[{"DisplayName": "x", "Publisher": "y"}, 42]')
    assert expect_error(numbers, "expected an object").where == "entry 2"


def test_a_folder_without_outputs_and_a_missing_path_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    expect_error(tmp_path, "no .json or .csv files")
    expect_error(tmp_path / "missing.json", "no such file")


@pytest.mark.parametrize(
    ("columns", "cmdlet"),
    [
        ({"displayname", "displayversion", "publisher", "pschildname"}, Cmdlet.UNINSTALL),
        ({"name", "displayname", "status", "servicetype", "starttype"}, Cmdlet.SERVICE),
        ({"name", "displayname", "pathname", "state", "servicetype"}, Cmdlet.CIM),
        ({"name", "publisher", "version", "packagefullname"}, Cmdlet.APPX),
        ({"subject", "issuer", "thumbprint", "notafter"}, Cmdlet.CERTIFICATE),
        ({"name", "id", "handles", "cpu"}, None),
    ],
)
def test_the_cmdlet_is_told_from_the_columns(columns: set[str], cmdlet: Cmdlet | None) -> None:
    assert detect(columns) is cmdlet


def test_distinguished_names_and_registry_paths_as_powershell_writes_them() -> None:
    assert parse_dn('CN=Root, O="Example, Inc.", C=US') == [
        ("CN", "Root"),
        ("O", "Example, Inc."),
        ("C", "US"),
    ]
    assert registry_path("Microsoft.PowerShell.Core\\Registry::HKEY_USERS\\S-1-5-18\\Software") == (
        "HKU\\S-1-5-18\\Software"
    )
    assert registry_path("HKLM:\\SOFTWARE\\KasperskyLab") == "HKLM\\SOFTWARE\\KasperskyLab"
