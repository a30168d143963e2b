"""Installed OS packages of this host: dpkg, rpm, apk, snap and flatpak.

Each package manager's own database is read directly, without its tools: the files are stable,
documented formats, and reading them works on a mounted image as well as on the running host.
The one exception is rpm's old BerkeleyDB database, which only ``rpm`` itself can read.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

from evict.inventory.dpkg import (
    MAX_STATUS_BYTES,
    decode_status,
    os_release_id,
    package_url,
    parse_dpkg_status,
)
from evict.inventory.interface import Collector, InventoryError, Problems, SourceInputError
from evict.inventory.local._fs import (
    home_dirs,
    host_path,
    list_dir,
    note,
    read_bounded,
    resolve_in_root,
)
from evict.model.observations import Ident, Kind, Observation

MAX_DB_BYTES = 128 * 1024 * 1024
"""The largest package list read (apk's installed db, snapd's state)."""

MAX_SMALL_BYTES = 1024 * 1024
"""The largest per-package metadata file read (snap.yaml, flatpak metadata)."""


class PackageDatabaseError(InventoryError):
    """A package database that exists but cannot be read at all."""


class DpkgCollector(Collector):
    """Debian packages from ``/var/lib/dpkg/status``; see :mod:`evict.inventory.dpkg`."""

    name = "dpkg"
    STATUS = "/var/lib/dpkg/status"

    def available(self) -> bool:
        """Whether this host has a dpkg database."""
        path = resolve_in_root(self.root, self.STATUS)
        return path is not None  # anything there is read, or refused with a reason

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Parse the status file; a malformed file raises :class:`SourceInputError`."""
        path = resolve_in_root(self.root, self.STATUS)
        if path is None:
            raise SourceInputError(self.STATUS, "not found")
        text = decode_status(read_bounded(path, MAX_STATUS_BYTES), path)
        distro = os_release_id(self.root, "debian")
        return parse_dpkg_status(text, path, distro=distro, source=f"local:{self.name}")


# --- rpm ------------------------------------------------------------------------------------

RPM_SQLITE = ("/usr/lib/sysimage/rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite")
"""Where rpm >= 4.16 keeps its sqlite database (Fedora 33+, RHEL 9+)."""

RPM_LEGACY = (
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages",
    "/usr/lib/sysimage/rpm/Packages.db",
)
"""BerkeleyDB (``Packages``) and NDB (``Packages.db``, SUSE) databases: readable only by rpm."""

RPM_TIMEOUT = 60.0
"""Seconds ``rpm -qa`` may take before it is abandoned."""

RPMTAG_NAME = 1000
RPMTAG_VERSION = 1001
RPMTAG_RELEASE = 1002
RPMTAG_EPOCH = 1003
RPMTAG_VENDOR = 1011
RPMTAG_ARCH = 1022
_RPM_TYPE_INT32 = 4
_RPM_TYPE_STRING = 6
_RPM_TYPE_STRING_ARRAY = 8
_RPM_TYPE_I18NSTRING = 9
_RPM_HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
_RPM_WANTED = frozenset(
    {RPMTAG_NAME, RPMTAG_VERSION, RPMTAG_RELEASE, RPMTAG_EPOCH, RPMTAG_VENDOR, RPMTAG_ARCH}
)
_RPM_MAX_INDEX = 1 << 16
_RPM_QUERYFORMAT = r"%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{VENDOR}\n"


class RpmHeaderError(PackageDatabaseError):
    """An rpm header blob that is truncated or inconsistent."""


def parse_rpm_header(blob: bytes) -> dict[int, str | int]:
    """Read the NAME, VERSION, RELEASE, EPOCH, VENDOR and ARCH tags of an rpm header blob.

    The blob is rpm's header structure as the database stores it: two big-endian 32-bit counts
    (index entries, data bytes), the index entries of (tag, type, offset, count), then the data
    store the offsets point into. Raises :class:`RpmHeaderError` on anything out of bounds.
    """
    if blob.startswith(_RPM_HEADER_MAGIC):
        blob = blob[len(_RPM_HEADER_MAGIC) :]
    if len(blob) < 8:
        raise RpmHeaderError(f"header of {len(blob)} bytes is too short")
    entries, data_len = struct.unpack_from(">II", blob, 0)
    data_start = 8 + 16 * entries
    if entries > _RPM_MAX_INDEX or data_start + data_len > len(blob):
        raise RpmHeaderError(
            f"header claims {entries} entries and {data_len} data bytes, has {len(blob)} bytes"
        )
    data = blob[data_start : data_start + data_len]
    tags: dict[int, str | int] = {}
    for i in range(entries):
        tag, kind, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
        if tag not in _RPM_WANTED or tag in tags:
            continue
        if offset < 0 or offset >= data_len:
            raise RpmHeaderError(f"tag {tag} points at {offset}, outside {data_len} data bytes")
        if kind == _RPM_TYPE_INT32:
            if count < 1 or offset + 4 > data_len:
                raise RpmHeaderError(f"tag {tag}: integer runs past the data")
            tags[tag] = struct.unpack_from(">i", data, offset)[0]
        elif kind in (_RPM_TYPE_STRING, _RPM_TYPE_STRING_ARRAY, _RPM_TYPE_I18NSTRING):
            end = data.find(b"\0", offset)
            if end < 0:
                raise RpmHeaderError(f"tag {tag}: string is not terminated")
            tags[tag] = data[offset:end].decode("utf-8", "replace")
    if not isinstance(tags.get(RPMTAG_NAME), str):
        raise RpmHeaderError("header has no NAME")
    return tags


