"""Regedit exports (``--from reg``), read as an administrator would hand them over."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.inventory.windows.reg import RegExportSource
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Kind, Observation, Platform

REG = Path(__file__).parent.parent.parent / "assets" / "windows" / "reg"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
KES_CODE = "{76940874-DCFA-4BC6-A4C0-1B838D420465}"
KES_ROOT = "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\"
UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall"


def read(*paths: Path) -> list[HostInventory]:
    return list(RegExportSource(list(paths)).collect())


def of_kind(inv: HostInventory, kind: Kind, source: str | None = None) -> dict[str, Observation]:
    found = [o for o in inv.observations if o.kind is kind and source in (None, o.source)]
    by_name = {o.name: o for o in found}
    assert len(by_name) == len(found), f"repeated names in {[o.name for o in found]}"
    return by_name


@pytest.fixture(scope="module")
def host() -> HostInventory:
    [inv] = read(REG / "wks-fin-0042")
    return inv


def test_a_folder_of_exports_is_one_windows_host_named_by_its_computer_name() -> None:
    source = open_source("reg", [REG / "wks-fin-0042"])
    [inv] = list(source.collect())
    assert (inv.host, inv.hostname, inv.platform) == ("WKS-FIN-0042", "WKS-FIN-0042", "windows")
    assert inv.platform is Platform.WINDOWS
    assert [s.state for s in source.statuses] == ["ok"]


def test_programs_come_from_64_bit_32_bit_and_per_user_uninstall_keys(host: HostInventory) -> None:
    programs = of_kind(host, Kind.PROGRAM, "reg:uninstall")
    kes = programs["Kaspersky Endpoint Security for Windows"]
    assert (kes.version, kes.publisher) == ("12.3.0.493", "AO Kaspersky Lab")
    assert kes.ident("product_code") == KES_CODE
    assert kes.ident("path") == KES_ROOT
    assert kes.ident("registry_key") == f"HKLM\\SOFTWARE\\WOW6432Node\\{UNINSTALL}\\{KES_CODE}"
    assert (
        programs["7-Zip 23.01 (x64)"].ident("registry_key") == f"HKLM\\SOFTWARE\\{UNINSTALL}\\7-Zip"
    )
    spotify = programs["Spotify"]
    assert spotify.ident("registry_key") == f"HKU\\{SID}\\Software\\{UNINSTALL}\\Spotify"
    assert spotify.publisher == "Spotify AB"
    # Hidden from the user (SystemComponent=1) but installed all the same.
    assert "Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33130" in programs


def test_updates_and_entries_without_a_display_name_are_left_out(host: HostInventory) -> None:
    programs = of_kind(host, Kind.PROGRAM, "reg:uninstall")
    assert not [n for n in programs if "KB5002469" in n]
    assert "AddressBook" not in {o.ident("product_code") for o in programs.values()}


def test_drivers_are_named_by_file_and_services_by_key(host: HostInventory) -> None:
    drivers = of_kind(host, Kind.DRIVER, "reg:services")
    assert set(drivers) == {"klif.sys", "klhk.sys", "tcpip.sys"}
    assert drivers["klif.sys"].ident("path") == "system32\\DRIVERS\\klif.sys"
    assert drivers["klif.sys"].ident("registry_key") == (
        "HKLM\\SYSTEM\\CurrentControlSet\\Services\\klif"
    )
    services = of_kind(host, Kind.SERVICE, "reg:services")
    assert set(services) == {"AVP", "Dnscache"}
    assert services["AVP"].ident("path") == f'"{KES_ROOT}avp.exe" -r'


def test_the_kasperskylab_key_is_evidence_and_names_the_product(host: HostInventory) -> None:
    keys = of_kind(host, Kind.REGISTRY_KEY, "reg:kasperskylab")
    environment = "SOFTWARE\\KasperskyLab\\protected\\KES\\environment"
    assert {"SOFTWARE\\KasperskyLab", environment} <= set(keys)
    assert keys[environment].ident("registry_key") == "HKLM\\" + environment
    [program] = of_kind(host, Kind.PROGRAM, "reg:kasperskylab").values()
    assert (program.name, program.version) == (
        "Kaspersky Endpoint Security for Windows",
        "12.3.0.493",
    )


def test_the_matcher_finds_kaspersky_endpoint_security(
    host: HostInventory, catalog_matcher: Matcher
) -> None:
    findings = catalog_matcher.match_hosts([host])[host.host]
    assert "kaspersky-endpoint-security" in {f.product for f in findings}


def test_utf8_export_with_escapes_deletions_and_the_current_user() -> None:
    [inv] = read(REG / "laptop-7.reg")
    assert inv.host == "laptop-7"
    programs = of_kind(inv, Kind.PROGRAM)
    kes = programs["Kaspersky Endpoint Security for Windows"]
    assert kes.version == "11.11.0.452"
    assert kes.ident("path") == "%ProgramFiles%\\Kaspersky Lab\\KES.11.11.0\\"  # hex(2), wrapped
    assert programs["Notepad++ (64-bit x64)"].publisher == ""  # "Publisher"=- deleted it
    assert "Old Tool" not in programs  # [-key] deleted it
    zoom = programs["Zoom Workplace (64-bit)"]
    assert zoom.ident("registry_key") == f"HKCU\\Software\\{UNINSTALL}\\ZoomUMX"
    assert zoom.ident("path") == "C:\\Users\\bob\\AppData\\Roaming\\Zoom\\bin"
    [klif] = of_kind(inv, Kind.DRIVER).values()
    assert (klif.name, klif.ident("path")) == (
        "klif.sys",
        "\\SystemRoot\\System32\\Drivers\\klif.sys",
    )
    keys = of_kind(inv, Kind.REGISTRY_KEY)
    assert keys["Software\\KasperskyLab"].ident("registry_key") == "HKCU\\Software\\KasperskyLab"
    assert "Software\\KasperskyLab\\protected\\AVP21.3" in keys


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-le", b""),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_every_encoding_regedit_or_an_editor_writes_reads_the_same(
    tmp_path: Path, encoding: str, bom: bytes
) -> None:
    original = REG / "laptop-7.reg"
    copy = tmp_path / "laptop-7.reg"
    copy.write_bytes(bom + original.read_text(encoding="utf-8").encode(encoding))
    [expected] = read(original)
    [got] = read(copy)
    assert got.observations == expected.observations


def test_regedit4_ansi_export_with_installed_products() -> None:
    [inv] = read(REG / "legacy-xp.reg")
    [kav] = of_kind(inv, Kind.PROGRAM, "reg:kasperskylab").values()
    assert (kav.name, kav.version) == ("Kaspersky Anti-Virus Personal", "5.0.390")
    assert kav.ident("path") == "C:\\Program Files\\Kaspersky Lab\\Kaspersky Anti-Virus Personal\\"
    mueller = of_kind(inv, Kind.PROGRAM, "reg:uninstall")["Müller Dateimanager"]
    assert mueller.publisher == "Müller & Söhne GmbH"
    assert mueller.ident("path") == "C:\\Programme\\Müller"  # hex(2) holds ANSI bytes in REGEDIT4


def test_an_export_with_only_its_header_is_a_host_with_nothing_on_it() -> None:
    [inv] = read(REG / "empty.reg")
    assert (inv.host, inv.observations) == ("empty", ())


def expect_error(path: Path, *, line: int | None, words: str) -> SourceInputError:
    started = time.monotonic()
    with pytest.raises(SourceInputError) as caught:
        read(path)
    assert time.monotonic() - started < 5
    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert words in error.message
    assert str(path) in str(error)
    return error


def test_a_file_cut_inside_a_continued_hex_value_names_where_it_started() -> None:
    expect_error(REG / "truncated-hex.reg", line=5, words="ends inside a value")


def test_a_file_cut_inside_a_string_is_refused() -> None:
    expect_error(REG / "truncated-string.reg", line=5, words="without a closing quote")


def test_a_binary_file_renamed_reg_is_refused_at_line_1() -> None:
    expect_error(REG / "binary.reg", line=1, words="not a regedit export")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.reg").write_bytes(b"")
    expect_error(tmp_path / "zero.reg", line=None, words="empty file")


def test_a_ten_megabyte_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.reg"
    head = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"
    path.write_bytes((head + '"Big"="' + "A" * 10_000_000 + '"\r\n').encode("utf-8"))
    expect_error(path, line=4, words="line longer than")


def read_partly(path: Path) -> tuple[HostInventory, list[str]]:
    """One host read from a damaged export: its inventory and its source's problems."""
    source = RegExportSource([path])
    [inv] = list(source.collect())
    [status] = source.statuses
    assert status.state == "partial"
    return inv, list(status.problems)


