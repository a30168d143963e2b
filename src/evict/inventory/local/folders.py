"""Vendor install folders that exist on this host.

A folder such as ``/opt/kaspersky/kesl`` is evidence even when the package database says
nothing: products installed from a ``.sh`` self-installer, or removed without purging, leave it
behind. Only existence is checked; nothing inside is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from evict.inventory.interface import Collector, Problems
from evict.inventory.local._fs import list_dir, resolve_in_root
from evict.model.observations import Ident, Kind, Observation

VENDOR_FOLDERS: tuple[tuple[str, bool], ...] = (
    ("/opt/kaspersky", True),
    ("/var/opt/kaspersky", True),
    ("/etc/opt/kaspersky", True),
    ("/etc/kaspersky", False),
)
"""(folder, whether each sub-folder is also reported) for every vendor folder checked.

Kaspersky's Linux products install to ``/opt/kaspersky/<product>`` (``kesl``, ``klnagent64``,
``kav4fs``, ``ksc64``) with data and configuration in the matching ``/var/opt`` and ``/etc/opt``
folders; ``/etc/kaspersky`` held licence keys of older releases. See
``research/kaspersky-identifiers.md`` (linux_packages: paths).
"""


class VendorFolderCollector(Collector):
    """One observation per vendor folder found, and per product folder inside it."""

    name = "vendor_folders"

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Check each folder in :data:`VENDOR_FOLDERS`; links never lead outside the root."""
        observations: list[Observation] = []
        for folder, with_children in VENDOR_FOLDERS:
            real = resolve_in_root(self.root, folder)
            if real is None or not real.is_dir():
                continue
            observations.append(self._observation(folder))
            if not with_children:
                continue
            for entry in list_dir(real, problems):
                child = f"{folder}/{entry.name}"
                target = None if _is_dir_entry(entry) else resolve_in_root(self.root, child)
                if target is None and not _is_dir_entry(entry):
                    continue
                if target is None or target.is_dir():
                    observations.append(self._observation(child))
        return observations

    def _observation(self, folder: str) -> Observation:
        return Observation.make(
            Kind.FILE,
            folder.rpartition("/")[2],
            identifiers={Ident.PATH: folder},
            source=f"local:{self.name}",
        )


def _is_dir_entry(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
