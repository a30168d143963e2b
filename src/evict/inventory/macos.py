"""macOS hosts read offline: a folder tree copied from a Mac, a tarball of one, or the JSON that
``system_profiler -json SPApplicationsDataType`` prints.

Each path is one host. In a tree (a folder whose root holds any of ``Applications/``,
``Library/``, ``System/``, ``Users/``, ``var/`` or ``private/var/``), exactly these are read:

- app bundles ``Applications/*.app``, ``Applications/*/*.app`` and ``Users/*/Applications/*.app``:
  their ``Contents/Info.plist`` gives an ``app`` named ``CFBundleDisplayName``, ``CFBundleName``
  or the bundle's folder name, versioned ``CFBundleShortVersionString`` (or ``CFBundleVersion``),
  with ``CFBundleIdentifier`` as ``bundle_id`` and the bundle's path as ``path``;
- pkg receipts ``var/db/receipts/*.plist``: a ``package`` named ``PackageIdentifier``, versioned
  ``PackageVersion``;
- launchd jobs ``Library/LaunchDaemons/*.plist``, ``Library/LaunchAgents/*.plist`` and
  ``Users/*/Library/LaunchAgents/*.plist``: a ``service`` named ``Label``, with ``Program`` (or
  ``ProgramArguments[0]``) as ``path``;
- kernel extensions ``Library/Extensions/*.kext`` and ``System/Library/Extensions/*.kext``, and
  system extensions ``Library/SystemExtensions/**/*.systemextension``: a ``driver`` named after
  the bundle folder, with its ``CFBundleIdentifier``;
- ``Library/Preferences/SystemConfiguration/preferences.plist``: ``System/System/ComputerName``
  names the host; otherwise the folder (or tarball) name does.

Plists may be XML or binary. A plist that cannot be read is a problem of that file alone: the
rest of the tree is still read and the source is ``partial``. Symbolic links that lead out of the
tree are not followed. Tarballs (``.tar``, ``.tar.gz``, ``.tgz``) are read in memory, member by
member, and never extracted: absolute and ``..`` member names are rejected, links are never
followed, and no member larger than :data:`MAX_PLIST_BYTES` is read.

The Apple team ID is not in ``Info.plist`` (it lives in the code signature inside the bundle's
executable), so trees carry none; ``system_profiler`` output does, in ``signed_by``: its first
entry, ``Developer ID Application: AO Kaspersky Lab (2Y8XE5CQ94)``, becomes ``signer`` and
``team_id``. That output has no bundle identifiers.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import json
import os
import plistlib
import re
import stat
import tarfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform

MAX_PLIST_BYTES = 4 * 1024 * 1024
"""The largest plist read; real ``Info.plist`` files and receipts are a few kilobytes."""
MAX_JSON_BYTES = 64 * 1024 * 1024
"""The largest ``system_profiler`` output read; a Mac with a thousand apps writes about 1 MB."""
MAX_TAR_MEMBERS = 5_000_000
"""Tar members looked at before giving up on the rest of a tarball."""
MAX_UNPACKED_RATIO = 100
"""A compressed tarball is unpacked up to this many times its own size (and at least
:data:`MIN_UNPACKED_BYTES`): past that it is a decompression bomb, and the rest is not read."""
MIN_UNPACKED_BYTES = 1024**3
MAX_DIR_ENTRIES = 100_000
"""Entries listed in any one folder of a tree."""
MAX_PROBLEMS = 50
"""Problems kept per path; the rest are counted."""
SYSTEM_EXTENSION_DEPTH = 3
"""Folders allowed between ``Library/SystemExtensions`` and a ``.systemextension`` bundle."""

ROOTS = frozenset({"Applications", "Library", "System", "Users", "var", "private"})
"""Top-level folders of a Mac; a tree must hold at least one."""

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_SIGNED_BY = re.compile(
    r"^(?:[^:()]+:\s*)?(?P<name>.*?)(?:\s*\((?P<team>[A-Z0-9]{10})\))?\s*$", re.DOTALL
)
# Errors a tarball that is cut short or corrupt raises while being read, besides TarError.
_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, ValueError)


class MacosInputError(SourceInputError):
    """A macOS path that cannot be read at all: not a tree, a tarball or system_profiler JSON."""


class _Role(enum.Enum):
    """What a file found in a tree is, and so how it is read."""

    APP = "apps"
    RECEIPT = "receipts"
    LAUNCHD = "launchd"
    KEXT = "kexts"
    SYSTEM_EXTENSION = "system_extensions"
    PREFERENCES = "preferences"


def _patterns() -> tuple[tuple[_Role, tuple[str, ...]], ...]:
    """Build :data:`PATTERNS`; ``**`` below SystemExtensions becomes 0 to N ``*`` segments."""
    info = ("Contents", "Info.plist")
    extension = ("*.systemextension", *info)
    sysext = tuple(
        (_Role.SYSTEM_EXTENSION, ("Library", "SystemExtensions", *("*",) * depth, *extension))
        for depth in range(SYSTEM_EXTENSION_DEPTH + 1)
    )
    return (
        (_Role.APP, ("Applications", "*.app", *info)),
        (_Role.APP, ("Applications", "*", "*.app", *info)),
        (_Role.APP, ("Users", "*", "Applications", "*.app", *info)),
        (_Role.RECEIPT, ("var", "db", "receipts", "*.plist")),
        (_Role.RECEIPT, ("private", "var", "db", "receipts", "*.plist")),
        (_Role.LAUNCHD, ("Library", "LaunchDaemons", "*.plist")),
        (_Role.LAUNCHD, ("Library", "LaunchAgents", "*.plist")),
        (_Role.LAUNCHD, ("Users", "*", "Library", "LaunchAgents", "*.plist")),
        (_Role.KEXT, ("Library", "Extensions", "*.kext", *info)),
        (_Role.KEXT, ("System", "Library", "Extensions", "*.kext", *info)),
        *sysext,
        (_Role.PREFERENCES, ("Library", "Preferences", "SystemConfiguration", "preferences.plist")),
    )


PATTERNS = _patterns()
"""Every file read from a tree: its role and its path as glob segments below the tree's root."""


