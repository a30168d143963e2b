"""Every network log format, for telling a user which one a file is when it is not the one asked."""

from __future__ import annotations

from evict.inventory.network._reader import LogFormat
from evict.inventory.network.bind import BindQueryLog
from evict.inventory.network.dnsmasq import DnsmasqLog
from evict.inventory.network.squid import SquidAccessLog
from evict.inventory.network.suricata import EveJson
from evict.inventory.network.windows_dns import WindowsDnsDebugLog
from evict.inventory.network.zeek import ZeekJson, ZeekTsv

ALL_FORMATS: tuple[type[LogFormat], ...] = (
    ZeekTsv,
    ZeekJson,
    EveJson,
    SquidAccessLog,
    BindQueryLog,
    WindowsDnsDebugLog,
    DnsmasqLog,
)
