"""Macs read offline: copied folder trees, tarballs of them, and system_profiler JSON."""

from __future__ import annotations

import io
import os
import plistlib
import shutil
import struct
import tarfile
from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.inventory.interface import SourceInputError
from evict.inventory.macos import MAX_PLIST_BYTES, MAX_PROBLEMS, MacosInputError, MacosSource
from evict.inventory.registry import open_source
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Ident, Kind, Observation

ASSETS = Path(__file__).parent.parent / "assets" / "macos"
KAV_APP = "/Applications/Kaspersky Internet Security.app"


def read(*paths: Path) -> tuple[list[HostInventory], MacosSource]:
    source = MacosSource(list(paths))
    return list(source.collect()), source


def by_name(inventory: HostInventory) -> dict[str, Observation]:
    return {o.name: o for o in inventory.observations}


def copy_tree(tmp_path: Path, name: str = "kav-mac") -> Path:
    return Path(shutil.copytree(ASSETS / "kav-mac", tmp_path / name, symlinks=True))


def info_plist(bundle_id: str) -> bytes:
    return plistlib.dumps({"CFBundleIdentifier": bundle_id, "CFBundleName": bundle_id})


# -- a folder tree -----------------------------------------------------------------------------


def test_tree_yields_one_macos_host_named_by_its_computer_name() -> None:
    (inv,), source = read(ASSETS / "kav-mac")
    assert (inv.host, inv.hostname, inv.platform.value) == ("alice-mbp", "alice-mbp", "macos")
    assert [s.state for s in source.statuses] == ["ok"]
    assert source.statuses[0].source == f"macos:{ASSETS / 'kav-mac'}"


def test_tree_reads_the_kaspersky_app_receipt_daemon_kext_and_system_extension() -> None:
    (inv,), _ = read(ASSETS / "kav-mac")
    seen = by_name(inv)
    kis = seen["Kaspersky Internet Security"]
    assert (kis.kind, kis.version, kis.source) == (Kind.APP, "21.0.22", "macos:apps")
    assert dict(kis.identifiers) == {"bundle_id": "com.kaspersky.kav", "path": KAV_APP}
    receipt = seen["com.kaspersky.kav.core"]
    assert (receipt.kind, receipt.version) == (Kind.PACKAGE, "21.0.22.431")
    assert receipt.ident(Ident.BUNDLE_ID) == "com.kaspersky.kav.core"
    daemon = seen["com.kaspersky.kav"]
    assert daemon.kind is Kind.SERVICE
    assert daemon.ident(Ident.PATH) == "/Library/Application Support/Kaspersky Lab/KAV/Binaries/kav"
    kext = seen["klif.kext"]
    assert (kext.kind, kext.ident(Ident.BUNDLE_ID)) == (Kind.DRIVER, "com.kaspersky.kext.klif")
    assert kext.ident(Ident.PATH) == "/Library/Extensions/klif.kext"
    sysext = seen["com.kaspersky.kav.sysext.systemextension"]
    assert (sysext.kind, sysext.source) == (Kind.DRIVER, "macos:system_extensions")


def test_tree_reads_xml_and_binary_plists_and_every_app_folder() -> None:
    (inv,), _ = read(ASSETS / "kav-mac")
    apps = {o.name: o.ident(Ident.PATH) for o in inv.observations if o.kind is Kind.APP}
    assert apps == {
        "Kaspersky Internet Security": KAV_APP,  # binary plist
        "Google Chrome": "/Applications/Google Chrome.app",  # XML; display name beats "Chrome"
        "Kaspa Wallet": "/Applications/Utilities/Kaspa Wallet.app",
        "Slack": "/Users/alice/Applications/Slack.app",
    }
    agents = {o.name for o in inv.observations if o.kind is Kind.SERVICE}
    assert agents == {"com.kaspersky.kav", "com.google.keystone.agent"}
    assert not [o for o in inv.observations if "bom" in o.name]


def test_tree_without_preferences_is_named_after_its_folder(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path, "reception-imac")
    (tree / "Library/Preferences/SystemConfiguration/preferences.plist").unlink()
    (inv,), _ = read(tree)
    assert inv.host == "reception-imac"