class RpmCollector(Collector):
    """RPM packages, from rpm's sqlite database or, for older databases, from ``rpm -qa``."""

    name = "rpm"

    def _first(self, candidates: tuple[str, ...]) -> Path | None:
        for candidate in candidates:
            path = resolve_in_root(self.root, candidate)
            if path is not None:
                return path
        return None

    def available(self) -> bool:
        """Whether this host has an rpm database of any kind."""
        return (self._first(RPM_SQLITE) or self._first(RPM_LEGACY)) is not None

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Read the sqlite database, else ask ``rpm``, else record that nothing could be read."""
        distro = os_release_id(self.root, "rpm")
        sqlite_db = self._first(RPM_SQLITE)
        if sqlite_db is not None:
            return self._read_sqlite(sqlite_db, distro, problems)

        legacy = self._first(RPM_LEGACY)
        tool = shutil.which("rpm")
        if legacy is not None and tool is not None:
            return self._query_rpm(tool, distro, problems)
        problems.fail(
            f"{legacy}: a BerkeleyDB/NDB rpm database, and no rpm command to read it with"
        )
        return []

    def _observation(
        self, name: str, epoch: str, version: str, release: str, arch: str, vendor: str, distro: str
    ) -> Observation:
        full = f"{version}-{release}" if release else version
        return Observation.make(
            Kind.PACKAGE,
            name,
            version=full,
            publisher=vendor,
            identifiers={
                Ident.PURL: package_url("rpm", distro, name, full, {"arch": arch, "epoch": epoch})
            },
            source=f"local:{self.name}",
        )

    def _read_sqlite(self, path: Path, distro: str, problems: Problems) -> list[Observation]:
        import sqlite3  # ~15 ms to import; only rpm hosts pay for it

        uri = path.resolve().as_uri()
        query = "SELECT hnum, blob FROM Packages"
        try:
            try:
                conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=2.0)
                # A damaged row whose blob reads as text must not sink the database: as bytes,
                # it is refused below as a header like any other.
                conn.text_factory = bytes
                rows = conn.execute(query).fetchall()
            except sqlite3.OperationalError:
                # NOTE: a read-only user cannot create the -shm file a WAL database needs;
                # immutable=1 reads the main file as it is, which is what an audit wants.
                conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=2.0)
                conn.text_factory = bytes
                rows = conn.execute(query).fetchall()
            conn.close()
        except sqlite3.DatabaseError as e:
            raise SourceInputError(str(path), f"not a readable rpm database: {e}") from e
        except UnicodeDecodeError as e:
            # NOTE: SQLite's message about a damaged schema quotes the schema's own bytes, and
            # Python decodes messages as UTF-8: the error becomes a UnicodeDecodeError.
            message = bytes(e.object).decode("utf-8", "replace")
            raise SourceInputError(str(path), f"not a readable rpm database: {message}") from e
        observations: list[Observation] = []
        for hnum, blob in rows:
            try:
                if not isinstance(blob, bytes):
                    raise RpmHeaderError("blob is not binary")
                tags = parse_rpm_header(blob)
            except RpmHeaderError as e:
                note(problems, f"{path}: package {hnum}: {e}")
                continue
            epoch = tags.get(RPMTAG_EPOCH)
            observations.append(
                self._observation(
                    str(tags[RPMTAG_NAME]),
                    "" if epoch is None else str(epoch),
                    str(tags.get(RPMTAG_VERSION, "")),
                    str(tags.get(RPMTAG_RELEASE, "")),
                    str(tags.get(RPMTAG_ARCH, "")),
                    str(tags.get(RPMTAG_VENDOR, "")),
                    distro,
                )
            )
        return observations

    def _query_rpm(self, tool: str, distro: str, problems: Problems) -> list[Observation]:

        command = [tool, "--root", str(self.root), "-qa", "--queryformat", _RPM_QUERYFORMAT]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=RPM_TIMEOUT, check=False, env=_plain_env()
            )
        except subprocess.TimeoutExpired as e:
            raise PackageDatabaseError(f"rpm -qa took longer than {RPM_TIMEOUT:.0f}s") from e
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()[:200]
            raise PackageDatabaseError(f"rpm -qa failed ({done.returncode}): {message}")
        observations: list[Observation] = []
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        for lineno, line in enumerate(lines, start=1):
            parts = [("" if p == "(none)" else p) for p in line.split("\t")]
            if len(parts) != 6 or not parts[0]:
                note(problems, f"rpm -qa output line {lineno}: unexpected {line[:60]!r}")
                continue
            name, epoch, version, release, arch, vendor = parts
            observations.append(
                self._observation(name, epoch, version, release, arch, vendor, distro)
            )
        return observations


def _plain_env() -> dict[str, str]:
    """An environment for helper commands: C locale, so their output does not vary."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


