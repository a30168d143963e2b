"""The osquery tables evict reads, each with its translator from a row to an observation; and
certificate subjects, and the ``registry`` table's rows as a registry."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from packageurl import PackageURL

from evict.inventory.windows._keys import RegistryView, canonical_root
from evict.inventory.windows.reg import RegTree
from evict.model.observations import Ident, Kind, Observation, Platform

Row = Mapping[str, str]
Convert = Callable[[Row, str], Observation | None]
"""A row and the host's distribution (``ubuntu``, ``rhel``, or ``""``) -> an observation."""

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


def _extension(table: str, publisher_column: str) -> Convert:
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


def _language_package(table: str, purl_type: str) -> Convert:
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


def registry_view(rows: Iterable[Row]) -> RegistryView:
    """Rows of osquery's ``registry`` table (``key``, ``name``, ``type``, ``data``) as a registry.

    Each row is one value of ``key``, or, with ``type`` ``subkey``, one subkey named ``name``.
    Numbers (``REG_DWORD``, ``REG_QWORD``) are logged in decimal; everything else is kept as
    the text osquery logged. Only the keys and values the Windows sources read are kept.
    """

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
    convert: Convert | None
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
