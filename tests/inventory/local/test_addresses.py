"""This host's addresses, read from the kernel's tables as Linux writes them."""

from __future__ import annotations

from pathlib import Path

from evict.agent.wire import report_body
from evict.inventory.local.addresses import local_addresses
from evict.model.observations import HostID, HostInventory, Platform

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.0.0.0/24 2 0 2
        |-- 10.0.0.0
           /24 link UNICAST
        |-- 10.0.0.5
           /32 host LOCAL
  +-- 127.0.0.0/8 2 0 2
     |-- 127.0.0.1
        /32 host LOCAL
"""
IF_INET6 = """fd000000000000000000000000000002 04 40 00 82     eth0
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
"""


def test_linux_addresses_leave_out_loopback_and_link_local(tmp_path: Path) -> None:
    net = tmp_path / "proc" / "net"
    net.mkdir(parents=True)
    (net / "fib_trie").write_text(FIB_TRIE)
    (net / "if_inet6").write_text(IF_INET6)
    assert local_addresses(tmp_path) == ("10.0.0.5", "fd00::2")


def test_the_agent_report_carries_the_addresses_outside_the_digest() -> None:
    import datetime as dt

    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    bare = HostInventory(HostID("h"), "h", Platform.LINUX, now, ())
    with_addresses = HostInventory(
        HostID("h"), "h", Platform.LINUX, now, (), addresses=("10.0.0.5",)
    )
    a, b = report_body(bare, "report-1"), report_body(with_addresses, "report-1")
    assert "addresses" not in a and b["addresses"] == ["10.0.0.5"]
    assert a["digest"] == b["digest"]
