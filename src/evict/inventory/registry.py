"""Inventory sources by name, as ``evict scan --from NAME`` selects them.

Sources are imported only when asked for, so that a plain ``evict scan`` does not pay for the
XML, SBOM or registry-hive libraries it does not use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from evict.inventory.interface import InventoryError, InventorySource

SOURCES: dict[str, str] = {
    "dpkg-status": "evict.inventory.dpkg:DpkgStatusSource",
    "osquery": "evict.inventory.osquery:OsquerySource",
    "reg": "evict.inventory.windows.reg:RegExportSource",
    "hive": "evict.inventory.windows.hive:HiveSource",
    "powershell": "evict.inventory.windows.powershell:PowerShellSource",
    "macos": "evict.inventory.macos:MacosSource",
    "intune": "evict.inventory.mdm:IntuneSource",
    "jamf": "evict.inventory.mdm:JamfSource",
    "cyclonedx": "evict.inventory.sbom:CycloneDxSource",
    "spdx": "evict.inventory.sbom:SpdxSource",
    "evict": "evict.inventory.evict_json:EvictJsonSource",
    "zeek": "evict.inventory.network.zeek:ZeekSource",
    "suricata": "evict.inventory.network.suricata:SuricataSource",
    "squid": "evict.inventory.network.squid:SquidSource",
    "bind": "evict.inventory.network.bind:BindSource",
    "windows-dns": "evict.inventory.network.windows_dns:WindowsDnsSource",
    "dnsmasq": "evict.inventory.network.dnsmasq:DnsmasqSource",
}
"""Offline sources: name -> ``module:Class``. Each class takes ``(paths)``."""


class UnknownSourceError(InventoryError):
    """A ``--from`` name that no source answers to."""


def source_class(name: str) -> type[InventorySource]:
    """Import and return the source class registered under ``name``."""
    target = SOURCES.get(name)
    if target is None:
        raise UnknownSourceError(
            f"unknown inventory source {name!r}; one of: {', '.join(sorted(SOURCES))}"
        )
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[InventorySource] = getattr(module, class_name)
    return cls


def open_source(name: str, paths: Sequence[Path]) -> InventorySource:
    """Build the source ``name`` over ``paths``."""
    cls = source_class(name)
    return cls(paths)  # type: ignore[call-arg]
