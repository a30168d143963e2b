"""Inventories from mobile-device-management exports: Microsoft Intune and Jamf Pro.

Both sources need per-device rows: an export that only counts devices per app cannot say which
host to clean, and is refused with a message saying which export to take instead.

``intune`` reads, by content (not by file name):

- CSV of the Intune discovered-apps raw data, as *Apps > Monitor > Discovered apps > Export*
  (all apps with their devices) or the Graph export job ``reportName: AppInvRawData`` write it,
  and the per-device ``AppInvByDevice`` report. Columns, matched without regard to case, spaces
  or underscores: ``DeviceId`` and/or ``DeviceName`` (one is required), ``ApplicationName``
  (required; also ``Application name``, ``App name``), ``ApplicationVersion`` (or ``Version``),
  ``ApplicationShortVersion``, ``ApplicationPublisher`` (or ``Publisher``), ``Platform`` (or
  ``Platform_loc``, ``OS``, ``Operating system``) and ``OSDescription``. Others
  (``ApplicationKey``, ``OSVersion``, ``UserId``, ``EmailAddress``, ``UserName``) are ignored.
  The aggregate export (``AppInvAggregate``: ``DeviceCount``, no device columns) is refused.
- Microsoft Graph JSON: ``GET /deviceManagement/detectedApps?$expand=managedDevices`` (each
  ``detectedApp`` with ``displayName``, ``version``, ``publisher``, ``platform`` and its
  ``managedDevices`` with ``id``, ``deviceName``, ``operatingSystem``), or ``managedDevices``
  with ``detectedApps`` expanded; a ``{"value": [...]}`` page, a bare list, or one object.

On Android and iOS, Intune often reports the package or bundle id as the app's name
(``com.kms.free``): such a name also becomes ``package_id`` (Android) or ``bundle_id`` (iOS,
macOS). The platform comes from the platform or OS column: Windows apps are ``program``
observations, macOS, iOS/iPadOS and Android apps are ``app`` observations.

``jamf`` reads:

- CSV (or tab-delimited text) of a Jamf Pro Advanced Computer Search or Advanced Mobile Device
  Search with application fields displayed, one row per device and application. Columns:
  ``Computer Name``, ``Mobile Device Name``, ``Device Name`` or ``Display Name``, and/or
  ``Serial Number`` or ``UDID`` (one is required); ``Application Title``, ``Application Name``,
  ``App Name`` or ``App Title`` (required); ``Application Version`` or ``App Version``;
  ``App Short Version``; ``Application Bundle ID``, ``Bundle ID``, ``Bundle Identifier``,
  ``App Identifier`` or ``Identifier``; ``Application Path``; ``Operating System``, ``OS Type``
  or ``Platform``. A search with a ``Computer Name`` column is of Macs; otherwise of iOS devices.
- Classic API XML: ``/JSSResource/computers/id/N`` (``computer/general/{name,serial_number,udid}``
  and ``software/applications/application/{name,path,version,bundle_id}``) and
  ``/JSSResource/mobiledevices/id/N`` (``mobile_device/general/{name,serial_number,udid,os_type}``
  and ``applications/application/{application_name,application_version,
  application_short_version,identifier}``), alone or gathered under ``<computers>`` or
  ``<mobile_devices>``. XML is parsed with defusedxml and any DTD is refused.

Hosts are keyed by the device id (Intune ``DeviceId``, Jamf serial number or UDID), or the device
name where no id is given. CSV may be UTF-8 (with or without BOM) or UTF-16 with a BOM; a header
row is required; cells are kept as text, so ``=cmd|...`` stays a name, never a formula. A row
that cannot be read is a problem with its line number; a file that cannot be read at all raises
:class:`MdmInputError` naming it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_CSV_BYTES = 2 * 1024**3
"""The largest CSV read; it is streamed, so memory stays flat. Raw data of 8M rows is ~1 GB."""
MAX_DOCUMENT_BYTES = 256 * 1024**2
"""The largest JSON or XML document read; these are parsed whole."""
MAX_LINE_CHARS = 1024 * 1024
"""The longest CSV line read; the cells of one app on one device are a few hundred characters."""
MAX_BAD_ROWS = 10_000
"""Unreadable rows tolerated in one file before it is called unreadable."""
MAX_PROBLEMS = 50
"""Problems kept per file; the rest are counted."""

_REVERSE_DNS = re.compile(r"[a-z][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)+")
_DELIMITERS = (",", "\t", ";")


class MdmInputError(SourceInputError):
    """An MDM export that cannot be read at all: wrong columns, not CSV/JSON/XML, too large."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns one kind of CSV export may carry.

    :param columns: field -> the header names accepted for it, preferred first.
    :param required: groups of fields; each group needs at least one of its fields present.
    """

    columns: Mapping[str, tuple[str, ...]]
    required: tuple[tuple[str, ...], ...]

    def accepted(self) -> str:
        """The required columns and their accepted names, for error messages."""
        return "; ".join(
            " or ".join(name for f in group for name in self.columns[f]) for group in self.required
        )

    def resolve(self, header: Sequence[str]) -> dict[str, int]:
        """Map each known field to its column index in ``header``."""
        index = {_header_key(name): i for i, name in reversed(list(enumerate(header)))}
        found: dict[str, int] = {}
        for name, aliases in self.columns.items():
            for alias in aliases:
                i = index.get(_header_key(alias))
                if i is not None:
                    found[name] = i
                    break
        return found


INTUNE_CSV = Layout(
    columns={
        "device_id": ("DeviceId", "Device ID", "IntuneDeviceId", "Managed device ID"),
        "device_name": ("DeviceName", "Device name", "Managed device name"),
        "app_name": ("ApplicationName", "Application name", "App name"),
        "version": ("ApplicationVersion", "Application version", "App version", "Version"),
        "short_version": ("ApplicationShortVersion", "Application short version"),
        "publisher": ("ApplicationPublisher", "Application publisher", "Publisher"),
        "platform": ("Platform_loc", "Platform", "OS", "Operating system"),
        "os": ("OSDescription", "OS description"),
    },
    required=(("device_id", "device_name"), ("app_name",)),
)
"""Intune discovered-apps raw data (``AppInvRawData``, ``AppInvByDevice``)."""

JAMF_CSV = Layout(
    columns={
        "device_id": ("Serial Number", "UDID"),
        "device_name": ("Computer Name", "Mobile Device Name", "Device Name", "Display Name"),
        "app_name": ("Application Title", "Application Name", "App Name", "App Title"),
        "version": ("Application Version", "App Version"),
        "short_version": ("App Short Version", "Application Short Version"),
        "bundle_id": (
            "Application Bundle ID",
            "Bundle ID",
            "Bundle Identifier",
            "App Identifier",
            "Identifier",
        ),
        "path": ("Application Path",),
        "platform": ("Operating System", "OS Type", "Platform"),
    },
    required=(("device_id", "device_name"), ("app_name",)),
)
"""Jamf Pro advanced computer or mobile device search, with application fields."""


def _header_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def platform_of(text: str | None) -> Platform:
    """The platform an MDM names: ``Windows``, ``macOS``, ``iOS/iPadOS``, ``androidWorkProfile``."""
    value = (text or "").strip().casefold()
    if value.startswith("windows"):
        return Platform.WINDOWS
    if value.startswith(("macos", "mac os", "os x", "osx")):
        return Platform.MACOS
    if value.startswith(("ios", "ipados", "iphone", "ipad")):
        return Platform.IOS
    if value.startswith("android"):
        return Platform.ANDROID
    return Platform.UNKNOWN


def app_observation(
    name: str,
    *,
    platform: Platform,
    source: str,
    version: str = "",
    publisher: str = "",
    app_id: str = "",
    path: str = "",
) -> Observation:
    """One app an MDM reported on a device of ``platform``.

    Windows apps are ``program`` observations, the rest ``app``. Where no ``app_id`` is given
    but a mobile or Mac app's name is a reverse-DNS id (``com.kms.free``), the name is the id.
    """
    kind = Kind.PROGRAM if platform is Platform.WINDOWS else Kind.APP
    apple_or_android = platform in (Platform.ANDROID, Platform.IOS, Platform.MACOS)
    if not app_id and apple_or_android and _REVERSE_DNS.fullmatch(name):
        app_id = name
    key = Ident.PACKAGE_ID if platform is Platform.ANDROID else Ident.BUNDLE_ID
    return Observation.make(
        kind,
        name,
        version=version,
        publisher=publisher,
        identifiers={key: app_id, Ident.PATH: path},
        source=source,
    )


@dataclass
class _Device:
    host: str
    hostname: str
    platform: Platform = Platform.UNKNOWN
    observations: dict[Observation, None] = field(default_factory=dict)


@dataclass
class _Fleet:
    """The devices of one export, gathered as rows come in any order."""

    devices: dict[str, _Device] = field(default_factory=dict)

    def device(self, device_id: str, name: str, platform: Platform) -> _Device:
        """The device with this id (or name), created on first sight."""
        key = device_id or name
        device = self.devices.get(key)
        if device is None:
            device = self.devices[key] = _Device(key, name or device_id)
        if device.platform is Platform.UNKNOWN:
            device.platform = platform
        return device

    def inventories(self, collected_at: dt.datetime, source: str) -> list[HostInventory]:
        """One inventory per device."""
        return [
            HostInventory(
                host=HostID(d.host),
                hostname=d.hostname,
                platform=d.platform,
                collected_at=collected_at,
                observations=tuple(d.observations),
                source=source,
            )
            for d in self.devices.values()
        ]


# -- reading files -----------------------------------------------------------------------------


def _size(path: Path, limit: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise MdmInputError(str(path), f"cannot read ({e.strerror or e})") from e
    if size > limit:
        raise MdmInputError(str(path), f"{size} bytes, over the {limit}-byte limit")
    return size


def _read_document(path: Path) -> bytes:
    _size(path, MAX_DOCUMENT_BYTES)
    try:
        return path.read_bytes()
    except OSError as e:
        raise MdmInputError(str(path), f"cannot read ({e.strerror or e})") from e


def _encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16, told by the BOM or by NULs between ASCII."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0:
        return "utf-16-be"
    return "utf-8"


def _sniff(path: Path) -> tuple[str, str]:
    """``(format, encoding)``: format is ``csv``, ``json`` or ``xml``, told by the content."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise MdmInputError(str(path), f"cannot read ({e.strerror or e})") from e
    encoding = _encoding(head)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    if text[:1] in ("{", "["):
        return "json", encoding
    if text[:1] == "<":
        return "xml", encoding
    return "csv", encoding