def _role_of(parts: Sequence[str]) -> _Role | None:
    """The role of the file at ``parts`` below a tree's root, or None if it is not read."""
    for role, segments in PATTERNS:
        if len(segments) == len(parts) and all(
            fnmatch.fnmatchcase(part, segment)
            for part, segment in zip(parts, segments, strict=True)
        ):
            return role
    return None


@dataclass(frozen=True, slots=True)
class _Found:
    """One file of a tree that is read: its role, its absolute path on the Mac, its bytes."""

    role: _Role
    path: str
    data: bytes


@dataclass
class _Tree:
    """What a tree yielded: its files, and whether it looked like a Mac at all."""

    found: list[_Found] = field(default_factory=list)
    has_roots: bool = False


# -- folder trees ------------------------------------------------------------------------------


def _read_folder(root: Path, notes: Problems) -> _Tree:
    """Find and read every file of :data:`PATTERNS` below ``root``, never leaving it."""
    tree = _Tree()
    real_root = os.path.realpath(root)
    tree.has_roots = any(os.path.isdir(os.path.join(real_root, name)) for name in ROOTS)
    for role, segments in PATTERNS:
        for parts, real in _expand(real_root, (), real_root, segments, notes):
            data = _read_regular(real, "/" + "/".join(parts), notes)
            if data is not None:
                tree.found.append(_Found(role, "/" + "/".join(parts), data))
    return tree


