"""osquery as an inventory source: osqueryd results logs and ``osqueryi --json`` outputs.

Two inputs are read (``evict scan --from osquery PATH...``):

**An osqueryd results log** (``osqueryd.results.log`` or ``osqueryd.snapshots.log``, or the same
lines forwarded by a log shipper): JSON lines, one event each, many hosts in one file keyed by
``hostIdentifier``. All three result formats of osquery's "Logging osquery results" are read:

* snapshot: ``{"name": ..., "hostIdentifier": ..., "action": "snapshot", "snapshot": [rows]}``;
  the rows replace what was known of that query on that host;
* event (differential): ``{"action": "added" | "removed", "columns": {row}}``, one row a line;
* batched differential: ``{"diffResults": {"added": [rows], "removed": [rows]}}``.

Differential lines are applied in order to rebuild each host's current rows per query. A change
of ``epoch``, or a ``counter`` that goes back, marks a fresh first run, so the rows known before
are dropped, as osquery itself does. Several logs given together (rotated files, oldest first) are
read as one stream; a log that turns out to be unreadable leaves the others' state untouched.
``decorations`` may carry ``hostname`` and ``platform``; a query of ``os_version`` or
``system_info`` is read for the same facts.

**A directory of ``osqueryi --json`` outputs**, one file per table named ``<table>.json`` (for
example ``osqueryi --json "select * from programs" > host-17/programs.json``), each a JSON array
of rows: one host, whose identifier is the directory's name.

Which table a query read is decided by its columns where they are distinctive (``programs`` has
``identifying_number``, ``deb_packages`` has ``maintainer`` and ``revision``, ``apps`` has
``bundle_identifier``, ...) and otherwise by its name. A query name is accepted when it contains a
table name as a whole word sequence, after any pack prefix: ``programs``, ``pack_evict_programs``,
``pack/evict/deb_packages``, ``windows_programs_snapshot`` and ``evict-chrome-extensions`` are all
read; the longest (then the last) table name in the query name wins. The tables read, and what
each becomes:

============================ ====================== ======================================
table                        observation kind       identifiers
============================ ====================== ======================================
programs                     program                product_code, path
deb_packages, rpm_packages,  package                purl
pacman_packages
apps (macOS)                 app                    bundle_id, path
package_receipts (macOS)     package                bundle_id (the receipt id), path
services, systemd_units,     service                path (launchd: bundle_id = label)
launchd
processes                    process                path
drivers (Windows)            driver (image file)    path
kernel_extensions,           driver                 bundle_id, path (team_id)
system_extensions
kernel_modules               kernel_module
certificates                 certificate            cert_subject, cert_fingerprint
chrome_extensions (every     browser_extension      extension_id, path (safari: team_id)
Chromium browser),
firefox_addons,
safari_extensions
ie_extensions                browser_extension      extension_id (CLSID), registry_key, path
browser_plugins (macOS)      browser_extension      bundle_id, path
python_packages,             package                purl (pypi, npm), path
npm_packages,
homebrew_packages,
chocolatey_packages
snap_packages,               package                package_id (snap name, flatpak app id)
flatpak_packages
windows_security_products    program
registry (Windows)           as the ``reg`` source  Uninstall keys, Services (drivers by
                             reads the same keys    Type), vendor keys; sources
                                                    ``osquery:registry:<what>``
============================ ====================== ======================================

osquery's ``services`` table lists Win32 services only and ``drivers`` only the PnP device
drivers in use, so kernel and file-system drivers that drive no device (minifilters such as
``klif``) are seen only through the ``registry`` table: its rows (``key``, ``name``, ``type``,
``data``) are gathered into one registry per host and read as a ``.reg`` export is.

Any other query (``uptime``, ``users``, ...) is skipped and reported as a problem on the file's
status. A line that is not JSON, or an event of the wrong shape, raises :class:`SourceInputError`
naming the file and line; lines are read one at a time and none may exceed 64 MiB, so memory holds
only the current rows of each host.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, cast

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.inventory.windows._keys import RegistryView, canonical_root, registry_observations
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform

GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of a gzip stream."""
MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest results-log line read; osquery writes one event a line, far below this."""
MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest ``osqueryi --json`` file read (it is parsed whole)."""
MAX_PROBLEMS = 50
"""Skipped queries and hosts listed one by one per file; the rest are counted in one problem."""

Row = Mapping[str, str]
_RowKey = tuple[tuple[str, str], ...]
_Convert = Callable[[Row, str], Observation | None]
"""A row and the host's distribution (``ubuntu``, ``rhel``, or ``""``) -> an observation."""


class OsqueryInputError(SourceInputError):
    """An osquery results log or ``osqueryi --json`` output that cannot be read."""


# --- rows to observations ---------------------------------------------------------------------


def _get(row: Row, *columns: str) -> str:
    """The first non-empty value among ``columns``."""
    for column in columns:
        value = row.get(column)
        if value:
            return value.strip()
    return ""