def _undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> MdmInputError:
    """The error for a file that is not text in ``encoding``, naming the line of the bad byte.

    The text layer decodes ahead in chunks, so the line the reader was on says little; the raw
    bytes are decoded again to find the line.
    """
    line = 1
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            try:
                line += decoder.decode(chunk).count("\n")
            except UnicodeDecodeError as e:
                good = bytes(e.object[: e.start]).decode(encoding, errors="replace")
                line += good.count("\n")
                break
    message = f"not UTF-8 or UTF-16 text ({error.reason}); save the export as UTF-8"
    return MdmInputError(str(path), message, line=line)


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(
    path: Path, layout: Layout, notes: Problems
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Check the header of a CSV export; return it and a stream of ``(line, {field: cell})``.

    Raises :class:`MdmInputError` for a file without a header row, without the columns
    ``layout`` requires, too large, or not UTF-8/UTF-16 text. A row with the wrong number of
    cells is a problem naming its line, and is skipped.
    """
    _size(path, MAX_CSV_BYTES)
    _, encoding = _sniff(path)
    f = path.open(encoding=encoding, newline="")
    try:
        try:
            first = f.readline(1024 * 1024)
        except UnicodeDecodeError as e:
            raise _undecodable(path, encoding, e) from e
        f.seek(0)
        reader = csv.reader(_bounded_lines(f, path), delimiter=_delimiter(first))
        try:
            header = _next_row(reader, path, encoding, skip_blank=True)
        except csv.Error as e:
            raise MdmInputError(str(path), f"unreadable header row ({e})", line=1) from e
        if header is None:
            raise MdmInputError(str(path), "empty file: a header row is required", line=1)
        header = [h.strip().lstrip("\ufeff") for h in header]
        columns = layout.resolve(header)
        _check_columns(path, header, columns, layout)
    except BaseException:
        f.close()
        raise
    return header, _rows(f, reader, path, encoding, header, columns, notes)


def _bounded_lines(f: IO[str], path: Path) -> Iterator[str]:
    """The lines of ``f``, none read further than :data:`MAX_LINE_CHARS` (a file without line
    breaks must not be read into memory whole)."""
    number = 0
    while line := f.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise MdmInputError(
                str(path), f"a line longer than {MAX_LINE_CHARS} characters", line=number
            )
        yield line


def _check_columns(path: Path, header: list[str], columns: dict[str, int], layout: Layout) -> None:
    missing = [group for group in layout.required if not any(f in columns for f in group)]
    if not missing:
        return
    keys = {_header_key(h) for h in header}
    if "devicecount" in keys and any("device_id" in g for g in missing):
        raise MdmInputError(
            str(path),
            "an aggregate export (DeviceCount per app, no device columns) cannot say which "
            "hosts have an app; export the per-device raw data instead (Intune: Discovered "
            "apps > Export > 'all apps and their devices', or the AppInvRawData report)",
            line=1,
        )
    wanted = " or ".join(name for g in missing for f in g for name in layout.columns[f])
    raise MdmInputError(
        str(path),
        f"the header has no column {wanted}; accepted columns: {layout.accepted()}",
        line=1,
    )


def _next_row(
    reader: Any, path: Path, encoding: str, *, skip_blank: bool = False
) -> list[str] | None:
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return None
        except UnicodeDecodeError as e:
            raise _undecodable(path, encoding, e) from e
        if row or not skip_blank:
            return row


def _rows(
    f: IO[str],
    reader: Any,
    path: Path,
    encoding: str,
    header: list[str],
    columns: dict[str, int],
    notes: Problems,
) -> Iterator[tuple[int, dict[str, str]]]:
    bad = 0

    def skip(problem: str) -> None:
        nonlocal bad
        notes.add(f"line {reader.line_num}: {problem}; skipped")
        bad += 1
        if bad > MAX_BAD_ROWS:
            raise MdmInputError(
                str(path), f"over {MAX_BAD_ROWS} unreadable rows", line=reader.line_num
            )

    with f:
        while True:
            try:
                row = _next_row(reader, path, encoding)
            except csv.Error as e:
                skip(str(e))
                continue
            if row is None:
                return
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) > len(header) and not any(c.strip() for c in row[len(header) :]):
                row = row[: len(header)]  # trailing empty cells, as spreadsheets leave them
            if len(row) != len(header):
                skip(f"{len(row)} cells where the header has {len(header)}")
                continue
            yield reader.line_num, {name: row[i].strip() for name, i in columns.items()}


def _load_json(path: Path) -> Any:
    data = _read_document(path)
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise MdmInputError(
            str(path), f"not valid JSON ({e.msg})", line=e.lineno, where=f"column {e.colno}"
        ) from e
    except (ValueError, RecursionError) as e:
        raise MdmInputError(str(path), f"not readable JSON ({type(e).__name__})") from e


def _load_xml(path: Path) -> Element:
    # only when an XML file is read
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    data = _read_document(path)
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as e:
        raise MdmInputError(
            str(path),
            f"XML with a DTD or entities ({type(e).__name__}); Jamf Pro never writes them, "
            "and they can hide entity expansion or external entities; refused",
            where="DOCTYPE",
        ) from e
    except ParseError as e:
        line, column = e.position
        raise MdmInputError(
            str(path), f"not well-formed XML ({e})", line=line, where=f"column {column}"
        ) from e
    except (LookupError, ValueError) as e:
        # The XML declaration names an encoding expat cannot use (unknown, or UTF-7 and other
        # multi-byte ones): LookupError or ValueError, not ParseError.
        raise MdmInputError(str(path), f"not readable XML ({e})", line=1) from e
    return root


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _collected_at(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


class _MdmSource(OfflineSource):
    """Files of one MDM, each read on its own; one inventory per device per file."""

    def collect(self) -> Iterator[HostInventory]:
        """Yield every device of every file; raise :class:`MdmInputError` for an unreadable one."""
        self._statuses = []
        for path in self.paths:
            if not path.is_file():
                what = "a folder, not an export file" if path.is_dir() else "no such file"
                raise MdmInputError(str(path), what)
            notes = Problems(f"{self.name}:{path}", limit=MAX_PROBLEMS)
            fleet = self._read(path, notes)
            self._statuses.append(notes.status())
            yield from fleet.inventories(_collected_at(path), self.name)

    def _read(self, path: Path, notes: Problems) -> _Fleet:  # pragma: no cover - abstract
        raise NotImplementedError


# -- Intune ------------------------------------------------------------------------------------


class IntuneSource(_MdmSource):
    """Microsoft Intune discovered apps per device: admin-center CSV exports or Graph JSON.

    :param paths: ``AppInvRawData`` / ``AppInvByDevice`` CSV exports, or Graph ``detectedApps``
        JSON with ``managedDevices`` expanded (or the reverse).
    """

    name = "intune"

    def _read(self, path: Path, notes: Problems) -> _Fleet:
        kind, _ = _sniff(path)
        if kind == "json":
            return self._read_graph(path, notes)
        if kind == "xml":
            raise MdmInputError(str(path), "XML is not an Intune export; expected CSV or JSON")
        return self._read_csv(path, notes)

    def _read_csv(self, path: Path, notes: Problems) -> _Fleet:
        fleet = _Fleet()
        _, rows = _read_csv(path, INTUNE_CSV, notes)
        for line, row in rows:
            name = row.get("app_name", "")
            device_id, device_name = row.get("device_id", ""), row.get("device_name", "")
            if not name or not (device_id or device_name):
                notes.add(f"line {line}: no application name or no device; skipped")
                continue
            platform = platform_of(row.get("platform"))
            if platform is Platform.UNKNOWN:
                platform = platform_of(row.get("os"))
            device = fleet.device(device_id, device_name, platform)
            observation = app_observation(
                name,
                platform=device.platform,
                source="intune:discovered_apps",
                version=row.get("version") or row.get("short_version", ""),
                publisher=row.get("publisher", ""),
            )
            device.observations[observation] = None
        return fleet

    def _read_graph(self, path: Path, notes: Problems) -> _Fleet:
        doc = _load_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("value"), list):
            items: list[Any] = doc["value"]
        elif isinstance(doc, list):
            items = doc
        elif isinstance(doc, dict):
            items = [doc]
        else:
            raise MdmInputError(str(path), "JSON is neither an object nor a list")
        fleet = _Fleet()
        with_devices = 0
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                notes.add(f"value[{i}]: not an object; skipped")
            elif isinstance(item.get("managedDevices"), list):
                with_devices += 1
                for j, device in enumerate(item["managedDevices"]):
                    self._graph_pair(fleet, device, item, f"value[{i}].managedDevices[{j}]", notes)
            elif isinstance(item.get("detectedApps"), list):
                with_devices += 1
                for j, app in enumerate(item["detectedApps"]):
                    self._graph_pair(fleet, item, app, f"value[{i}].detectedApps[{j}]", notes)
            else:
                notes.add(f"value[{i}]: neither managedDevices nor detectedApps; skipped")
        if items and not with_devices:
            raise MdmInputError(
                str(path),
                "detected apps without their devices cannot say which hosts have an app; "
                "request /deviceManagement/detectedApps?$expand=managedDevices",
            )
        return fleet

    def _graph_pair(
        self, fleet: _Fleet, device: object, app: object, where: str, notes: Problems
    ) -> None:
        if not isinstance(device, dict) or not isinstance(app, dict):
            notes.add(f"{where}: not an object; skipped")
            return
        device_id, device_name = _text(device.get("id")), _text(device.get("deviceName"))
        name = _text(app.get("displayName"))
        if not name or not (device_id or device_name):
            notes.add(f"{where}: no displayName, or a device without id and deviceName; skipped")
            return
        platform = platform_of(_text(device.get("operatingSystem")))
        if platform is Platform.UNKNOWN:
            platform = platform_of(_text(app.get("platform")))
        target = fleet.device(device_id, device_name, platform)
        observation = app_observation(
            name,
            platform=target.platform,
            source="intune:graph",
            version=_text(app.get("version")),
            publisher=_text(app.get("publisher")),
        )
        target.observations[observation] = None


# -- Jamf --------------------------------------------------------------------------------------


def _find(element: Element, path: str) -> str:
    return (element.findtext(path) or "").strip()


class JamfSource(_MdmSource):
    """Jamf Pro inventory: advanced search CSV exports or Classic API computer/device XML.

    :param paths: CSV (or tab-delimited) exports of an Advanced Computer Search or Advanced
        Mobile Device Search with application fields, or ``/JSSResource/computers/id/N`` and
        ``/JSSResource/mobiledevices/id/N`` XML.
    """

    name = "jamf"

    def _read(self, path: Path, notes: Problems) -> _Fleet:
        kind, _ = _sniff(path)
        if kind == "xml":
            return self._read_xml(path, notes)
        if kind == "json":
            raise MdmInputError(
                str(path), "JSON is not read from Jamf Pro; export CSV or Classic API XML"
            )
        return self._read_csv(path, notes)

    def _read_csv(self, path: Path, notes: Problems) -> _Fleet:
        fleet = _Fleet()
        header, rows = _read_csv(path, JAMF_CSV, notes)
        computers = any("computer" in _header_key(h) for h in header)
        default = Platform.MACOS if computers else Platform.IOS
        for line, row in rows:
            name = row.get("app_name", "")
            device_id, device_name = row.get("device_id", ""), row.get("device_name", "")
            if not name or not (device_id or device_name):
                notes.add(f"line {line}: no application or no device; skipped")
                continue
            platform = platform_of(row.get("platform"))
            device = fleet.device(
                device_id, device_name, default if platform is Platform.UNKNOWN else platform
            )
            if device.platform is Platform.MACOS:
                name = re.sub(r"\.app$", "", name, flags=re.IGNORECASE)
            observation = app_observation(
                name,
                platform=device.platform,
                source="jamf:search",
                version=row.get("short_version") or row.get("version", ""),
                app_id=row.get("bundle_id", ""),
                path=row.get("path", ""),
            )
            device.observations[observation] = None
        return fleet

    def _read_xml(self, path: Path, notes: Problems) -> _Fleet:
        root = _load_xml(path)
        if root.tag in ("computer", "mobile_device"):
            records = [root]
        elif root.tag in ("computers", "mobile_devices"):
            records = [r for r in root if r.tag in ("computer", "mobile_device")]
        else:
            raise MdmInputError(
                str(path),
                f"root element <{root.tag}> is not a Jamf Pro computer or mobile device record "
                "(/JSSResource/computers/id/N or /JSSResource/mobiledevices/id/N)",
                where="root element",
            )
        fleet = _Fleet()
        for index, record in enumerate(records):
            if record.tag == "computer":
                self._computer(fleet, record, index, notes)
            else:
                self._mobile_device(fleet, record, index, notes)
        return fleet

    def _computer(self, fleet: _Fleet, record: Element, index: int, notes: Problems) -> None:
        device_id = _find(record, "general/serial_number") or _find(record, "general/udid")
        name = _find(record, "general/name")
        if not (device_id or name):
            notes.add(f"computer {index}: no general/name, serial_number or udid; skipped")
            return
        device = fleet.device(device_id, name, Platform.MACOS)
        for app in record.iterfind("software/applications/application"):
            title = re.sub(r"\.app$", "", _find(app, "name"), flags=re.IGNORECASE)
            if not title:
                notes.add(f"computer {name or device_id}: an application without a name; skipped")
                continue
            observation = app_observation(
                title,
                platform=Platform.MACOS,
                source="jamf:computer",
                version=_find(app, "version"),
                app_id=_find(app, "bundle_id"),
                path=_find(app, "path"),
            )
            device.observations[observation] = None

    def _mobile_device(self, fleet: _Fleet, record: Element, index: int, notes: Problems) -> None:
        device_id = _find(record, "general/serial_number") or _find(record, "general/udid")
        name = (
            _find(record, "general/name")
            or _find(record, "general/display_name")
            or _find(record, "general/device_name")
        )
        if not (device_id or name):
            notes.add(f"mobile device {index}: no general/name, serial_number or udid; skipped")
            return
        platform = platform_of(_find(record, "general/os_type"))
        device = fleet.device(
            device_id, name, Platform.IOS if platform is Platform.UNKNOWN else platform
        )
        for app in record.iterfind("applications/application"):
            title = _find(app, "application_name")
            if not title:
                notes.add(f"mobile device {name or device_id}: an app without a name; skipped")
                continue
            observation = app_observation(
                title,
                platform=device.platform,
                source="jamf:mobile_device",
                version=_find(app, "application_short_version")
                or _find(app, "application_version"),
                app_id=_find(app, "identifier"),
            )
            device.observations[observation] = None