def _expand(
    real_root: str,
    parts: tuple[str, ...],
    here: str,
    segments: Sequence[str],
    notes: Problems,
) -> Iterator[tuple[tuple[str, ...], str]]:
    """Yield ``(parts, real path)`` of every entry below ``here`` matching ``segments``."""
    if not segments:
        yield parts, here
        return
    head, rest = segments[0], segments[1:]
    if any(c in head for c in "*?["):
        names = [n for n in _listdir(here, parts, notes) if fnmatch.fnmatchcase(n, head)]
    else:
        names = [head] if os.path.lexists(os.path.join(here, head)) else []
    for name in sorted(names):
        shown = "/" + "/".join((*parts, name))
        real = os.path.realpath(os.path.join(here, name))
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            notes.add(f"{shown}: a link out of the tree; not followed")
            continue
        if rest and not os.path.isdir(real):
            if os.path.islink(os.path.join(here, name)) and not os.path.exists(real):
                notes.add(f"{shown}: a link that leads nowhere (a loop?); not followed")
            continue
        yield from _expand(real_root, (*parts, name), real, rest, notes)


def _listdir(here: str, parts: tuple[str, ...], notes: Problems) -> list[str]:
    names: list[str] = []
    try:
        with os.scandir(here) as entries:
            for entry in entries:
                if len(names) >= MAX_DIR_ENTRIES:
                    notes.add(f"/{'/'.join(parts)}: over {MAX_DIR_ENTRIES} entries; rest ignored")
                    break
                names.append(entry.name)
    except OSError as e:
        notes.add(f"/{'/'.join(parts)}: cannot list ({e.strerror or e})")
    return names


def _read_regular(real: str, shown: str, notes: Problems) -> bytes | None:
    """Read a regular file of at most :data:`MAX_PLIST_BYTES`, or note why not."""
    try:
        st = os.stat(real)
        if not stat.S_ISREG(st.st_mode):
            notes.add(f"{shown}: not a regular file; skipped")
            return None
        if st.st_size > MAX_PLIST_BYTES:
            notes.add(
                f"{shown}: {st.st_size} bytes, over the {MAX_PLIST_BYTES}-byte limit; skipped"
            )
            return None
        with open(real, "rb") as f:
            data = f.read(MAX_PLIST_BYTES + 1)
    except OSError as e:
        notes.add(f"{shown}: cannot read ({e.strerror or e})")
        return None
    if len(data) > MAX_PLIST_BYTES:
        notes.add(f"{shown}: grew past the {MAX_PLIST_BYTES}-byte limit while read; skipped")
        return None
    return data


# -- tarballs ----------------------------------------------------------------------------------