def _basename(path: str) -> str:
    """The last component of a Windows or POSIX path."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] if path else ""


def _image_path(command: str) -> str:
    """The executable of a Windows service command line (``"C:\\a b\\x.exe" -r`` -> the exe)."""
    command = command.strip()
    if command.startswith('"'):
        end = command.find('"', 1)
        return command[1:end] if end > 0 else command[1:]
    match = re.match(r"(.+?\.(?:exe|sys|dll))(?:\s|$)", command, re.IGNORECASE)
    return match.group(1) if match else command


def _purl(
    type_: str,
    name: str,
    version: str,
    namespace: str = "",
    qualifiers: Mapping[str, str] | None = None,
) -> str:
    """A package URL in canonical form, or ``""`` when there is no name."""
    if not name:
        return ""
    from packageurl import PackageURL

    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    try:
        return str(
            PackageURL(
                type=type_,
                namespace=namespace or None,
                name=name,
                version=version or None,
                qualifiers=quals or None,
            ).to_string()
        )
    except ValueError:
        return ""


_DEB_DISTROS = frozenset({"debian", "ubuntu", "raspbian", "linuxmint", "pop", "kali"})
_RPM_VENDORS = {
    "rhel": "redhat",
    "centos": "centos",
    "fedora": "fedora",
    "rocky": "rocky",
    "almalinux": "almalinux",
    "amzn": "amazon",
    "ol": "oracle",
    "opensuse": "opensuse",
    "opensuse-leap": "opensuse",
    "opensuse-tumbleweed": "opensuse",
    "suse": "suse",
    "sles": "suse",
}


def _program(row: Row, distro: str) -> Observation | None:
    return Observation.make(
        Kind.PROGRAM,
        _get(row, "name"),
        version=_get(row, "version"),
        publisher=_get(row, "publisher"),
        identifiers={
            Ident.PRODUCT_CODE: _get(row, "identifying_number"),
            Ident.PATH: _get(row, "install_location"),
        },
        source="osquery:programs",
    )


def _deb(row: Row, distro: str) -> Observation | None:
    status = _get(row, "status")
    if status and status.split()[-1] in ("config-files", "not-installed"):
        return None  # removed, only its configuration files are left
    name, version = _get(row, "name"), _get(row, "version")
    namespace = distro if distro in _DEB_DISTROS else "debian"
    return Observation.make(
        Kind.PACKAGE,
        name,
        version=version,
        publisher=_get(row, "maintainer"),
        identifiers={
            Ident.PURL: _purl("deb", name, version, namespace, {"arch": _get(row, "arch")})
        },
        source="osquery:deb_packages",
    )


def _rpm(row: Row, distro: str) -> Observation | None:
    name, version, release = _get(row, "name"), _get(row, "version"), _get(row, "release")
    full = f"{version}-{release}" if version and release else version
    epoch = _get(row, "epoch")
    qualifiers = {"arch": _get(row, "arch"), "epoch": "" if epoch in ("", "0") else epoch}
    return Observation.make(
        Kind.PACKAGE,
        name,
        version=full,
        publisher=_get(row, "vendor"),
        identifiers={
            Ident.PURL: _purl("rpm", name, full, _RPM_VENDORS.get(distro, ""), qualifiers)
        },
        source="osquery:rpm_packages",
    )


def _app(row: Row, distro: str) -> Observation | None:
    name = _get(row, "name", "display_name", "bundle_name")
    if name.lower().endswith(".app"):
        name = name[:-4]
    return Observation.make(
        Kind.APP,
        name,
        version=_get(row, "bundle_short_version", "bundle_version"),
        identifiers={
            Ident.BUNDLE_ID: _get(row, "bundle_identifier"),
            Ident.PATH: _get(row, "path"),
        },
        source="osquery:apps",
    )


def _service(row: Row, distro: str) -> Observation | None:
    return Observation.make(
        Kind.SERVICE,
        _get(row, "name"),
        identifiers={Ident.PATH: _image_path(_get(row, "path", "module_path"))},
        source="osquery:services",
    )


def _systemd_unit(row: Row, distro: str) -> Observation | None:
    unit = _get(row, "id")
    # Named like this host's own collector names units: without the .service suffix.
    return Observation.make(
        Kind.SERVICE,
        unit.removesuffix(".service") or unit,
        identifiers={Ident.PATH: _get(row, "fragment_path", "source_path")},
        source="osquery:systemd_units",
    )


def _launchd(row: Row, distro: str) -> Observation | None:
    label = _get(row, "label")
    program = _get(row, "program") or _get(row, "program_arguments").split(" ")[0]
    return Observation.make(
        Kind.SERVICE,
        label or _get(row, "name"),
        identifiers={Ident.BUNDLE_ID: label, Ident.PATH: program or _get(row, "path")},
        source="osquery:launchd",
    )


def _process(row: Row, distro: str) -> Observation | None:
    # The command line is deliberately not kept: a script *about* a product (an uninstaller
    # named after it) is not the product, and argv may hold secrets.
    path = _get(row, "path")
    return Observation.make(
        Kind.PROCESS,
        _get(row, "name") or _basename(path),
        identifiers={Ident.PATH: path},
        source="osquery:processes",
    )


def _driver(row: Row, distro: str) -> Observation | None:
    # Current osquery: device_name, image, provider, service; before 3.x: name, path.
    image = _get(row, "image", "path")
    return Observation.make(
        Kind.DRIVER,
        _basename(image) or _get(row, "service", "name", "device_name"),
        version=_get(row, "version"),
        publisher=_get(row, "provider", "manufacturer"),
        identifiers={Ident.PATH: image},
        source="osquery:drivers",
    )


def _kernel_module(row: Row, distro: str) -> Observation | None:
    return Observation.make(Kind.KERNEL_MODULE, _get(row, "name"), source="osquery:kernel_modules")


def _kext(row: Row, distro: str) -> Observation | None:
    label = _get(row, "name")
    return Observation.make(
        Kind.DRIVER,
        label,
        version=_get(row, "version"),
        identifiers={Ident.BUNDLE_ID: label, Ident.PATH: _get(row, "path")},
        source="osquery:kernel_extensions",
    )


def _system_extension(row: Row, distro: str) -> Observation | None:
    identifier = _get(row, "identifier")
    return Observation.make(
        Kind.DRIVER,
        identifier,
        version=_get(row, "version"),
        identifiers={
            Ident.BUNDLE_ID: identifier,
            Ident.TEAM_ID: _get(row, "team"),
            Ident.PATH: _get(row, "bundle_path", "path"),
        },
        source="osquery:system_extensions",
    )


def _package_receipt(row: Row, distro: str) -> Observation | None:
    # A receipt id is a reverse-DNS name like a bundle id (com.kaspersky.kav.core), kept as
    # bundle_id as the macOS tree reader keeps it; path is the receipt plist.
    package = _get(row, "package_id")
    return Observation.make(
        Kind.PACKAGE,
        package,
        version=_get(row, "version"),
        identifiers={Ident.BUNDLE_ID: package, Ident.PATH: _get(row, "path")},
        source="osquery:package_receipts",
    )


def _ie_extension(row: Row, distro: str) -> Observation | None:
    # registry_path ends in the extension's CLSID, which is its identifier.
    registry_path = _get(row, "registry_path")
    clsid = re.findall(r"\{[0-9A-Fa-f-]{36}\}", registry_path)
    path = _get(row, "path")
    return Observation.make(
        Kind.BROWSER_EXTENSION,
        _get(row, "name") or _basename(path),
        version=_get(row, "version"),
        publisher=_get(row, "publisher"),
        identifiers={
            Ident.EXTENSION_ID: clsid[-1].upper() if clsid else "",
            Ident.REGISTRY_KEY: registry_path,
            Ident.PATH: path,
        },
        source="osquery:ie_extensions",
    )


def _browser_plugin(row: Row, distro: str) -> Observation | None:
    identifier = _get(row, "identifier")
    return Observation.make(
        Kind.BROWSER_EXTENSION,
        _get(row, "name") or identifier,
        version=_get(row, "version"),
        identifiers={Ident.BUNDLE_ID: identifier, Ident.PATH: _get(row, "path")},
        source="osquery:browser_plugins",
    )


def _snap(row: Row, distro: str) -> Observation | None:
    name = _get(row, "name")
    return Observation.make(
        Kind.PACKAGE,
        name,
        version=_get(row, "version"),
        identifiers={Ident.PACKAGE_ID: name, Ident.PATH: f"/snap/{name}" if name else ""},
        source="osquery:snap_packages",
    )


def _flatpak(row: Row, distro: str) -> Observation | None:
    # Named by the application id, as this host's flatpak collector names it.
    app_id = _get(row, "app_id")
    return Observation.make(
        Kind.PACKAGE,
        app_id or _get(row, "name"),
        version=_get(row, "version"),
        publisher=_get(row, "developer_name"),
        identifiers={Ident.PACKAGE_ID: app_id},
        source="osquery:flatpak_packages",
    )


def _pacman(row: Row, distro: str) -> Observation | None:
    name, version = _get(row, "name"), _get(row, "version")
    return Observation.make(
        Kind.PACKAGE,
        name,
        version=version,
        publisher=_get(row, "packager"),
        identifiers={Ident.PURL: _purl("alpm", name, version, "arch", {"arch": _get(row, "arch")})},
        source="osquery:pacman_packages",
    )


def _certificate(row: Row, distro: str) -> Observation | None:
    common_name = _get(row, "common_name")
    attributes = parse_subject(_get(row, "subject2", "subject"), common_name)
    if attributes is None:
        attributes = parse_subject(_get(row, "subject"), common_name)
    organisation = ""
    subject = ""
    if attributes:
        subject = rfc4514(attributes)
        organisation = next((v for k, v in attributes if k == "O"), "")
        common_name = common_name or next((v for k, v in reversed(attributes) if k == "CN"), "")
    fingerprint = re.sub(r"[^0-9a-f]", "", _get(row, "sha1").lower())
    return Observation.make(
        Kind.CERTIFICATE,
        common_name,
        publisher=organisation,
        identifiers={Ident.CERT_SUBJECT: subject, Ident.CERT_FINGERPRINT: fingerprint},
        source="osquery:certificates",
    )


def _extension(table: str, publisher_column: str) -> _Convert:
    def convert(row: Row, distro: str) -> Observation | None:
        # chrome_extensions covers every Chromium browser osquery knows (browser_type: chrome,
        # chromium, edge, brave, opera, yandex, ...); an id is the same whichever browser holds
        # it. safari_extensions gives the Apple team id as developer_id.
        return Observation.make(
            Kind.BROWSER_EXTENSION,
            _get(row, "name"),
            version=_get(row, "version"),
            publisher=_get(row, publisher_column),
            identifiers={
                Ident.EXTENSION_ID: _get(row, "identifier", "referenced_identifier"),
                Ident.TEAM_ID: _get(row, "developer_id"),
                Ident.PATH: _get(row, "path"),
            },
            source=f"osquery:{table}",
        )

    return convert


def _language_package(table: str, purl_type: str) -> _Convert:
    def convert(row: Row, distro: str) -> Observation | None:
        name, version = _get(row, "name"), _get(row, "version")
        purl = _purl(purl_type, name, version) if purl_type else ""
        return Observation.make(
            Kind.PACKAGE,
            name,
            version=version,
            publisher=_get(row, "author"),
            identifiers={Ident.PURL: purl, Ident.PATH: _get(row, "path")},
            source=f"osquery:{table}",
        )

    return convert


def _security_product(row: Row, distro: str) -> Observation | None:
    return Observation.make(
        Kind.PROGRAM, _get(row, "name"), source="osquery:windows_security_products"
    )


# --- certificate subjects ---------------------------------------------------------------------

_TYPE = r"[A-Za-z][A-Za-z0-9.\-]*"
_SLASH_SPLIT = re.compile(rf"/(?={_TYPE}=)")
_COMMA_SPLIT = re.compile(rf"\s*(?<!\\)[,;]\s*(?={_TYPE}=)")
_TYPE_NAMES = {"S": "ST", "E": "emailAddress", "EMAIL": "emailAddress"}
_RFC4514_SPECIAL = re.compile(r'([\\,+"<>;=])')


def parse_subject(subject: str, common_name: str = "") -> list[tuple[str, str]] | None:
    """Parse a distinguished name as osquery prints it into (type, value) pairs, in DER order.

    osquery on Linux and macOS prints OpenSSL's one-line form (``/C=RU/O=AO Kaspersky Lab/CN=X``);
    ``subject2`` and other tools print ``CN=X, O=..., C=RU`` (most specific first). osquery on
    Windows prints values only (``RU, AO Kaspersky Lab, X``, ``CERT_SIMPLE_NAME_STR``); there the
    types are inferred only for the unambiguous shapes ``C, O, CN``, ``C, CN`` and ``CN``, with
    ``common_name`` confirming the last value. Returns None when the types cannot be known.
    """
    s = subject.strip()
    if not s:
        return None
    pairs: list[tuple[str, str]] = []
    if s.startswith("/") and re.match(rf"/{_TYPE}=", s):
        for part in _SLASH_SPLIT.split(s[1:]):
            key, _, value = part.partition("=")
            pairs.append((key, value.strip()))
    elif re.match(rf"{_TYPE}=", s):
        for part in _COMMA_SPLIT.split(s):
            key, _, value = part.partition("=")
            pairs.append((key, re.sub(r"\\(.)", r"\1", value.strip().strip('"'))))
        pairs.reverse()
    else:
        values = [v.strip() for v in s.split(", ")]
        country = len(values[0]) == 2 and values[0].isalpha() and values[0].isupper()
        if not common_name or values[-1] != common_name:
            return None
        if len(values) == 3 and country:
            pairs = [("C", values[0]), ("O", values[1]), ("CN", values[2])]
        elif len(values) == 2 and country:
            pairs = [("C", values[0]), ("CN", values[1])]
        elif len(values) == 1:
            pairs = [("CN", values[0])]
        else:
            return None
    out = []
    for key, value in pairs:
        name = key.strip()
        name = _TYPE_NAMES.get(name.upper(), name.upper() if len(name) <= 6 else name)
        out.append((name, value))
    return out


def rfc4514(attributes: Sequence[tuple[str, str]]) -> str:
    """Render DER-ordered (type, value) pairs as an RFC 4514 string (most specific first)."""
    parts = []
    for key, value in reversed(attributes):
        escaped = _RFC4514_SPECIAL.sub(r"\\\1", value)
        if escaped.startswith(("#", " ")):
            escaped = "\\" + escaped
        if escaped.endswith(" "):
            escaped = escaped[:-1] + "\\ "
        parts.append(f"{key}={escaped}")
    return ",".join(parts)


# --- the registry table ------------------------------------------------------------------------

_REGISTRY_NUMBERS = frozenset({"REG_DWORD", "REG_DWORD_LITTLE_ENDIAN", "REG_DWORD_BIG_ENDIAN",
                               "REG_QWORD", "REG_QWORD_LITTLE_ENDIAN"})  # fmt: skip


def _registry_view(rows: Iterable[Row]) -> RegistryView:
    """Rows of osquery's ``registry`` table (``key``, ``name``, ``type``, ``data``) as a registry.

    Each row is one value of ``key``, or, with ``type`` ``subkey``, one subkey named ``name``.
    Numbers (``REG_DWORD``, ``REG_QWORD``) are logged in decimal; everything else is kept as
    the text osquery logged. Only the keys and values the Windows sources read are kept.
    """
    from evict.inventory.windows.reg import RegTree

    tree = RegTree()
    for row in rows:
        root, sep, rest = (row.get("key") or "").strip().strip("\\").partition("\\")
        short = canonical_root(root)
        if short is None:
            continue
        path = f"{short}{sep}{rest}"
        name = row.get("name") or ""
        kind = (row.get("type") or "").strip().upper()
        if kind == "SUBKEY":
            if name:
                tree.create(f"{path}\\{name}")
            continue
        tree.create(path)
        data = row.get("data") or ""
        value: str | int = data
        if kind in _REGISTRY_NUMBERS and data.strip().isdigit() and data.isascii():
            value = int(data.strip())
        tree.set_value(path, "" if name == "(Default)" else name, value)
    return tree


# --- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Table:
    """One osquery table evict reads: how to recognise its rows and what they become."""

    name: str
    convert: _Convert | None
    """Row to observation; None for tables read only for host facts (``os_version``)."""
    platform: Platform | None = None
    """The platform the table exists on alone, if any: evidence of the host's platform."""
    signatures: tuple[frozenset[str], ...] = ()
    """Column sets, any one of which identifies the table's rows."""
    registry: bool = False
    """Rows are registry values (osquery's ``registry`` table), read together as one registry."""


