"""Installed packages read straight from dpkg, rpm, apk, snap and flatpak databases."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from evict.inventory.interface import SourceInputError
from evict.inventory.local import packages
from evict.inventory.local.packages import (
    ApkCollector,
    DpkgCollector,
    FlatpakCollector,
    PackageDatabaseError,
    RpmCollector,
    RpmHeaderError,
    SnapCollector,
    parse_rpm_header,
)
from evict.model.observations import Ident, Kind

from ._helpers import ASSETS, by_name, copy_tree, make_rpmdb, rpm_header, run

KAS = "AO Kaspersky Lab <support@kaspersky.com>"


# --- dpkg -----------------------------------------------------------------------------------


def test_dpkg_reads_installed_and_held_packages_with_purls() -> None:
    observations, status = run(DpkgCollector, ASSETS / "debian")
    found = by_name(observations)
    assert status.state == "ok"
    assert len(observations) == 41  # 42 stanzas, one only has configuration files left
    kesl = found["kesl"]
    assert (kesl.kind, kesl.version, kesl.publisher) == (Kind.PACKAGE, "10.0.0-3458", KAS)
    assert kesl.ident(Ident.PURL) == "pkg:deb/debian/kesl@10.0.0-3458?arch=amd64"
    assert kesl.source == "local:dpkg"
    # held packages are installed packages (Wazuh users found held ones missing)
    assert found["klnagent"].ident(Ident.PURL) == "pkg:deb/debian/klnagent@10.1.1-26?arch=i386"
    assert found["curl"].version.startswith("7.88")
    # files on disk, configuration unfinished: still on the host
    assert "kesl-gui" in found
    # removed, only its configuration left: not installed
    assert "kav4fs" not in found
    assert str(found["g++"].ident(Ident.PURL)).startswith("pkg:deb/debian/g%2B%2B@4:12.2.0")
    assert found["libc6"].publisher == "GNU Libc Maintainers <debian-glibc@lists.debian.org>"


def test_dpkg_purl_namespace_follows_os_release(tmp_path: Path) -> None:
    root = copy_tree("debian", tmp_path / "root")
    shutil.copy(ASSETS / "ubuntu" / "etc" / "os-release", root / "etc" / "os-release")
    found = by_name(run(DpkgCollector, root)[0])
    assert found["kesl"].ident(Ident.PURL) == "pkg:deb/ubuntu/kesl@10.0.0-3458?arch=amd64"


def test_dpkg_empty_status_is_no_packages() -> None:
    observations, status = run(DpkgCollector, ASSETS / "empty")
    assert (observations, status.state) == ([], "ok")


def test_dpkg_truncated_status_names_file_and_line() -> None:
    with pytest.raises(SourceInputError) as info:
        run(DpkgCollector, ASSETS / "malformed")
    assert info.value.line == 521
    assert info.value.path.endswith("malformed/var/lib/dpkg/status")
    assert "'Vers'" in str(info.value)


def test_dpkg_binary_status_is_refused(tmp_path: Path) -> None:
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_bytes(b"Package: a\nStatus: install ok installed\n\x7fELF\x02\x01\x01\x00\x00")
    with pytest.raises(SourceInputError, match="binary") as info:
        run(DpkgCollector, tmp_path)
    assert info.value.line == 3


def test_dpkg_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    os.mkfifo(status)
    with pytest.raises(SourceInputError, match="not a regular file"):
        run(DpkgCollector, tmp_path)


def test_dpkg_oversized_status_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_tree("debian", tmp_path / "root")
    monkeypatch.setattr(packages, "MAX_STATUS_BYTES", 1000)
    with pytest.raises(SourceInputError, match="more than the 1000"):
        run(DpkgCollector, root)


def test_dpkg_not_available_without_a_database() -> None:
    assert DpkgCollector(ASSETS / "alpine").available() is False
    assert DpkgCollector(ASSETS / "debian").available() is True


# --- rpm ------------------------------------------------------------------------------------

FEDORA = 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\n'


def fedora_root(tmp_path: Path, blobs: list[bytes]) -> Path:
    root = tmp_path / "fedora"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(FEDORA)
    make_rpmdb(root / "usr/lib/sysimage/rpm/rpmdb.sqlite", blobs)
    return root


KESL_RPM: dict[int, str | int] = {
    1000: "kesl",
    1001: "12.0.0",
    1002: "6672",
    1004: "Kaspersky Endpoint Security for Linux",
    1011: "AO Kaspersky Lab",
    1022: "x86_64",
}
OPENSSL_RPM: dict[int, str | int] = {
    1000: "openssl-libs",
    1003: 1,
    1001: "3.2.1",
    1002: "2.fc40",
    1011: "Fedora Project",
    1022: "x86_64",
}


def test_rpm_sqlite_database_is_read_without_librpm(tmp_path: Path) -> None:
    root = fedora_root(tmp_path, [rpm_header(KESL_RPM), rpm_header(OPENSSL_RPM)])
    assert RpmCollector(root).available()
    observations, status = run(RpmCollector, root)
    found = by_name(observations)
    assert status.state == "ok"
    assert (found["kesl"].version, found["kesl"].publisher) == ("12.0.0-6672", "AO Kaspersky Lab")
    assert found["kesl"].ident(Ident.PURL) == "pkg:rpm/fedora/kesl@12.0.0-6672?arch=x86_64"
    assert found["openssl-libs"].ident(Ident.PURL) == (
        "pkg:rpm/fedora/openssl-libs@3.2.1-2.fc40?arch=x86_64&epoch=1"
    )


def test_rpm_corrupt_header_is_a_problem_and_others_are_read(tmp_path: Path) -> None:
    good = rpm_header(KESL_RPM)
    root = fedora_root(tmp_path, [good[:40], good])
    observations, status = run(RpmCollector, root)
    assert [o.name for o in observations] == ["kesl"]
    assert status.state == "partial"
    assert "package 1" in status.problems[0]


def test_rpm_header_parser_rejects_out_of_bounds_offsets() -> None:
    blob = bytearray(rpm_header({1000: "kesl"}))
    # point the NAME entry's offset far past the data store
    blob[8 + 16 + 8 : 8 + 16 + 12] = (10_000).to_bytes(4, "big")
    with pytest.raises(RpmHeaderError, match="outside"):
        parse_rpm_header(bytes(blob))
    with pytest.raises(RpmHeaderError, match="too short"):
        parse_rpm_header(b"\x00\x00")


def test_rpm_file_that_is_not_sqlite_names_the_file(tmp_path: Path) -> None:
    db = tmp_path / "var/lib/rpm/rpmdb.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00\x06\x15\x61" + b"\x00" * 4092)  # a BerkeleyDB page, not sqlite
    with pytest.raises(SourceInputError, match="not a readable rpm database") as info:
        run(RpmCollector, tmp_path)
    assert info.value.path.endswith("rpmdb.sqlite")


def berkeley_root(tmp_path: Path) -> Path:
    db = tmp_path / "root/var/lib/rpm/Packages"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00\x06\x15\x61" + b"\x00" * 4092)
    return tmp_path / "root"


def fake_rpm(tmp_path: Path, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "rpm"
    tool.write_text("#!/bin/sh\n" + body)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_rpm_berkeleydb_is_read_through_the_rpm_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = berkeley_root(tmp_path)
    bin_dir = fake_rpm(
        tmp_path,
        'case "$*" in *"--root '
        + str(root)
        + ' -qa"*) ;; *) echo "bad args: $*" >&2; exit 2;; esac\n'
        "printf 'kesl\\t(none)\\t11.2.0\\t4528\\tx86_64\\tAO Kaspersky Lab\\n'\n"
        "printf 'bash\\t(none)\\t4.4.20\\t4.el8\\tx86_64\\tRed Hat, Inc.\\n'\n"
        "printf 'gpg-pubkey-truncated\\n'\n",
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    observations, status = run(RpmCollector, root)
    found = by_name(observations)
    assert found["kesl"].version == "11.2.0-4528"
    assert found["bash"].publisher == "Red Hat, Inc."
    assert status.state == "partial" and "line 3" in status.problems[0]


def test_rpm_command_that_hangs_is_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = berkeley_root(tmp_path)
    sleep = shutil.which("sleep")
    monkeypatch.setenv("PATH", str(fake_rpm(tmp_path, f"exec {sleep} 30\n")))
    monkeypatch.setattr(packages, "RPM_TIMEOUT", 0.3)
    with pytest.raises(PackageDatabaseError, match="longer than"):
        run(RpmCollector, root)


def test_rpm_berkeleydb_without_rpm_command_fails_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = berkeley_root(tmp_path)
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    observations, status = run(RpmCollector, root)
    assert observations == []
    assert status.state == "failed"
    assert "no rpm command" in status.problems[0]


def test_rpm_not_available_on_debian() -> None:
    assert RpmCollector(ASSETS / "debian").available() is False


# --- apk ------------------------------------------------------------------------------------


def test_apk_installed_database() -> None:
    observations, status = run(ApkCollector, ASSETS / "alpine")
    found = by_name(observations)
    assert status.state == "ok"
    assert list(found) == ["musl", "busybox", "ca-certificates-bundle", "libcrypto3", "apk-tools"]
    musl = found["musl"]
    assert musl.version == "1.2.4_git20230717-r4"
    assert musl.publisher == "Timo Teräs <timo.teras@iki.fi>"
    assert musl.ident(Ident.PURL) == "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64"


def test_apk_empty_database_is_no_packages() -> None:
    observations, status = run(ApkCollector, ASSETS / "empty")
    assert (observations, status.state) == ([], "ok")


def test_apk_malformed_line_names_the_line() -> None:
    with pytest.raises(SourceInputError) as info:
        run(ApkCollector, ASSETS / "malformed")
    assert info.value.line == 24
    assert "not apk" in str(info.value)


# --- snap -----------------------------------------------------------------------------------


def test_snaps_from_state_with_versions_from_mounts() -> None:
    observations, status = run(SnapCollector, ASSETS / "ubuntu")
    found = by_name(observations)
    assert status.state == "ok"
    assert sorted(found) == ["core22", "firefox", "snapd"]
    assert found["firefox"].version == "126.0-2"
    assert found["firefox"].ident(Ident.PACKAGE_ID) == "firefox"
    assert found["firefox"].ident(Ident.PATH) == "/snap/firefox/4173"
    assert found["core22"].version == "20240408"
    assert found["snapd"].version == ""  # installed, not mounted in the sample


def test_snaps_without_state_json_still_come_from_mounts(tmp_path: Path) -> None:
    root = copy_tree("ubuntu", tmp_path / "root")
    (root / "var/lib/snapd/state.json").unlink()
    found = by_name(run(SnapCollector, root)[0])
    assert sorted(found) == ["core22", "firefox"]


def test_snap_malformed_state_and_yaml_are_problems() -> None:
    observations, status = run(SnapCollector, ASSETS / "malformed")
    assert observations == []
    assert status.state == "partial"
    assert any("state.json" in p for p in status.problems)
    assert any("snap.yaml" in p for p in status.problems)


# --- flatpak --------------------------------------------------------------------------------


def test_flatpak_system_and_user_apps() -> None:
    observations, status = run(FlatpakCollector, ASSETS / "ubuntu")
    found = by_name(observations)
    assert status.state == "ok"
    assert sorted(found) == ["com.spotify.Client", "org.mozilla.firefox"]
    assert found["org.mozilla.firefox"].ident(Ident.PACKAGE_ID) == "org.mozilla.firefox"
    assert found["org.mozilla.firefox"].ident(Ident.PATH) == (
        "/var/lib/flatpak/app/org.mozilla.firefox"
    )
    assert found["com.spotify.Client"].ident(Ident.PATH) == (
        "/home/carol/.local/share/flatpak/app/com.spotify.Client"
    )


def test_flatpak_app_without_deployment_is_a_problem() -> None:
    observations, status = run(FlatpakCollector, ASSETS / "malformed")
    assert observations == []
    assert status.state == "partial"
    assert "org.example.Broken" in status.problems[0]


def test_flatpak_not_available_without_installations() -> None:
    assert FlatpakCollector(ASSETS / "debian").available() is False