def _member_parts(name: str) -> tuple[str, ...] | None:
    """The path parts of a member name, or None for an absolute or ``..`` name."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _link_escapes(parts: tuple[str, ...], target: str, *, hard: bool) -> bool:
    """Whether a link member at ``parts`` pointing at ``target`` leads out of the archive."""
    if target.startswith(("/", "\\")):
        return True
    depth = 0 if hard else len(parts) - 1
    for part in target.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            return True
    return False


def _read_tarball(path: Path, notes: Problems) -> _Tree:
    """Read the files of :data:`PATTERNS` from a tarball in one pass, extracting nothing."""
    tree = _Tree()
    try:
        tar = tarfile.open(path, mode="r:*")
    except _TAR_ERRORS as e:
        raise MacosInputError(str(path), f"not a readable tarball ({e})") from e
    with tar:
        last = ""
        count = 0
        unpack_limit = _unpack_limit(path)
        while True:
            count += 1
            if count > MAX_TAR_MEMBERS:
                notes.add(f"over {MAX_TAR_MEMBERS} members; the rest were not read")
                break
            try:
                member = tar.next()
            except _TAR_ERRORS as e:
                where = f"after member {last!r}" if last else "at the first member"
                raise MacosInputError(str(path), f"corrupt tarball ({e})", where=where) from e
            if member is None:
                break
            if member.offset_data + member.size > unpack_limit:
                # Checked before the next member is asked for: skipping this one's data means
                # decompressing all of it.
                notes.add(
                    f"member {member.name!r}: the tarball unpacks to more than {unpack_limit} "
                    f"bytes, {MAX_UNPACKED_RATIO} times its size (a decompression bomb?); "
                    "the rest was not read"
                )
                break
            # TarFile keeps every header it has read (in the undocumented ``members`` list); a
            # tree of millions of files must not cost memory for each, and nothing here looks
            # a member up again.
            seen = getattr(tar, "members", None)
            if isinstance(seen, list):
                seen.clear()
            last = member.name
            found = _tar_member(tar, member, path, tree, notes)
            if found is not None:
                tree.found.append(found)
    return tree


_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _unpack_limit(path: Path) -> float:
    """How many bytes the tarball ``path`` may unpack to (unlimited when not compressed)."""
    try:
        with path.open("rb") as f:
            head = f.read(6)
        size = path.stat().st_size
    except OSError as e:
        raise MacosInputError(str(path), f"cannot read ({e.strerror or e})") from e
    if not head.startswith(_COMPRESSED_MAGIC):
        return float("inf")
    return max(MIN_UNPACKED_BYTES, MAX_UNPACKED_RATIO * size)


def _tar_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, tree: _Tree, notes: Problems
) -> _Found | None:
    parts = _member_parts(member.name)
    if parts is None:
        notes.add(f"member {member.name!r}: absolute or '..' path; rejected")
        return None
    if parts and parts[0] not in ROOTS:
        # A tarball of the folder itself: kav-mac/Applications/... is read as Applications/...
        parts = parts[1:]
    if not parts:
        return None
    tree.has_roots = tree.has_roots or parts[0] in ROOTS
    role = _role_of(parts)
    shown = "/" + "/".join(parts)
    if member.issym() or member.islnk():
        if _link_escapes(parts, member.linkname, hard=member.islnk()):
            notes.add(f"member {member.name!r}: a link out of the archive; not followed")
        elif role is not None:
            notes.add(f"{shown}: a link inside a tarball; not followed")
        return None
    if role is None or not member.isreg():
        return None
    if member.size > MAX_PLIST_BYTES:
        notes.add(f"{shown}: {member.size} bytes, over the {MAX_PLIST_BYTES}-byte limit; skipped")
        return None
    try:
        stream = tar.extractfile(member)
        data = stream.read(MAX_PLIST_BYTES + 1) if stream is not None else b""
    except _TAR_ERRORS as e:
        raise MacosInputError(
            str(path), f"corrupt tarball ({e})", where=f"member {member.name!r}"
        ) from e
    return _Found(role, shown, data)


# -- plists ------------------------------------------------------------------------------------


def _load_plist(found: _Found, notes: Problems) -> Mapping[str, Any] | None:
    """Parse one plist, XML or binary; a bad one is a noted problem, never an exception."""
    try:
        value = plistlib.loads(found.data)
    except Exception as e:
        # plistlib's binary reader raises whatever a hostile file provokes (IndexError,
        # struct.error, OverflowError, RecursionError for deep nesting, ...) and its XML reader
        # raises ExpatError or refuses entity declarations. One bad file must not sink the tree.
        notes.add(f"{found.path}: not a readable plist ({type(e).__name__}: {e})")
        return None
    if not isinstance(value, dict):
        notes.add(f"{found.path}: the plist is not a dictionary; skipped")
        return None
    return value


def _text(plist: Mapping[str, Any], *keys: str) -> str:
    """The first of ``keys`` holding a non-empty string."""
    for key in keys:
        value = plist.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _bundle(found: _Found) -> tuple[str, str]:
    """The bundle folder's path and name for a ``.../X.app/Contents/Info.plist`` file."""
    bundle_path = found.path.rsplit("/Contents/", 1)[0]
    return bundle_path, bundle_path.rsplit("/", 1)[-1]


