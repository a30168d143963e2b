"""The registry keys evict reads on a Windows host, and how each becomes an observation.

Both registry sources (regedit exports and hive files) present what they read as a
:class:`RegistryView` addressed by full key paths with short root names (``HKLM\\SOFTWARE\\...``,
``HKU\\<SID>\\Software\\...``, ``HKCU\\...``), and :func:`registry_observations` turns that view
into observations. What is read:

- the Uninstall keys of the machine (64- and 32-bit) and of every user: Programs and Features;
- the Services key of the current control set: kernel and file-system drivers, and services;
- the keys vendors leave behind (:data:`VENDOR_KEYS`), whose mere presence is evidence.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from evict.model.observations import Ident, Kind, Observation

RegValue = str | int | bytes | tuple[str, ...]
"""A value's data: REG_SZ and REG_EXPAND_SZ as ``str``, REG_DWORD and REG_QWORD as ``int``,
REG_MULTI_SZ as a tuple of strings, anything else as raw ``bytes``."""

ROOTS: Mapping[str, str] = {
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKLM": "HKLM",
    "HKEY_USERS": "HKU",
    "HKU": "HKU",
    "HKEY_CURRENT_USER": "HKCU",
    "HKCU": "HKCU",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKCR": "HKCR",
    "HKEY_CURRENT_CONFIG": "HKCC",
    "HKCC": "HKCC",
}
"""Root key names as regedit and PowerShell write them (upper-cased) -> the short form used in
key paths."""

MACHINE_UNINSTALL_KEYS: tuple[str, ...] = (
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)
"""Programs and Features of the machine: 64-bit (or native) and 32-bit installers."""

USER_UNINSTALL_KEY = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
"""Programs and Features of one user (per-user installers), below that user's root."""

DRIVER_TYPES = 0x1 | 0x2 | 0x8
"""Service ``Type`` bits of a kernel driver, a file-system driver and a recognizer driver."""

SERVICE_TYPES = 0x10 | 0x20
"""Service ``Type`` bits of a service in its own process or a shared one (user services too)."""


@dataclass(frozen=True, slots=True)
class VendorKey:
    """A key that a vendor's products create, whose presence alone is evidence."""

    vendor: str
    """Names the observations' source, e.g. ``kasperskylab`` -> ``reg:kasperskylab``."""
    path: str
    """The key below ``HKLM`` (or below each user's root when ``per_user``)."""
    per_user: bool = False


VENDOR_KEYS: tuple[VendorKey, ...] = (
    VendorKey("kasperskylab", r"SOFTWARE\KasperskyLab"),
    VendorKey("kasperskylab", r"SOFTWARE\WOW6432Node\KasperskyLab"),
    VendorKey("kasperskylab", r"Software\KasperskyLab", per_user=True),
)
"""Vendor keys. Kaspersky's layout (``protected\\<AVP|KES|PURE><ver>\\environment`` with
``ProductName``/``ProductVersion``, ``InstalledProducts\\<name>``) is the one Greenbone's and
Tenable's detection plugins read; see ``research/kaspersky-identifiers.yaml``."""

VENDOR_KEY_DEPTH = 3
"""How far below a vendor key the walk goes: far enough for ``protected\\KES\\environment``."""

_ENVIRONMENT = "environment"
_INSTALLED_PRODUCTS = "installedproducts"
_PROTECTED = "protected"


@dataclass(frozen=True, slots=True)
class KeyValues:
    """The values of one key, looked up by name without regard to case.

    The default value (``@`` in a ``.reg`` file) is stored under the empty name.
    """

    items: Mapping[str, RegValue]
    """Casefolded value name -> data; build with :meth:`of`."""

    @classmethod
    def of(cls, values: Mapping[str, RegValue]) -> KeyValues:
        """Build from value names in any case."""
        return cls({name.casefold(): data for name, data in values.items()})

    def get(self, name: str) -> RegValue | None:
        """The data of value ``name``, or None when the key has no such value."""
        return self.items.get(name.casefold())

    def text(self, name: str) -> str:
        """Value ``name`` as text: a string up to its first NUL, a number in decimal, else ""."""
        data = self.items.get(name.casefold())
        if isinstance(data, str):
            return data.split("\0", 1)[0].strip()
        if isinstance(data, int):
            return str(data)
        return ""

    def number(self, name: str) -> int | None:
        """Value ``name`` as a number (a DWORD, or a string of digits), else None."""
        data = self.items.get(name.casefold())
        if isinstance(data, int):
            return data
        if isinstance(data, str):
            digits = data.split("\0", 1)[0].strip()
            if digits.isascii() and digits.isdigit():
                return int(digits)
        return None


