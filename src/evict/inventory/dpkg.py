"""dpkg's status database (``/var/lib/dpkg/status``): the installed packages of a Debian host.

The file is a list of RFC 822 stanzas, one per package dpkg knows about, separated by blank lines;
a field's value may continue on following lines that start with a space. A stanza's ``Status``
field holds three words, *want*, *error flag* and *state* (``install ok installed``). A package
counts as installed whatever its *want* is, so held packages (``hold ok installed``) and packages
selected for removal that are still on disk are reported too; packages whose files are on disk but
whose configuration has not finished (``unpacked``, ``half-configured``, pending triggers) count as
well, because a half-installed banned product is still on the host.

:func:`parse_dpkg_status` is shared by the running-host collector and by
:class:`DpkgStatusSource`, the ``evict scan --from dpkg-status FILE...`` source for status files
copied off other hosts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from evict.inventory.interface import OfflineSource, SourceInputError
from evict.inventory.local._fs import read_bounded, resolve_in_root
from evict.model.observations import (
    HostID,
    HostInventory,
    Ident,
    Kind,
    Observation,
    Platform,
    SourceStatus,
)

MAX_STATUS_BYTES = 128 * 1024 * 1024
"""The largest status file read; real ones are a few megabytes even on crowded hosts."""

INSTALLED_STATES = frozenset(
    {"installed", "triggers-pending", "triggers-awaited", "half-configured", "unpacked"}
)
"""dpkg package states in which the package's files are on disk."""

_WANTS = frozenset({"unknown", "install", "hold", "deinstall", "purge"})


def package_url(
    kind: str, namespace: str, name: str, version: str, qualifiers: dict[str, str]
) -> str:
    """Build a Package URL (``pkg:deb/debian/curl@7.88.1-10?arch=amd64``) per the purl spec.

    :param kind: the purl type, e.g. ``deb``, ``rpm``, ``apk``.
    :param namespace: the distribution, e.g. ``debian``, ``ubuntu``, ``fedora``, ``alpine``.
    :param name: the package name.
    :param version: the package version; empty for none.
    :param qualifiers: extra ``key=value`` pairs (``arch``, ``epoch``); empty values are dropped.
    """
    out = f"pkg:{kind}/{quote(namespace.lower(), safe='')}/{quote(name, safe='')}"
    if version:
        out += "@" + quote(version, safe=":")
    pairs = [f"{k}={quote(v, safe=':/')}" for k, v in sorted(qualifiers.items()) if v]
    if pairs:
        out += "?" + "&".join(pairs)
    return out


def os_release_id(root: Path, default: str) -> str:
    """The distribution id (``ID=`` in ``etc/os-release``) of the host at ``root``, lower-case.

    :param root: the host's filesystem root.
    :param default: what to return when neither os-release file can be read or has an ``ID``.
    """
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        path = resolve_in_root(root, candidate)
        if path is None:
            continue
        try:
            text = read_bounded(path, 64 * 1024).decode("utf-8", "replace")
        except (OSError, SourceInputError):
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "ID":
                value = value.strip().strip("\"'").lower()
                if value:
                    return value
        return default
    return default


def decode_status(data: bytes, path: str | Path) -> str:
    """Decode the bytes of a status file, refusing binary data with the line it starts on."""
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise SourceInputError(
            str(path), "binary data (NUL byte); not a dpkg status file", line=line
        )
    return data.decode("utf-8", "replace")


def parse_dpkg_status(
    text: str, path: str | Path, *, distro: str = "debian", source: str = "dpkg-status"
) -> list[Observation]:
    """Parse the text of a dpkg status file into one package observation per installed package.

    Raises :class:`SourceInputError` with the line number for a line that is neither a
    ``Field: value`` line, an indented continuation nor blank, for a stanza without ``Package``
    or with a ``Status`` that is not three words, and for binary data.

    :param text: the whole file, decoded.
    :param path: the file's name, used in error messages.
    :param distro: the purl namespace, the host's os-release ``ID`` (``debian``, ``ubuntu``).
    :param source: the ``source`` given to each observation.
    """
    # NOTE: the file is checked and split with regular expressions and str.find rather than line
    # by line in Python: a desktop's status file has ~20,000 lines and a scan has milliseconds.
    if "\0" in text:
        raise SourceInputError(
            str(path),
            "binary data (NUL byte); not a dpkg status file",
            line=text.count("\n", 0, text.index("\0")) + 1,
        )
    lined = "\n" + text
    bad = _BAD_LINE.search(lined)
    if bad is not None:
        line = lined[bad.start() + 1 :].partition("\n")[0]
        raise SourceInputError(
            str(path),
            f"expected 'Field: value' or an indented continuation, got {line[:40]!r}",
            line=lined.count("\n", 0, bad.start() + 1),
        )
    observations: list[Observation] = []
    for stanza in _STANZA.finditer(text):
        observation = _stanza(stanza, text, path, distro, source)
        if observation is not None:
            observations.append(observation)
    return observations


_BAD_LINE = re.compile(r"\n(?=[^ \t\r\n])(?![!-9;-~]+:)")
"""A line that is not blank, not a continuation and not ``Field:`` (deb822 field names are
printable ASCII without spaces or colons); searched in the text with a newline put in front."""

_STANZA = re.compile(r"(?:^[ \t]*\S.*(?:\n|\Z))+", re.M)
"""A run of non-blank lines."""

_PURL_SAFE = re.compile(r"[A-Za-z0-9.\-_~:]*")


