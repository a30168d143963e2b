"""PowerShell output as an inventory source: ``evict scan --from powershell FILE|DIR``.

Reads what administrators already collect with PowerShell, saved as JSON (``ConvertTo-Json``: an
array, or one object) or CSV (``Export-Csv``, with or without the ``#TYPE`` first line), in
UTF-16LE (PowerShell 5's ``Out-File`` and ``>``), UTF-8 with or without a BOM, or ANSI:

=====================================================  ==========================================
cmdlet                                                 observations
=====================================================  ==========================================
``Get-ItemProperty HKLM:\\...\\Uninstall\\*``           ``program`` (DisplayName, DisplayVersion,
                                                       Publisher; PSChildName is the product code)
``Get-Service``                                        ``service`` (``driver`` for driver types)
``Get-CimInstance Win32_SystemDriver`` / Win32_Service  ``driver`` named by its file / ``service``
``Get-AppxPackage``                                    ``package``: MSIX and Store apps, keyed by
                                                       PackageFamilyName
``Get-ChildItem Cert:\\LocalMachine\\Root``             ``certificate``: CN, O, thumbprint
=====================================================  ==========================================

Which cmdlet wrote a file is told from its columns. Each file, or each folder of ``.json`` and
``.csv`` files, is one host, named by ``PSComputerName`` (set by ``Invoke-Command``) or the
CIM ``SystemName``, else by the file or folder; output gathered from several computers at once
(one ``PSComputerName`` per row) gives one host per computer.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import enum
import io
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.inventory.windows._keys import DRIVER_TYPES, canonical_root, image_file_name
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Largest file read: the inventory of one host is a few megabytes."""

SUFFIXES = (".json", ".csv")

Row = Mapping[str, object]
"""One object or CSV row, keyed by casefolded property name (PowerShell ignores case too)."""

_REGISTRY_PROVIDER = re.compile(r"^(?:[\w.]+\\)?Registry::", re.IGNORECASE)
_LOCAL_MACHINE_NAMES = frozenset({"", ".", "localhost"})


class PowerShellFileError(SourceInputError):
    """A file that is not readable PowerShell JSON or CSV output of a known cmdlet."""


class Cmdlet(enum.StrEnum):
    """The cmdlets whose output evict reads."""

    UNINSTALL = "uninstall"
    """``Get-ItemProperty`` over Uninstall keys."""
    SERVICE = "service"
    """``Get-Service``."""
    CIM = "cim"
    """``Get-CimInstance`` (or ``Get-WmiObject``) ``Win32_SystemDriver`` or ``Win32_Service``."""
    APPX = "appx"
    """``Get-AppxPackage``."""
    CERTIFICATE = "certificate"
    """``Get-ChildItem Cert:\\...``."""


_UNINSTALL_COLUMNS = frozenset(
    {"displayversion", "publisher", "pschildname", "uninstallstring", "installlocation"}
)


def detect(columns: Collection[str]) -> Cmdlet | None:
    """Which cmdlet produced objects with these (casefolded) property names, if any."""
    cols = set(columns)
    if cols & {"packagefamilyname", "packagefullname"}:
        return Cmdlet.APPX
    if {"thumbprint", "subject"} <= cols:
        return Cmdlet.CERTIFICATE
    if "pathname" in cols:
        return Cmdlet.CIM
    if "servicetype" in cols or {"servicename", "status"} <= cols:
        return Cmdlet.SERVICE
    if "displayname" in cols and cols & _UNINSTALL_COLUMNS:
        return Cmdlet.UNINSTALL
    return None


def decode(data: bytes) -> str:
    """Text of a PowerShell output file, whatever encoding PowerShell or Windows gave it."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if len(data) >= 2 and data[0] != 0 and data[1] == 0:
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # NOTE: Windows PowerShell 5's Set-Content and Export-Csv -Encoding Default write ANSI.
        return data.decode("cp1252", errors="replace")


def _fold(obj: Mapping[str, object]) -> dict[str, object]:
    return {str(k).casefold(): v for k, v in obj.items()}


def parse_json(path: Path, text: str) -> list[Row]:
    """Objects of ``ConvertTo-Json`` output: an array, one object, or PowerShell 5's
    ``{"value": [...], "Count": n}`` wrapping of an array passed with ``-InputObject``."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PowerShellFileError(
            str(path), f"not valid JSON: {e.msg}", line=e.lineno, where=f"column {e.colno}"
        ) from e
    except RecursionError as e:
        raise PowerShellFileError(str(path), "JSON nested too deeply to be cmdlet output") from e
    except ValueError as e:  # an integer of more digits than Python converts
        raise PowerShellFileError(str(path), f"not valid JSON: {e}") from e
    if (
        isinstance(data, dict)
        and set(data) == {"value", "Count"}
        and isinstance(data["value"], list)
    ):
        data = data["value"]
    items = data if isinstance(data, list) else [data]
    rows: list[Row] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PowerShellFileError(
                str(path), "expected an object per item", where=f"entry {i + 1}"
            )
        rows.append(_fold(item))
    return rows