class RegistryView(ABC):
    """A read-only registry, addressed by full key paths such as ``HKLM\\SOFTWARE\\Microsoft``.

    Paths use the short root names of :data:`ROOTS`; names compare without regard to case.
    """

    @abstractmethod
    def subkeys(self, path: str) -> list[str]:  # pragma: no cover
        """The names of the subkeys of ``path``, or an empty list when it does not exist."""
        raise NotImplementedError

    @abstractmethod
    def values(self, path: str) -> KeyValues | None:  # pragma: no cover
        """The values of ``path``, or None when the key does not exist."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        """Whether the key ``path`` exists."""
        return self.values(path) is not None


def canonical_root(name: str) -> str | None:
    """The short form of a root key name (``HKEY_LOCAL_MACHINE`` -> ``HKLM``), or None."""
    return ROOTS.get(name.upper())


def hive_relative(path: str) -> str:
    """``path`` without its root: the key as it sits in its hive file.

    ``HKLM\\SOFTWARE\\KasperskyLab`` -> ``SOFTWARE\\KasperskyLab``; for a user the root is two
    parts: ``HKU\\S-1-5-21-...\\Software\\X`` -> ``Software\\X``.
    """
    parts = path.split("\\")
    skip = 2 if parts[0].upper() == "HKU" else 1
    return "\\".join(parts[skip:])


def image_file_name(image_path: str) -> str:
    """The file name in a service's ``ImagePath``: quotes, arguments and folders removed.

    ``"C:\\Program Files (x86)\\Kaspersky Lab\\KES\\avp.exe" -r`` -> ``avp.exe``;
    ``\\SystemRoot\\System32\\Drivers\\klif.sys`` -> ``klif.sys``.
    """
    text = image_path.strip()
    if text.startswith('"'):
        end = text.find('"', 1)
        text = text[1:end] if end > 0 else text[1:]
    else:
        found = _IMAGE.match(text)
        if found:
            text = found.group(1)
    return text.replace("/", "\\").rsplit("\\", 1)[-1].strip()


_IMAGE = re.compile(r"(.*?\.(?:exe|sys|dll|com))(?:\s|$)", re.IGNORECASE)


def user_roots(view: RegistryView) -> list[str]:
    """The roots of the users' keys present in ``view``: ``HKCU`` and each ``HKU\\<SID>``."""
    roots = ["HKCU"] if view.exists("HKCU") else []
    roots.extend(
        f"HKU\\{name}" for name in view.subkeys("HKU") if not name.casefold().endswith("_classes")
    )
    return roots


def control_set(view: RegistryView) -> str | None:
    """The path of the control set in use: ``CurrentControlSet`` when the view has it.

    Hive files have no ``CurrentControlSet`` (Windows makes it a link at boot), so fall back to
    ``SYSTEM\\Select\\Current`` and then to the lowest-numbered ``ControlSetNNN``.
    """
    base = r"HKLM\SYSTEM"
    if view.exists(base + r"\CurrentControlSet"):
        return base + r"\CurrentControlSet"
    select = view.values(base + r"\Select")
    current = select.number("Current") if select is not None else None
    if current is not None and view.exists(f"{base}\\ControlSet{current:03d}"):
        return f"{base}\\ControlSet{current:03d}"
    numbered = sorted(n for n in view.subkeys(base) if _CONTROL_SET.fullmatch(n))
    return f"{base}\\{numbered[0]}" if numbered else None


_CONTROL_SET = re.compile(r"ControlSet\d{3}", re.IGNORECASE)


def computer_name(view: RegistryView) -> str | None:
    """The computer's name from ``SYSTEM\\...\\Control\\ComputerName``, if the view has it."""
    current = control_set(view)
    if current is None:
        return None
    for key in ("ComputerName", "ActiveComputerName"):
        values = view.values(f"{current}\\Control\\ComputerName\\{key}")
        name = values.text("ComputerName") if values is not None else ""
        if name:
            return name
    return None