def _observe(found: _Found, plist: Mapping[str, Any], notes: Problems) -> Observation | None:
    """Turn one parsed plist into an observation, by the role of its file."""
    source = f"macos:{found.role.value}"
    if found.role is _Role.APP:
        bundle_path, folder = _bundle(found)
        stem = folder.removesuffix(".app")
        return Observation.make(
            Kind.APP,
            _text(plist, "CFBundleDisplayName", "CFBundleName") or stem,
            version=_text(plist, "CFBundleShortVersionString", "CFBundleVersion"),
            identifiers={
                Ident.BUNDLE_ID: _text(plist, "CFBundleIdentifier"),
                Ident.PATH: bundle_path,
            },
            source=source,
        )
    if found.role is _Role.RECEIPT:
        package = _text(plist, "PackageIdentifier")
        if not package:
            notes.add(f"{found.path}: a receipt without PackageIdentifier; skipped")
            return None
        return Observation.make(
            Kind.PACKAGE,
            package,
            version=_text(plist, "PackageVersion"),
            identifiers={Ident.BUNDLE_ID: package},
            source=source,
        )
    if found.role is _Role.LAUNCHD:
        label = _text(plist, "Label")
        if not label:
            notes.add(f"{found.path}: a launchd job without Label; skipped")
            return None
        program = _text(plist, "Program")
        arguments = plist.get("ProgramArguments")
        if not program and isinstance(arguments, list) and arguments:
            program = arguments[0] if isinstance(arguments[0], str) else ""
        return Observation.make(
            Kind.SERVICE,
            label,
            identifiers={Ident.BUNDLE_ID: label, Ident.PATH: program},
            source=source,
        )
    if found.role in (_Role.KEXT, _Role.SYSTEM_EXTENSION):
        bundle_path, folder = _bundle(found)
        return Observation.make(
            Kind.DRIVER,
            folder,
            version=_text(plist, "CFBundleShortVersionString", "CFBundleVersion"),
            identifiers={
                Ident.BUNDLE_ID: _text(plist, "CFBundleIdentifier"),
                Ident.PATH: bundle_path,
            },
            source=source,
        )
    return None


def _computer_name(plist: Mapping[str, Any]) -> str:
    """``System/System/ComputerName`` of SystemConfiguration's ``preferences.plist``."""
    system = plist.get("System")
    inner = system.get("System") if isinstance(system, dict) else None
    return _text(inner, "ComputerName") if isinstance(inner, dict) else ""


# -- system_profiler ---------------------------------------------------------------------------


def signer_and_team(signed_by: object) -> tuple[str, str]:
    """Split ``signed_by[0]`` of system_profiler into the signer's name and Apple team ID.

    ``["Developer ID Application: AO Kaspersky Lab (2Y8XE5CQ94)", "Developer ID Certification
    Authority", "Apple Root CA"]`` gives ``("AO Kaspersky Lab", "2Y8XE5CQ94")``; Apple's own
    ``"Software Signing"`` gives ``("Software Signing", "")``.
    """
    if not isinstance(signed_by, list) or not signed_by or not isinstance(signed_by[0], str):
        return "", ""
    m = _SIGNED_BY.match(signed_by[0].strip())
    if m is None:  # pragma: no cover - the pattern matches any string
        return signed_by[0].strip(), ""
    return m.group("name").strip(), m.group("team") or ""


