"""This host's interface addresses, for the server to join network logs with it.

On Linux they are read from the kernel: ``/proc/net/fib_trie`` (an IPv4 address is a ``/32
host LOCAL`` entry) and ``/proc/net/if_inet6``; elsewhere (Windows, macOS) from what the
host's own name resolves to (``getaddrinfo``), which is the addresses the system publishes for
itself. Loopback, link-local and multicast addresses are left out: no network log names a
client by them. Nothing is run and nothing leaves the host but the list.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path


def _useful(values: Iterable[str]) -> tuple[str, ...]:
    out: set[str] = set()
    for value in values:
        try:
            ip = ipaddress.ip_address(value.split("%", 1)[0])
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            continue
        out.add(str(ip))
    return tuple(sorted(out))


def linux_addresses(proc: Path = Path("/proc")) -> tuple[str, ...]:
    """The addresses the kernel holds for this host (read from ``proc``)."""
    found: list[str] = []
    try:
        lines = (proc / "net" / "fib_trie").read_text("ascii", "replace").splitlines()
    except OSError:
        lines = []
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.strip().startswith("/32 host LOCAL") and "|--" in previous:
            found.append(previous.split("|--", 1)[1].strip())
    try:
        inet6 = (proc / "net" / "if_inet6").read_text("ascii", "replace").splitlines()
    except OSError:
        inet6 = []
    for line in inet6:
        fields = line.split()
        if fields and len(fields[0]) == 32:
            h = fields[0]
            found.append(":".join(h[i : i + 4] for i in range(0, 32, 4)))
    return _useful(found)


def resolved_addresses(hostname: str | None = None) -> tuple[str, ...]:
    """The addresses this host's name resolves to (the portable fallback)."""
    try:
        infos = socket.getaddrinfo(hostname or socket.gethostname(), None)
    except OSError:
        return ()
    return _useful(str(info[4][0]) for info in infos)


def local_addresses(root: Path = Path("/")) -> tuple[str, ...]:
    """This host's interface addresses, by the best means the platform has."""
    proc = root / "proc"
    if (proc / "net" / "fib_trie").exists() or (proc / "net" / "if_inet6").exists():
        return linux_addresses(proc)
    if root != Path("/"):
        return ()
    return resolved_addresses()