def _field(stanza: str, name: str) -> str:
    """The first line of field ``name`` (given as ``"\\nName:"``) in ``stanza``, or ""."""
    at = stanza.find(name)
    if at < 0:
        return ""
    end = stanza.find("\n", at + 1)
    return stanza[at + len(name) : end if end >= 0 else None].strip()


def _quote(value: str, safe: str) -> str:
    return value if _PURL_SAFE.fullmatch(value) else quote(value, safe=safe)


def _stanza(
    match: re.Match[str], text: str, path: str | Path, distro: str, source: str
) -> Observation | None:
    stanza = "\n" + match.group()
    if stanza[1] in " \t":
        raise SourceInputError(
            str(path),
            "continuation line outside a field",
            line=text.count("\n", 0, match.start()) + 1,
        )
    package = _field(stanza, "\nPackage:")
    if not package:
        raise SourceInputError(
            str(path), "stanza has no Package field", line=text.count("\n", 0, match.start()) + 1
        )
    status = _field(stanza, "\nStatus:")
    if not status:
        raise SourceInputError(
            str(path),
            f"stanza for {package!r} has no Status field (is this dpkg's status file?)",
            line=text.count("\n", 0, match.start()) + 1,
        )
    words = status.split()
    if len(words) != 3 or words[0] not in _WANTS:
        at = match.start() + stanza.find("\nStatus:")
        raise SourceInputError(
            str(path),
            f"Status of {package!r} is not 'want flag state': {status!r}",
            line=text.count("\n", 0, at) + 1,
        )
    if words[2] not in INSTALLED_STATES:
        return None
    version = _field(stanza, "\nVersion:")
    arch = _field(stanza, "\nArchitecture:")
    purl = f"pkg:deb/{distro}/{_quote(package, '')}"
    if version:
        purl += "@" + _quote(version, ":")
    if arch:
        purl += "?arch=" + _quote(arch, ":/")
    # Built directly rather than with Observation.make: one identifier needs no sorting, and
    # this runs for every package of every host.
    return Observation(
        Kind.PACKAGE,
        package,
        version,
        _field(stanza, "\nMaintainer:"),
        ((Ident.PURL.value, purl),),
        source,
    )


class DpkgStatusSource(OfflineSource):
    """dpkg status files copied off hosts: ``evict scan --from dpkg-status FILE...``.

    Each file is one host. The host is named after the file, by the part before ``--`` if there
    is one (``web01--status``), else by the file's stem (``web01.status``); a file with dpkg's own
    name (``status``) is named after the folder that holds it (``web01/status`` or
    ``web01/var/lib/dpkg/status``). A directory holding ``var/lib/dpkg/status`` is read as a
    copied root filesystem, named after the directory.

    :param paths: the status files (or copied roots) to read.
    """

    name = "dpkg-status"

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per file; an unreadable file raises :class:`SourceInputError`."""
        self._statuses = []
        for given in self.paths:
            path, root = _status_file(given)
            try:
                data = read_bounded(path, MAX_STATUS_BYTES)
                mtime = path.stat().st_mtime
            except OSError as e:
                raise SourceInputError(str(path), f"cannot read: {e.strerror or e}") from e
            distro = os_release_id(root, "debian") if root is not None else "debian"
            observations = parse_dpkg_status(decode_status(data, path), path, distro=distro)
            name = host_name(given)
            self._statuses.append(SourceStatus(f"{self.name}:{path}", "ok"))
            yield HostInventory(
                host=HostID(name),
                hostname=name,
                platform=Platform.LINUX,
                collected_at=dt.datetime.fromtimestamp(mtime, dt.UTC),
                observations=tuple(observations),
                source=self.name,
            )


_DPKG_DIR = ("var", "lib", "dpkg")
_STATUS_NAMES = frozenset({"status", "dpkg-status", "dpkg_status", "status-old"})
_STATUS_SUFFIXES = (".txt", ".status", ".dpkg")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9][A-Za-z0-9_-]{0,62})*")
_NOT_HOSTS = frozenset({"dpkg", "lib", "var", "tmp", "data", "status", "inventory", "hosts"})


def _status_file(given: Path) -> tuple[Path, Path | None]:
    """The status file to read for ``given``, and the copied root it sits in (if any)."""
    if given.is_dir():
        # Links in a copied root name the host's own paths: resolved inside the copy, never on
        # the machine running the scan (whose own packages they would otherwise report).
        candidate = resolve_in_root(given, "/var/lib/dpkg/status")
        if candidate is not None and candidate.is_file():
            return candidate, given
        raise SourceInputError(str(given), "a directory without var/lib/dpkg/status")
    parents = given.parent.parts
    if given.name == "status" and tuple(parents[-3:]) == _DPKG_DIR:
        return given, given.parents[3]
    return given, None


def host_name(given: Path) -> str:
    """The host a status file (or copied root) ``given`` describes, from its name or folder."""
    if given.is_dir():
        return given.resolve().name or str(given)
    name = given.name
    if "--" in name and name.partition("--")[0]:
        return name.partition("--")[0]
    stem = name
    for suffix in _STATUS_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.lower() not in _STATUS_NAMES:
        return stem
    folder = given.resolve().parent
    if tuple(folder.parts[-3:]) == _DPKG_DIR:
        folder = folder.parents[2]
    if _HOSTNAME.fullmatch(folder.name) and folder.name.lower() not in _NOT_HOSTS:
        return folder.name
    return str(given)