def test_one_malformed_value_in_a_regedit_export_costs_that_value_alone(
    catalog_matcher: Matcher,
) -> None:
    path = REG / "one-bad-line.reg"
    inv, problems = read_partly(path)
    [problem] = problems
    assert problem.startswith(f"{path}:19: ")
    assert "unexpected text after the value" in problem and "value skipped" in problem
    programs = of_kind(inv, Kind.PROGRAM, "reg:uninstall")
    # 7-Zip keeps its other values; every key after the bad line is read: the export gives
    # what the same export without the damage gives.
    assert programs["7-Zip 23.01 (x64)"].version == "23.01"
    [undamaged] = read(REG / "wks-fin-0042" / "software.reg")
    assert "Kaspersky Endpoint Security for Windows" in programs
    assert set(inv.observations) == set(undamaged.observations)
    hits = catalog_matcher.match_distinct(list(inv.observations))
    assert any(hits), "Kaspersky Endpoint Security, after the bad line, is still found"


def test_keys_nested_deeper_than_windows_allows_are_skipped_with_their_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep.reg"
    key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\" + "\\".join(["k"] * 5000)
    path.write_text(
        f'Windows Registry Editor Version 5.00\n\n[{key}]\n"a"="b"\n\n'
        f"[HKEY_LOCAL_MACHINE\\SOFTWARE\\{UNINSTALL}\\X]\n"
        '"DisplayName"="After the deep key"\n'
    )
    inv, [problem] = read_partly(path)
    assert problem.startswith(f"{path}:3: ") and "deeper than 512" in problem
    assert problem.endswith("key skipped with its values")
    assert set(of_kind(inv, Kind.PROGRAM)) == {"After the deep key"}