def parse_csv(path: Path, text: str) -> list[Row]:
    """Rows of ``Export-Csv`` output, with or without its ``#TYPE`` line."""
    lines = io.StringIO(text, newline="")
    first_line = 1
    start = lines.tell()
    if lines.readline().startswith("#TYPE"):
        first_line = 2
    else:
        lines.seek(start)
    header_at = lines.tell()
    header = lines.readline()
    lines.seek(header_at)
    if not header.strip():
        return []
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(lines, delimiter=delimiter, strict=True)
    rows: list[Row] = []
    try:
        for row in reader:
            if None in row:
                raise PowerShellFileError(
                    str(path),
                    "row has more fields than the header",
                    line=reader.line_num + first_line - 1,
                )
            rows.append({k.casefold(): v for k, v in row.items() if k is not None})
    except csv.Error as e:
        raise PowerShellFileError(
            str(path), f"not valid CSV: {e}", line=reader.reader.line_num + first_line - 1
        ) from e
    return rows


def read_rows(path: Path) -> list[Row]:
    """The objects in one PowerShell output file (JSON or CSV, by suffix or content)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PowerShellFileError(
                str(path), f"file is {size} bytes; PowerShell output over {MAX_FILE_BYTES} refused"
            )
        data = path.read_bytes()
    except OSError as e:
        raise PowerShellFileError(str(path), f"cannot read: {e.strerror or e}") from e
    if b"\0" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if not (len(data) >= 2 and data[0] != 0 and data[1] == 0):
            raise PowerShellFileError(str(path), "binary data, not PowerShell output")
    text = decode(data)
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{")):
        return parse_json(path, text)
    return parse_csv(path, text)


def _text(row: Row, name: str) -> str:
    value = row.get(name)
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return str(value)
    return str(value).strip()


def parse_dn(name: str) -> list[tuple[str, str]]:
    """Split a distinguished name as Windows writes it (``CN=x, O="a, b", C=RU``) into pairs."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in name:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in ",;" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if sep:
            pairs.append((key.strip().upper(), value.strip()))
    return pairs


def _dn_field(name: str, *keys: str) -> str:
    pairs = parse_dn(name)
    for key in keys:
        for k, v in pairs:
            if k == key and v:
                return v
    return ""


_GUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)


def registry_path(ps_path: str) -> str:
    """``Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\X`` -> ``HKLM\\X``."""
    path = _REGISTRY_PROVIDER.sub("", ps_path.strip())
    if path[:5].upper() in ("HKLM:", "HKCU:"):
        path = path[:4] + path[5:]
    root, sep, rest = path.partition("\\")
    short = canonical_root(root)
    return f"{short}{sep}{rest}" if short else path


def _uninstall(row: Row) -> Iterator[Observation]:
    name = _text(row, "displayname")
    if not name or _text(row, "parentkeyname"):
        return
    yield Observation.make(
        Kind.PROGRAM,
        name,
        version=_text(row, "displayversion"),
        publisher=_text(row, "publisher"),
        identifiers={
            Ident.PRODUCT_CODE: _text(row, "pschildname"),
            Ident.PATH: _text(row, "installlocation"),
            Ident.REGISTRY_KEY: registry_path(_text(row, "pspath")) if row.get("pspath") else "",
        },
        source="powershell:uninstall",
    )


def _is_driver_type(value: object) -> bool:
    """Whether a ``ServiceType`` (number, or name as Export-Csv or CIM writes it) is a driver."""
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(value & DRIVER_TYPES)
    text = str(value or "").strip()
    if text.isdigit():
        return bool(int(text) & DRIVER_TYPES)
    return "driver" in text.casefold()


def _service_or_driver(name: str, image: str, driver: bool) -> Observation:
    if driver:
        file_name = image_file_name(image) if image else f"{name}.sys"
        return Observation.make(
            Kind.DRIVER, file_name, identifiers={Ident.PATH: image}, source="powershell:drivers"
        )
    return Observation.make(
        Kind.SERVICE, name, identifiers={Ident.PATH: image}, source="powershell:services"
    )


def _service(row: Row) -> Iterator[Observation]:
    name = _text(row, "name") or _text(row, "servicename")
    if name:
        image = _text(row, "binarypathname")
        yield _service_or_driver(name, image, _is_driver_type(row.get("servicetype")))


def _cim(row: Row) -> Iterator[Observation]:
    name = _text(row, "name")
    if not name:
        return
    image = _text(row, "pathname")
    cim_class = (_text(row, "creationclassname") + " " + str(row.get("cimclass") or "")).casefold()
    if "win32_systemdriver" in cim_class:
        driver = True
    elif "win32_service" in cim_class or row.get("servicetype"):
        driver = _is_driver_type(row.get("servicetype"))
    else:
        driver = image.casefold().endswith(".sys")
    yield _service_or_driver(name, image, driver)


