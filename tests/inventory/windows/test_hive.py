"""Registry hive files (``--from hive``): copies of a host's SOFTWARE, SYSTEM and NTUSER.DAT.

The hives under ``tests/assets/windows/hive`` were written by hivex (``make_assets.py``), from
the same description of the host as the regedit exports, so both sources must agree.
"""

from __future__ import annotations

import shutil
import struct
import time
from pathlib import Path

import pytest

from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.inventory.windows.hive import HiveSource
from evict.inventory.windows.reg import RegExportSource
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Kind, Observation

ASSETS = Path(__file__).parent.parent.parent / "assets" / "windows"
HIVES = ASSETS / "hive"
HOST = HIVES / "wks-fin-0042"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall"


def read(*paths: Path) -> tuple[list[HostInventory], HiveSource]:
    source = HiveSource(list(paths))
    return list(source.collect()), source


def of_kind(inv: HostInventory, kind: Kind, source: str | None = None) -> dict[str, Observation]:
    found = [o for o in inv.observations if o.kind is kind and source in (None, o.source)]
    by_name = {o.name: o for o in found}
    assert len(by_name) == len(found), f"repeated names in {[o.name for o in found]}"
    return by_name


def what(inv: HostInventory) -> set[tuple[str, str, str, str, str]]:
    """What a host has, leaving out where in the registry each thing was read."""
    return {
        (o.kind.value, o.name, o.version, o.publisher, o.ident("product_code") or "")
        for o in inv.observations
    }


@pytest.fixture(scope="module")
def host() -> HostInventory:
    [inv], _ = read(HOST)
    return inv


def test_a_host_folder_is_one_windows_host_named_by_its_computer_name() -> None:
    source = open_source("hive", [HOST])
    [inv] = list(source.collect())
    assert (inv.host, inv.hostname, inv.platform.value) == (
        "WKS-FIN-0042",
        "WKS-FIN-0042",
        "windows",
    )
    assert [(s.source, s.state) for s in source.statuses] == [("hive:wks-fin-0042", "ok")]


def test_hives_and_regedit_exports_of_the_same_host_agree(host: HostInventory) -> None:
    [exported] = RegExportSource([ASSETS / "reg" / "wks-fin-0042"]).collect()
    assert what(host) == what(exported)


def test_programs_from_both_uninstall_keys_and_the_users_hive(host: HostInventory) -> None:
    programs = of_kind(host, Kind.PROGRAM, "hive:uninstall")
    kes = programs["Kaspersky Endpoint Security for Windows"]
    assert (kes.version, kes.publisher) == ("12.3.0.493", "AO Kaspersky Lab")
    assert (kes.ident("registry_key") or "").startswith("HKLM\\SOFTWARE\\WOW6432Node\\")
    # The user's hive sits in Users\alice; the SOFTWARE hive's ProfileList gives alice's SID.
    spotify = programs["Spotify"]
    assert spotify.ident("registry_key") == f"HKU\\{SID}\\Software\\{UNINSTALL}\\Spotify"
    assert "Security Update for Microsoft Office 2016 (KB5002469) 32-Bit Edition" not in programs


def test_services_come_from_the_control_set_that_select_names(host: HostInventory) -> None:
    drivers = of_kind(host, Kind.DRIVER, "hive:services")
    # ControlSet002 (last known good) still lists kl1.sys; the current set (001) does not.
    assert set(drivers) == {"klif.sys", "klhk.sys", "tcpip.sys"}
    assert drivers["klhk.sys"].ident("registry_key") == (
        "HKLM\\SYSTEM\\ControlSet001\\Services\\klhk"
    )
    assert "AVP" in of_kind(host, Kind.SERVICE, "hive:services")


def test_the_kasperskylab_key_is_read_from_the_software_hive(host: HostInventory) -> None:
    keys = of_kind(host, Kind.REGISTRY_KEY, "hive:kasperskylab")
    assert "SOFTWARE\\KasperskyLab\\protected\\KES\\environment" in keys
    [program] = of_kind(host, Kind.PROGRAM, "hive:kasperskylab").values()
    assert program.name == "Kaspersky Endpoint Security for Windows"


def test_the_matcher_finds_kaspersky_endpoint_security(
    host: HostInventory, catalog_matcher: Matcher
) -> None:
    findings = catalog_matcher.match_hosts([host])[host.host]
    assert "kaspersky-endpoint-security" in {f.product for f in findings}


