"""What the CycloneDX and SPDX readers share: limits, file handling and building observations.

Each SBOM file becomes one :class:`HostInventory`. The readers turn a file into a :class:`Bom`
(the subject's name and version, when the SBOM was made, the platform if it says, and the
observations); :class:`SbomSource` does the rest: finding the files, bounding their size, naming
the host and recording how each file went.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.model.observations import (
    HostID,
    HostInventory,
    Ident,
    Kind,
    Observation,
    Platform,
    clean_text,
)

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SbomLimits:
    """Bounds that keep a hostile or runaway SBOM from exhausting time or memory."""

    max_bytes: int = 256 * MiB
    """Largest file read; a larger one is refused before it is parsed."""
    max_depth: int = 64
    """Deepest nesting of components within components."""
    max_components: int = 5_000_000
    """Most components (CycloneDX) or packages (SPDX) in one file."""
    max_cpes: int = 8
    """CPEs kept per SPDX package: older syft lists every guess it made, the first few suffice."""


class SbomInputError(SourceInputError):
    """An SBOM file that cannot be read; names the file and the place in it."""


@dataclass(slots=True)
class Bom:
    """What one SBOM file said, before it becomes a :class:`HostInventory`."""

    subject: str = ""
    """What the SBOM describes: CycloneDX ``metadata.component`` name, SPDX document name."""
    subject_version: str = ""
    created: dt.datetime | None = None
    platform: Platform = Platform.UNKNOWN
    observations: list[Observation] = field(default_factory=list)


class Skipped:
    """Tallies entries a reader skipped, so one problem line stands for many of the same kind."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def add(self, reason: str, where: str) -> None:
        """Note one skipped entry and where it was."""
        self._first.setdefault(reason, where)
        self._count[reason] = self._count.get(reason, 0) + 1

    def report(self, problems: Problems) -> None:
        """Add one problem per reason to ``problems``."""
        for reason, count in self._count.items():
            plural = "entry" if count == 1 else "entries"
            problems.add(f"skipped {count} {plural}: {reason} (first at {self._first[reason]})")


def text(value: object) -> str:
    """A JSON scalar as text: strings stripped, numbers spelt out, anything else empty."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    return ""


_ACTOR = re.compile(r"^\s*(?:Person|Organization|Tool)\s*:\s*(.*)$", re.DOTALL)
_TRAILING_EMAIL = re.compile(r"\s*(?:\([^()]*@[^()]*\)|\(\s*\)|<[^<>]*@[^<>]*>)\s*$")


def actor_name(value: str) -> str:
    """The name in an SPDX actor: ``Organization: AO Kaspersky Lab (info@...)`` -> the name.

    ``NOASSERTION`` and ``NONE`` give the empty string. Some generators write the e-mail address
    in angle brackets rather than the parentheses SPDX asks for; both are dropped, while a
    parenthesis without an ``@`` is part of the name (``Laszlo Boszormenyi (GCS)``).
    """
    value = value.strip()
    if value.upper() in ("NOASSERTION", "NONE", ""):
        return ""
    match = _ACTOR.match(value)
    if match:
        value = match.group(1)
    return _TRAILING_EMAIL.sub("", value).strip()


def parse_timestamp(value: str) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC when no zone is given), or None."""
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp


_OS_FAMILIES: dict[str, Platform] = {
    "windows": Platform.WINDOWS,
    "microsoft windows": Platform.WINDOWS,
    "macos": Platform.MACOS,
    "darwin": Platform.MACOS,
    "mac os x": Platform.MACOS,
    "android": Platform.ANDROID,
    "ios": Platform.IOS,
}
_LINUX_DISTROS = frozenset(
    {
        "linux", "debian", "ubuntu", "alpine", "rhel", "redhat", "centos", "fedora", "rocky",
        "almalinux", "ol", "oracle", "oraclelinux", "amzn", "amazonlinux", "sles", "suse",
        "opensuse", "opensuse-leap", "opensuse-tumbleweed", "photon", "wolfi", "chainguard",
        "busybox", "arch", "archlinux", "gentoo", "mariner", "azurelinux", "cbl-mariner",
        "astra", "astralinux", "alt", "altlinux", "redos", "kali", "linuxmint", "raspbian",
    }
)  # fmt: skip
_LINUX_PURL_TYPES = ("pkg:deb/", "pkg:rpm/", "pkg:apk/", "pkg:alpm/")


def platform_of_os(name: str) -> Platform:
    """The platform an operating-system component or package names, if it is one we know."""
    key = name.strip().casefold()
    if key in _OS_FAMILIES:
        return _OS_FAMILIES[key]
    if key in _LINUX_DISTROS or key.endswith("linux"):
        return Platform.LINUX
    return Platform.UNKNOWN


def platform_of_purls(purls: Iterable[str]) -> Platform:
    """Linux when any package is a Linux distribution package (deb, rpm, apk, alpm)."""
    for purl in purls:
        if purl.startswith(_LINUX_PURL_TYPES):
            return Platform.LINUX
    return Platform.UNKNOWN


MAX_DESCRIPTION = 500
"""Characters of a component's description kept (what names an engine comes first)."""