def test_continuation_lines_cannot_join_into_an_endless_value(tmp_path: Path) -> None:
    path = tmp_path / "endless.reg"
    body = "  00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,\\\n"
    path.write_text(
        'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n"b"=hex:\\\n'
        + body * 250_000
        + "  00\n"
    )
    expect_error(path, line=4, words="value longer than")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("[HKEY_LOCAL_MACHNE\\SOFTWARE\\X]", "unknown root key"),
        ("[HKEY_LOCAL_MACHINE\\SOFTWARE\\X", "without a closing ']'"),
        ("[HKEY_LOCAL_MACHINE\\SOFTWARE\\\\X]", "empty key name"),
        ('"DisplayName"="Kaspersky" trailing', "unexpected text after the value"),
        ('"Type"=dword:xyz', "unrecognised value data"),
        ('"Data"=hex:01,zz,03', "bad hex byte"),
        ('"Data" "missing equals"', "expected '='"),
        ("DisplayName=Kaspersky", 'expected "name"=value'),
        ('"DisplayName"="no closing quote', "without a closing quote"),
    ],
)
def test_a_malformed_line_is_a_problem_naming_file_and_line_and_the_rest_is_read(
    tmp_path: Path, line: str, words: str
) -> None:
    path = tmp_path / "bad.reg"
    path.write_text(
        f"Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\{UNINSTALL}\\A]\n"
        + line
        + '\n"DisplayName"="Before"\n\n'
        + f"[HKEY_LOCAL_MACHINE\\SOFTWARE\\{UNINSTALL}\\B]\n"
        + '"DisplayName"="After"\n'
    )
    inv, [problem] = read_partly(path)
    assert problem.startswith(f"{path}:4: ") and words in problem
    names = set(of_kind(inv, Kind.PROGRAM))
    assert "After" in names
    if not line.startswith("["):
        assert "Before" in names  # the bad value's own key keeps its good values


@pytest.mark.parametrize(
    "line", ['"Type"=dword:xyz', '"DisplayName"="Kaspersky', "[HKEY_LOCAL_MACHINE\\SOFTWARE\\X"]
)
def test_a_malformed_last_line_without_a_line_break_is_a_file_cut_short(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "cut.reg"
    path.write_text(
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\A]\n" + line
    )
    expect_error(path, line=4, words="")


def test_many_malformed_lines_are_counted_not_listed(tmp_path: Path) -> None:
    path = tmp_path / "noisy.reg"
    body = '"Type"=dword:xyz\n' * 10_000
    path.write_text(
        f"Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\{UNINSTALL}\\A]\n"
        + body
        + '"DisplayName"="Still read"\n'
    )
    inv, problems = read_partly(path)
    assert len(problems) == 51 and problems[-1] == "... and 9950 more problems"
    assert set(of_kind(inv, Kind.PROGRAM)) == {"Still read"}


def test_a_value_before_any_key_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "nokey.reg"
    path.write_text('Windows Registry Editor Version 5.00\n\n"DisplayName"="x"\n')
    inv, [problem] = read_partly(path)
    assert problem.startswith(f"{path}:3: ") and "outside any [key]" in problem
    assert inv.observations == ()


def test_a_folder_without_exports_and_a_missing_path_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an export")
    with pytest.raises(SourceInputError, match="no .reg files"):
        read(tmp_path)
    with pytest.raises(SourceInputError, match="no such file"):
        read(tmp_path / "missing.reg")
