"""Loaded Linux kernel modules, from ``/proc/modules``.

Each line is ``name size refcount dependencies state address [taint]``; only the name is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from evict.inventory.interface import Collector, Problems, SourceInputError
from evict.inventory.local._fs import note, read_bounded, resolve_in_root
from evict.model.observations import Kind, Observation

MAX_MODULES_BYTES = 4 * 1024 * 1024
"""The largest ``/proc/modules`` read; a few thousand modules take well under 1 MB."""

_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class KernelModuleCollector(Collector):
    """One observation per loaded kernel module."""

    name = "kernel_modules"
    MODULES = "/proc/modules"

    def available(self) -> bool:
        """Whether this host shows its loaded modules."""
        path = resolve_in_root(self.root, self.MODULES)
        return path is not None  # anything there is read, or refused with a reason

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Read the module list; a line of another shape is recorded and skipped."""
        path = resolve_in_root(self.root, self.MODULES)
        if path is None:
            raise SourceInputError(self.MODULES, "not found")
        data = read_bounded(path, MAX_MODULES_BYTES)
        observations: list[Observation] = []
        seen: set[str] = set()
        for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 3 or not _MODULE_NAME.fullmatch(fields[0]):
                note(problems, f"{path}:{lineno}: not a module line: {line[:60]!r}")
                continue
            if fields[0] in seen:
                continue
            seen.add(fields[0])
            observations.append(
                Observation.make(Kind.KERNEL_MODULE, fields[0], source=f"local:{self.name}")
            )
        return observations
