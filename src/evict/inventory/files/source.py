"""``evict scan --files PATH…``: walk folders, find executables, and say whose they are.

The walk is iterative (``os.scandir`` and a stack), never follows a symbolic link and never
enters ``/proc``, ``/sys`` or ``/dev``; FIFOs, sockets and devices are skipped without being
opened. Every regular file costs one open and one 64-byte read, which tells a PE, ELF or Mach-O
executable from everything else; anything else is dropped there, unless the catalog names it
(a ``.kext`` bundle, say). Executables are handed to a small thread pool that hashes them
(SHA-256) and reads what identifies them: for a PE, its version resource and Authenticode signer;
for a Mach-O, its code signature's identifier and team ID; optionally, YARA rules.

A SQLite cache remembers what each file yielded, keyed by its size, modification time and inode,
so a second scan of an unchanged tree reopens nothing. Partial failures (unreadable files,
truncated executables, links leading out of the tree) are counted and summarised with a few
examples in the source's status; :meth:`FileScanSource.collect` raises only for a path that does
not exist (or YARA rules that cannot be used).
"""

from __future__ import annotations

import collections
import datetime as dt
import errno
import hashlib
import json
import mmap
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from evict.catalog.interface import Catalog
from evict.inventory.files.cache import CachedEntry, FileCache, FileCacheError
from evict.inventory.files.formats import (
    HEADER_SIZE,
    Format,
    identify,
    pread,
    read_macho,
    read_pe,
)
from evict.inventory.files.rules import CompiledRules, RulesMatchError
from evict.inventory.interface import InventorySource, Problems, SourceInputError
from evict.inventory.local.host import machine_id
from evict.model.normalize import normalize
from evict.model.observations import (
    HostID,
    HostInventory,
    Ident,
    Kind,
    Observation,
    Platform,
    SourceStatus,
    clean_text,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

MiB = 1 << 20
DEFAULT_MAX_FILE_SIZE = 256 * MiB
"""Files larger than this are not read (and, if they are executables, reported as skipped)."""

IN_MEMORY_LIMIT = 32 * MiB
"""Executables up to this size are read into memory once; larger ones are hashed in 1 MiB
chunks and mapped read-only for parsing."""

HASH_BUFFER = 1 * MiB
SCAN_FORMAT = "2"
"""Part of the cache key: bump it when what a file yields changes."""

PSEUDO_FILESYSTEMS = frozenset({"/proc", "/sys", "/dev"})
PROGRESS_INTERVAL = 0.1
"""Seconds between two progress calls (the last call always happens)."""

EXAMPLES = 3
"""Examples given per kind of problem; the rest are only counted."""

FILE_KINDS = frozenset({Kind.FILE.value, Kind.DRIVER.value, Kind.KERNEL_MODULE.value})
"""Catalog name rules for these kinds (or for any kind) make a file worth reporting by name."""

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

_PROBLEMS = {
    "unreadable": "could not read {n} file(s)",
    "unlistable": "could not list {n} folder(s)",
    "malformed": "{n} executable(s) only partly readable (truncated or malformed): hashed, "
    "with what could be read",
    "too_large": "skipped {n} executable(s) larger than {limit}",
    "outside_link": "did not follow {n} symbolic link(s) pointing outside the scanned paths",
    "yara": "YARA could not finish on {n} file(s)",
    "failed": "could not examine {n} file(s)",
}


def default_cache_path() -> Path:
    """The per-user cache file: ``files.sqlite`` in ``platformdirs.user_cache_dir("evict")``."""

    return Path(platformdirs.user_cache_dir("evict")) / "files.sqlite"


@dataclass(frozen=True, slots=True)
class FileScanStats:
    """Counts of one file scan, for progress displays and benchmarks."""

    folders: int = 0
    files: int = 0
    """Regular files found."""
    cached: int = 0
    """Files answered from the cache without being opened."""
    opened: int = 0
    executables: int = 0
    """Files read in full and identified (executables and catalog-named files)."""
    bytes_read: int = 0
    skipped_large: int = 0
    skipped_special: int = 0
    """FIFOs, sockets and device nodes."""
    skipped_links: int = 0
    skipped_pseudo: int = 0
    """``/proc``, ``/sys`` and ``/dev`` folders not entered."""


@dataclass(frozen=True, slots=True)
class _Examined:
    """What reading one file in full gave."""

    folder: str
    name: str
    st: os.stat_result
    observations: tuple[Observation, ...] = ()
    problems: tuple[tuple[str, str], ...] = ()
    """``(category, example)`` pairs."""
    cacheable: bool = True
    bytes_read: int = 0


@dataclass
class _Tally:
    """Problems of one kind: a count and the first few examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


class _NameIndex:
    """The file and folder names the catalog's rules recognise, for entries that are not
    executables (a ``.kext`` bundle, a vendor folder)."""

    def __init__(self, catalog: Catalog) -> None:
        self.exact: set[str] = set()
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for product in catalog.products:
            for rule in product.rules:
                if rule.field != "name" or (rule.kinds and not FILE_KINDS & set(rule.kinds)):
                    continue
                self.exact.update(rule.equals)
                if rule.pattern:
                    self.patterns.append((rule.anchor, re.compile(rule.pattern)))

    def __contains__(self, name: str) -> bool:
        value = normalize(name, "name")
        if value in self.exact:
            return True
        return any(anchor in value and regex.search(value) for anchor, regex in self.patterns)


class FileScanSource(InventorySource):
    """Files on this host's disks, as ``evict scan --files PATH…`` reads them.

    :param paths: folders (or single files) to scan; each must exist.
    :param cache_path: the SQLite cache file (see :func:`default_cache_path`); None disables it.
    :param progress: called as ``progress(files_done, files_found_so_far)`` at most ten times a
        second, and once at the end.
    :param yara_rules: a YARA rule file or folder of ``*.yar`` files to run on executables
        (the catalog ships some in ``evict/catalog/data/yara``); None runs no YARA.
    :param max_file_size: files larger than this many bytes are not read.
    :param hostname: the host's name (default: this machine's).
    :param catalog: the catalog whose name rules pick out non-executable files worth reporting,
        and whose version keys the cache (the caller loads it: ``evict scan`` hands over the one
        it matches with).
    :param workers: threads that hash and parse (default: 2 to 4, by CPU count).
    :param now: the collection time (the command line passes its clock in).
    """

    name = "files"

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        catalog: Catalog,
        cache_path: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        yara_rules: Path | None = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        hostname: str | None = None,
        workers: int | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.cache_path = cache_path
        self.progress = progress
        self.yara_rules = yara_rules
        self.max_file_size = max_file_size
        self.hostname = hostname or _this_hostname()
        self.catalog = catalog
        self.workers = workers or max(2, min(4, os.cpu_count() or 1))
        self.now = now
        self._statuses: list[SourceStatus] = []
        self._stats = FileScanStats()

    @property
    def statuses(self) -> list[SourceStatus]:
        """One status for the whole file scan."""
        return list(self._statuses)

    @property
    def stats(self) -> FileScanStats:
        """Counts of the last :meth:`collect`."""
        return self._stats

    def collect(self) -> Iterator[HostInventory]:
        """Walk every path and yield this host's one inventory of what was found."""
        roots = self._roots()
        rules = CompiledRules(self.yara_rules) if self.yara_rules is not None else None
        scan = _Scan(self, rules)
        try:
            observations = scan.run(roots)
        finally:
            self._stats = scan.stats()
            self._statuses = [scan.status()]

        yield HostInventory(
            host=HostID(machine_id(Path("/")) or self.hostname),
            hostname=self.hostname,
            platform=_platform(),
            collected_at=self.now or dt.datetime.now(dt.UTC),
            observations=tuple(observations),
            source="files",
        )

    def _roots(self) -> list[str]:
        """The real paths to scan; a missing one is an input error, raised before any work."""
        roots: list[str] = []
        for path in self.paths:
            if not os.path.lexists(path):
                raise SourceInputError(str(path), "no such file or folder")
            real = os.path.realpath(path)
            if real not in roots:
                roots.append(real)
        return roots