def _appx(row: Row) -> Iterator[Observation]:
    name = _text(row, "name")
    if not name:
        return
    signer = _text(row, "publisher")
    publisher = _dn_field(signer, "O") or _dn_field(signer, "CN")
    family = _text(row, "packagefamilyname")
    full = _text(row, "packagefullname")
    if not family and full.count("_") == 4:
        parts = full.split("_")
        family = f"{parts[0]}_{parts[4]}"
    yield Observation.make(
        Kind.PACKAGE,
        name,
        version=_text(row, "version"),
        publisher="" if _GUID.match(publisher) else publisher,
        identifiers={
            Ident.PACKAGE_ID: family,
            Ident.SIGNER: signer,
            Ident.PATH: _text(row, "installlocation"),
        },
        source="powershell:appx",
    )


def _certificate(row: Row) -> Iterator[Observation]:
    subject = _text(row, "subject")
    if not subject:
        return
    pairs = parse_dn(subject)
    common = _dn_field(subject, "CN") or _dn_field(subject, "OU", "O") or subject
    yield Observation.make(
        Kind.CERTIFICATE,
        common if pairs else subject,
        publisher=_dn_field(subject, "O"),
        identifiers={
            Ident.CERT_SUBJECT: subject,
            Ident.CERT_FINGERPRINT: _text(row, "thumbprint").replace(" ", "").lower(),
        },
        source="powershell:certificates",
    )


_READERS = {
    Cmdlet.UNINSTALL: _uninstall,
    Cmdlet.SERVICE: _service,
    Cmdlet.CIM: _cim,
    Cmdlet.APPX: _appx,
    Cmdlet.CERTIFICATE: _certificate,
}


def row_host(row: Row) -> str:
    """The computer a row came from: ``PSComputerName``, a CIM ``SystemName`` or a remote
    ``MachineName``; "" when the row does not say (output of the local machine)."""
    for column in ("pscomputername", "systemname", "machinename"):
        value = _text(row, column)
        if value.casefold() not in _LOCAL_MACHINE_NAMES:
            return value
    return ""


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one output file held: which cmdlet wrote it and its observations, by host."""

    cmdlet: Cmdlet | None
    """None for an empty file."""
    by_host: Mapping[str, tuple[Observation, ...]]
    """Host named in the rows ("" when unnamed) -> observations."""


def read_file(path: Path) -> FileResult:
    """Read one PowerShell output file; raise :class:`PowerShellFileError` if it is unusable."""
    rows = read_rows(path)
    if not rows:
        return FileResult(None, {})
    columns: set[str] = set()
    for row in rows:
        columns.update(row)
    cmdlet = detect(columns)
    if cmdlet is None:
        shown = ", ".join(sorted(columns)[:12])
        raise PowerShellFileError(
            str(path),
            "not output of Get-ItemProperty (Uninstall keys), Get-Service, Get-CimInstance "
            f"Win32_SystemDriver, Get-AppxPackage or Get-ChildItem Cert:; columns: {shown}",
        )
    reader = _READERS[cmdlet]
    by_host: dict[str, list[Observation]] = {}
    spelling: dict[str, str] = {}
    for row in rows:
        host = row_host(row)
        key = spelling.setdefault(host.casefold(), host)
        by_host.setdefault(key, []).extend(reader(row))
    return FileResult(cmdlet, {k: tuple(v) for k, v in by_host.items()})


class PowerShellSource(OfflineSource):
    """PowerShell JSON and CSV output: each file or folder of files is one host (or one per
    ``PSComputerName`` when the output covers several computers).

    :param paths: ``.json``/``.csv`` files and folders holding them.
    """

    name = "powershell"

    def _files(self, path: Path) -> list[Path]:
        if path.is_dir():
            files = sorted(
                (p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()),
                key=lambda p: p.name.casefold(),
            )
            if not files:
                raise PowerShellFileError(str(path), "folder holds no .json or .csv files")
            return files
        if not path.exists():
            raise PowerShellFileError(str(path), "no such file or folder")
        return [path]

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per host found in each path."""
        self._statuses = []
        for path in self.paths:
            problems = Problems(f"{self.name}:{path}")
            files = self._files(path)
            hosts: dict[str, list[Observation]] = {}
            spelling: dict[str, str] = {}
            for file in files:
                result = read_file(file)
                if result.cmdlet is None:
                    problems.add(f"{file}: no objects in it (empty output of an unknown cmdlet)")
                for host, observations in result.by_host.items():
                    key = spelling.setdefault(host.casefold(), host)
                    hosts.setdefault(key, []).extend(observations)
            yield from self._inventories(path, files, hosts)
            self._statuses.append(problems.status())

    def _inventories(
        self, path: Path, files: Sequence[Path], hosts: dict[str, list[Observation]]
    ) -> Iterator[HostInventory]:
        named = [h for h in hosts if h]
        unnamed = hosts.pop("", [])
        if len(named) == 1:
            hosts[named[0]].extend(unnamed)
        elif unnamed or not named:
            hosts[path.stem or path.name] = unnamed
        collected_at = dt.datetime.fromtimestamp(max(f.stat().st_mtime for f in files), dt.UTC)
        for host, observations in hosts.items():
            yield HostInventory(
                host=HostID(host),
                hostname=host,
                platform=Platform.WINDOWS,
                collected_at=collected_at,
                observations=tuple(observations),
                source=self.name,
            )
