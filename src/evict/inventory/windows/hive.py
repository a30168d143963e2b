"""Registry hive files as an inventory source: ``evict scan --from hive PATH...``.

Reads the SOFTWARE, SYSTEM and NTUSER.DAT hives of a Windows host on any OS, with ``regipy``:
copies taken from ``C:\\Windows\\System32\\config`` and ``C:\\Users\\<name>``, a mounted disk
image, or a forensic collection; and ``Amcache.hve`` (``C:\\Windows\\AppCompat\\Programs``), read
as :mod:`evict.inventory.windows.amcache` describes. A path is either

- a folder: one host, whose hives are the files in it (any name, any case), its
  ``Windows/System32/config`` and ``Windows/AppCompat/Programs`` folders if it is the root of a
  mounted drive, and ``Users/<name>/NTUSER.DAT``; or
- a hive file: one host, together with any other hive files given that sit in the same folder.

Which hive a file is comes from its contents (the keys at its root), not its name. Users are
keyed by their SID when the SOFTWARE hive's ProfileList maps their folder to one.

A file that is not a hive, is cut short or is corrupt raises a
:class:`~evict.inventory.interface.SourceInputError` naming it; a hive that Windows had not
cleanly unloaded is read, with a problem in the source's status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.inventory.windows._keys import (
    KeyValues,
    RegistryView,
    RegValue,
    computer_name,
    registry_observations,
)
from evict.inventory.windows.amcache import amcache_observations, is_amcache
from evict.model.observations import HostID, HostInventory, Platform

if TYPE_CHECKING:
    from regipy.registry import NKRecord, RegistryHive

MAX_HIVE_BYTES = 1024 * 1024 * 1024
"""Largest hive read (regipy holds the whole file in memory); real SOFTWARE hives stay far below."""

BASE_BLOCK = 4096
"""Size of a hive's header (the base block) before its first bin."""

PROFILE_LIST = r"Microsoft\Windows NT\CurrentVersion\ProfileList"


class HiveFileError(SourceInputError):
    """A file that is not a readable registry hive."""


class HiveKind(enum.StrEnum):
    """The hives evict reads."""

    SOFTWARE = "software"
    SYSTEM = "system"
    NTUSER = "ntuser"
    AMCACHE = "amcache"


_SYSTEM_ROOT_KEYS = frozenset({"select", "mounteddevices", "setup", "driverdatabase"})
_SOFTWARE_ROOT_KEYS = frozenset({"classes", "clients", "policies", "registeredapplications"})
_NTUSER_ROOT_KEYS = frozenset(
    {"appevents", "console", "control panel", "environment", "keyboard layout", "printers"}
)


def kind_from_root(names: Sequence[str], fallback: str | None = None) -> HiveKind | None:
    """Which hive has the root subkeys ``names``; ``fallback`` is regipy's guess from the header.

    SYSTEM holds ``Select`` and ``ControlSetNNN``; SOFTWARE holds ``Microsoft`` beside
    ``Classes``/``Clients``/``Policies``; a user's NTUSER.DAT holds ``Software`` beside
    ``Control Panel``/``Environment``/``Console``.
    """
    folded = {n.casefold() for n in names}
    if any(n.startswith("controlset") for n in folded) and folded & _SYSTEM_ROOT_KEYS:
        return HiveKind.SYSTEM
    if "microsoft" in folded and folded & _SOFTWARE_ROOT_KEYS:
        return HiveKind.SOFTWARE
    if "software" in folded and folded & _NTUSER_ROOT_KEYS:
        return HiveKind.NTUSER
    if fallback in {k.value for k in HiveKind}:
        return HiveKind(fallback)
    return None