def _sig(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(g.split()) for g in groups)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("programs", _program, Platform.WINDOWS, _sig("identifying_number")),
        Table("deb_packages", _deb, Platform.LINUX, _sig("maintainer revision", "admindir")),
        Table("rpm_packages", _rpm, Platform.LINUX, _sig("release arch", "release sha1")),
        Table("apps", _app, Platform.MACOS, _sig("bundle_identifier", "bundle_short_version")),
        Table("services", _service, Platform.WINDOWS, _sig("service_type", "module_path")),
        Table(
            "systemd_units",
            _systemd_unit,
            Platform.LINUX,
            _sig("fragment_path", "load_state active_state", "sub_state"),
        ),
        Table("launchd", _launchd, Platform.MACOS, _sig("label program", "label run_at_load")),
        Table(
            "processes",
            _process,
            None,
            _sig("cmdline on_disk", "cmdline resident_size", "cmdline threads"),
        ),
        Table(
            "drivers",
            _driver,
            Platform.WINDOWS,
            _sig("device_id image", "device_name image", "inf major_version"),
        ),
        Table("kernel_modules", _kernel_module, Platform.LINUX, _sig("used_by")),
        Table("kernel_extensions", _kext, Platform.MACOS, _sig("linked_against", "idx refs")),
        Table("system_extensions", _system_extension, Platform.MACOS, _sig("team bundle_path")),
        Table(
            "package_receipts",
            _package_receipt,
            Platform.MACOS,
            _sig("package_id installer_name", "package_id package_filename", "package_id location"),
        ),
        Table(
            "certificates",
            _certificate,
            None,
            _sig("common_name self_signed", "common_name sha1", "subject_key_id"),
        ),
        Table(
            "chrome_extensions",
            _extension("chrome_extensions", "author"),
            None,
            _sig("browser_type", "identifier persistent", "identifier profile"),
        ),
        Table(
            "firefox_addons",
            _extension("firefox_addons", "creator"),
            None,
            _sig("creator", "identifier autoupdate", "source_url visible"),
        ),
        Table(
            "safari_extensions",
            _extension("safari_extensions", "author"),
            Platform.MACOS,
            _sig("sdk update_url", "sdk developer_id"),
        ),
        Table(
            "browser_plugins",
            _browser_plugin,
            Platform.MACOS,
            _sig("native development_region", "sdk native"),
        ),
        Table("ie_extensions", _ie_extension, Platform.WINDOWS, _sig("registry_path")),
        Table(
            "python_packages",
            _language_package("python_packages", "pypi"),
            None,
            _sig("summary directory"),
        ),
        Table(
            "npm_packages",
            _language_package("npm_packages", "npm"),
            None,
            _sig("homepage directory", "depth"),
        ),
        Table("snap_packages", _snap, Platform.LINUX, _sig("snap_id", "confinement grade")),
        Table(
            "flatpak_packages",
            _flatpak,
            Platform.LINUX,
            _sig("app_id commit_hash", "app_id origin", "app_id installation"),
        ),
        Table(
            "pacman_packages", _pacman, Platform.LINUX, _sig("install_reason", "packager dbpath")
        ),
        Table("homebrew_packages", _language_package("homebrew_packages", ""), Platform.MACOS),
        Table(
            "chocolatey_packages", _language_package("chocolatey_packages", ""), Platform.WINDOWS
        ),
        Table(
            "windows_security_products",
            _security_product,
            Platform.WINDOWS,
            _sig("signatures_up_to_date", "remediation_path", "state_timestamp"),
        ),
        Table(
            "registry",
            None,
            Platform.WINDOWS,
            _sig("key path name type data mtime", "key name type data"),
            registry=True,
        ),
        Table("os_version", None, None, _sig("platform major minor", "platform_like")),
        Table("system_info", None, None, _sig("cpu_brand hardware_vendor", "computer_name uuid")),
        # The host's addresses, to join network logs with it (``SELECT * FROM
        # interface_addresses``): read for host facts only.
        Table("interface_addresses", None, None, _sig("interface address mask")),
    )
}
"""Every table evict reads, by name."""

