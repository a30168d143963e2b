"""The network log formats and their sources: the one module that imports every reader.

A source is opened here with every format (:data:`ALL_FORMATS`), so that a file that is not the
format asked for is refused with the name of the format it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from evict.catalog.interface import Catalog
from evict.inventory.network._reader import LogFormat, NetworkLogSource
from evict.inventory.network.bind import BindQueryLog, BindSource
from evict.inventory.network.dnsmasq import DnsmasqLog, DnsmasqSource
from evict.inventory.network.squid import SquidAccessLog, SquidSource
from evict.inventory.network.suricata import EveJson, SuricataSource
from evict.inventory.network.windows_dns import WindowsDnsDebugLog, WindowsDnsSource
from evict.inventory.network.zeek import ZeekJson, ZeekSource, ZeekTsv

ALL_FORMATS: tuple[type[LogFormat], ...] = (
    ZeekTsv,
    ZeekJson,
    EveJson,
    SquidAccessLog,
    BindQueryLog,
    WindowsDnsDebugLog,
    DnsmasqLog,
)
"""Every network log format, in the order a file is tried against them for a hint."""

SOURCES: Mapping[str, type[NetworkLogSource]] = {
    cls.name: cls
    for cls in (
        ZeekSource,
        SuricataSource,
        SquidSource,
        BindSource,
        WindowsDnsSource,
        DnsmasqSource,
    )
}
"""The network log sources by ``--from`` name."""


def open_log_source(kind: str, paths: Sequence[Path], *, catalog: Catalog) -> NetworkLogSource:
    """The network log source ``kind`` over ``paths``, looking for ``catalog``'s endpoints."""
    return SOURCES[kind](paths, catalog=catalog, known=ALL_FORMATS)