def uninstall_entries(view: RegistryView, key: str, source: str) -> Iterator[Observation]:
    """Programs and Features entries below the Uninstall key ``key``.

    Entries without a ``DisplayName`` are not shown by Windows and are skipped; so are updates
    (a ``ParentKeyName`` names the product they patch, which has its own entry). Entries with
    ``SystemComponent=1`` are hidden from the user but kept: a hidden component is still there.
    """
    for sub in view.subkeys(key):
        path = f"{key}\\{sub}"
        values = view.values(path)
        if values is None:
            continue
        name = values.text("DisplayName")
        if not name or values.text("ParentKeyName"):
            continue
        yield Observation.make(
            Kind.PROGRAM,
            name,
            version=values.text("DisplayVersion"),
            publisher=values.text("Publisher"),
            identifiers={
                Ident.PRODUCT_CODE: sub,
                Ident.PATH: values.text("InstallLocation"),
                Ident.REGISTRY_KEY: path,
            },
            source=source,
        )


def service_entries(view: RegistryView, current: str, source: str) -> Iterator[Observation]:
    """Drivers and services registered below ``<current>\\Services``.

    A driver is named by its image file (``klif.sys``), a service by its key (``AVP``); the
    ``ImagePath`` goes into the ``path`` identifier and the key into ``registry_key``. Keys
    without a driver or service ``Type`` (parameters, event-log sources) are skipped.
    """
    services = f"{current}\\Services"
    for name in view.subkeys(services):
        path = f"{services}\\{name}"
        values = view.values(path)
        kind_bits = values.number("Type") if values is not None else None
        if values is None or kind_bits is None:
            continue
        image = values.text("ImagePath")
        identifiers: dict[str, str | None] = {Ident.PATH: image, Ident.REGISTRY_KEY: path}
        if kind_bits & DRIVER_TYPES:
            file_name = image_file_name(image) if image else f"{name}.sys"
            yield Observation.make(Kind.DRIVER, file_name, identifiers=identifiers, source=source)
        elif kind_bits & SERVICE_TYPES:
            yield Observation.make(Kind.SERVICE, name, identifiers=identifiers, source=source)


def vendor_key_entries(view: RegistryView, base: str, source: str) -> Iterator[Observation]:
    """The keys below the vendor key ``base`` that say which products were installed.

    Emits a ``registry_key`` observation for ``base`` itself, each direct subkey (product and
    component keys), each subkey of ``protected``, each ``<product>\\environment`` and each
    ``InstalledProducts\\<name>``; an ``environment`` key with a ``ProductName`` and an
    ``InstalledProducts`` entry also give a ``program`` observation.
    """
    if not view.exists(base):
        return
    yield _key_observation(base, source)
    stack = [(base, 0)]
    while stack:
        path, depth = stack.pop()
        if depth >= VENDOR_KEY_DEPTH:
            continue
        parent = path.rsplit("\\", 1)[-1].casefold()
        for name in view.subkeys(path):
            child = f"{path}\\{name}"
            folded = name.casefold()
            if depth == 0 or parent == _PROTECTED:
                yield _key_observation(child, source)
                stack.append((child, depth + 1))
            elif folded == _ENVIRONMENT:
                yield _key_observation(child, source)
                yield from _environment_program(view, child, source)
            elif parent == _INSTALLED_PRODUCTS:
                yield _key_observation(child, source)
                yield from _installed_product(view, child, name, source)


def _key_observation(path: str, source: str) -> Observation:
    return Observation.make(
        Kind.REGISTRY_KEY,
        hive_relative(path),
        identifiers={Ident.REGISTRY_KEY: path},
        source=source,
    )


def _environment_program(view: RegistryView, path: str, source: str) -> Iterator[Observation]:
    values = view.values(path)
    if values is None or not values.text("ProductName"):
        return
    yield Observation.make(
        Kind.PROGRAM,
        values.text("ProductName"),
        version=values.text("ProductVersion"),
        identifiers={Ident.REGISTRY_KEY: path, Ident.PATH: values.text("ProductRoot")},
        source=source,
    )


