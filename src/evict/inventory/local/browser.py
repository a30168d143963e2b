"""Browser extensions installed in each user's Chromium-family and Firefox profiles.

Chromium browsers (Chrome, Chromium, Edge, Brave, Vivaldi) unpack each extension to
``<profile>/Extensions/<id>/<version>/manifest.json``; a manifest's name may be a ``__MSG_key__``
placeholder resolved from ``_locales/<default_locale>/messages.json``. Firefox lists a profile's
add-ons in ``<profile>/extensions.json``. Kaspersky Protection is such an extension, and it stays
in profiles after the product is removed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from evict.inventory.interface import Collector, Problems, SourceInputError
from evict.inventory.local._fs import (
    home_dirs,
    host_path,
    list_dir,
    note,
    read_bounded,
    resolve_in_root,
)
from evict.model.observations import Ident, Kind, Observation

CHROMIUM_DIRS = (
    ".config/google-chrome",
    ".config/google-chrome-beta",
    ".config/google-chrome-unstable",
    ".config/chromium",
    ".config/microsoft-edge",
    ".config/microsoft-edge-beta",
    ".config/microsoft-edge-dev",
    ".config/BraveSoftware/Brave-Browser",
    ".config/vivaldi",
    "snap/chromium/common/chromium",
)
"""User-data folders of Chromium-family browsers, relative to a home; each holds profiles."""

FIREFOX_DIRS = (
    ".mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".var/app/org.mozilla.firefox/.mozilla/firefox",
)
"""Folders of Firefox profiles, relative to a home (deb/tarball, snap, flatpak)."""

MAX_MANIFEST_BYTES = 5 * 1024 * 1024
"""The largest manifest, messages or extensions.json file read."""

_MSG = re.compile(r"__MSG_(\w+?)__")
_FALLBACK_LOCALES = ("en", "en_US", "en_GB")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:_[A-Za-z0-9]{2,8})?")
"""A locale folder name (``en``, ``pt_BR``): anything else, such as ``../..``, is not looked up."""


class BrowserExtensionCollector(Collector):
    """One observation per extension (id, version) in each browser profile of each user."""

    name = "browser_extensions"

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Read every profile's extensions; an unreadable manifest is recorded and skipped."""
        found: dict[Observation, None] = {}
        for home in home_dirs(self.root, problems):
            home_at = host_path(self.root, home)
            for browser in CHROMIUM_DIRS:
                user_data = resolve_in_root(self.root, f"{home_at}/{browser}")
                if user_data is None or not user_data.is_dir():
                    continue
                for profile in list_dir(user_data, problems):
                    extensions = Path(profile.path) / "Extensions"
                    if not profile.is_symlink() and _is(extensions, stat.S_ISDIR):
                        found.update(dict.fromkeys(self._chromium(extensions, problems)))
            for browser in FIREFOX_DIRS:
                profiles = resolve_in_root(self.root, f"{home_at}/{browser}")
                if profiles is None or not profiles.is_dir():
                    continue
                for profile in list_dir(profiles, problems):
                    listing = Path(profile.path) / "extensions.json"
                    if not profile.is_symlink() and _is(listing, stat.S_ISREG):
                        found.update(dict.fromkeys(self._firefox(listing, problems)))
        return list(found)

    def _chromium(self, extensions: Path, problems: Problems) -> Iterable[Observation]:
        """Extensions unpacked in one Chromium profile's ``Extensions`` folder."""
        for ext in list_dir(extensions, problems):
            if ext.name == "Temp" or not _is(Path(ext.path), stat.S_ISDIR):
                continue
            for version_dir in list_dir(Path(ext.path), problems):
                folder = Path(version_dir.path)
                manifest_path = folder / "manifest.json"
                if version_dir.is_symlink() or not _is(manifest_path, stat.S_ISREG):
                    continue
                manifest = _load_json(manifest_path, problems)
                if not isinstance(manifest, Mapping):
                    if manifest is not None:
                        note(problems, f"{manifest_path}: not a JSON object")
                    continue
                name = _resolve_name(str(manifest.get("name") or ""), manifest, folder, problems)
                author = manifest.get("author")
                yield Observation.make(
                    Kind.BROWSER_EXTENSION,
                    name or ext.name,
                    version=str(manifest.get("version") or ""),
                    publisher=author if isinstance(author, str) else "",
                    identifiers={
                        Ident.EXTENSION_ID: ext.name,
                        Ident.PATH: host_path(self.root, folder),
                    },
                    source=f"local:{self.name}",
                )

    def _firefox(self, listing: Path, problems: Problems) -> Iterable[Observation]:
        """Extensions listed in one Firefox profile's ``extensions.json``."""
        doc = _load_json(listing, problems)
        if doc is None:
            return
        addons = doc.get("addons") if isinstance(doc, Mapping) else None
        if not isinstance(addons, list):
            note(problems, f"{listing}: no 'addons' list")
            return
        for index, addon in enumerate(addons):
            if not isinstance(addon, Mapping) or not addon.get("id"):
                note(problems, f"{listing}: addons[{index}] has no id")
                continue
            if addon.get("type", "extension") != "extension":
                continue  # themes, dictionaries, language packs
            locale = addon.get("defaultLocale")
            locale = locale if isinstance(locale, Mapping) else {}
            creator = locale.get("creator")
            path = addon.get("path")
            yield Observation.make(
                Kind.BROWSER_EXTENSION,
                str(locale.get("name") or addon["id"]),
                version=str(addon.get("version") or ""),
                publisher=creator if isinstance(creator, str) else "",
                identifiers={
                    Ident.EXTENSION_ID: str(addon["id"]),
                    Ident.PATH: path if isinstance(path, str) else host_path(self.root, listing),
                },
                source=f"local:{self.name}",
            )