def component_observation(
    kind: Kind,
    *,
    name: str,
    version: str,
    publisher: str,
    supplier: str,
    purl: str,
    cpes: Iterable[str],
    source: str,
    description: str = "",
) -> Observation:
    """Build the observation of one SBOM component; several CPEs may sit under the ``cpe`` key.

    :param description: the component's description, kept (whitespace collapsed, cut to
        :data:`MAX_DESCRIPTION` characters) so that a rule can find an engine it names.
    """
    pairs: list[tuple[str, str]] = []
    if purl:
        pairs.append((str(Ident.PURL), purl))
    pairs.extend((str(Ident.CPE), cpe) for cpe in dict.fromkeys(c for c in cpes if c))
    if supplier:
        pairs.append((str(Ident.SUPPLIER), supplier))
    summary = " ".join(description.split())[:MAX_DESCRIPTION]
    if summary:
        pairs.append((str(Ident.DESCRIPTION), summary))
    # Built directly (several CPEs share a key), so the text is cleaned here as make() would.
    pairs = [(key, clean_text(value)) for key, value in pairs]
    return Observation(
        kind,
        clean_text(name),
        clean_text(version),
        clean_text(publisher),
        tuple(sorted(pairs)),
        source,
    )


_SBOM_SUFFIXES = (".json", ".xml", ".spdx", ".cdx", ".bom", ".sbom", ".tv", ".cyclonedx")


def file_stem(path: Path) -> str:
    """The file name without its SBOM suffixes: ``appliance.cdx.json`` -> ``appliance``."""
    name = path.name
    lowered = name.casefold()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SBOM_SUFFIXES:
            if lowered.endswith(suffix) and len(lowered) > len(suffix):
                name, lowered = name[: -len(suffix)], lowered[: -len(suffix)]
                stripped = True
    return name


class SbomSource(OfflineSource):
    """An SBOM reader: each file one host, directories searched for files of the format.

    :param paths: SBOM files, or directories holding them.
    :param limits: size, depth and count bounds; the defaults suit real fleets.
    """

    error: ClassVar[type[SbomInputError]] = SbomInputError
    """The error this format raises."""
    suffixes: ClassVar[tuple[str, ...]] = ()
    """File name endings picked up when a directory is given."""

    def __init__(self, paths: Sequence[Path], *, limits: SbomLimits | None = None) -> None:
        super().__init__(paths)
        self.limits = limits or SbomLimits()

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per SBOM file.

        A file named in :attr:`paths` that cannot be read raises :class:`SbomInputError`. A file
        found by searching a directory is recorded as ``failed`` instead, and the search goes on:
        one stray JSON file must not hide the SBOMs next to it.
        """
        self._statuses = []
        for path in self.paths:
            if not path.is_dir():
                problems = Problems(f"{self.name}:{path}")
                inventory = self._inventory(path, problems)
                self._statuses.append(problems.status())
                yield inventory
                continue
            files = self._files_in(path)
            if not files:
                problems = Problems(f"{self.name}:{path}")
                problems.fail(f"no {self.name} files ({', '.join(self.suffixes)}) here")
                self._statuses.append(problems.status())
            for file in files:
                problems = Problems(f"{self.name}:{file}")
                try:
                    inventory = self._inventory(file, problems)
                except SbomInputError as e:
                    problems.fail(str(e))
                    self._statuses.append(problems.status())
                    continue
                self._statuses.append(problems.status())
                yield inventory

    def _files_in(self, directory: Path) -> list[Path]:
        return sorted(
            p
            for p in directory.rglob("*")
            if p.is_file()
            and not p.name.startswith(".")
            and p.name.casefold().endswith(self.suffixes)
        )

    def _inventory(self, path: Path, problems: Problems) -> HostInventory:
        data = self._load(path)
        bom = self.parse(path, data, problems)
        if bom.subject.strip("./\\"):  # `trivy fs .` and `syft dir:.` call the subject "."
            host = f"{bom.subject}@{bom.subject_version}" if bom.subject_version else bom.subject
        else:
            host = file_stem(path)
        collected = bom.created
        if collected is None:
            collected = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        return HostInventory(
            host=HostID(host),
            hostname=host,
            platform=bom.platform,
            collected_at=collected,
            observations=tuple(bom.observations),
            source=self.name,
        )

    def _load(self, path: Path) -> bytes:
        limit = self.limits.max_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                raise self.error(str(path), f"file is {size:,} bytes; the limit is {limit:,}")
            with path.open("rb") as handle:
                # Read one byte past the limit: a pipe or a growing file has no honest size.
                data = handle.read(limit + 1)
        except FileNotFoundError as e:
            raise self.error(str(path), "no such file") from e
        except OSError as e:
            raise self.error(str(path), f"cannot read: {e.strerror or e}") from e
        if len(data) > limit:
            raise self.error(str(path), f"file is larger than the limit of {limit:,} bytes")
        if not data.strip():
            raise self.error(str(path), "file is empty")
        return data

    @abstractmethod
    def parse(self, path: Path, data: bytes, problems: Problems) -> Bom:  # pragma: no cover
        """Read one file's bytes; raise :attr:`error` when nothing usable is in them."""
        raise NotImplementedError