ALIASES = {"programs_and_features": "programs", "kextstat": "kernel_extensions"}
"""Other names of the same tables (osquery's own aliases and older names)."""

_NAME_TOKENS = sorted(
    ((tuple(n.split("_")), TABLES[ALIASES.get(n, n)].name) for n in [*TABLES, *ALIASES]),
    key=lambda item: -len(item[0]),
)


def table_from_name(query: str) -> str | None:
    """The table a query name refers to, or None (see the module docstring for the rules)."""
    q = query.lower()
    q = re.sub(r"^pack[_/]", "", q)
    tokens = [t for t in re.split(r"[^a-z0-9]+", q) if t]
    best: tuple[int, int, str] | None = None
    for words, table in _NAME_TOKENS:
        n = len(words)
        for start in range(len(tokens) - n, -1, -1):
            if tuple(tokens[start : start + n]) == words:
                candidate = (n, start, table)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
                break
    return best[2] if best else None


def table_from_columns(columns: Iterable[str]) -> str | None:
    """The one table whose distinctive columns are all present, or None if none or several."""
    present = frozenset(columns)
    found = {t.name for t in TABLES.values() if any(sig <= present for sig in t.signatures)}
    return found.pop() if len(found) == 1 else None


def detect_table(query: str, columns: Iterable[str]) -> str | None:
    """Decide which table a query read: distinctive columns first, then the query's name."""
    by_columns = table_from_columns(columns)
    return by_columns or table_from_name(query)