def _read_profiler(path: Path, notes: Problems) -> tuple[str, list[Observation]]:
    """Read ``system_profiler -json SPApplicationsDataType``: the host name and its apps."""
    data = _read_bounded(path, MAX_JSON_BYTES)
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise MacosInputError(
            str(path), f"not valid JSON ({e.msg})", line=e.lineno, where=f"column {e.colno}"
        ) from e
    except (ValueError, RecursionError) as e:
        raise MacosInputError(str(path), f"not readable JSON ({type(e).__name__})") from e
    apps = doc.get("SPApplicationsDataType") if isinstance(doc, dict) else None
    if not isinstance(apps, list):
        raise MacosInputError(
            str(path),
            "no SPApplicationsDataType list; expected `system_profiler -json "
            "SPApplicationsDataType` output",
        )
    observations = []
    for index, item in enumerate(apps):
        name = item.get("_name") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(name, str) or not name.strip():
            notes.add(f"SPApplicationsDataType entry {index}: no _name; skipped")
            continue
        signer, team = signer_and_team(item.get("signed_by"))
        version = item.get("version")
        app_path = item.get("path")
        observations.append(
            Observation.make(
                Kind.APP,
                name.strip(),
                version=version if isinstance(version, str) else "",
                publisher=signer if team else "",
                identifiers={
                    Ident.PATH: app_path if isinstance(app_path, str) else "",
                    Ident.SIGNER: signer,
                    Ident.TEAM_ID: team,
                },
                source="macos:system_profiler",
            )
        )
    hostname = ""
    software = doc.get("SPSoftwareDataType")
    if isinstance(software, list) and software and isinstance(software[0], dict):
        hostname = _text(software[0], "local_host_name")
    return hostname, observations


def _read_bounded(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise MacosInputError(str(path), f"{size} bytes, over the {limit}-byte limit")
        with path.open("rb") as f:
            return f.read(limit + 1)
    except OSError as e:
        raise MacosInputError(str(path), f"cannot read ({e.strerror or e})") from e


# -- the source --------------------------------------------------------------------------------


def _kind_of(path: Path) -> str:
    """``tree``, ``tar`` or ``json``; anything else is a :class:`MacosInputError`."""
    if path.is_dir():
        return "tree"
    if not path.is_file():
        raise MacosInputError(str(path), "no such file or folder")
    lowered = path.name.lower()
    if lowered.endswith(_TAR_SUFFIXES):
        return "tar"
    if lowered.endswith(".json"):
        return "json"
    try:
        with path.open("rb") as f:
            head = f.read(512)
        if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
            return "json"
        if tarfile.is_tarfile(path):
            return "tar"
    except _TAR_ERRORS as e:
        raise MacosInputError(str(path), f"cannot read ({e})") from e
    raise MacosInputError(
        str(path),
        "neither a folder copied from a Mac, a tarball (.tar, .tar.gz, .tgz) nor "
        "`system_profiler -json SPApplicationsDataType` output",
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _TAR_SUFFIXES + (".json",):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class MacosSource(OfflineSource):
    """Macs read from copied folder trees, tarballs of them, or system_profiler JSON.

    :param paths: one host per path: a folder, a ``.tar``/``.tar.gz``/``.tgz`` of one, or a
        ``system_profiler -json SPApplicationsDataType`` output file.
    """

    name = "macos"

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per path; raise :class:`MacosInputError` for an unreadable one."""
        self._statuses = []
        for path in self.paths:
            notes = Problems(f"macos:{path}", limit=MAX_PROBLEMS)
            inventory = self._read(path, notes)
            self._statuses.append(notes.status())
            if inventory is not None:
                yield inventory

    def _read(self, path: Path, notes: Problems) -> HostInventory | None:
        kind = _kind_of(path)
        hostname = ""
        if kind == "json":
            hostname, observations = _read_profiler(path, notes)
        else:
            tree = _read_folder(path, notes) if kind == "tree" else _read_tarball(path, notes)
            if not tree.has_roots:
                notes.fail(
                    f"no Applications/, Library/, System/, Users/ or var/ at the top of {path}; "
                    "not a folder tree copied from a Mac"
                )
                return None
            observations = []
            for found in tree.found:
                plist = _load_plist(found, notes)
                if plist is None:
                    continue
                if found.role is _Role.PREFERENCES:
                    hostname = _computer_name(plist) or hostname
                    continue
                observation = _observe(found, plist, notes)
                if observation is not None:
                    observations.append(observation)
        host = hostname or _stem(path)
        return HostInventory(
            host=HostID(host),
            hostname=host,
            platform=Platform.MACOS,
            collected_at=dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
            observations=tuple(dict.fromkeys(observations)),
            source="macos",
        )
