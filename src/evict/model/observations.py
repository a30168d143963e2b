"""What every inventory source produces: observations of one host, and how the reading went.

An :class:`Observation` is one thing a source saw on a host: an installed program or package, an
app bundle, a service, a running process, a driver or kernel module, a trusted root certificate, a
browser extension, a file, an SBOM component, or a registry key. Every source, from this host's
dpkg database to an Intune export, reduces what it reads to these records so that one matcher
serves them all; the catalog, the matcher and the store speak of them too, so they live here, at
the bottom, and :mod:`evict.inventory.interface` holds what only sources need.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NewType

HostID = NewType("HostID", str)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD, so that it encodes as UTF-8.

    JSON escapes (``"\\ud800"``) and file names that are not UTF-8 (decoded with
    ``surrogateescape``) give Python strings no output can encode: the report, the agent's body
    and the database would all fail on them. Text that is ASCII, as most is, is returned as is.
    """
    if value.isascii():
        return value
    return _SURROGATE.sub("\ufffd", value)


class Kind(enum.StrEnum):
    """The kinds of thing a source can observe on a host."""

    PROGRAM = "program"
    """Windows Programs and Features entry (Uninstall key, MSI)."""
    PACKAGE = "package"
    """An OS package: dpkg, rpm, apk, snap, flatpak, brew, MSIX/Store."""
    APP = "app"
    """A macOS bundle or a mobile app."""
    SERVICE = "service"
    """A Windows service, systemd unit, or launchd job."""
    PROCESS = "process"
    """A running process."""
    DRIVER = "driver"
    """A Windows driver or a macOS kernel/system extension."""
    KERNEL_MODULE = "kernel_module"
    """A Linux kernel module."""
    CERTIFICATE = "certificate"
    """A certificate in a system or browser trust store."""
    BROWSER_EXTENSION = "browser_extension"
    """A Chromium or Firefox extension."""
    FILE = "file"
    """A file or folder on disk (install folders, executables, drivers)."""
    SBOM_COMPONENT = "sbom_component"
    """A component listed in a software bill of materials: possibly embedded in another product."""
    REGISTRY_KEY = "registry_key"
    """A Windows registry key whose existence is itself evidence (``SOFTWARE\\KasperskyLab``)."""
    NETWORK = "network"
    """A host name a device looked up or connected to (DNS query, TLS SNI, HTTP Host, proxy URL),
    read from a network log: it shows use, not what is installed."""


class Ident(enum.StrEnum):
    """Keys of :attr:`Observation.identifiers`: a closed vocabulary so rules and sources agree."""

    PRODUCT_CODE = "product_code"
    """MSI ProductCode or Uninstall subkey name, e.g. ``{1A694303-...}``."""
    BUNDLE_ID = "bundle_id"
    """macOS/iOS bundle identifier, pkg receipt id, launchd label, kext bundle id."""
    PACKAGE_ID = "package_id"
    """Android package name, winget/MSIX package family, snap or flatpak id."""
    PURL = "purl"
    CPE = "cpe"
    SHA256 = "sha256"
    SHA1 = "sha1"
    """SHA-1 of a file, lower-case hex (Windows' Amcache records SHA-1, not SHA-256)."""
    SIGNER = "signer"
    """Code-signing subject (Authenticode, Apple Developer ID)."""
    TEAM_ID = "team_id"
    """Apple Developer Team ID."""
    CERT_SUBJECT = "cert_subject"
    """RFC 4514 subject of a certificate."""
    CERT_FINGERPRINT = "cert_fingerprint"
    """SHA-1 fingerprint of a certificate, lower-case hex."""
    EXTENSION_ID = "extension_id"
    PATH = "path"
    REGISTRY_KEY = "registry_key"
    ORIGINAL_FILENAME = "original_filename"
    """PE version resource OriginalFilename."""
    SUPPLIER = "supplier"
    """SBOM supplier or author."""
    DESCRIPTION = "description"
    """SBOM component description (whitespace collapsed, at most 500 characters): where another
    company's component says it embeds a vendor's engine or SDK."""
    FIRST_SEEN = "first_seen"
    """Network evidence: when the device first asked for the name (ISO 8601, UTC)."""
    LAST_SEEN = "last_seen"
    """Network evidence: when the device last asked for the name (ISO 8601, UTC)."""
    COUNT = "count"
    """Network evidence: how many log lines show the device asking for the name."""
    LOG_LINE = "log_line"
    """Network evidence: a log line, as ``file:line: text`` (a few per name)."""
    BLOCKED = "blocked"
    """Network evidence: how many of those lines show the request blocked by a generated block
    list (Squid ``TCP_DENIED``, a BIND RPZ rewrite): the block works, the software is still
    there."""


