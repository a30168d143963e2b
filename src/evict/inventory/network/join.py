"""Network devices joined with the fleet: which enrolled host held a client address, and when.

A network log names a client by its address (``net:10.0.0.5``); the fleet knows hosts by their
own identifiers, and each host's addresses change (DHCP, VPN pools, roaming laptops). Given the
address leases the fleet knows — host, address, from when, until when — :func:`join_devices`
credits each network observation to the host that held its client address over the whole time
the traffic was seen (``first_seen`` to ``last_seen``), and leaves the rest as **unmanaged
devices**: traffic from an address no enrolled host held at that time. An address two hosts
held over the same time is ambiguous and stays unmanaged, with both hosts named, rather than
being guessed.

Pure: no clock, no store. The caller passes the leases (from agents' interface addresses, or an
osquery ``interface_addresses`` snapshot) and the devices read from network logs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evict.model.observations import HostID, HostInventory, Ident, Observation

NET_PREFIX = "net:"
"""Host ids of devices read from network logs start with this."""


@dataclass(frozen=True, slots=True)
class Lease:
    """An enrolled host held ``address`` from ``start`` until ``end`` (None: still holds it)."""

    host: HostID
    address: str
    start: dt.datetime
    end: dt.datetime | None = None

    def covers(self, first: dt.datetime, last: dt.datetime) -> bool:
        """Whether the host held the address over the whole of ``first``..``last``."""
        return self.start <= first and (self.end is None or last <= self.end)

    def overlaps(self, first: dt.datetime, last: dt.datetime) -> bool:
        """Whether the host held the address at some time within ``first``..``last``."""
        return self.start <= last and (self.end is None or first <= self.end)


@dataclass
class JoinResult:
    """Network observations credited to enrolled hosts, and the devices no host accounts for."""

    joined: dict[HostID, list[Observation]] = field(default_factory=dict)
    """Enrolled host -> the network observations of the addresses it held at the time."""
    unmanaged: list[HostInventory] = field(default_factory=list)
    """Devices (``net:ADDRESS``) whose traffic no single enrolled host accounts for."""
    ambiguous: dict[HostID, tuple[HostID, ...]] = field(default_factory=dict)
    """Unmanaged devices whose address more than one host held at the time: those hosts."""


def canonical_address(value: str) -> str | None:
    """``value`` as one spelling of an IP address (``::ffff:10.0.0.5`` is ``10.0.0.5``)."""
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _when(observation: Observation, key: str, fallback: dt.datetime) -> dt.datetime:
    value = observation.ident(key)
    if not value:
        return fallback
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return fallback
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def join_devices(devices: Iterable[HostInventory], leases: Sequence[Lease]) -> JoinResult:
    """Credit each device's observations to the host that held its address at the time.

    Devices that are not network devices (their id does not start with ``net:``) are ignored.
    An observation joins a host when exactly one lease of its address overlaps the time the
    traffic was seen and that lease covers all of it; observations of one device can join
    different hosts when the address changed hands between them. What joins no host stays on
    the device, which is returned as unmanaged with only those observations.
    """
    by_address: dict[str, list[Lease]] = defaultdict(list)
    for lease in leases:
        address = canonical_address(lease.address)
        if address is not None:
            by_address[address].append(lease)
    result = JoinResult()
    for device in devices:
        if not device.host.startswith(NET_PREFIX):
            continue
        address = canonical_address(device.host.removeprefix(NET_PREFIX))
        candidates = by_address.get(address, []) if address is not None else []
        left: list[Observation] = []
        sharing: set[HostID] = set()
        for o in device.observations:
            last = _when(o, Ident.LAST_SEEN, device.collected_at)
            first = _when(o, Ident.FIRST_SEEN, last)
            overlapping = [lease for lease in candidates if lease.overlaps(first, last)]
            holders = {lease.host for lease in overlapping}
            if len(holders) == 1 and any(lease.covers(first, last) for lease in overlapping):
                result.joined.setdefault(overlapping[0].host, []).append(o)
                continue
            if len(holders) > 1:
                sharing |= holders
            left.append(o)
        if left:
            result.unmanaged.append(
                HostInventory(
                    host=device.host,
                    hostname=device.hostname,
                    platform=device.platform,
                    collected_at=device.collected_at,
                    observations=tuple(left),
                    source=device.source,
                )
            )
            if sharing:
                result.ambiguous[device.host] = tuple(sorted(sharing))
    return result
