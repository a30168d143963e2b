"""Browser extensions in Chromium-family and Firefox profiles of every user."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evict.inventory.local import browser
from evict.inventory.local.browser import BrowserExtensionCollector
from evict.model.observations import Ident, Kind, Observation, SourceStatus

from ._helpers import ASSETS, copy_tree, run

CHROME_KASPERSKY = "ahkjpbeeocnddjkakilopmfdlnjdpcdm"


def by_id(root: Path) -> tuple[dict[str, Observation], SourceStatus]:
    observations, status = run(BrowserExtensionCollector, root)
    return {o.ident(Ident.EXTENSION_ID) or "": o for o in observations}, status


def test_chrome_edge_and_firefox_extensions() -> None:
    found, status = by_id(ASSETS / "debian")
    assert status.state == "ok"
    assert sorted(found) == sorted(
        [
            CHROME_KASPERSKY,
            "cjpalhdlnbpafiamejdnhcphjbkeiagm",
            "ghbmnnjooekpmoecnnnilnnbdlolhkhi",
            "uBlock0@raymondhill.net",
            "urladvisor@kaspersky.com",
            "formautofill@mozilla.org",
        ]
    )  # the Firefox theme is not an extension; Chrome's Extensions/Temp is not one either
    kaspersky = found[CHROME_KASPERSKY]
    assert kaspersky.kind is Kind.BROWSER_EXTENSION
    # "__MSG_ExtensionName__" resolved from _locales/en (the default locale), not ru
    assert kaspersky.name == "Kaspersky Protection"
    assert kaspersky.version == "2.4.33.0"
    assert kaspersky.ident(Ident.PATH) == (
        f"/home/alice/.config/google-chrome/Default/Extensions/{CHROME_KASPERSKY}/2.4.33.0_0"
    )
    ublock = found["cjpalhdlnbpafiamejdnhcphjbkeiagm"]
    assert (ublock.name, ublock.publisher) == (
        "uBlock Origin",
        "Raymond Hill & contributors",
    )
    # message names are looked up case-insensitively, as Chromium does
    assert found["ghbmnnjooekpmoecnnnilnnbdlolhkhi"].name == "Google Docs Offline"
    advisor = found["urladvisor@kaspersky.com"]
    assert (advisor.name, advisor.version, advisor.publisher) == (
        "Kaspersky URL Advisor",
        "4.0.5.1",
        "Kaspersky Lab",
    )
    assert str(advisor.ident(Ident.PATH)).endswith("extensions/urladvisor@kaspersky.com.xpi")


def test_broken_manifest_and_extensions_json_are_problems() -> None:
    found, status = by_id(ASSETS / "malformed")
    assert list(found) == ["nmmhkkegccagdldgiimedpiccmgmieda"]  # the readable one
    assert status.state == "partial"
    problems = " ".join(status.problems)
    assert "aapbdbdomjkkjkaonfhkkikfgjllcleb/2.0.13_0/manifest.json:4: malformed JSON" in problems
    assert "q1w2e3r4.default-release/extensions.json:1: malformed JSON" in problems


def test_empty_profile() -> None:
    found, status = by_id(ASSETS / "empty")
    assert (found, status.state) == ({}, "ok")


def test_oversized_manifest_is_skipped_with_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_tree("debian", tmp_path / "root")
    monkeypatch.setattr(browser, "MAX_MANIFEST_BYTES", 1200)  # the Kaspersky manifest is larger
    found, status = by_id(root)
    assert CHROME_KASPERSKY not in found
    assert "cjpalhdlnbpafiamejdnhcphjbkeiagm" in found
    assert any("more than the 1200" in p for p in status.problems)


def test_unresolvable_message_name_is_kept_as_written(tmp_path: Path) -> None:
    folder = (
        tmp_path / "root/.config/chromium/Default/Extensions/abcdefghijklmnopabcdefghijklmnop/1.0_0"
    )
    folder.mkdir(parents=True)
    manifest = {"name": "__MSG_appName__", "version": "1.0", "default_locale": "de"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    found, status = by_id(tmp_path)
    assert found["abcdefghijklmnopabcdefghijklmnop"].name == "__MSG_appName__"
    assert status.state == "ok"


def test_manifest_link_out_of_the_profile_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"name": "Planted", "version": "6.6.6"}))
    folder = tmp_path / "root/home/mallory/.config/google-chrome/Default/Extensions/x/1_0"
    folder.mkdir(parents=True)
    os.symlink(outside, folder / "manifest.json")
    found, status = by_id(tmp_path / "root")
    assert (found, status.state) == ({}, "ok")


def test_default_locale_cannot_climb_out_of_the_extension(tmp_path: Path) -> None:
    planted = tmp_path / "root/.config/chromium/Default/_locales/x"
    planted.mkdir(parents=True)
    (planted / "messages.json").write_text(json.dumps({"appName": {"message": "Planted"}}))
    folder = (
        tmp_path / "root/.config/chromium/Default/Extensions/abcdefghijklmnopabcdefghijklmnop/1.0_0"
    )
    (folder / "_locales").mkdir(parents=True)
    manifest = {
        "name": "__MSG_appName__",
        "version": "1.0",
        "default_locale": "../../../../_locales/x",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    found, _ = by_id(tmp_path)
    assert found["abcdefghijklmnopabcdefghijklmnop"].name == "__MSG_appName__"