def check_header(path: Path) -> list[str]:
    """Check the base block of hive ``path``; raise :class:`HiveFileError` if it is unusable.

    Returns problems that still leave the hive readable (not cleanly unloaded, bad checksum).
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(BASE_BLOCK)
    except OSError as e:
        raise HiveFileError(str(path), f"cannot read: {e.strerror or e}") from e
    if size == 0:
        raise HiveFileError(str(path), "empty file, not a registry hive")
    if size > MAX_HIVE_BYTES:
        raise HiveFileError(str(path), f"file is {size} bytes; hives over {MAX_HIVE_BYTES} refused")
    if head[:4] != b"regf":
        raise HiveFileError(
            str(path), "not a registry hive (no 'regf' signature)", where="offset 0"
        )
    if len(head) < BASE_BLOCK:
        raise HiveFileError(str(path), f"truncated: shorter than the {BASE_BLOCK}-byte header")
    primary, secondary = struct.unpack_from("<II", head, 4)
    file_type, _format, _root, data_size = struct.unpack_from("<IIII", head, 0x1C)
    if file_type != 0:
        raise HiveFileError(
            str(path), "a transaction log (.LOG1/.LOG2), not a hive", where="offset 0x1c"
        )
    if BASE_BLOCK + data_size > size:
        raise HiveFileError(
            str(path),
            f"truncated: the header promises {BASE_BLOCK + data_size} bytes, the file has {size}",
            where="offset 0x28",
        )
    problems = []
    if primary != secondary:
        problems.append(
            f"{path}: hive was not cleanly unloaded (sequence numbers {primary} and {secondary}); "
            "changes still in its .LOG1/.LOG2 files are missing"
        )
    checksum = 0
    for (word,) in struct.iter_unpack("<I", head[:0x1FC]):
        checksum ^= word
    checksum = {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(checksum, checksum)
    if checksum != struct.unpack_from("<I", head, 0x1FC)[0]:
        problems.append(f"{path}: header checksum does not match; the hive may be damaged")
    return problems


def _hive_errors() -> tuple[type[BaseException], ...]:
    """What regipy raises on a damaged hive: its own errors, construct's, and plain ones."""
    from construct.core import ConstructError  # type: ignore[import-untyped]
    from regipy.exceptions import RegipyException

    return (
        RegipyException,
        ConstructError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        AttributeError,
        struct.error,
        OverflowError,
        EOFError,
        RecursionError,
        StopIteration,  # regipy calls next() on a hive bin that holds no cell
    )


class Hive:
    """One open hive file, with its keys looked up by path and their children cached.

    Every read goes through :meth:`_guard`, which turns a parser failure into a
    :class:`HiveFileError` naming the file and the key.
    """

    def __init__(self, path: Path) -> None:
        # regipy: only when a registry hive is read
        from regipy.registry import RegistryHive

        self.path = path
        self._errors = _hive_errors()
        self._children: dict[str, dict[str, NKRecord]] = {}
        self._nodes: dict[str, NKRecord | None] = {}
        self._hive: RegistryHive = self._guard("\\", lambda: RegistryHive(str(path)))  # type: ignore[no-untyped-call]
        self._nodes[""] = self._hive.root
        self.kind = kind_from_root(
            self.subkeys(""), self._guard("\\", lambda: self._hive.hive_type)
        )
        if self.kind in (None, HiveKind.AMCACHE):
            self.kind = HiveKind.AMCACHE if is_amcache(self) else None

    def _guard(self, where: str, read: Any) -> Any:
        try:
            return read()
        except self._errors as e:
            raise HiveFileError(
                str(self.path), f"damaged registry hive: {type(e).__name__}: {e}", where=where
            ) from e

    def _node(self, rel: str) -> NKRecord | None:
        folded = rel.casefold()
        if folded in self._nodes:
            return self._nodes[folded]
        parent, _, name = rel.rpartition("\\")
        node = None
        if self._node(parent) is not None:
            node = self._child_map(parent).get(name.casefold())
        self._nodes[folded] = node
        return node

    def _child_map(self, rel: str) -> dict[str, NKRecord]:
        folded = rel.casefold()
        cached = self._children.get(folded)
        if cached is not None:
            return cached
        node = self._node(rel)

        def read() -> dict[str, NKRecord]:
            if node is None or not node.subkey_count:
                return {}
            return {child.name.casefold(): child for child in node.iter_subkeys()}  # type: ignore[no-untyped-call]

        children: dict[str, NKRecord] = self._guard(rel or "\\", read)
        self._children[folded] = children
        return children

    def subkeys(self, rel: str) -> list[str]:
        """Names of the subkeys of ``rel`` (a path inside the hive, "" for its root)."""
        return [child.name for child in self._child_map(rel).values()]

    def values(self, rel: str) -> KeyValues | None:
        """The values of ``rel``, or None when the key does not exist."""
        node = self._node(rel)
        if node is None:
            return None

        def read() -> KeyValues:
            out: dict[str, RegValue] = {}
            for value in node.iter_values(as_json=False, trim_values=False):  # type: ignore[no-untyped-call]
                data = _convert(value.value)
                if data is not None:
                    out["" if value.name == "(default)" else value.name] = data
            return KeyValues.of(out)

        values: KeyValues = self._guard(rel or "\\", read)
        return values


def _convert(data: object) -> RegValue | None:
    if isinstance(data, str | int | bytes):
        return data
    if isinstance(data, list):
        return tuple(str(item) for item in data)
    return None