def _installed_product(
    view: RegistryView, path: str, key_name: str, source: str
) -> Iterator[Observation]:
    values = view.values(path)
    if values is None:
        return
    yield Observation.make(
        Kind.PROGRAM,
        values.text("Name") or key_name,
        version=values.text("Version"),
        identifiers={Ident.REGISTRY_KEY: path, Ident.PATH: values.text("Folder")},
        source=source,
    )


def registry_observations(view: RegistryView, prefix: str) -> list[Observation]:
    """Everything evict looks for in ``view``, with sources named ``<prefix>:<what>``.

    :param view: the registry of one host.
    :param prefix: the source's name: ``reg`` or ``hive``; observations come out with sources
        ``reg:uninstall``, ``reg:services`` and ``reg:<vendor>``.
    """
    out: list[Observation] = []
    users = user_roots(view)
    uninstall = f"{prefix}:uninstall"
    for key in MACHINE_UNINSTALL_KEYS:
        out.extend(uninstall_entries(view, key, uninstall))
    for root in users:
        out.extend(uninstall_entries(view, f"{root}\\{USER_UNINSTALL_KEY}", uninstall))
    current = control_set(view)
    if current is not None:
        out.extend(service_entries(view, current, f"{prefix}:services"))
    for vendor_key in VENDOR_KEYS:
        roots = users if vendor_key.per_user else ["HKLM"]
        for root in roots:
            base = f"{root}\\{vendor_key.path}"
            out.extend(vendor_key_entries(view, base, f"{prefix}:{vendor_key.vendor}"))
    return out


_ANY = r"[^\\]+"
_SEP = r"\\"
"""A literal backslash, as a regular expression."""


def _read_paths() -> list[tuple[str, ...]]:
    """Every key path whose values evict reads, as casefolded regular expressions per part."""

    def parts(path: str) -> tuple[str, ...]:
        return tuple(re.escape(p) for p in path.casefold().split("\\"))

    users: list[tuple[str, ...]] = [("hkcu",), ("hku", _ANY)]
    paths = [(*parts("HKLM\\" + key), _ANY) for key in _MACHINE_UNINSTALL_RELATIVE]
    paths += [(*user, *parts(USER_UNINSTALL_KEY), _ANY) for user in users]
    paths += [
        parts(r"hklm\system\select"),
        ("hklm", "system", _ANY, "services", _ANY),
        ("hklm", "system", _ANY, "control", "computername", "(?:active)?computername"),
        (*parts(r"hklm\software\microsoft\windows nt\currentversion\profilelist"), _ANY),
    ]
    for vendor_key in VENDOR_KEYS:
        for root in users if vendor_key.per_user else [("hklm",)]:
            for depth in range(VENDOR_KEY_DEPTH + 1):
                paths.append((*root, *parts(vendor_key.path), *[_ANY] * depth))
    return paths


_MACHINE_UNINSTALL_RELATIVE = [key.split("\\", 1)[1] for key in MACHINE_UNINSTALL_KEYS]


def _prefixes(path: tuple[str, ...]) -> str:
    """A regex matching ``path`` or any of its ancestors: ``a(?:\\b(?:\\c)?)?``."""
    out = path[-1]
    for part in reversed(path[:-1]):
        out = f"{part}(?:{_SEP}{out})?"
    return out


_READ_PATHS = _read_paths()
_VALUES_NEEDED = re.compile("|".join(f"(?:{_SEP.join(p)})" for p in _READ_PATHS))
_KEY_NEEDED = re.compile("|".join(f"(?:{_prefixes(p)})" for p in _READ_PATHS))


def values_needed(path: str) -> bool:
    """Whether :func:`registry_observations` (or the host name) ever reads the values of ``path``.

    A regedit export of a whole hive can hold millions of keys and values; a reader may keep
    only these values, and only the keys of :func:`key_needed`.
    """
    return _VALUES_NEEDED.fullmatch(path.casefold()) is not None


def key_needed(path: str) -> bool:
    """Whether ``path`` is a key :func:`values_needed` accepts, or an ancestor of one."""
    return _KEY_NEEDED.fullmatch(path.casefold()) is not None