# --- apk ------------------------------------------------------------------------------------


def parse_apk_installed(
    text: str, path: str | Path, *, distro: str = "alpine"
) -> list[Observation]:
    """Parse apk's installed database (``/lib/apk/db/installed``) into package observations.

    Each package is a block of ``X:value`` lines (``P:`` name, ``V:`` version, ``A:`` arch,
    ``m:`` maintainer, ``o:`` origin ...) ended by a blank line. Raises
    :class:`SourceInputError` with the line number for a line of another shape.
    """
    observations: list[Observation] = []
    fields: dict[str, str] = {}
    start = 1

    def flush() -> None:
        if not fields:
            return
        name = fields.get("P", "")
        if not name:
            raise SourceInputError(str(path), "package block has no P: (name) line", line=start)
        version, arch = fields.get("V", ""), fields.get("A", "")
        observations.append(
            Observation.make(
                Kind.PACKAGE,
                name,
                version=version,
                publisher=fields.get("m", ""),
                identifiers={Ident.PURL: package_url("apk", distro, name, version, {"arch": arch})},
                source="local:apk",
            )
        )

    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line:
            flush()
            fields = {}
            continue
        if len(line) < 2 or line[1] != ":" or not line[0].isascii() or not line[0].isalpha():
            raise SourceInputError(
                str(path), f"expected an 'X:value' line, got {line[:40]!r}", line=lineno
            )
        if not fields:
            start = lineno
        fields.setdefault(line[0], line[2:])
    flush()
    return observations