class HiveView(RegistryView):
    """The registry of one host as its hive files make it up.

    :param software: the SOFTWARE hive, mounted at ``HKLM\\SOFTWARE``.
    :param system: the SYSTEM hive, mounted at ``HKLM\\SYSTEM``.
    :param users: user label (a SID, or a user name) -> NTUSER.DAT, mounted at ``HKU\\<label>``.
    """

    def __init__(self, software: Hive | None, system: Hive | None, users: dict[str, Hive]) -> None:
        self.mounts: dict[str, tuple[str, Hive]] = {}
        if software is not None:
            self.mounts["hklm\\software"] = ("HKLM\\SOFTWARE", software)
        if system is not None:
            self.mounts["hklm\\system"] = ("HKLM\\SYSTEM", system)
        for label, hive in users.items():
            self.mounts[f"hku\\{label.casefold()}"] = (f"HKU\\{label}", hive)

    def _resolve(self, path: str) -> tuple[Hive, str] | None:
        parts = path.split("\\")
        cut = 2
        mount = self.mounts.get("\\".join(parts[:cut]).casefold())
        if mount is None:
            return None
        return mount[1], "\\".join(parts[cut:])

    def _virtual(self, path: str) -> list[str] | None:
        """Children of a key above the mounted hives (``HKLM``, ``HKU``), or None."""
        folded = path.casefold()
        if "\\" in folded:
            return None
        names = [name for name, _ in self.mounts.values()]
        children = [n.split("\\")[1] for n in names if n.casefold().startswith(folded + "\\")]
        return children or None

    def subkeys(self, path: str) -> list[str]:
        """Names of the subkeys of ``path``."""
        virtual = self._virtual(path)
        if virtual is not None:
            return virtual
        found = self._resolve(path)
        return found[0].subkeys(found[1]) if found else []

    def values(self, path: str) -> KeyValues | None:
        """The values of ``path``, or None when no mounted hive has it."""
        if self._virtual(path) is not None:
            return KeyValues({})
        found = self._resolve(path)
        return found[0].values(found[1]) if found else None


@dataclass(frozen=True, slots=True)
class _Group:
    """The hive files of one host."""

    label: str
    """The host's name when its SYSTEM hive does not give one: the folder or file name."""
    files: tuple[Path, ...]
    explicit: bool
    """The files were named by the user: each must be a hive evict reads."""


def _casefold_child(folder: Path, name: str) -> Path | None:
    try:
        return next((p for p in folder.iterdir() if p.name.casefold() == name), None)
    except OSError:
        return None


def discover(folder: Path) -> list[Path]:
    """The candidate hive files of a host folder (see the module docstring for where)."""
    places = [folder]
    for parts in (("windows", "system32", "config"), ("windows", "appcompat", "programs")):
        config = folder
        for part in parts:
            found = _casefold_child(config, part)
            if found is None or not found.is_dir():
                break
            config = found
        else:
            places.append(config)
    files = [p for place in places for p in sorted(place.iterdir()) if p.is_file()]
    users = _casefold_child(folder, "users")
    if users is not None and users.is_dir():
        for home in sorted(users.iterdir()):
            ntuser = _casefold_child(home, "ntuser.dat") if home.is_dir() else None
            if ntuser is not None and ntuser.is_file():
                files.append(ntuser)
    # A mounted drive's links name that machine's paths: one leading out of the folder is not
    # followed (it would read the hives of whatever the scanning machine has there).
    inside = folder.resolve()
    return [p for p in files if p.resolve().is_relative_to(inside) and _starts_with_regf(p)]


def _starts_with_regf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"regf" and path.stat().st_size >= BASE_BLOCK
    except OSError:
        return False


def _user_label(path: Path) -> str:
    """A user's name from where their NTUSER.DAT sits: ``Users/<name>/NTUSER.DAT`` -> name."""
    if path.name.casefold() == "ntuser.dat" and path.parent.name:
        return path.parent.name
    return path.stem