def test_hive_files_in_one_folder_make_one_host() -> None:
    [inv], source = read(HOST / "SOFTWARE", HOST / "SYSTEM")
    assert inv.host == "WKS-FIN-0042"
    assert "klif.sys" in of_kind(inv, Kind.DRIVER)
    assert source.statuses[0].state == "ok"


def test_a_lone_software_hive_is_read_and_says_what_it_could_not_see() -> None:
    [inv], source = read(HOST / "SOFTWARE")
    assert inv.host == "SOFTWARE"
    assert "Kaspersky Endpoint Security for Windows" in of_kind(inv, Kind.PROGRAM, "hive:uninstall")
    assert not of_kind(inv, Kind.DRIVER)
    [status] = source.statuses
    assert status.state == "partial"
    assert any("no SYSTEM hive" in p for p in status.problems)


def test_which_hive_a_file_is_comes_from_its_contents_not_its_name(tmp_path: Path) -> None:
    shutil.copy(HOST / "SYSTEM", tmp_path / "hive-a.bin")
    shutil.copy(HOST / "SOFTWARE", tmp_path / "b.dat")
    shutil.copy(HOST / "Users" / "alice" / "NTUSER.DAT", tmp_path / "c")
    (tmp_path / "notes.txt").write_text("collected by the incident team")
    [inv], _ = read(tmp_path)
    assert what(inv) == what(read(HOST)[0][0])


def test_a_mounted_windows_drive_is_read_with_its_logs_skipped(tmp_path: Path) -> None:
    config = tmp_path / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    for name in ("SOFTWARE", "SYSTEM"):
        shutil.copy(HOST / name, config / name)
    log = bytearray((HOST / "SOFTWARE").read_bytes()[:8192])
    struct.pack_into("<I", log, 0x1C, 2)  # a .LOG1 of the new format: file type 2
    (config / "SOFTWARE.LOG1").write_bytes(bytes(log))
    home = tmp_path / "users" / "alice"
    home.mkdir(parents=True)
    shutil.copy(HOST / "Users" / "alice" / "NTUSER.DAT", home / "ntuser.dat")
    [inv], source = read(tmp_path)
    assert inv.host == "WKS-FIN-0042"
    assert "Spotify" in of_kind(inv, Kind.PROGRAM, "hive:uninstall")
    assert source.statuses[0].state == "ok"


def test_a_hive_windows_had_not_cleanly_unloaded_is_read_with_a_problem(tmp_path: Path) -> None:
    data = bytearray((HOST / "SOFTWARE").read_bytes())
    struct.pack_into("<I", data, 4, struct.unpack_from("<I", data, 4)[0] + 1)
    (tmp_path / "SOFTWARE").write_bytes(bytes(data))
    [inv], source = read(tmp_path / "SOFTWARE")
    assert "Kaspersky Endpoint Security for Windows" in of_kind(inv, Kind.PROGRAM, "hive:uninstall")
    assert any("not cleanly unloaded" in p for p in source.statuses[0].problems)


def test_a_value_the_parser_skips_leaves_the_host_partial_not_silently_short(
    tmp_path: Path,
) -> None:
    data = bytearray((HOST / "SOFTWARE").read_bytes())
    node = data.index(b"environment") - 4096 - 4 - 0x4C  # the nk cell of ...\KES\environment
    values = struct.unpack_from("<I", data, 4096 + node + 4 + 0x28)[0]
    struct.pack_into("<I", data, 4096 + values + 4, 0x20)  # first value -> the root key's cell
    (tmp_path / "SOFTWARE").write_bytes(bytes(data))
    [inv], source = read(tmp_path / "SOFTWARE")
    assert not of_kind(inv, Kind.PROGRAM, "hive:kasperskylab")
    assert any(p.startswith("hive parser: ") for p in source.statuses[0].problems)


def test_an_empty_hive_is_a_host_with_nothing_on_it() -> None:
    [inv], _ = read(HIVES / "empty")
    assert (inv.host, inv.observations) == ("empty", ())


def test_a_subkey_list_that_loops_back_does_not_hang_the_reader() -> None:
    started = time.monotonic()
    [inv], _ = read(HIVES / "cyclic" / "SOFTWARE")
    assert time.monotonic() - started < 5
    keys = of_kind(inv, Kind.REGISTRY_KEY)
    assert "SOFTWARE\\KasperskyLab\\protected\\KES" in keys
    assert "Kaspersky Endpoint Security for Windows" in of_kind(inv, Kind.PROGRAM, "hive:uninstall")