def _is(path: Path, test: Callable[[int], bool]) -> bool:
    """Whether ``path`` itself (not a link's target) passes ``test`` on its mode.

    Inside a profile nothing is followed through a symlink, so a planted link cannot make the
    scan read outside the root it was given.
    """
    try:
        return test(os.lstat(path).st_mode)
    except OSError:
        return False


def _load_json(path: Path, problems: Problems) -> object | None:
    """Parse a JSON file of at most :data:`MAX_MANIFEST_BYTES`; None (and a problem) if not."""
    try:
        doc: object = json.loads(read_bounded(path, MAX_MANIFEST_BYTES).decode("utf-8-sig"))
        return doc
    except SourceInputError as e:
        note(problems, str(e))
    except OSError as e:
        note(problems, f"{path}: cannot read: {e.strerror or e}")
    except UnicodeDecodeError as e:
        note(problems, f"{path}: not UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        note(problems, f"{path}:{e.lineno}: malformed JSON: {e.msg}")
    return None


def _resolve_name(
    name: str, manifest: Mapping[str, object], folder: Path, problems: Problems
) -> str:
    """Replace a ``__MSG_key__`` name with its text from the extension's default locale."""
    match = _MSG.fullmatch(name.strip())
    if match is None:
        return name
    key = match.group(1).lower()
    default = manifest.get("default_locale")
    given = (default,) if isinstance(default, str) and _LOCALE.fullmatch(default) else ()
    locales = given + _FALLBACK_LOCALES
    for locale in locales:
        messages_path = folder / "_locales" / locale / "messages.json"
        if not _is(messages_path, stat.S_ISREG):
            continue
        messages = _load_json(messages_path, problems)
        if not isinstance(messages, Mapping):
            continue
        # Chromium looks message names up case-insensitively
        for message_key, entry in messages.items():
            if str(message_key).lower() == key and isinstance(entry, Mapping):
                text = entry.get("message")
                if isinstance(text, str) and text:
                    return text
    return name