_PLATFORMS = {
    "linux": Platform.LINUX,
    "darwin": Platform.MACOS,
    "win32": Platform.WINDOWS,
    "cygwin": Platform.WINDOWS,
}


def _platform() -> Platform:
    return _PLATFORMS.get(sys.platform, Platform.UNKNOWN)


class _Scan:
    """One run of a :class:`FileScanSource`: the walk, the pool, the cache and the tallies."""

    def __init__(self, source: FileScanSource, rules: CompiledRules | None) -> None:
        self.source = source
        self.rules = rules
        self.problems = Problems("files")
        self.tallies: dict[str, _Tally] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.observations: list[Observation] = []
        self.done = 0
        self.found = 0
        self._last_progress = 0.0
        self._names: _NameIndex | None = None
        self._roots: list[str] = []
        self._visited: set[tuple[int, int]] = set()
        self._folders: set[str] = set()
        """Every folder listed, so cache rows of folders that are gone can be dropped."""
        self._pool: ThreadPoolExecutor | None = None
        self._pending: collections.deque[tuple[Future[_Examined], int]] = collections.deque()
        self.cache = self._open_cache()

    # -- setup ---------------------------------------------------------------------------

    def _key(self) -> str:
        """The cache key: scanner format, catalog version and YARA rules digest."""
        rules = self.rules.digest if self.rules else "-"
        return f"{SCAN_FORMAT}:{self.source.catalog.version}:{rules}"

    def _open_cache(self) -> FileCache | None:
        if self.source.cache_path is None:
            return None
        try:
            return FileCache(self.source.cache_path, self._key())
        except FileCacheError as e:
            self.problems.add(f"file-scan cache unusable, scanned without it: {e}")
            return None

    def _cache_failed(self, error: FileCacheError) -> None:
        self.problems.add(f"file-scan cache failed, went on without it: {error}")
        self.cache = None

    def names(self) -> _NameIndex:
        """The catalog's file names, indexed on first need (a warm scan never needs them)."""
        if self._names is None:
            self._names = _NameIndex(self.source.catalog)
        return self._names

    # -- the walk ------------------------------------------------------------------------

    def run(self, roots: list[str]) -> list[Observation]:
        """Scan every root; return the observations, sorted by path."""
        self._roots = roots
        try:
            for root in roots:
                self._walk(root)
            while self._pending:
                self._absorb(self._pending.popleft()[0].result())
            if self.cache is not None:
                try:
                    for root in roots:
                        self.cache.prune(root, self._folders)
                except FileCacheError as e:
                    self._cache_failed(e)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            for future, fd in self._pending:
                if future.cancelled():
                    os.close(fd)
            if self.cache is not None:
                try:
                    self.cache.close()
                except FileCacheError as e:
                    self._cache_failed(e)
            self._report_progress(force=True)
        self.observations.sort(key=lambda o: (o.ident(Ident.PATH) or "", o.source, o.name))
        return self.observations

    def _walk(self, root: str) -> None:
        if _under(root, PSEUDO_FILESYSTEMS):
            self.problems.add(f"did not scan {root}: a kernel pseudo-filesystem")
            return
        try:
            st = os.stat(root)
        except OSError as e:
            self._tally("unreadable", f"{root} ({e.strerror})")
            return
        if not stat.S_ISDIR(st.st_mode):
            folder, name = os.path.split(root)
            self._file(folder, name, st, self._cached(folder).get(name))
            return
        if (st.st_dev, st.st_ino) in self._visited:
            return  # already scanned as part of an earlier path
        self._visited.add((st.st_dev, st.st_ino))
        stack = [root]
        while stack:
            folder = stack.pop()
            self._folders.add(folder)
            self.counts["folders"] += 1
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError as e:
                self._tally("unlistable", f"{folder} ({e.strerror})")
                continue
            cached = self._cached(folder)
            for entry in entries:
                try:
                    entry_st = entry.stat(follow_symlinks=False)
                except OSError as e:
                    self._tally("unreadable", f"{entry.path} ({e.strerror})")
                    continue
                mode = entry_st.st_mode
                if stat.S_ISDIR(mode):
                    if self._enter(folder, entry, entry_st, cached.get(entry.name)):
                        stack.append(entry.path)
                elif stat.S_ISLNK(mode):
                    self._link(entry.path)
                elif stat.S_ISREG(mode):
                    self._file(folder, entry.name, entry_st, cached.get(entry.name))
                else:
                    self.counts["skipped_special"] += 1
            if self.cache is not None and cached:
                gone = cached.keys() - {e.name for e in entries}
                if gone:
                    self.cache.forget(folder, gone)
            self._report_progress()

    def _cached(self, folder: str) -> dict[str, CachedEntry]:
        if self.cache is None:
            return {}
        try:
            return self.cache.folder(folder)
        except FileCacheError as e:
            self._cache_failed(e)
            return {}

    def _enter(
        self, folder: str, entry: os.DirEntry[str], st: os.stat_result, cached: CachedEntry | None
    ) -> bool:
        """Whether to descend into a sub-folder; report it first if the catalog names it."""
        if entry.path in PSEUDO_FILESYSTEMS:
            self.counts["skipped_pseudo"] += 1
            return False
        identity = (st.st_dev, st.st_ino)
        if identity in self._visited:
            return False
        self._visited.add(identity)
        if cached is not None and cached.fresh(-1, 0, st.st_ino, self.cache_key):
            self._replay(cached)
            return True
        observations: tuple[Observation, ...] = ()
        if entry.name in self.names():
            observations = (
                Observation.make(
                    Kind.FILE, entry.name, identifiers={Ident.PATH: entry.path}, source="files:name"
                ),
            )
            self.observations.extend(observations)
        self._remember(folder, entry.name, st, observations, ())
        return True

    @property
    def cache_key(self) -> str:
        """The key of the open cache ('' without one)."""
        return self.cache.key if self.cache is not None else ""

    def _link(self, path: str) -> None:
        """A symbolic link is never followed; one leading out of the scanned paths is reported."""
        target = os.path.realpath(path)
        if not any(target == root or _under(target, (root,)) for root in self._roots):
            self.counts["skipped_links"] += 1
            self._tally("outside_link", f"{path} -> {target}")

    def _file(
        self,
        folder: str,
        name: str,
        st: os.stat_result,
        cached: CachedEntry | None,
    ) -> None:
        self.found += 1
        if cached is not None and cached.fresh(
            st.st_size, st.st_mtime_ns, st.st_ino, self.cache_key
        ):
            self.counts["cached"] += 1
            self._replay(cached)
            self._finish()
            return
        path = os.path.join(folder, name)
        fd = self._open(path, st)
        if fd is None:
            self._finish()
            return
        try:
            header = pread(fd, HEADER_SIZE, 0)
            fmt = identify(header, fd, st.st_size)
        except OSError as e:
            os.close(fd)
            self._tally("unreadable", f"{path} ({e.strerror})")
            self._finish()
            return
        if fmt is None and name not in self.names():
            os.close(fd)
            self._remember(folder, name, st, (), ())
            self._finish()
            return
        if st.st_size > self.source.max_file_size:
            os.close(fd)
            self.counts["skipped_large"] += 1
            self._tally("too_large", f"{path} ({st.st_size:,} bytes)")
            self._finish()
            return
        if self.rules is not None:
            try:
                self.rules.compile()  # here, not in a worker: bad rules end the scan at once
            except BaseException:
                os.close(fd)
                raise
        self._submit(fd, folder, name, st, fmt)

    def _submit(
        self, fd: int, folder: str, name: str, st: os.stat_result, fmt: Format | None
    ) -> None:
        """Hand a file to the pool, first taking in the oldest result when enough are pending."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only a scan that reads needs it

            self._pool = ThreadPoolExecutor(self.source.workers, thread_name_prefix="evict-files")
        if len(self._pending) >= self.source.workers * 4:
            self._absorb(self._pending.popleft()[0].result())
        self._pending.append((self._pool.submit(self._examine, fd, folder, name, st, fmt), fd))

    def _open(self, path: str, st: os.stat_result) -> int | None:
        """Open a regular file without following links or blocking; None if it cannot be."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError as e:
            if not _vanished(e):
                self._tally("unreadable", f"{path} ({e.strerror})")
            return None
        self.counts["opened"] += 1
        try:
            now = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            self._tally("unreadable", f"{path} ({e.strerror})")
            return None
        if not stat.S_ISREG(now.st_mode) or now.st_ino != st.st_ino:
            os.close(fd)  # replaced between listing and opening: the next scan will see it
            return None
        return fd

    # -- reading one file (in a worker thread) --------------------------------------------

    def _examine(
        self, fd: int, folder: str, name: str, st: os.stat_result, fmt: Format | None
    ) -> _Examined:
        """Hash and identify one file; runs in the pool and owns ``fd``."""
        path = os.path.join(folder, name)
        try:
            with os.fdopen(fd, "rb", buffering=0) as f:
                if st.st_size <= IN_MEMORY_LIMIT:
                    data = _read_all(f, st.st_size)
                    digest = hashlib.sha256(data).hexdigest()
                    return self._describe(folder, name, st, fmt, data, len(data), digest)
                digest, size = _hash_stream(f)
                if fmt is None:
                    return self._describe(folder, name, st, fmt, b"", size, digest)
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    return self._describe(folder, name, st, fmt, mapped, size, digest)
        except OSError as e:
            return _Examined(
                folder, name, st, problems=(("unreadable", f"{path} ({e})"),), cacheable=False
            )
        except Exception as e:  # one file must not end a scan of thousands; it is reported
            problem = ("failed", f"{path} ({type(e).__name__}: {e})")
            return _Examined(folder, name, st, problems=(problem,), cacheable=False)

    def _describe(
        self,
        folder: str,
        name: str,
        st: os.stat_result,
        fmt: Format | None,
        data: Any,
        size: int,
        digest: str,
    ) -> _Examined:
        path = os.path.join(folder, name)
        base: dict[str, str | None] = {Ident.PATH: path, Ident.SHA256: digest}
        problems: list[tuple[str, str]] = []
        observations: list[Observation] = []
        if fmt is None:
            observations.append(
                Observation.make(Kind.FILE, name, identifiers=base, source="files:name")
            )
        elif fmt is Format.ELF:
            observations.append(
                Observation.make(Kind.FILE, name, identifiers=base, source="files:elf")
            )
        elif fmt is Format.MACHO:
            signing = read_macho(data, size)
            if signing.problem:
                problems.append(("malformed", f"{path} ({signing.problem})"))
            identifiers = {
                **base,
                Ident.TEAM_ID: signing.team_id,
                Ident.BUNDLE_ID: signing.identifier,
            }
            observations.append(
                Observation.make(Kind.FILE, name, identifiers=identifiers, source="files:macho")
            )
        else:
            observations.extend(self._pe(name, path, data, size, base, problems))
        cacheable = True
        if self.rules is not None and self.rules.applies_to(fmt):
            try:
                observations.extend(
                    Observation.make(
                        Kind.FILE,
                        name,
                        publisher=match.vendor,
                        identifiers=base,
                        source=f"files:yara:{match.rule}",
                    )
                    for match in self.rules.match(data)
                )
            except RulesMatchError as e:
                problems.append(("yara", f"{path} ({e})"))
                cacheable = False
        return _Examined(folder, name, st, tuple(observations), tuple(problems), cacheable, size)

    @staticmethod
    def _pe(
        name: str,
        path: str,
        data: Any,
        size: int,
        base: dict[str, str | None],
        problems: list[tuple[str, str]],
    ) -> list[Observation]:
        """The file itself, and the product its version resource names (so name rules fire)."""
        info = read_pe(data, size)
        if info.problem:
            problems.append(("malformed", f"{path} ({info.problem})"))
        strings = info.strings
        company = strings.get("CompanyName", "")
        file_version = (
            strings.get("FileVersion") or strings.get("ProductVersion") or info.fixed_version
        )
        out = [
            Observation.make(
                Kind.FILE,
                name,
                version=file_version,
                publisher=company,
                identifiers={
                    **base,
                    Ident.ORIGINAL_FILENAME: strings.get("OriginalFilename"),
                    Ident.SIGNER: info.signer,
                },
                source="files:pe",
            )
        ]
        product = strings.get("ProductName", "")
        if product:
            out.append(
                Observation.make(
                    Kind.PROGRAM,
                    product,
                    version=strings.get("ProductVersion") or file_version,
                    publisher=company,
                    identifiers={Ident.PATH: path},
                    source="files:version_resource",
                )
            )
        return out

    # -- results ---------------------------------------------------------------------------

    def _absorb(self, result: _Examined) -> None:
        """Take a worker's result into the scan (main thread only)."""
        self.observations.extend(result.observations)
        for category, example in result.problems:
            self._tally(category, example)
        if result.bytes_read or result.observations:
            self.counts["executables"] += 1
            self.counts["bytes_read"] += result.bytes_read
        if result.cacheable:
            self._remember(
                result.folder, result.name, result.st, result.observations, result.problems
            )
        self._finish()

    def _remember(
        self,
        folder: str,
        name: str,
        st: os.stat_result,
        observations: Sequence[Observation],
        problems: Sequence[tuple[str, str]],
    ) -> None:
        if self.cache is None:
            return
        payload = (
            json.dumps([_pack(o) for o in observations], separators=(",", ":"))
            if observations
            else ""
        )
        problem = "\n".join(f"{c}\t{e}" for c, e in problems)
        try:
            self.cache.put(folder, name, st, payload, problem)
        except FileCacheError as e:
            self._cache_failed(e)

    def _replay(self, cached: CachedEntry) -> None:
        """Take a cached entry's observations and problems as if the file had been read."""
        if cached.observations:
            try:
                rows = json.loads(cached.observations)
                self.observations.extend(_unpack(row) for row in rows)
            except (ValueError, TypeError, KeyError, RecursionError) as e:
                self.problems.add(f"file-scan cache entry unreadable ({e}); clear the cache")
        for line in cached.problem.splitlines():
            category, _, example = line.partition("\t")
            self._tally(category, example)

    def _tally(self, category: str, example: str) -> None:
        tally = self.tallies.setdefault(category, _Tally())
        tally.count += 1
        if len(tally.examples) < EXAMPLES:
            tally.examples.append(example)

    def _finish(self) -> None:
        self.done += 1
        self._report_progress()

    def _report_progress(self, *, force: bool = False) -> None:
        callback = self.source.progress
        if callback is None:
            return
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            callback(self.done, self.found)

    def stats(self) -> FileScanStats:
        """The counts so far."""
        c = self.counts
        return FileScanStats(
            folders=c["folders"],
            files=self.found,
            cached=c["cached"],
            opened=c["opened"],
            executables=c["executables"],
            bytes_read=c["bytes_read"],
            skipped_large=c["skipped_large"],
            skipped_special=c["skipped_special"],
            skipped_links=c["skipped_links"],
            skipped_pseudo=c["skipped_pseudo"],
        )

    def status(self) -> SourceStatus:
        """The scan's status: each kind of problem counted once, with a few examples."""
        limit = f"{self.source.max_file_size:,} bytes"
        for category, tally in self.tallies.items():
            template = _PROBLEMS.get(category, category + ": {n}")
            summary = template.format(n=tally.count, limit=limit)
            self.problems.add(f"{summary}, e.g. {'; '.join(tally.examples)}")
        return self.problems.status()