# --- platform ---------------------------------------------------------------------------------

_LINUX_NAMES = frozenset(
    "linux debian ubuntu rhel centos fedora amzn arch gentoo suse sles opensuse opensuse-leap "
    "opensuse-tumbleweed rocky almalinux ol raspbian linuxmint pop kali manjaro alpine".split()
)


def platform_from_name(value: str) -> Platform | None:
    """Map osquery's ``os_version.platform`` (``windows``, ``darwin``, ``ubuntu``...)."""
    v = value.strip().lower()
    if not v:
        return None
    if v.startswith("windows"):
        return Platform.WINDOWS
    if v in ("darwin", "macos", "mac os x", "osx"):
        return Platform.MACOS
    if v in _LINUX_NAMES or "linux" in v:
        return Platform.LINUX
    return None


# --- state ------------------------------------------------------------------------------------


@dataclass
class _Query:
    """The current rows of one query on one host."""

    table: str
    rows: Counter[_RowKey] = field(default_factory=Counter)
    epoch: str | None = None
    counter: int | None = None

    def copy(self) -> _Query:
        return _Query(self.table, Counter(self.rows), self.epoch, self.counter)


@dataclass
class _Host:
    """What is known of one host so far."""

    host: str
    hostname: str = ""
    platform: str = ""
    """``platform`` from decorations or ``os_version``: ``windows``, ``darwin``, ``ubuntu``..."""
    collected_at: float = 0.0
    queries: dict[str, _Query] = field(default_factory=dict)
    path: str = ""
    """The last file this host was seen in (where problems about it are reported)."""
    addresses: set[str] = field(default_factory=set)
    """Interface addresses (``interface_addresses``)."""

    def copy(self) -> _Host:
        queries = {k: q.copy() for k, q in self.queries.items()}
        return _Host(
            self.host,
            self.hostname,
            self.platform,
            self.collected_at,
            queries,
            self.path,
            set(self.addresses),
        )


