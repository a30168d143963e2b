"""Reading below a filesystem root the way the host would, without ever leaving it.

Collectors read a host through ``root`` (``/`` on the running host, a mounted image or a prepared
tree in tests). Absolute symlinks inside such a tree name paths *of that host*, so they are
resolved against ``root`` as if it were ``/`` (``chroot`` semantics): a link can never take a
collector outside ``root``. Every read is bounded and refuses anything but a regular file, so a
FIFO or a multi-gigabyte file cannot hang or exhaust a scan.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

from evict.inventory.interface import Problems, SourceInputError

MAX_SYMLINKS = 40
"""How many links one resolution may follow before it is treated as a loop (as Linux does)."""

MAX_PROBLEMS = 50
"""Problems kept per collector; a hostile or badly damaged host must not flood the report."""


def note(problems: Problems, problem: str) -> None:
    """Record ``problem``, unless :data:`MAX_PROBLEMS` are already recorded (then say so once)."""
    count = len(problems.problems)
    if count < MAX_PROBLEMS:
        problems.add(problem)
    elif count == MAX_PROBLEMS:
        problems.add("more problems were found and not listed")


@functools.lru_cache(maxsize=16)
def is_real_root(root: Path) -> bool:
    """Whether ``root`` is this machine's ``/``, where ordinary path resolution is already safe."""
    try:
        return os.path.samefile(root, "/")
    except OSError:
        return False


def resolve_in_root(root: Path, host_path: str) -> Path | None:
    """Find ``host_path`` (absolute, as the host sees it) below ``root``, following links safely.

    Symlinks are followed with ``root`` acting as ``/``: absolute targets restart at ``root`` and
    ``..`` stops there. Returns the real path below ``root``, or None when a component is missing,
    unreadable or the links loop.

    :param root: the filesystem root being read.
    :param host_path: a path such as ``/etc/ssl/certs/ca-certificates.crt``.
    """
    if is_real_root(root):
        real = os.path.realpath(host_path)
        return Path(real) if os.path.lexists(real) else None
    pending = [p for p in reversed(host_path.split("/")) if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
            if stat.S_ISLNK(mode):
                links += 1
                if links > MAX_SYMLINKS:
                    return None
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
        except OSError:
            return None
        resolved.append(part)
    return root.joinpath(*resolved)


def host_path(root: Path, path: Path) -> str:
    """The path ``path`` (below ``root``) as the host itself would write it, e.g. ``/opt/x``."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return str(path)
    return "/" + rel.as_posix() if rel.parts else "/"


def read_bounded(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes.

    Special files (FIFOs, devices, sockets) are refused without blocking, and a file larger than
    ``limit`` is refused without being read: both raise :class:`SourceInputError` naming the file.
    ``/proc`` files report a size of 0 and are read up to ``limit``.

    :param path: the file to read.
    :param limit: the largest size accepted, in bytes.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceInputError(str(path), "not a regular file; not read")
        if info.st_size > limit:
            raise SourceInputError(
                str(path), f"{info.st_size} bytes, more than the {limit} read; not read"
            )
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise SourceInputError(str(path), f"more than the {limit} bytes read; not read")
    return data


def list_dir(path: Path, problems: Problems) -> list[os.DirEntry[str]]:
    """The entries of directory ``path``, sorted by name.

    A missing directory has no entries; one that exists but cannot be listed (permissions, a
    file where a directory was expected) is recorded on ``problems`` and has no entries either.
    """
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as e:
        note(problems, f"{path}: cannot list: {e.strerror or e}")
        return []


def home_dirs(root: Path, problems: Problems) -> list[Path]:
    """Every user's home below ``root``: ``/root`` and each directory in ``/home``."""
    homes: list[Path] = []
    admin = resolve_in_root(root, "/root")
    if admin is not None and admin.is_dir():
        homes.append(admin)
    home = resolve_in_root(root, "/home")
    if home is None:
        return homes
    for entry in list_dir(home, problems):
        user_home = resolve_in_root(root, f"/home/{entry.name}")
        if user_home is not None and user_home.is_dir():
            homes.append(user_home)
    return homes