def _this_hostname() -> str:
    """This machine's name, without importing :mod:`socket` where ``uname`` gives it."""
    if hasattr(os, "uname"):
        return os.uname().nodename

    return socket.gethostname()


def _pack(o: Observation) -> list[Any]:
    """An observation as the compact JSON row the cache stores (see :func:`_unpack`)."""
    return [o.kind.value, o.name, o.version, o.publisher, o.identifiers, o.source]


def _unpack(row: list[Any]) -> Observation:
    """Rebuild an observation from :func:`_pack`'s row; identifiers are already sorted."""
    kind, name, version, publisher, identifiers, source = row
    # The cache is a file like any other: what it holds must still be text every output encodes.
    text = clean_text
    idents = tuple((text(str(k)), text(str(v))) for k, v in identifiers)
    return Observation(
        Kind(kind),
        text(str(name)),
        text(str(version)),
        text(str(publisher)),
        idents,
        text(str(source)),
    )


def _under(path: str, parents: Sequence[str] | frozenset[str]) -> bool:
    """Whether ``path`` is one of ``parents`` or lies below one."""
    for parent in parents:
        if path == parent or path.startswith(parent.rstrip(os.sep) + os.sep):
            return True
    return False


def _vanished(error: OSError) -> bool:
    """Whether an open failed because the file went away or became a link (not a problem)."""

    return error.errno in (errno.ENOENT, errno.ELOOP)


def _read_all(f: Any, size: int) -> bytes:
    """Read a file of ``size`` bytes into memory (one ``read`` on a regular file); a file that
    shrank meanwhile gives what is left, one that grew is read up to ``size``."""
    data: bytes = f.read(size)
    while len(data) < size:
        more = f.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _hash_stream(f: Any) -> tuple[str, int]:
    """SHA-256 of a file read in :data:`HASH_BUFFER` chunks; returns ``(hex digest, size)``."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_BUFFER)
    view = memoryview(buffer)
    size = 0
    while n := f.readinto(buffer):
        digest.update(view[:n])
        size += n
    return digest.hexdigest(), size
