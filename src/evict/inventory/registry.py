"""Inventory sources by name, as ``evict scan --from NAME`` selects them.

Sources are imported only when asked for, so that a plain ``evict scan`` does not pay for the
XML, SBOM or registry-hive libraries it does not use. Network logs are read for a catalog's
endpoints: the caller hands that catalog to :func:`open_source`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evict.inventory.interface import InventoryError, InventorySource
from evict.inventory.network.formats import open_log_source

if TYPE_CHECKING:
    from evict.catalog.interface import Catalog

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
"""Offline sources: name -> ``module:Class``. Each class takes ``(paths)``, except the network
logs' (:data:`NETWORK_LOGS`), which also take the catalog."""

NETWORK_LOGS = frozenset({"zeek", "suricata", "squid", "bind", "windows-dns", "dnsmasq"})
"""The sources that read network logs for the catalog's endpoints."""


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


def open_source(
    name: str, paths: Sequence[Path], *, catalog: Catalog | None = None
) -> InventorySource:
    """Build the source ``name`` over ``paths``; a network log source looks for the endpoints
    of ``catalog``, which it needs."""
    cls = source_class(name)
    if name not in NETWORK_LOGS:
        return cls(paths)  # type: ignore[call-arg]
    if catalog is None:
        raise InventoryError(f"--from {name}: network logs are read for a catalog's endpoints")
    # The network log readers (and ahocorasick) are loaded only when one is asked for.

    return open_log_source(name, paths, catalog=catalog)


SNIFF_BYTES = 64 * 1024
"""How much of a file :func:`sniff` reads: enough for a first JSON line of a large host."""


def sniff(path: Path) -> str | None:
    """The ``--from`` kind whose input ``path`` looks like, from its first bytes, or None.

    Only for hints after a source refused a file ("this looks like a --from evict file"):
    a guess from a few markers each format always has, never used to pick a reader.
    """
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return None
    if head.startswith(b"regf"):
        return "hive"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith(("Windows Registry Editor", "REGEDIT4")):
        return "reg"
    if stripped.startswith("SPDXVersion:"):
        return "spdx"
    if stripped.startswith("Package:") and "\nStatus:" in stripped:
        return "dpkg-status"
    first = stripped.split("\n", 1)[0]
    for candidate in (first, stripped):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        return _json_kind(doc)
    return None


def _json_kind(doc: object) -> str | None:
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if not isinstance(doc, dict):
        return None
    if doc.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    if "spdxVersion" in doc:
        return "spdx"
    if "hostIdentifier" in doc and "name" in doc:
        return "osquery"
    if "host" in doc and "observations" in doc:
        return "evict"
    return None


def wrong_kind_hint(kind: str, path: str | Path) -> str:
    """``"; it looks like a --from K file"`` when a refused file fits another kind, else ``""``."""
    guess = sniff(Path(path))
    if guess is None or guess == kind:
        return ""
    return f" (this looks like a `--from {guess}` file)"
