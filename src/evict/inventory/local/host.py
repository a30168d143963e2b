"""The running host as an inventory source: every collector, each failing on its own.

A collector that raises (permission denied, a missing tool, a file in an odd state) is recorded as
``failed`` in the scan's ``sources`` list and the others carry on: one unreadable trust store must
not hide a Kaspersky package in dpkg.
"""

from __future__ import annotations

import datetime as dt
import importlib
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

from evict.inventory.interface import Collector, InventoryError, InventorySource, Problems
from evict.inventory.local.addresses import local_addresses
from evict.model.observations import HostID, HostInventory, Observation, Platform, SourceStatus

COLLECTORS: tuple[str, ...] = (
    "evict.inventory.local.packages:DpkgCollector",
    "evict.inventory.local.packages:RpmCollector",
    "evict.inventory.local.packages:ApkCollector",
    "evict.inventory.local.packages:SnapCollector",
    "evict.inventory.local.packages:FlatpakCollector",
    "evict.inventory.local.services:SystemdCollector",
    "evict.inventory.local.processes:ProcessCollector",
    "evict.inventory.local.kmod:KernelModuleCollector",
    "evict.inventory.local.certs:TrustStoreCollector",
    "evict.inventory.local.browser:BrowserExtensionCollector",
    "evict.inventory.local.folders:VendorFolderCollector",
)
"""Every collector of this host, as ``module:Class``; each is built with ``root``."""


def machine_id(root: Path) -> str | None:
    """The host's stable identifier (systemd machine-id), if it has one."""
    for candidate in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            value = (root / candidate).read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return None


class LocalHostSource(InventorySource):
    """This host, read by every collector that applies to it.

    :param root: the filesystem root to read (``/``; tests point it at a prepared tree).
    :param collectors: collector ``module:Class`` paths; by default :data:`COLLECTORS`.
    :param now: the collection time (the CLI passes the clock in).
    """

    name = "local"

    def __init__(
        self,
        root: Path = Path("/"),
        collectors: Sequence[str] = COLLECTORS,
        *,
        now: dt.datetime | None = None,
        hostname: str | None = None,
    ) -> None:
        self.root = root
        self.collector_paths = tuple(collectors)
        self.now = now
        self.hostname = hostname or socket.gethostname()
        self._statuses: list[SourceStatus] = []

    @property
    def statuses(self) -> list[SourceStatus]:
        """One status per collector that ran."""
        return list(self._statuses)

    def _build(self, target: str) -> Collector:
        module_name, _, class_name = target.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        collector: Collector = cls(self.root)
        return collector

    def collect(self) -> Iterator[HostInventory]:
        """Run every applicable collector and yield this host's one inventory."""
        observations: list[Observation] = []
        self._statuses = []
        for target in self.collector_paths:
            label = "local:" + target.rpartition(":")[2]
            try:
                collector = self._build(target)
                label = f"local:{collector.name}"
                if not collector.available():
                    continue
                problems = Problems(label)
                observations.extend(collector.collect(problems))
                self._statuses.append(problems.status())
            except (InventoryError, OSError, ValueError, ImportError) as e:
                self._statuses.append(SourceStatus(label, "failed", (f"{type(e).__name__}: {e}",)))
        host = machine_id(self.root) or self.hostname
        yield HostInventory(
            host=HostID(host),
            hostname=self.hostname,
            platform=Platform.LINUX,
            collected_at=self.now or dt.datetime.now(dt.UTC),
            observations=tuple(observations),
            source="local",
            addresses=local_addresses(self.root),
        )
