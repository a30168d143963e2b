"""Running processes of this host, from ``/proc``.

For each process the kernel gives its name (``comm``, cut to 15 bytes), its command line, and a
link to its executable (``exe``). Reading another user's ``exe`` link needs privileges, and
processes come and go while the scan runs, so a process that cannot be read is skipped quietly;
only a ``/proc`` where nothing at all can be read is a problem. Kernel threads (no command line,
no executable) are not software anyone installed, and are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from evict.inventory.interface import Collector, Problems
from evict.inventory.local._fs import list_dir, note, resolve_in_root
from evict.model.observations import Ident, Kind, Observation

COMM_LEN = 15
"""The kernel keeps at most this many bytes of a process name (``TASK_COMM_LEN`` - 1)."""

MAX_CMDLINE = 4096
"""Bytes of a command line read; only the program (``argv[0]``) is used."""

_DELETED = " (deleted)"


def _read(path: str, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of ``path``; None if it is gone, unreadable or a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def process_name(comm: str, exe: str, argv0: str) -> str:
    """The name to report for a process: ``comm``, unless the kernel cut it short.

    :param comm: the kernel's process name (at most 15 bytes).
    :param exe: the executable's path, or empty.
    :param argv0: the first word of the command line, or empty.
    """
    for full in (exe, argv0):
        base = full.rpartition("/")[2]
        if base and (not comm or (len(comm) >= COMM_LEN and base.startswith(comm))):
            return base
    return comm


class ProcessCollector(Collector):
    """One observation per distinct (name, executable path) among running processes."""

    name = "processes"
    PROC = "/proc"

    def available(self) -> bool:
        """Whether ``/proc`` is mounted."""
        proc = resolve_in_root(self.root, self.PROC)
        return proc is not None and proc.is_dir()

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Read every process; a vanished or unreadable one is skipped."""
        proc = resolve_in_root(self.root, self.PROC)
        if proc is None:
            return []
        seen: dict[tuple[str, str], Observation] = {}
        pids = 0
        readable = 0
        for entry in list_dir(proc, problems):
            if not entry.name.isdigit() or entry.is_symlink():
                continue
            pids += 1
            base = entry.path
            comm_raw = _read(f"{base}/comm", 64)
            cmdline = _read(f"{base}/cmdline", MAX_CMDLINE)
            if comm_raw is None and cmdline is None:
                continue  # exited, or hidden from us (hidepid)
            readable += 1
            argv0 = (cmdline or b"").split(b"\0", 1)[0].decode("utf-8", "replace")
            try:
                exe = os.readlink(f"{base}/exe")
            except OSError:
                exe = ""
            if exe.endswith(_DELETED):
                exe = exe[: -len(_DELETED)]
            if not exe and not argv0:
                continue  # a kernel thread, or a zombie
            comm = (comm_raw or b"").decode("utf-8", "replace").rstrip("\n")
            name = process_name(comm, exe, argv0)
            path = exe or (argv0 if argv0.startswith("/") else "")
            key = (name, path)
            if name and key not in seen:
                seen[key] = Observation.make(
                    Kind.PROCESS,
                    name,
                    identifiers={Ident.PATH: path},
                    source=f"local:{self.name}",
                )
        if pids and not readable:
            note(problems, f"{proc}: none of {pids} processes could be read")
        return list(seen.values())
