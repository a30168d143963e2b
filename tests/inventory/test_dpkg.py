"""dpkg status files copied off hosts: ``evict scan --from dpkg-status FILE...``."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from evict.inventory import dpkg
from evict.inventory.dpkg import DpkgStatusSource, host_name, parse_dpkg_status
from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.model.observations import HostInventory, Ident, Platform

LINUX = Path(__file__).parent.parent / "assets" / "linux"
STATUS = LINUX / "debian" / "var" / "lib" / "dpkg" / "status"


def collect(*paths: Path) -> tuple[list[HostInventory], DpkgStatusSource]:
    source = open_source("dpkg-status", list(paths))
    assert isinstance(source, DpkgStatusSource)
    return list(source.collect()), source


def place(tmp_path: Path, relative: str) -> Path:
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(STATUS, target)
    return target


def test_one_host_per_file_named_after_its_folder(tmp_path: Path) -> None:
    web = place(tmp_path, "fleet/web01/status")
    db = place(tmp_path, "fleet/db02.example.org/status")
    os.utime(web, (1_767_600_000, 1_767_600_000))
    hosts, source = collect(web, db)
    assert [(h.host, h.hostname) for h in hosts] == [
        ("web01", "web01"),
        ("db02.example.org", "db02.example.org"),
    ]
    assert hosts[0].platform is Platform.LINUX
    assert hosts[0].collected_at == dt.datetime.fromtimestamp(1_767_600_000, dt.UTC)
    names = {o.name for o in hosts[0].observations}
    assert {"kesl", "klnagent", "curl"} <= names and "kav4fs" not in names
    assert [s.state for s in source.statuses] == ["ok", "ok"]
    assert all(o.source == "dpkg-status" for o in hosts[0].observations)


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("web03--status", "web03"),
        ("exports/web04.example.com--dpkg-status.txt", "web04.example.com"),
        ("exports/app05.status", "app05"),
        ("copies/app06/var/lib/dpkg/status", "app06"),
    ],
)
def test_host_names_from_file_names(tmp_path: Path, relative: str, expected: str) -> None:
    assert host_name(place(tmp_path, relative)) == expected


def test_generic_name_in_a_generic_folder_falls_back_to_the_path(tmp_path: Path) -> None:
    path = place(tmp_path, "tmp/status")
    assert host_name(path) == str(path)


def test_copied_root_uses_its_os_release(tmp_path: Path) -> None:
    root = tmp_path / "ubu01"
    place(root, "var/lib/dpkg/status")
    (root / "etc").mkdir()
    shutil.copy(LINUX / "ubuntu" / "etc" / "os-release", root / "etc" / "os-release")
    for given in (root, root / "var/lib/dpkg/status"):
        (host,), _ = collect(given)
        assert host.host == "ubu01"
        kesl = next(o for o in host.observations if o.name == "kesl")
        assert kesl.ident(Ident.PURL) == "pkg:deb/ubuntu/kesl@10.0.0-3458?arch=amd64"


def test_truncated_file_names_the_file_and_line() -> None:
    path = LINUX / "malformed" / "var" / "lib" / "dpkg" / "status"
    with pytest.raises(SourceInputError) as info:
        collect(path)
    assert (info.value.path, info.value.line) == (str(path), 521)
    assert str(info.value).startswith(f"{path}:521: expected 'Field: value'")


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "host7--status"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)))
    with pytest.raises(SourceInputError, match="binary"):
        collect(path)


def test_missing_file_and_folder_without_status_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceInputError, match="cannot read"):
        collect(tmp_path / "nope--status")
    with pytest.raises(SourceInputError, match="without var/lib/dpkg/status"):
        collect(tmp_path)


def test_fifo_and_huge_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "pipe--status"
    os.mkfifo(fifo)
    with pytest.raises(SourceInputError, match="not a regular file"):
        collect(fifo)
    monkeypatch.setattr(dpkg, "MAX_STATUS_BYTES", 4096)
    with pytest.raises(SourceInputError, match="more than the 4096"):
        collect(STATUS)


def test_empty_file_is_a_host_with_no_packages(tmp_path: Path) -> None:
    path = tmp_path / "bare--status"
    path.write_bytes(b"")
    (host,), source = collect(path)
    assert host.observations == ()
    assert source.statuses[0].state == "ok"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (" orphan continuation\nPackage: a\n", 1, "continuation line outside a field"),
        ("Package: a\nStatus: install ok installed\n\n \tstray\n", 4, "continuation"),
        ("Package: a\nVersion: 1\n", 1, "no Status field"),
        ("Package: a\nStatus: install ok\n", 2, "not 'want flag state'"),
        ("Version: 1\nStatus: install ok installed\n", 1, "no Package field"),
        ("Package: a\nStatus: install ok installed\n<html>\n", 3, "'<html>'"),
    ],
)
def test_malformed_stanzas(text: str, line: int, message: str) -> None:
    with pytest.raises(SourceInputError, match=message) as info:
        parse_dpkg_status(text, "status")
    assert info.value.line == line


def test_states_that_count_as_installed() -> None:
    text = "\n\n".join(
        f"Package: p{i}\nStatus: {status}\nVersion: 1.0-{i}\nArchitecture: amd64"
        for i, status in enumerate(
            [
                "install ok installed",
                "hold ok installed",
                "deinstall ok installed",  # selected for removal, still on disk
                "install ok half-configured",
                "install ok triggers-pending",
                "install ok unpacked",
                "deinstall ok config-files",
                "purge ok not-installed",
                "install reinstreq half-installed",
            ]
        )
    )
    names = [o.name for o in parse_dpkg_status(text, "status")]
    assert names == ["p0", "p1", "p2", "p3", "p4", "p5"]


def test_windows_line_endings_and_multiline_fields() -> None:
    text = (
        "Package: kesl\r\nStatus: install ok installed\r\nMaintainer: AO Kaspersky Lab\r\n"
        "Architecture: amd64\r\nVersion: 11.1.0-3013 \r\nDescription: KESL\r\n more text\r\n"
        " .\r\n"
    )
    (kesl,) = parse_dpkg_status(text, "status")
    assert (kesl.version, kesl.publisher) == ("11.1.0-3013", "AO Kaspersky Lab")
    assert kesl.ident(Ident.PURL) == "pkg:deb/debian/kesl@11.1.0-3013?arch=amd64"
