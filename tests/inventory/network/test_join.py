"""Network devices joined with enrolled hosts over time (DHCP leases change hands)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from evict.catalog.loader import load_catalog
from evict.inventory.network.join import Lease, canonical_address, join_devices
from evict.inventory.registry import open_source
from evict.model.observations import HostID, Ident, Kind, Observation

ASSETS = Path(__file__).parent.parent.parent / "assets" / "network"
UTC = dt.UTC


def at(hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC)


def devices() -> dict[str, object]:
    # zeek-dns.log: 10.0.0.5 asked KSN from 09:00:00 to 09:02:00, and the update host at 09:01
    source = open_source("zeek", [ASSETS / "zeek-dns.log"], catalog=load_catalog())
    return {h.host: h for h in source.collect()}


def test_traffic_joins_the_host_that_held_the_address_then() -> None:
    found = devices()
    leases = [
        Lease(HostID("ws-019"), "10.0.0.5", at(8), at(12)),
        Lease(HostID("ws-044"), "10.0.0.5", at(12), None),  # the address moved on at noon
        Lease(HostID("phone-7"), "10.0.0.8", at(6), None),
    ]
    result = join_devices(found.values(), leases)  # type: ignore[arg-type]
    assert {o.name for o in result.joined[HostID("ws-019")]} == {
        "dc1.ksn.kaspersky-labs.com",
        "s07.upd.kaspersky.com",
    }
    assert HostID("ws-044") not in result.joined
    assert all(o.kind is Kind.NETWORK for o in result.joined[HostID("phone-7")])
    assert result.unmanaged == []


def test_an_address_nobody_held_at_the_time_is_an_unmanaged_device() -> None:
    found = devices()
    leases = [Lease(HostID("ws-019"), "10.0.0.5", at(10), None)]  # leased after the traffic
    result = join_devices(found.values(), leases)  # type: ignore[arg-type]
    assert HostID("ws-019") not in result.joined
    (device,) = [d for d in result.unmanaged if d.host == "net:10.0.0.5"]
    assert {o.name for o in device.observations} == {
        "dc1.ksn.kaspersky-labs.com",
        "s07.upd.kaspersky.com",
    }


def test_traffic_while_the_address_changed_hands_is_not_guessed() -> None:
    found = devices()
    leases = [
        Lease(HostID("ws-019"), "10.0.0.5", at(8), at(9, 0, 30)),
        Lease(HostID("ws-044"), "10.0.0.5", at(9, 0, 30), None),
    ]
    result = join_devices(found.values(), leases)  # type: ignore[arg-type]
    # the update lookup (09:01:00) was after the handover at 09:00:30: ws-044's
    assert [o.name for o in result.joined[HostID("ws-044")]] == ["s07.upd.kaspersky.com"]
    # KSN was asked from 09:00 to 09:02, across the handover: neither host is credited
    assert HostID("ws-019") not in result.joined
    assert result.ambiguous[HostID("net:10.0.0.5")] == ("ws-019", "ws-044")


def test_partial_cover_is_not_enough() -> None:
    o = Observation(
        Kind.NETWORK,
        "dc1.ksn.kaspersky-labs.com",
        identifiers=(
            (Ident.COUNT.value, "9"),
            (Ident.FIRST_SEEN.value, at(7).isoformat()),
            (Ident.LAST_SEEN.value, at(9).isoformat()),
        ),
        source="zeek",
    )
    from evict.model.observations import HostInventory, Platform

    device = HostInventory(HostID("net:10.0.0.5"), "", Platform.UNKNOWN, at(9), (o,), "zeek")
    result = join_devices([device], [Lease(HostID("ws-019"), "10.0.0.5", at(8), None)])
    assert result.joined == {}
    assert [d.host for d in result.unmanaged] == ["net:10.0.0.5"]


def test_addresses_are_compared_in_one_spelling() -> None:
    assert canonical_address("::ffff:10.0.0.5") == "10.0.0.5"
    assert canonical_address("2001:DB8::0:8") == "2001:db8::8"
    assert canonical_address("fe80::1%eth0") == "fe80::1"
    assert canonical_address("laptop-17") is None