def expect_error(path: Path, words: str) -> SourceInputError:
    with pytest.raises(SourceInputError) as caught:
        read(path)
    assert words in caught.value.message
    assert str(path) in str(caught.value)
    return caught.value


def test_a_truncated_hive_is_refused_naming_the_file() -> None:
    expect_error(HIVES / "truncated" / "SOFTWARE", "truncated")


def test_a_hive_with_damaged_cells_is_refused_naming_the_file(tmp_path: Path) -> None:
    data = bytearray((HOST / "SOFTWARE").read_bytes())
    data[4096 + 0x20 :] = bytes((i * 37 + 11) % 256 for i in range(len(data) - 4096 - 0x20))
    (tmp_path / "SOFTWARE").write_bytes(bytes(data))
    error = expect_error(tmp_path / "SOFTWARE", "damaged registry hive")
    assert error.__cause__ is not None


def test_files_that_are_not_hives_are_refused(tmp_path: Path) -> None:
    expect_error(ASSETS / "reg" / "binary.reg", "not a registry hive")
    (tmp_path / "zero").write_bytes(b"")
    expect_error(tmp_path / "zero", "empty file")
    header_only = (HOST / "SOFTWARE").read_bytes()[:100]
    (tmp_path / "short").write_bytes(header_only)
    expect_error(tmp_path / "short", "truncated")


def test_a_hive_evict_does_not_read_is_refused_when_named(tmp_path: Path) -> None:
    data = bytearray((HIVES / "empty" / "SOFTWARE").read_bytes())
    data[0x30 : 0x30 + 64] = "\\SystemRoot\\System32\\Config\\SAM".encode("utf-16-le")[:64].ljust(
        64, b"\0"
    )
    (tmp_path / "SAM").write_bytes(bytes(data))
    expect_error(tmp_path / "SAM", "not a SOFTWARE, SYSTEM, NTUSER.DAT or Amcache.hve hive")


def test_a_folder_without_hives_and_a_missing_path_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no hives here")
    expect_error(tmp_path, "no registry hive")
    expect_error(tmp_path / "missing", "no such file")


# --- Amcache.hve -------------------------------------------------------------------------------

AMCACHE_HOST = HIVES / "wks-fin-0077"
AMCACHE = AMCACHE_HOST / "Windows" / "AppCompat" / "Programs" / "Amcache.hve"


@pytest.fixture(scope="module")
def amcache_host() -> tuple[HostInventory, list[str]]:
    [inv], source = read(AMCACHE_HOST)
    [status] = source.statuses
    return inv, list(status.problems)


def test_amcache_is_found_where_windows_keeps_it_on_a_mounted_drive(amcache_host) -> None:
    inv, problems = amcache_host
    assert (inv.host, inv.platform.value) == ("wks-fin-0077", "windows")
    # Only Amcache.hve was there: the host says what it could not see.
    assert any("no SYSTEM hive" in p for p in problems)


def test_amcache_installed_applications_are_programs(amcache_host) -> None:
    inv, _ = amcache_host
    apps = of_kind(inv, Kind.PROGRAM, "hive:amcache-applications")
    assert set(apps) == {
        "Kaspersky Endpoint Security for Windows",
        "7-Zip 23.01 (x64)",
        "Windows Calculator",
    }
    kes = apps["Kaspersky Endpoint Security for Windows"]
    assert (kes.version, kes.publisher) == ("12.3.0.493", "AO Kaspersky Lab")
    assert kes.ident("product_code") == "{76940874-DCFA-4BC6-A4C0-1B838D420465}"
    assert kes.ident("path") == "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0"
    assert kes.ident("registry_key") == (
        "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
        "\\{76940874-DCFA-4BC6-A4C0-1B838D420465}"
    )
    # Not an MSI product: the Uninstall subkey named in RegistryKeyPath is the product code.
    assert apps["7-Zip 23.01 (x64)"].ident("product_code") == "7-Zip"
    # A Store app is known by its package family, as Get-AppxPackage gives it.
    calculator = apps["Windows Calculator"]
    assert calculator.ident("package_id") == "Microsoft.WindowsCalculator_8wekyb3d8bbwe"