class ApkCollector(Collector):
    """Alpine packages from ``/lib/apk/db/installed``."""

    name = "apk"
    INSTALLED = "/lib/apk/db/installed"

    def available(self) -> bool:
        """Whether this host has an apk database."""
        path = resolve_in_root(self.root, self.INSTALLED)
        return path is not None  # anything there is read, or refused with a reason

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Parse the installed database; a malformed one raises :class:`SourceInputError`."""
        path = resolve_in_root(self.root, self.INSTALLED)
        if path is None:
            raise SourceInputError(self.INSTALLED, "not found")
        data = read_bounded(path, MAX_DB_BYTES)
        if b"\0" in data:
            raise SourceInputError(
                str(path), "binary data (NUL byte)", line=data.count(b"\n", 0, data.find(b"\0")) + 1
            )
        text = data.decode("utf-8", "replace")
        return parse_apk_installed(text, path, distro=os_release_id(self.root, "alpine"))


# --- snap -----------------------------------------------------------------------------------


class SnapCollector(Collector):
    """Snaps, from snapd's ``state.json`` and the mounted snaps' ``meta/snap.yaml``.

    ``state.json`` lists every installed snap but is readable by root only and holds no version;
    each mounted snap's ``snap.yaml`` has the version. A non-root scan still sees the mounts.
    """

    name = "snap"
    STATE = "/var/lib/snapd/state.json"
    MOUNTS = "/snap"

    def available(self) -> bool:
        """Whether snapd has state or mounted snaps on this host."""
        return any(
            (p := resolve_in_root(self.root, c)) is not None and p.exists()
            for c in (self.STATE, self.MOUNTS)
        )

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """One observation per installed snap, with its version when the snap is mounted."""
        installed = self._from_state(problems)
        mounted = self._from_mounts(problems)
        names = sorted(set(installed or ()) | set(mounted))
        observations = []
        for snap in names:
            version, mount = mounted.get(snap, ("", f"/snap/{snap}"))
            observations.append(
                Observation.make(
                    Kind.PACKAGE,
                    snap,
                    version=version,
                    identifiers={Ident.PACKAGE_ID: snap, Ident.PATH: mount},
                    source=f"local:{self.name}",
                )
            )
        return observations

    def _from_state(self, problems: Problems) -> set[str] | None:
        """Installed snap names, or None when the state cannot be read."""
        path = resolve_in_root(self.root, self.STATE)
        if path is None:
            return None
        try:
            state = json.loads(read_bounded(path, MAX_DB_BYTES))
        except PermissionError:
            # NOTE: snapd keeps state.json readable by root only; without it the mounts below
            # still list every installed snap, so this is not worth a problem.
            return None
        except (OSError, SourceInputError, ValueError) as e:
            note(problems, f"{path}: cannot read snapd state: {e}")
            return None
        data = state.get("data") if isinstance(state, dict) else None
        snaps = data.get("snaps") if isinstance(data, dict) else None
        if not isinstance(snaps, dict):
            note(problems, f"{path}: no data.snaps object in snapd state")
            return None
        return {str(name) for name in snaps}

    def _from_mounts(self, problems: Problems) -> dict[str, tuple[str, str]]:
        """Mounted snap name -> (version, host path of the current revision)."""
        import yaml  # the catalog needs it anyway; kept off the import path of the module

        mounts = resolve_in_root(self.root, self.MOUNTS)
        found: dict[str, tuple[str, str]] = {}
        if mounts is None:
            return found
        for entry in list_dir(mounts, problems):
            if entry.name in ("bin", "README") or not entry.is_dir():
                continue
            meta = resolve_in_root(self.root, f"{self.MOUNTS}/{entry.name}/current/meta/snap.yaml")
            if meta is None:
                continue
            try:
                doc = yaml.safe_load(read_bounded(meta, MAX_SMALL_BYTES))
            except (OSError, SourceInputError, yaml.YAMLError) as e:
                note(problems, f"{meta}: cannot read snap.yaml: {str(e).splitlines()[0]}")
                continue
            if not isinstance(doc, dict):
                note(problems, f"{meta}: snap.yaml is not a mapping")
                continue
            # keyed by the mount folder: the instance name state.json uses (``firefox_esr``)
            version = str(doc.get("version") or "")
            found[entry.name] = (version, host_path(self.root, meta.parent.parent))
        return found


# --- flatpak --------------------------------------------------------------------------------


def flatpak_app_id(text: str) -> str | None:
    """The ``name=`` of the ``[Application]`` group of a flatpak ``metadata`` keyfile."""
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif group == "Application" and line.startswith("name="):
            return line[len("name=") :].strip() or None
    return None


class FlatpakCollector(Collector):
    """Flatpak apps, system-wide (``/var/lib/flatpak``) and per user (``~/.local/share/flatpak``).

    Each app's deployed ``metadata`` keyfile gives its id (``org.mozilla.firefox``), which is
    both the name and the package id.
    """

    name = "flatpak"
    SYSTEM = "/var/lib/flatpak"

    def _installations(self, problems: Problems) -> list[Path]:
        found = []
        system = resolve_in_root(self.root, self.SYSTEM)
        if system is not None and system.is_dir():
            found.append(system)
        for home in home_dirs(self.root, problems):
            user = resolve_in_root(self.root, f"{host_path(self.root, home)}/.local/share/flatpak")
            if user is not None and user.is_dir():
                found.append(user)
        return found

    def available(self) -> bool:
        """Whether any flatpak installation exists on this host."""
        return bool(self._installations(Problems(self.name)))

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """One observation per deployed app in each installation."""
        observations: dict[str, Observation] = {}
        for installation in self._installations(problems):
            for entry in list_dir(installation / "app", problems):
                app_dir = Path(entry.path)
                where = host_path(self.root, app_dir)
                metadata = resolve_in_root(self.root, f"{where}/current/active/metadata")
                if metadata is None:
                    note(problems, f"{app_dir}: no current/active/metadata; app not deployed?")
                    continue
                try:
                    text = read_bounded(metadata, MAX_SMALL_BYTES).decode("utf-8", "replace")
                except (OSError, SourceInputError) as e:
                    note(problems, f"{metadata}: {e}")
                    continue
                app_id = flatpak_app_id(text)
                if app_id is None:
                    note(problems, f"{metadata}: no [Application] name=")
                    continue
                observations.setdefault(
                    where,
                    Observation.make(
                        Kind.PACKAGE,
                        app_id,
                        identifiers={Ident.PACKAGE_ID: app_id, Ident.PATH: where},
                        source=f"local:{self.name}",
                    ),
                )
        return list(observations.values())
