"""The bounds every parser keeps, so that a hostile file cannot exhaust time or memory.

Sizes are refused before anything is read; lines are read no further than their limit; nesting
past the parser's depth is an input error; XML entities are refused and external ones never
opened; a compressed tarball stops unpacking at a bound; links never lead out of a copied tree;
problems are capped; a CSV report neutralises cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evict.catalog.interface import CatalogValidationError
from evict.errors import InputError
from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.model.observations import Ident, Kind
from tests.fuzz.fuzzkit import ASSETS, TARGETS, check, feed

MiB = 1024 * 1024
Scratch = Callable[[str], Path]


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes no room on disk: ``head``, then a hole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


# --- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "limit"),
    [
        ("osquery", "host/programs.json", 256 * MiB),
        ("powershell", "uninstall.json", 256 * MiB),
        ("reg", "export.reg", 512 * MiB),
        ("hive", "SOFTWARE", 1024 * MiB),
        ("macos", "profiler.json", 64 * MiB),
        ("intune", "detectedApps.json", 256 * MiB),
        ("intune", "AppInvRawData.csv", 2048 * MiB),
        ("jamf", "computer.xml", 256 * MiB),
        ("cyclonedx", "bom.cdx.json", 256 * MiB),
        ("spdx", "host.spdx.json", 256 * MiB),
        ("dpkg-status", "web01--status", 128 * MiB),
    ],
)
@pytest.mark.timeout(10)
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    source: str, name: str, limit: int, tmp_path: Path
) -> None:
    head = {".json": b"[", ".xml": b"<"}.get(Path(name).suffix, b"")
    path = sparse(tmp_path / name, limit + 1, head=head)
    entry = tmp_path / name.split("/")[0]

    with pytest.raises(SourceInputError) as e:
        list(open_source(source, [entry]).collect())

    assert e.value.path == str(path)


def test_a_catalog_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    from evict.catalog.loader import MAX_FILE_BYTES, load_catalog

    path = sparse(tmp_path / "huge.yaml", MAX_FILE_BYTES + 1)

    with pytest.raises(CatalogValidationError, match="more than a catalog file may hold") as e:
        load_catalog([path])
    assert str(path) in str(e.value)


# --- lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "name"), [("osquery", "results.log"), ("evict", "a.jsonl")])
@pytest.mark.timeout(20)
def test_a_line_without_end_is_read_no_further_than_the_line_limit(
    source: str, name: str, tmp_path: Path
) -> None:
    path = sparse(tmp_path / name, 3 * 1024 * MiB, head=b'{"name": "')

    with pytest.raises(SourceInputError, match="line longer than 64 MiB") as e:
        list(open_source(source, [path]).collect())

    assert e.value.path == str(path)
    assert e.value.line == 1


@pytest.mark.timeout(20)
def test_an_export_line_without_end_is_read_no_further_than_a_mebibyte(tmp_path: Path) -> None:
    header = (ASSETS / "intune/AppInvRawData.csv").read_bytes().splitlines(keepends=True)[0]
    path = sparse(tmp_path / "AppInvRawData.csv", 1536 * MiB, head=header)

    with pytest.raises(SourceInputError, match="a line longer than 1048576 characters") as e:
        list(open_source("intune", [path]).collect())

    assert e.value.path == str(path)
    assert e.value.line == 2


def test_a_regedit_line_over_a_mebibyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.reg"
    path.write_bytes(
        b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"
        + b'"A"="'
        + b"x" * (2 * MiB)
        + b'"\r\n'
    )

    with pytest.raises(SourceInputError, match="line longer than") as e:
        list(open_source("reg", [path]).collect())
    assert e.value.line == 4


# --- nesting --------------------------------------------------------------------------------------

DEEP = 200_000

JSON_TARGETS = [
    "osquery-log",
    "osquery-json",
    "powershell-json",
    "macos-profiler",
    "intune-json",
    "cyclonedx-json",
    "spdx-json",
    "evict-json",
]


@pytest.mark.parametrize("name", JSON_TARGETS)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_past_the_parser_is_an_input_error(
    name: str, opening: str, scratch: Scratch
) -> None:
    document = (opening * DEEP).encode() + b"1" + (b"]" if opening == "[" else b"}") * DEEP

    outcome = feed(TARGETS[name], document, scratch(name))

    check(outcome, scratch(name))
    assert isinstance(outcome.error, InputError)


def test_yaml_nested_past_the_parser_is_a_catalog_error(scratch: Scratch) -> None:
    outcome = feed(TARGETS["catalog"], b"vendors: " + b"[" * DEEP + b"]" * DEEP, scratch("catalog"))

    check(outcome, scratch("catalog"))
    assert isinstance(outcome.error, CatalogValidationError)


def test_xml_nested_deep_is_read_or_refused_without_recursion(scratch: Scratch) -> None:
    sample = (ASSETS / "fuzz/cyclonedx/kesl-12.1.cdx.xml").read_bytes()
    at = sample.rfind(b"</components>")
    nested = b"<component><components>" * 5000 + b"</components></component>" * 5000

    outcome = feed(TARGETS["cyclonedx-xml"], sample[:at] + nested + sample[at:], scratch("x"))

    check(outcome, scratch("x"))
    assert outcome.error is not None and "deep" in str(outcome.error)


# --- XML entities ---------------------------------------------------------------------------------

BOMB = (
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
    b'<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>'
)
XML_TARGETS = {
    "jamf-xml": (b"<computer><general><name>", b"</name></general></computer>"),
    "cyclonedx-xml": (
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>'
        b'<component type="library"><name>',
        b"</name></component></components></bom>",
    ),
    "macos-plist": (b'<plist version="1.0"><dict><key>CFBundleName</key><string>', b""),
}


@pytest.mark.parametrize("name", sorted(XML_TARGETS))
@pytest.mark.timeout(10)
def test_entity_expansion_is_refused_at_once(name: str, scratch: Scratch) -> None:
    before, after = XML_TARGETS[name]
    if name == "macos-plist":
        after = b"</string></dict></plist>"
    document = b'<?xml version="1.0"?>\n' + BOMB + before + b"&h;" + after

    outcome = feed(TARGETS[name], document, scratch(name))

    check(outcome, scratch(name))
    if name == "macos-plist":
        assert any("not a readable plist" in p for p in outcome.problems)
    else:
        assert isinstance(outcome.error, SourceInputError)


@pytest.mark.parametrize("name", sorted(XML_TARGETS))
@pytest.mark.timeout(10)
def test_an_external_entity_is_never_opened(name: str, scratch: Scratch, tmp_path: Path) -> None:
    # A FIFO with no writer: opening it for reading would block, and the test would time out.
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)
    before, after = XML_TARGETS[name]
    if name == "macos-plist":
        after = b"</string></dict></plist>"
    doctype = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{fifo}">]>'.encode()
    document = b'<?xml version="1.0"?>\n' + doctype + before + b"&xxe;" + after

    outcome = feed(TARGETS[name], document, scratch(name))

    check(outcome, scratch(name))
    assert outcome.error is not None or outcome.problems


# --- decompression --------------------------------------------------------------------------------


def test_a_tarball_that_unpacks_past_its_bound_is_read_no_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evict.inventory import macos

    monkeypatch.setattr(macos, "MIN_UNPACKED_BYTES", 4 * MiB)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (
            ("Applications/Slack.app/Contents/Info.plist", _info_plist("com.tinyspeck.slack")),
            ("Users/alice/bomb.bin", bytes(64 * MiB)),
            ("Applications/After.app/Contents/Info.plist", _info_plist("com.example.after")),
        ):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    bomb = tmp_path / "mac.tgz"
    bomb.write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    assert bomb.stat().st_size * macos.MAX_UNPACKED_RATIO < 64 * MiB

    source = open_source("macos", [bomb])
    (inventory,) = source.collect()

    assert [o.name for o in inventory.observations] == ["Slack"]
    assert "decompression bomb" in source.statuses[0].problems[0]


def _info_plist(bundle_id: str) -> bytes:
    import plistlib

    name = bundle_id.rsplit(".", 1)[-1].title()
    return plistlib.dumps({"CFBundleIdentifier": bundle_id, "CFBundleName": name})


# --- links out of a copied tree -------------------------------------------------------------------


def test_a_copied_roots_dpkg_status_link_is_resolved_inside_the_copy(tmp_path: Path) -> None:
    root = tmp_path / "web01"
    (root / "var/lib/dpkg").mkdir(parents=True)
    outside = tmp_path / "scanner-status"
    shutil.copyfile(ASSETS / "fuzz/dpkg/status", outside)
    # Absolute: a path of the copied host, which must not be the scanning machine's file.
    os.symlink(outside, root / "var/lib/dpkg/status")

    with pytest.raises(SourceInputError, match="without var/lib/dpkg/status"):
        list(open_source("dpkg-status", [root]).collect())

    inside = root / "srv/dpkg-status"
    inside.parent.mkdir(parents=True)
    shutil.copyfile(ASSETS / "fuzz/dpkg/status", inside)
    (root / "var/lib/dpkg/status").unlink()
    os.symlink("/srv/dpkg-status", root / "var/lib/dpkg/status")
    (inventory,) = open_source("dpkg-status", [root]).collect()
    assert {o.name for o in inventory.observations} == {"adduser", "kesl", "kesl-gui"}


def test_a_mounted_drives_hive_link_out_of_the_drive_is_not_followed(tmp_path: Path) -> None:
    drive = tmp_path / "c-drive"
    config = drive / "Windows/System32/config"
    config.mkdir(parents=True)
    shutil.copyfile(ASSETS / "windows/hive/wks-fin-0042/SYSTEM", config / "SYSTEM")
    elsewhere = tmp_path / "elsewhere/SOFTWARE"
    elsewhere.parent.mkdir()
    shutil.copyfile(ASSETS / "windows/hive/wks-fin-0042/SOFTWARE", elsewhere)
    os.symlink(elsewhere, config / "SOFTWARE")

    source = open_source("hive", [drive])
    (inventory,) = source.collect()

    assert not [o for o in inventory.observations if o.kind == Kind.PROGRAM]
    assert "no SOFTWARE hive" in " ".join(source.statuses[0].problems)


# --- problems -------------------------------------------------------------------------------------


def test_a_log_of_thousands_of_unknown_queries_keeps_its_problems_short(tmp_path: Path) -> None:
    path = tmp_path / "results.log"
    lines = [
        {"name": f"q{i}", "hostIdentifier": f"h{i}", "action": "snapshot", "snapshot": []}
        for i in range(3000)
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    source = open_source("osquery", [path])
    assert list(source.collect()) == []

    problems = source.statuses[0].problems
    assert len(problems) <= 2 * 50 + 2
    assert "2950 more queries evict does not read; skipped" in problems
    assert "2950 more hosts with no query evict reads; not reported" in problems


# --- CSV reports ----------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def test_the_scan_csv_neutralises_formulas_from_hostile_inventories(tmp_path: Path) -> None:
    from evict.report.scan import render_csv, to_document
    from evict.scanning import scan
    from tests.fuzz.fuzzkit import _matcher

    event = {
        "name": "programs",
        "hostIdentifier": '=HYPERLINK("http://x","y")',
        "decorations": {"hostname": "@SUM(1+1)"},
        "action": "snapshot",
        "snapshot": [
            {
                "name": "-Kaspersky Endpoint Security for Windows",
                "version": "+11.0",
                "publisher": "AO Kaspersky Lab",
                "identifying_number": "=cmd|' /C calc'!A0",
            },
            {
                "name": "Kaspersky Endpoint Security for Windows",
                "version": "=1+1",
                "publisher": "\t=AO Kaspersky Lab",
                "identifying_number": "{1A694303-0000-4F4F-8EAB-5A8A66B6FCB8}",
            },
        ],
    }
    path = tmp_path / "results.log"
    path.write_text(json.dumps(event) + "\n")
    matcher = _matcher()
    result = scan([open_source("osquery", [path])], matcher, generated_at=dt.datetime.now(dt.UTC))
    assert result.found

    text = render_csv(to_document(result, matcher.catalog, today=dt.date(2025, 1, 1)))

    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert any("HYPERLINK" in c for c in cells) and any("SUM(1+1)" in c for c in cells)
    # A plain number such as "-94" days left is a number, not a formula, and stays one.
    assert not [
        c for c in cells if c.startswith(FORMULA_STARTS) and not re.fullmatch(r"-?\d+(\.\d+)?", c)
    ]


# --- text ---------------------------------------------------------------------------------------


def test_file_names_that_are_not_utf8_still_make_a_report(tmp_path: Path) -> None:
    from evict.inventory.files import FileScanSource
    from evict.inventory.macos import MacosSource
    from tests.fuzz.fuzzkit import _catalog, drain

    disk = tmp_path / "disk"
    disk.mkdir()
    shutil.copyfile(ASSETS / "files/avp.exe", os.path.join(disk, os.fsdecode(b"avp\xff.exe")))
    mac = tmp_path / "mac"
    shutil.copytree(ASSETS / "macos/kav-mac", mac, symlinks=True)
    os.rename(
        mac / "Applications/Kaspersky Internet Security.app",
        os.path.join(mac, "Applications", os.fsdecode(b"Kaspersky \xff.app")),
    )

    for outcome in (
        drain(FileScanSource([disk], hostname="fuzz", catalog=_catalog(), workers=1)),
        drain(MacosSource([mac])),
    ):
        check(outcome, tmp_path)
        paths = [o.ident(Ident.PATH) or "" for o in outcome.observations]
        assert any("\ufffd" in p for p in paths), paths