class HiveSource(OfflineSource):
    """Offline registry hives: each folder (or set of hive files in one folder) is one host.

    :param paths: host folders and hive files.
    """

    name = "hive"

    def _groups(self) -> list[_Group]:
        groups: list[_Group] = []
        loose: dict[Path, list[Path]] = {}
        for path in self.paths:
            if path.is_dir():
                files = discover(path)
                if not files:
                    raise HiveFileError(
                        str(path),
                        "no registry hive (SOFTWARE, SYSTEM, NTUSER.DAT, Amcache.hve) in folder",
                    )
                groups.append(_Group(path.name or str(path), tuple(files), explicit=False))
            elif path.exists():
                loose.setdefault(path.resolve().parent, []).append(path)
            else:
                raise HiveFileError(str(path), "no such file or folder")
        for folder, files in loose.items():
            label = files[0].stem if len(files) == 1 else folder.name
            groups.append(_Group(label, tuple(files), explicit=True))
        return groups

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per host."""
        self._statuses = []
        for group in self._groups():
            problems = Problems(f"{self.name}:{group.label}")
            with parser_warnings(problems):
                inventory = self._read(group, problems)
            yield inventory
            self._statuses.append(problems.status())

    def _read(self, group: _Group, problems: Problems) -> HostInventory:
        software: Hive | None = None
        system: Hive | None = None
        amcache: Hive | None = None
        user_hives: list[Hive] = []
        for path in group.files:
            if not group.explicit and _is_log(path):
                continue
            header_problems = check_header(path)
            hive = Hive(path)
            if hive.kind is None:
                if group.explicit:
                    raise HiveFileError(
                        str(path),
                        "not a SOFTWARE, SYSTEM, NTUSER.DAT or Amcache.hve hive, which evict reads",
                    )
                continue
            for problem in header_problems:
                problems.add(problem)
            if hive.kind is HiveKind.NTUSER:
                user_hives.append(hive)
            elif hive.kind is HiveKind.AMCACHE:
                if amcache is not None:
                    problems.add(f"{path}: a second Amcache hive, ignored")
                else:
                    amcache = hive
            elif (software if hive.kind is HiveKind.SOFTWARE else system) is not None:
                problems.add(f"{path}: a second {hive.kind.value.upper()} hive, ignored")
            elif hive.kind is HiveKind.SOFTWARE:
                software = hive
            else:
                system = hive
        if software is None and system is None and not user_hives and amcache is None:
            raise HiveFileError(
                str(group.files[0]), "no SOFTWARE, SYSTEM, NTUSER.DAT or Amcache.hve hive"
            )
        if system is None:
            problems.add("no SYSTEM hive: drivers, services and the computer name were not read")
        if software is None:
            problems.add("no SOFTWARE hive: machine-wide programs and vendor keys were not read")
        view = HiveView(software, system, _users(user_hives, software))
        name = computer_name(view) or group.label
        observations = registry_observations(view, self.name)
        if amcache is not None:
            observations.extend(
                amcache_observations(amcache, self.name, problems, str(amcache.path))
            )
        return HostInventory(
            host=HostID(name),
            hostname=name,
            platform=Platform.WINDOWS,
            collected_at=dt.datetime.fromtimestamp(
                max(p.stat().st_mtime for p in group.files), dt.UTC
            ),
            observations=tuple(observations),
            source=self.name,
        )


MAX_PARSER_WARNINGS = 20
"""How many of the parser's warnings about one host's hives are kept as problems."""


class _ProblemHandler(logging.Handler):
    """Turns regipy's warnings (values it skipped in a damaged key) into problems."""

    def __init__(self, problems: Problems) -> None:
        super().__init__(logging.WARNING)
        self.problems = problems
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.count <= MAX_PARSER_WARNINGS:
            self.problems.add(f"hive parser: {record.getMessage()}")


@contextlib.contextmanager
def parser_warnings(problems: Problems) -> Iterator[None]:
    """While reading, record regipy's warnings on ``problems`` rather than printing them.

    regipy logs, and carries on, when it skips a value it cannot parse: the inventory is then
    partial, and the status must say so.
    """
    logger = logging.getLogger("regipy")
    handler = _ProblemHandler(problems)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        if handler.count > MAX_PARSER_WARNINGS:
            problems.add(f"hive parser: {handler.count - MAX_PARSER_WARNINGS} more warnings")


def _is_log(path: Path) -> bool:
    """Whether ``path`` is a hive's transaction log rather than a hive (skipped in folders)."""
    with path.open("rb") as f:
        head = f.read(0x20)
    return len(head) >= 0x20 and struct.unpack_from("<I", head, 0x1C)[0] != 0


def _users(hives: Sequence[Hive], software: Hive | None) -> dict[str, Hive]:
    """Label each user hive by the SID whose profile folder it sits in, else by the folder."""
    sid_of: dict[str, str] = {}
    if software is not None:
        for sid in software.subkeys(PROFILE_LIST):
            values = software.values(f"{PROFILE_LIST}\\{sid}")
            image = values.text("ProfileImagePath") if values is not None else ""
            if image:
                sid_of.setdefault(image.replace("/", "\\").rsplit("\\", 1)[-1].casefold(), sid)
    out: dict[str, Hive] = {}
    for hive in hives:
        name = _user_label(hive.path)
        label = sid_of.get(name.casefold(), name)
        if label.casefold() in {k.casefold() for k in out}:
            label = f"{label} ({hive.path})"
        out[label] = hive
    return out