def test_amcache_files_carry_path_sha1_publisher_and_version(amcache_host) -> None:
    inv, _ = amcache_host
    files = [o for o in inv.observations if o.kind is Kind.FILE]
    kes = next(o for o in files if "kes.12.3.0" in (o.ident("path") or ""))
    assert (kes.name, kes.version, kes.publisher) == ("avp.exe", "12.3.0.493", "ao kaspersky lab")
    assert kes.ident("sha1") == "5b7e2c0d4a9f8e1b3c6d2a7f0e9b8c1d4a3f6e2b"
    assert kes.ident("original_filename") == "avp.exe"


def test_amcache_says_which_files_belong_to_an_application_still_listed(amcache_host) -> None:
    inv, _ = amcache_host
    by_path = {o.ident("path"): o.source for o in inv.observations if o.kind is Kind.FILE}
    assert by_path == {
        "c:\\program files (x86)\\kaspersky lab\\kes.12.3.0\\avp.exe": "hive:amcache-files",
        "c:\\program files\\7-zip\\7z.exe": "hive:amcache-files",
        # Kaspersky Internet Security was removed: its executable's entry outlived it.
        "c:\\program files (x86)\\kaspersky lab\\kaspersky internet security 21.3\\avp.exe": (
            "hive:amcache-file-traces"
        ),
        "c:\\windows\\system32\\notepad.exe": "hive:amcache-file-traces",
    }


def test_amcache_driver_binaries_are_drivers(amcache_host) -> None:
    inv, _ = amcache_host
    drivers = of_kind(inv, Kind.DRIVER, "hive:amcache-drivers")
    assert set(drivers) == {"klif.sys", "tcpip.sys"}
    klif = drivers["klif.sys"]
    assert (klif.version, klif.publisher) == ("12.3.0.493", "AO Kaspersky Lab")
    assert klif.ident("path") == "c:\\windows\\system32\\drivers\\klif.sys"
    assert klif.ident("sha1") == "7d3b9e1f4a6c2e8b0d5f3a9c1e7b4d2f8a6c0e3b"


def test_amcache_hashes_agree_with_regipys_own_amcache_plugin(amcache_host) -> None:
    from regipy.plugins.amcache.amcache import AmCachePlugin
    from regipy.registry import RegistryHive

    plugin = AmCachePlugin(RegistryHive(str(AMCACHE)), as_json=True)  # type: ignore[no-untyped-call]
    plugin.run()  # type: ignore[no-untyped-call]
    theirs = {(e["lower_case_long_path"], e["sha1"]) for e in plugin.entries}
    inv, _ = amcache_host
    ours = {(o.ident("path"), o.ident("sha1")) for o in inv.observations if o.kind is Kind.FILE}
    assert ours == theirs and len(ours) == 4


def test_the_matcher_finds_kaspersky_in_amcache(amcache_host, catalog_matcher: Matcher) -> None:
    inv, _ = amcache_host
    hits = catalog_matcher.match_distinct(list(inv.observations))
    found = {(o.kind, o.name) for o, h in zip(inv.observations, hits, strict=True) if h}
    assert (Kind.PROGRAM, "Kaspersky Endpoint Security for Windows") in found
    assert (Kind.DRIVER, "klif.sys") in found
    assert not any(name in ("7-Zip 23.01 (x64)", "tcpip.sys", "notepad.exe") for _, name in found)


def test_a_lone_amcache_file_is_a_host_and_sits_with_the_other_hives(tmp_path: Path) -> None:
    [inv], _ = read(AMCACHE)
    assert any(o.source == "hive:amcache-drivers" for o in inv.observations)
    # Beside SOFTWARE and SYSTEM in one folder, it adds to the same host.
    for name in ("SOFTWARE", "SYSTEM"):
        shutil.copyfile(HOST / name, tmp_path / name)
    shutil.copyfile(AMCACHE, tmp_path / "Amcache.hve")
    [together], source = read(tmp_path)
    assert together.host == "WKS-FIN-0042"
    sources = {o.source for o in together.observations}
    assert {"hive:uninstall", "hive:amcache-applications", "hive:amcache-drivers"} <= sources


def test_a_truncated_amcache_hive_is_refused_naming_the_file() -> None:
    expect_error(HIVES / "amcache-truncated" / "Amcache.hve", "truncated")