def test_app_without_names_in_info_plist_takes_the_bundle_folder_name(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    target = tree / "Applications/Kaspersky Security Cloud.app/Contents/Info.plist"
    target.parent.mkdir(parents=True)
    target.write_bytes(plistlib.dumps({"CFBundleIdentifier": "com.kaspersky.kav"}))
    (inv,), _ = read(tree)
    assert by_name(inv)["Kaspersky Security Cloud"].ident(Ident.BUNDLE_ID) == "com.kaspersky.kav"


def test_tarball_reads_the_same_mac_as_the_folder() -> None:
    (folder,), _ = read(ASSETS / "kav-mac")
    (tarball,), source = read(ASSETS / "kav-mac.tgz")
    assert tarball.host == folder.host == "alice-mbp"
    assert set(tarball.observations) == set(folder.observations)
    assert [s.state for s in source.statuses] == ["ok"]


def test_registry_builds_the_source_by_name() -> None:
    source = open_source("macos", [ASSETS / "kav-mac"])
    assert isinstance(source, MacosSource)
    assert len(list(source.collect())) == 1


def test_several_paths_are_several_hosts() -> None:
    inventories, source = read(ASSETS / "kav-mac", ASSETS / "kav-mac-profiler.json")
    assert [i.host for i in inventories] == ["alice-mbp", "kav-mac-profiler"]
    assert len(source.statuses) == 2


# -- broken plists: problems of one file, never of the tree ------------------------------------


def test_malformed_plists_leave_the_rest_of_the_tree_read() -> None:
    (inv,), source = read(ASSETS / "malformed-mac")
    assert {o.name for o in inv.observations} == {"Slack", "com.kaspersky.kav"}
    (status,) = source.statuses
    assert status.state == "partial"
    problems = "\n".join(status.problems)
    for broken in (
        f"{KAV_APP}/Contents/Info.plist: not a readable plist",  # truncated binary
        "/var/db/receipts/com.kaspersky.kav.core.plist: not a readable plist",  # bad XML
        "/var/db/receipts/no-identifier.plist: a receipt without PackageIdentifier",
        "/Library/LaunchAgents/com.example.bomb.plist: not a readable plist",  # entity bomb
        "/Library/Extensions/klif.kext/Contents/Info.plist: the plist is not a dictionary",
    ):
        assert broken in problems


def deep_binary_plist(depth: int) -> bytes:
    """A binary plist of ``depth`` arrays nested one in another (objects refer by 4-byte ref)."""
    offsets, body = [], bytearray(b"bplist00")
    for i in range(depth):
        offsets.append(len(body))
        body += b"\xa1" + struct.pack(">I", i + 1)
    offsets.append(len(body))
    body += b"\xa0"
    table = len(body)
    body += b"".join(struct.pack(">I", o) for o in offsets)
    body += struct.pack(">6xBBQQQ", 4, 4, depth + 1, 0, table)
    return bytes(body)


def test_plist_bombs_are_problems_and_do_not_hang(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    deep_xml = b"<plist><array>" + b"<array>" * 200_000 + b"</array>" * 200_000 + b"</plist>"
    (tree / "Library/LaunchAgents/deep-xml.plist").write_bytes(deep_xml)
    (tree / "Library/LaunchAgents/deep-binary.plist").write_bytes(deep_binary_plist(50_000))
    (inv,), source = read(tree)
    assert "Kaspersky Internet Security" in by_name(inv)
    problems = "\n".join(source.statuses[0].problems)
    assert "/Library/LaunchAgents/deep-xml.plist" in problems
    assert "/Library/LaunchAgents/deep-binary.plist: not a readable plist" in problems


def test_oversized_plist_is_skipped_with_a_problem(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    big = tree / "var/db/receipts/big.plist"
    big.write_bytes(b"<plist>" + b" " * (MAX_PLIST_BYTES + 1) + b"</plist>")
    (inv,), source = read(tree)
    assert "com.kaspersky.kav.core" in by_name(inv)
    assert any("big.plist" in p and "limit" in p for p in source.statuses[0].problems)


def test_problems_are_capped_so_hostile_trees_stay_small(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    for i in range(MAX_PROBLEMS + 150):
        (tree / f"var/db/receipts/broken-{i:03}.plist").write_bytes(b"not a plist")
    _, source = read(tree)
    problems = source.statuses[0].problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == "... and 150 more problems"


# -- hostile folder trees ----------------------------------------------------------------------


def test_links_out_of_the_tree_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside/Evil.app/Contents"
    outside.mkdir(parents=True)
    (outside / "Info.plist").write_bytes(info_plist("com.example.outside"))
    tree = copy_tree(tmp_path)
    os.symlink(tmp_path / "outside/Evil.app", tree / "Applications/Evil.app")
    os.symlink("/etc/passwd", tree / "var/db/receipts/passwd.plist")
    (inv,), source = read(tree)
    assert "com.example.outside" not in {o.ident(Ident.BUNDLE_ID) for o in inv.observations}
    problems = "\n".join(source.statuses[0].problems)
    assert "/Applications/Evil.app: a link out of the tree; not followed" in problems
    assert "/var/db/receipts/passwd.plist: a link out of the tree" in problems


def test_links_inside_the_tree_are_followed(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    os.symlink("../Google Chrome.app", tree / "Applications/Utilities/Chrome Link.app")
    (inv,), source = read(tree)
    assert "/Applications/Utilities/Chrome Link.app" in {
        o.ident(Ident.PATH) for o in inv.observations
    }
    assert source.statuses[0].state == "ok"


@pytest.mark.timeout(10)
def test_symlink_loops_end_with_a_problem(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    os.symlink("Loop.app", tree / "Applications/Loop.app")
    os.symlink(".", tree / "Applications/Again")
    (inv,), source = read(tree)
    assert "Kaspersky Internet Security" in by_name(inv)
    assert any(
        "/Applications/Loop.app: a link that leads nowhere" in p
        for p in source.statuses[0].problems
    )


@pytest.mark.timeout(10)
def test_a_fifo_named_like_a_plist_is_not_opened(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    os.mkfifo(tree / "Library/LaunchDaemons/fifo.plist")
    (inv,), source = read(tree)
    assert "com.kaspersky.kav" in by_name(inv)
    assert "/Library/LaunchDaemons/fifo.plist: not a regular file; skipped" in (
        source.statuses[0].problems
    )


def test_a_folder_that_is_not_a_mac_fails_and_yields_no_host(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    inventories, source = read(tmp_path)
    assert inventories == []
    (status,) = source.statuses
    assert status.state == "failed"
    assert "not a folder tree copied from a Mac" in status.problems[0]


# -- hostile tarballs --------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_hostile_tarball_members_are_rejected_and_nothing_is_extracted() -> None:
    (inv,), source = read(ASSETS / "hostile.tar")
    assert [o.name for o in inv.observations] == ["Kaspersky Internet Security"]
    assert not Path("/tmp/evict-escaped").exists()
    assert not Path("/tmp/evict-absolute").exists()
    problems = "\n".join(source.statuses[0].problems)
    assert "member '../../../../tmp/evict-escaped': absolute or '..' path; rejected" in problems
    assert "member '/tmp/evict-absolute': absolute or '..' path; rejected" in problems
    assert "Evil.app/Contents/Info.plist': a link out of the archive" in problems
    assert "escape.plist': a link out of the archive" in problems
    assert "member 'kav-mac/Library/hard': a link out of the archive" in problems
    assert "loop-a" not in problems  # a loop inside the archive is simply never followed


@pytest.mark.timeout(10)
def test_member_declaring_a_gigabyte_is_not_read_and_the_cut_is_reported() -> None:
    with pytest.raises(MacosInputError) as e:
        read(ASSETS / "huge-member.tar")
    assert e.value.path == str(ASSETS / "huge-member.tar")
    assert "Big.app/Contents/Info.plist" in str(e.value)


def test_oversized_tar_member_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    target = tmp_path / "big.tar"
    with tarfile.open(target, "w") as tar:
        for name, data in (
            ("mac/Applications/Big.app/Contents/Info.plist", b"x" * (MAX_PLIST_BYTES + 1)),
            (
                "mac/Applications/Slack.app/Contents/Info.plist",
                info_plist("com.tinyspeck.slackmacgap"),
            ),
        ):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    (inv,), source = read(target)
    assert [o.ident(Ident.BUNDLE_ID) for o in inv.observations] == ["com.tinyspeck.slackmacgap"]
    assert "/Applications/Big.app/Contents/Info.plist" in source.statuses[0].problems[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.tgz", "corrupt tarball"),
        ("corrupt.tgz", "not a readable tarball"),
        ("not-a-mac.txt", "neither a folder copied from a Mac"),
        ("does-not-exist", "no such file or folder"),
    ],
)
def test_unreadable_paths_raise_an_input_error_naming_the_file(name: str, message: str) -> None:
    with pytest.raises(SourceInputError) as e:
        read(ASSETS / name)
    assert e.value.path == str(ASSETS / name)
    assert message in str(e.value)


# -- system_profiler JSON ----------------------------------------------------------------------


def test_profiler_json_gives_signer_and_team_id() -> None:
    (inv,), source = read(ASSETS / "kav-mac-profiler.json")
    assert (inv.host, inv.platform.value) == ("kav-mac-profiler", "macos")
    seen = by_name(inv)
    kis = seen["Kaspersky Internet Security"]
    assert (kis.kind, kis.version, kis.publisher) == (Kind.APP, "21.0.22", "AO Kaspersky Lab")
    assert dict(kis.identifiers) == {
        "path": KAV_APP,
        "signer": "AO Kaspersky Lab",
        "team_id": "2Y8XE5CQ94",
    }
    assert seen["Google Chrome"].ident(Ident.TEAM_ID) == "EQHXZ8M8AV"
    safari = seen["Safari"]
    assert (safari.publisher, safari.ident(Ident.SIGNER), safari.ident(Ident.TEAM_ID)) == (
        "",
        "Software Signing",
        None,
    )
    assert seen["Kaspa Wallet"].ident(Ident.SIGNER) is None
    assert source.statuses[0].state == "ok"


def test_profiler_json_takes_the_host_name_from_spsoftwaredatatype() -> None:
    (inv,), _ = read(ASSETS / "with-software.json")
    assert inv.host == "alice-mbp"


def test_profiler_entries_without_a_name_are_problems() -> None:
    (inv,), source = read(ASSETS / "no-name-profiler.json")
    assert [o.name for o in inv.observations] == ["Slack"]
    assert source.statuses[0].problems == (
        "SPApplicationsDataType entry 0: no _name; skipped",
        "SPApplicationsDataType entry 1: no _name; skipped",
    )


def test_empty_profiler_output_is_a_host_with_no_apps() -> None:
    (inv,), source = read(ASSETS / "empty-profiler.json")
    assert inv.observations == ()
    assert source.statuses[0].state == "ok"


def test_malformed_profiler_json_names_the_line() -> None:
    with pytest.raises(MacosInputError) as e:
        read(ASSETS / "malformed-profiler.json")
    assert e.value.line == 6
    assert "not valid JSON" in str(e.value)


@pytest.mark.parametrize(
    "text",
    ['{"SPHardwareDataType": []}', "[" * 100_000 + "]" * 100_000, '{"SPApplicationsDataType": {}}'],
    ids=["other-data-type", "deep-nesting", "not-a-list"],
)
def test_json_that_is_not_application_data_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(text)
    with pytest.raises(MacosInputError) as e:
        read(path)
    assert e.value.path == str(path)


# -- what the matcher makes of it --------------------------------------------------------------


@pytest.mark.parametrize("name", ["kav-mac", "kav-mac.tgz", "kav-mac-profiler.json"])
def test_matcher_finds_kaspersky_internet_security_and_not_the_decoy(name: str) -> None:
    inventories, _ = read(ASSETS / name)
    findings = Matcher(load_catalog()).match_hosts(inventories)
    (host_findings,) = findings.values()
    assert "kaspersky-internet-security" in {f.product for f in host_findings}
    evidence = {e.observation.name for f in host_findings for e in f.evidence}
    assert "Kaspa Wallet" not in evidence
    assert "Slack" not in evidence and "Google Chrome" not in evidence
    if name != "kav-mac-profiler.json":  # the tree also shows the receipt, daemon and kext
        assert {"com.kaspersky.kav.core", "com.kaspersky.kav", "klif.kext"} <= evidence