class Platform(enum.StrEnum):
    """Operating system family of a host."""

    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"
    ANDROID = "android"
    IOS = "ios"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Observation:
    """One thing a source saw on a host.

    Observations are values: equal observations from different hosts compare and hash equal, which
    is what lets the matcher look at each distinct one once.
    """

    kind: Kind
    name: str
    """The display name, package name, process name, file name or certificate common name."""
    version: str = ""
    publisher: str = ""
    """Publisher, vendor, maintainer or company name, as the source gives it."""
    identifiers: tuple[tuple[str, str], ...] = ()
    """(key, value) pairs, keys from :class:`Ident`; kept sorted so equal records hash equal."""
    source: str = ""
    """Where this came from, e.g. ``osquery:programs`` or ``local:dpkg``."""

    @classmethod
    def make(
        cls,
        kind: Kind,
        name: str,
        *,
        version: str | None = "",
        publisher: str | None = "",
        identifiers: Mapping[str, str | None] | None = None,
        source: str = "",
    ) -> Observation:
        """Build an observation, dropping empty identifiers and sorting the rest.

        Every value goes through :func:`clean_text`, so what a hostile file says can always be
        written out.
        """
        idents: tuple[tuple[str, str], ...] = ()
        if identifiers:
            idents = tuple(sorted((str(k), clean_text(v)) for k, v in identifiers.items() if v))
        return cls(
            kind,
            clean_text(name or ""),
            clean_text(version or ""),
            clean_text(publisher or ""),
            idents,
            source,
        )

    def ident(self, key: str) -> str | None:
        """Return the first identifier stored under ``key``, or None."""
        for k, v in self.identifiers:
            if k == key:
                return v
        return None

    def to_json(self) -> dict[str, object]:
        """Render as the plain JSON object used in reports and agent bodies."""
        out: dict[str, object] = {"kind": self.kind.value, "name": self.name}
        if self.version:
            out["version"] = self.version
        if self.publisher:
            out["publisher"] = self.publisher
        if self.identifiers:
            out["identifiers"] = identifiers_json(self.identifiers)
        out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Observation:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on a malformed object."""
        kind = Kind(str(data["kind"]))
        idents = data.get("identifiers") or {}
        if not isinstance(idents, Mapping):
            raise ValueError("identifiers must be an object")
        pairs: list[tuple[str, str]] = []
        for key, value in idents.items():
            values = value if isinstance(value, list) else [value]
            pairs.extend(
                (clean_text(str(key)), clean_text(str(v)))
                for v in values
                if v is not None and v != ""
            )
        return cls(
            kind,
            clean_text(str(data.get("name") or "")),
            clean_text(str(data.get("version") or "")),
            clean_text(str(data.get("publisher") or "")),
            tuple(sorted(pairs)),
            clean_text(str(data.get("source") or "")),
        )


def identifiers_json(identifiers: tuple[tuple[str, str], ...]) -> dict[str, str | list[str]]:
    """Identifiers as a JSON object; a key given more than once (several CPEs) maps to a list."""
    out: dict[str, str | list[str]] = {}
    for key, value in identifiers:
        prior = out.get(key)
        if prior is None:
            out[key] = value
        elif isinstance(prior, list):
            prior.append(value)
        else:
            out[key] = [prior, value]
    return out


@dataclass(frozen=True, slots=True)
class HostInventory:
    """Everything one source saw on one host at one time."""

    host: HostID
    """A stable identifier: osquery's ``hostIdentifier``, the machine id, an MDM device id."""
    hostname: str
    platform: Platform
    collected_at: dt.datetime
    observations: tuple[Observation, ...]
    source: str = ""
    org_unit: str = ""
    """The org unit the source places the host in, when it knows (MDM groups, simulations)."""
    addresses: tuple[str, ...] = ()
    """The host's interface addresses, when the source reports them (osquery
    ``interface_addresses``, this host's own interfaces): the server joins network logs on them."""

    def __post_init__(self) -> None:
        for name in ("host", "hostname", "org_unit"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.isascii():
                object.__setattr__(self, name, clean_text(value))


SourceState = Literal["ok", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How reading one source went: partial failure is a value, not an exception."""

    source: str
    state: SourceState
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """Render as the ``sources`` entry of the scan contract."""
        return {"source": self.source, "state": self.state, "problems": list(self.problems)}