def _row(value: object, path: Path, line: int | None, where: str) -> dict[str, str]:
    """Check one result row: a flat object; values become strings as osquery logs them."""
    if not isinstance(value, dict):
        raise OsqueryInputError(
            str(path), "a result row must be a JSON object", line=line, where=where
        )
    row: dict[str, str] = {}
    for key, v in value.items():
        if v is None:
            row[key] = ""
        elif isinstance(v, str):
            row[key] = v
        elif isinstance(v, bool):
            row[key] = "1" if v else "0"
        elif isinstance(v, int | float):
            row[key] = str(v)
        else:
            raise OsqueryInputError(
                str(path), f"column {key!r} holds a {type(v).__name__}", line=line, where=where
            )
    return row


def _rows(value: object, path: Path, line: int | None, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise OsqueryInputError(str(path), f"{where!r} must be a list of rows", line=line)
    return [_row(v, path, line, f"{where}[{i}]") for i, v in enumerate(value)]


def _size_text(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size % mib == 0 else f"{size} bytes"


def _key(row: Mapping[str, str]) -> _RowKey:
    return tuple(sorted(row.items()))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _event_time(event: Mapping[str, Any]) -> float:
    """Seconds since the epoch of an event: ``unixTime``, else ``calendarTime``, else 0."""
    unix = _int(event.get("unixTime"))
    if unix is not None and unix > 0:
        return float(unix)
    calendar = event.get("calendarTime")
    if isinstance(calendar, str) and calendar.strip():
        text = " ".join(calendar.split()).removesuffix(" UTC")
        try:
            parsed = dt.datetime.strptime(text, "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return 0.0
        return parsed.replace(tzinfo=dt.UTC).timestamp()
    return 0.0


class _Fleet:
    """Every host of the logs read so far, with a per-file overlay that can be dropped."""

    def __init__(self) -> None:
        self.committed: dict[str, _Host] = {}
        self.working: dict[str, _Host] = {}
        self.detected: dict[tuple[str, frozenset[str]], str | None] = {}
        self.by_name: dict[str, str] = {}
        self.unknown: dict[str, Counter[str]] = {}
        """Per file: unrecognised query name -> events skipped."""

    def host(self, host_id: str) -> _Host:
        host = self.working.get(host_id)
        if host is None:
            prior = self.committed.get(host_id)
            host = prior.copy() if prior else _Host(host_id)
            self.working[host_id] = host
        return host

    def commit(self) -> None:
        self.committed.update(self.working)
        self.working = {}

    def rollback(self) -> None:
        self.working = {}

    def table_for(self, query: str, rows: Sequence[Mapping[str, str]]) -> str | None:
        columns = frozenset(rows[0]) if rows else frozenset()
        if not columns:
            return self.by_name.get(query) or table_from_name(query)
        key = (query, columns)
        if key not in self.detected:
            self.detected[key] = detect_table(query, columns)
        table = self.detected[key]
        if table:
            self.by_name[query] = table
        return table


def _apply(fleet: _Fleet, event: Mapping[str, Any], path: Path, line: int) -> None:
    """Apply one results-log event to the fleet's state."""
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise OsqueryInputError(str(path), "not an osquery result: no query 'name'", line=line)
    decorations = event.get("decorations") or {}
    if not isinstance(decorations, dict):
        raise OsqueryInputError(str(path), "'decorations' must be an object", line=line)
    host_id = event.get("hostIdentifier") or event.get("hostname") or decorations.get("host_uuid")
    if not isinstance(host_id, str) or not host_id:
        raise OsqueryInputError(str(path), "not an osquery result: no 'hostIdentifier'", line=line)

    action = event.get("action")
    added: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    snapshot: list[dict[str, str]] | None = None
    if action == "snapshot":
        snapshot = _rows(event.get("snapshot"), path, line, "snapshot")
    elif action in ("added", "removed"):
        rows = [_row(event.get("columns"), path, line, "columns")]
        (added if action == "added" else removed).extend(rows)
    elif action is None and "diffResults" in event:
        diff = event["diffResults"]
        if not isinstance(diff, dict):
            raise OsqueryInputError(str(path), "'diffResults' must be an object", line=line)
        added = _rows(diff.get("added", []), path, line, "diffResults.added")
        removed = _rows(diff.get("removed", []), path, line, "diffResults.removed")
    else:
        raise OsqueryInputError(
            str(path),
            f"unknown result form (action {action!r}): expected a snapshot, an added or removed "
            "event, or diffResults",
            line=line,
        )

    host = fleet.host(host_id)
    host.path = str(path)
    host.collected_at = max(host.collected_at, _event_time(event))
    hostname = decorations.get("hostname") or decorations.get("computer_name")
    if isinstance(hostname, str) and hostname:
        host.hostname = hostname
    platform = decorations.get("platform") or decorations.get("os_platform")
    if isinstance(platform, str) and platform:
        host.platform = platform

    table = fleet.table_for(name, snapshot if snapshot is not None else (added or removed))
    if table is None:
        fleet.unknown.setdefault(str(path), Counter())[name] += 1
        return
    if table == "interface_addresses":
        if snapshot is not None:
            host.addresses = {r.get("address", "") for r in snapshot} - {""}
        else:
            host.addresses -= {r.get("address", "") for r in removed}
            host.addresses |= {r.get("address", "") for r in added} - {""}
        return
    if TABLES[table].convert is None and not TABLES[table].registry:
        for row in snapshot if snapshot is not None else added:
            _host_facts(host, table, row)
        return

    query = host.queries.get(name)
    if query is None or query.table != table:
        query = host.queries[name] = _Query(table)
    if snapshot is not None:
        query.rows = Counter(_key(r) for r in snapshot)
        return
    epoch = event.get("epoch")
    epoch_text = None if epoch is None else str(epoch)
    counter = _int(event.get("counter"))
    if query.epoch is not None and epoch_text is not None and epoch_text != query.epoch:
        query.rows.clear()  # a new epoch starts over with a full first run
    elif query.counter is not None and counter is not None and counter < query.counter:
        query.rows.clear()  # osquery's query state was reset: a fresh first run
    query.epoch = epoch_text if epoch_text is not None else query.epoch
    query.counter = counter if counter is not None else query.counter
    for r in removed:
        k = _key(r)
        if query.rows[k] > 1:
            query.rows[k] -= 1
        else:
            query.rows.pop(k, None)
    for r in added:
        query.rows[_key(r)] += 1


def _host_facts(host: _Host, table: str, row: Mapping[str, str]) -> None:
    """Take the hostname and platform from an ``os_version`` or ``system_info`` row, an address
    from an ``interface_addresses`` one."""
    if table == "interface_addresses":
        if row.get("address"):
            host.addresses.add(row["address"])
    elif table == "os_version":
        platform = row.get("platform") or ""
        if platform and not host.platform:
            host.platform = platform
    elif table == "system_info":
        hostname = row.get("hostname") or row.get("computer_name") or ""
        if hostname and not host.hostname:
            host.hostname = hostname


def _inventory(host: _Host, rows: Iterable[tuple[str, Row]], collected: float) -> HostInventory:
    """Turn a host's current rows (table, row) into its inventory."""
    distro = host.platform.strip().lower()
    observations: dict[Observation, None] = {}
    tables: set[str] = set()
    registry: list[Row] = []
    for table, row in rows:
        tables.add(table)
        if TABLES[table].registry:
            registry.append(row)
            continue
        convert = TABLES[table].convert
        if convert is None:
            continue
        observation = convert(row, distro)
        if observation is not None and observation.name:
            observations[observation] = None
    if registry:
        for observation in registry_observations(_registry_view(registry), "osquery:registry"):
            observations[observation] = None
    platform = platform_from_name(host.platform)
    if platform is None:
        implied = {p for t in tables if (p := TABLES[t].platform) is not None}
        platform = implied.pop() if len(implied) == 1 else Platform.UNKNOWN
    return HostInventory(
        host=HostID(host.host),
        hostname=host.hostname or host.host,
        platform=platform,
        collected_at=dt.datetime.fromtimestamp(collected, dt.UTC),
        observations=tuple(observations),
        source="osquery",
        addresses=tuple(sorted(host.addresses)),
    )


# --- the source -------------------------------------------------------------------------------


class OsquerySource(OfflineSource):
    """osqueryd results logs and directories of ``osqueryi --json`` outputs.

    :param paths: results-log files and ``osqueryi --json`` directories, in any mix; logs are
        read in the order given, as one stream.
    :param max_line_bytes: the longest log line accepted (64 MiB).
    """

    name: ClassVar[str] = "osquery"

    def __init__(self, paths: Sequence[Path], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        super().__init__(paths)
        self.max_line_bytes = max_line_bytes

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per host; then raise the first unreadable path's error, if any.

        Every readable path is read even when an earlier one is not, so one bad file does not
        hide the hosts of the others; the bad ones are marked ``failed`` in :attr:`statuses`.
        """
        self._statuses = []
        problems = {str(p): Problems(f"osquery:{p}") for p in self.paths}
        fleet = _Fleet()
        first_error: SourceInputError | None = None
        for path in self.paths:
            status = problems[str(path)]
            try:
                if path.is_dir():
                    yield self._read_directory(path, status)
                else:
                    self._read_log(path, fleet)
                    fleet.commit()
            except SourceInputError as e:
                fleet.rollback()
                status.fail(str(e))
                first_error = first_error or e
        for path_name, unknown in fleet.unknown.items():
            queries = sorted(unknown.items())
            for query, count in queries[:MAX_PROBLEMS]:
                problems[path_name].add(
                    f"query {query!r}: not a table evict reads; {count} event(s) skipped"
                )
            if len(queries) > MAX_PROBLEMS:
                problems[path_name].add(
                    f"{len(queries) - MAX_PROBLEMS} more queries evict does not read; skipped"
                )
        unreported: Counter[str] = Counter()
        for host in fleet.committed.values():
            if not host.queries:
                unreported[host.path] += 1
                if unreported[host.path] <= MAX_PROBLEMS:
                    problems[host.path].add(
                        f"host {host.host!r}: no query evict reads; not reported"
                    )
                continue
            rows = ((q.table, dict(key)) for q in host.queries.values() for key in q.rows)
            yield _inventory(host, rows, host.collected_at or self._mtime(Path(host.path)))
        for path_name, count in unreported.items():
            if count > MAX_PROBLEMS:
                problems[path_name].add(
                    f"{count - MAX_PROBLEMS} more hosts with no query evict reads; not reported"
                )
        self._statuses = [problems[str(p)].status() for p in self.paths]
        if first_error is not None:
            raise first_error

    @staticmethod
    def _mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    def _open(self, path: Path) -> BinaryIO:
        """Open a results log; a gzip-compressed one (a rotated ``.gz``) is read through gzip.

        Decompression streams line by line under the same line-length limit, so a
        decompression bomb costs time, never more than one line of memory.
        """
        try:
            f = path.open("rb")
        except FileNotFoundError as e:
            raise OsqueryInputError(str(path), "no such file or directory") from e
        except OSError as e:
            raise OsqueryInputError(str(path), f"cannot open: {e.strerror or e}") from e
        try:
            magic = f.read(2)
            f.seek(0)
        except OSError as e:
            f.close()
            raise OsqueryInputError(str(path), f"read failed: {e}") from e
        if magic == GZIP_MAGIC:
            return cast(BinaryIO, gzip.GzipFile(fileobj=f, mode="rb"))
        return f

    def _read_log(self, path: Path, fleet: _Fleet) -> None:
        """Apply every event of one results log to ``fleet`` (its working overlay)."""
        limit = self.max_line_bytes
        with self._open(path) as f:
            number = 0
            while True:
                try:
                    raw = f.readline(limit + 1)
                except (OSError, EOFError, zlib.error) as e:
                    # gzip: BadGzipFile is an OSError; a truncated stream is an EOFError.
                    what = "truncated gzip stream" if isinstance(e, EOFError) else str(e)
                    raise OsqueryInputError(
                        str(path), f"read failed: {what}", line=number + 1
                    ) from e
                if not raw:
                    break
                number += 1
                if len(raw) > limit:
                    raise OsqueryInputError(
                        str(path),
                        f"line longer than {_size_text(limit)}; not an osquery result",
                        line=number,
                    )
                if not raw.strip():
                    continue
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise OsqueryInputError(
                        str(path), f"not JSON: {e.msg}", line=number, where=f"column {e.colno}"
                    ) from e
                except (ValueError, RecursionError) as e:
                    raise OsqueryInputError(str(path), f"not JSON: {e}", line=number) from e
                if not isinstance(event, dict):
                    raise OsqueryInputError(
                        str(path),
                        "not an osquery result: each line must be a JSON object",
                        line=number,
                    )
                _apply(fleet, event, path, number)

    def _read_directory(self, path: Path, problems: Problems) -> HostInventory:
        """Read a directory of ``<table>.json`` files as one host named after the directory."""
        host = _Host(path.resolve().name or str(path))
        rows: list[tuple[str, Row]] = []
        recognised = 0
        newest = 0.0
        try:
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
        except OSError as e:
            raise OsqueryInputError(str(path), f"cannot list: {e.strerror or e}") from e
        for file in files:
            table_rows = self._read_json_array(file)
            table = detect_table(file.stem, table_rows[0] if table_rows else ())
            if table is None:
                problems.add(f"{file.name}: not a table evict reads; skipped")
                continue
            newest = max(newest, self._mtime(file))
            if TABLES[table].convert is None and not TABLES[table].registry:
                for row in table_rows:
                    _host_facts(host, table, row)
                continue
            recognised += 1
            rows.extend((table, row) for row in table_rows)
        if not recognised:
            names = ", ".join(f"{t}.json" for t in list(TABLES)[:4])
            raise OsqueryInputError(
                str(path),
                f"no osqueryi --json output named after a table evict reads ({names}, ...)",
            )
        return _inventory(host, rows, newest)

    def _read_json_array(self, file: Path) -> list[dict[str, str]]:
        """One ``osqueryi --json`` output: a JSON array of row objects."""
        size = self._size(file)
        if size > MAX_FILE_BYTES:
            raise OsqueryInputError(str(file), f"larger than {_size_text(MAX_FILE_BYTES)}")
        with self._open(file) as f:
            try:
                data = f.read(MAX_FILE_BYTES + 1)
            except (OSError, EOFError, zlib.error) as e:
                # gzip: BadGzipFile is an OSError; a truncated stream is an EOFError.
                what = "truncated gzip stream" if isinstance(e, EOFError) else str(e)
                raise OsqueryInputError(str(file), f"read failed: {what}") from e
        if not data.strip():
            return []
        try:
            value = json.loads(data)
        except json.JSONDecodeError as e:
            raise OsqueryInputError(
                str(file), f"not JSON: {e.msg}", line=e.lineno, where=f"column {e.colno}"
            ) from e
        except (ValueError, RecursionError) as e:
            raise OsqueryInputError(str(file), f"not JSON: {e}") from e
        if not isinstance(value, list):
            raise OsqueryInputError(
                str(file), "not osqueryi --json output: expected an array of rows"
            )
        return [_row(v, file, None, f"entry {i}") for i, v in enumerate(value)]

    @staticmethod
    def _size(file: Path) -> int:
        try:
            return file.stat().st_size
        except OSError as e:
            raise OsqueryInputError(str(file), f"cannot read: {e.strerror or e}") from e
