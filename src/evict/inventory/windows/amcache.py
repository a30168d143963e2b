"""Windows' ``Amcache.hve``: what the Compatibility Appraiser inventoried on a host.

``C:\\Windows\\AppCompat\\Programs\\Amcache.hve`` is a registry hive of its own (not mounted in
the live registry). In the layout of current Windows 10 and 11 (written by the Amcache libraries
since version 10.0.14913) its ``Root`` key holds, among others:

- ``InventoryApplication\\<ProgramId>``: installed applications (Programs and Features entries,
  MSI products and Store apps) with ``Name``, ``Version``, ``Publisher``, ``MsiProductCode``,
  ``RegistryKeyPath``, ``RootDirPath`` and ``PackageFullName``: a ``program`` each;
- ``InventoryApplicationFile\\<name|hash>``: executables, with ``LowerCaseLongPath``,
  ``FileId`` (``0000`` + the SHA-1 of the file), ``Publisher``, ``ProductName``, ``Version``,
  ``OriginalFileName`` and the ``ProgramId`` of the application they belong to: a ``file`` each;
- ``InventoryDriverBinary\\<path>``: driver files, with ``DriverName``, ``DriverCompany``,
  ``DriverVersion``, ``Service``, ``DriverSigned`` and ``DriverId`` (``0000`` + SHA-1): a
  ``driver`` each.

**Still present?** No value in these keys says whether the thing is still on the host, so evict
says what the hive's structure does, in each observation's source:

- ``<prefix>:amcache-applications``: an application the inventory listed as installed when it
  last ran (the appraiser rewrites this key on each run; software installed or removed since is
  not reflected until the next one);
- ``<prefix>:amcache-files``: a file whose ``ProgramId`` is one of those applications;
- ``<prefix>:amcache-file-traces``: a file tied to no application the hive still lists. Such
  entries outlive the file (they are a known trace of deleted executables), so the file was on
  the host at some time and may since have gone;
- ``<prefix>:amcache-drivers``: a driver binary the inventory recorded, present or not since.

The older layout (``Root\\File\\<volume>\\<id>`` with numbered values, Windows 8 and Windows 7
with KB2952664) is not read; a hive in that layout is reported as a problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from evict.inventory.interface import Problems
from evict.inventory.windows._keys import KeyValues, canonical_root
from evict.model.observations import Ident, Kind, Observation

APPLICATIONS = "Root\\InventoryApplication"
FILES = "Root\\InventoryApplicationFile"
DRIVERS = "Root\\InventoryDriverBinary"
LEGACY_FILES = "Root\\File"

_SHA1 = re.compile(r"(?:0000)?([0-9a-fA-F]{40})")
_UNINSTALL = re.compile(r"\\Uninstall\\([^\\]+)$", re.IGNORECASE)


class HiveReader(Protocol):
    """What is read from the hive: subkey names and values by path below its root."""

    def subkeys(self, rel: str) -> list[str]:
        """Names of the subkeys of ``rel`` (a path inside the hive)."""

    def values(self, rel: str) -> KeyValues | None:
        """The values of ``rel``, or None when the key does not exist."""


def is_amcache(hive: HiveReader) -> bool:
    """Whether the hive's root holds ``Root`` with the Amcache inventory keys."""
    if not any(n.casefold() == "root" for n in hive.subkeys("")):
        return False
    names = {n.casefold() for n in hive.subkeys("Root")}
    return bool(
        names
        & {"inventoryapplication", "inventoryapplicationfile", "inventorydriverbinary", "file"}
    )


def file_sha1(file_id: str) -> str:
    """The SHA-1 in an Amcache ``FileId``/``DriverId`` (``0000`` + 40 hex digits), or ``""``."""
    found = _SHA1.fullmatch(file_id.strip())
    return found.group(1).lower() if found else ""


def _registry_key(path: str) -> str:
    """``HKEY_LOCAL_MACHINE\\Software\\...`` as evict writes key paths (``HKLM\\Software\\...``)."""
    root, sep, rest = path.strip().partition("\\")
    short = canonical_root(root)
    return f"{short}{sep}{rest}" if short and rest else ""


def _package_family(full_name: str) -> str:
    """An MSIX package family name from a full name: ``Name_Version_Arch_Resource_Publisher``."""
    parts = full_name.split("_")
    return f"{parts[0]}_{parts[-1]}" if len(parts) == 5 and parts[0] and parts[-1] else ""


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] if path else ""


def amcache_observations(
    hive: HiveReader, prefix: str, problems: Problems, where: str
) -> Iterator[Observation]:
    """Everything evict reads in an Amcache hive (see the module docstring).

    :param prefix: the source's name, e.g. ``hive``.
    :param where: the hive file, named in problems.
    """
    installed: set[str] = set()
    for key in hive.subkeys(APPLICATIONS):
        values = hive.values(f"{APPLICATIONS}\\{key}")
        if values is None:
            continue
        installed.add((values.text("ProgramId") or key).casefold())
        installed.add(key.casefold())
        name = values.text("Name")
        if not name:
            continue
        registry_key = _registry_key(values.text("RegistryKeyPath"))
        uninstall = _UNINSTALL.search(registry_key)
        yield Observation.make(
            Kind.PROGRAM,
            name,
            version=values.text("Version"),
            publisher=values.text("Publisher"),
            identifiers={
                Ident.PRODUCT_CODE: values.text("MsiProductCode")
                or (uninstall.group(1) if uninstall else ""),
                Ident.PACKAGE_ID: _package_family(values.text("PackageFullName")),
                Ident.PATH: values.text("RootDirPath"),
                Ident.REGISTRY_KEY: registry_key,
            },
            source=f"{prefix}:amcache-applications",
        )

    for key in hive.subkeys(FILES):
        values = hive.values(f"{FILES}\\{key}")
        if values is None:
            continue
        path = values.text("LowerCaseLongPath")
        name = values.text("Name") or _basename(path)
        if not name:
            continue
        program = values.text("ProgramId").casefold()
        linked = bool(program) and program in installed
        yield Observation.make(
            Kind.FILE,
            name,
            version=values.text("Version") or values.text("BinFileVersion"),
            publisher=values.text("Publisher"),
            identifiers={
                Ident.PATH: path,
                Ident.SHA1: file_sha1(values.text("FileId")),
                Ident.ORIGINAL_FILENAME: values.text("OriginalFileName"),
            },
            source=f"{prefix}:amcache-files" if linked else f"{prefix}:amcache-file-traces",
        )

    for key in hive.subkeys(DRIVERS):
        values = hive.values(f"{DRIVERS}\\{key}")
        if values is None:
            continue
        # The key is the driver's path with '/' for '\\' (a key name cannot hold a backslash).
        path = key.replace("/", "\\")
        name = values.text("DriverName") or _basename(path)
        if not name:
            continue
        yield Observation.make(
            Kind.DRIVER,
            name,
            version=values.text("DriverVersion"),
            publisher=values.text("DriverCompany"),
            identifiers={Ident.PATH: path, Ident.SHA1: file_sha1(values.text("DriverId"))},
            source=f"{prefix}:amcache-drivers",
        )

    if hive.values(LEGACY_FILES) is not None and hive.values(FILES) is None:
        problems.add(
            f"{where}: an Amcache hive in the layout before Windows 10 1709 (Root\\File), "
            "which evict does not read"
        )
