"""Network evidence in the store: hosts' addresses over time, traffic credited to enrolled hosts,
unmanaged devices, and an organisation's days of silence.

- ``host_addresses``: each enrolled host's interface addresses, written only when the set a
  host reports changes (a check-in with the same addresses costs one indexed read). An address
  the host still reports is ``current``; one it stopped reporting keeps ``last_seen``, the last
  check-in that still showed it. As a lease (:class:`evict.inventory.network.join.Lease`) a
  current address is held until the host's last check-in plus :data:`LEASE_GRACE`: a host that
  stopped checking in is not assumed to hold its address for ever.
- ``host_traffic``: vendor traffic joined with an enrolled host, one row per host and product
  (first and last seen, requests, blocked requests, a few names and log lines).
- ``network_devices``: the unmanaged devices, one row per organisation and client address.
- ``network_settings``: ``silence_days``, the days without vendor traffic ``verified`` requires.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from evict.inventory.network.join import Lease, canonical_address
from evict.model.listings import DeviceUpdate, HostTraffic, Traffic, UnmanagedDevice, _kept
from evict.model.observations import HostID
from evict.model.records import HostInfo, InvalidValueError
from evict.store.core import _chunks
from evict.store.store import Store
from evict.store.tables import (
    Host,
    HostAddressRow,
    HostTrafficRow,
    NetworkDeviceRow,
    NetworkSettingRow,
)

LEASE_GRACE = dt.timedelta(days=1)
"""How long after its last check-in a host is still taken to hold the addresses it reported."""

MAX_ADDRESSES = 64
"""Most addresses kept from one report (a host with more is a router, not a laptop)."""


def host_addresses(values: Iterable[str]) -> tuple[str, ...]:
    """The addresses worth keeping from what a host reported, canonical, sorted, deduplicated.

    Loopback, link-local, multicast and unspecified addresses name no one on a network log;
    anything that is not an address is dropped (the caller has already checked the shape).
    """
    out: set[str] = set()
    for value in values:
        address = canonical_address(str(value))
        if address is None:
            continue
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            continue
        out.add(address)
    return tuple(sorted(out)[:MAX_ADDRESSES])


class NetworkStore:
    """The network evidence tables, over the store's engine and audit chain.

    :param store: the store (its transactions and audit log are used).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- addresses ----------------------------------------------------------------------------

    def record_addresses(
        self, host: HostInfo, addresses: Sequence[str], *, now: dt.datetime
    ) -> bool:
        """Keep the addresses ``host`` reports now; return whether they changed.

        :param host: the host as authenticated (its ``last_seen`` is the previous check-in,
            taken as the last time an address that is now gone was still held).
        """
        wanted = set(host_addresses(addresses))
        held = select(HostAddressRow.id, HostAddressRow.address).where(
            HostAddressRow.host_id == host.id, HostAddressRow.current.is_(True)
        )
        with self.store._read() as conn:
            current = {r.address: r.id for r in conn.execute(held)}
        if set(current) == wanted:
            return False
        gone = [i for a, i in current.items() if a not in wanted]
        new = sorted(wanted - set(current))
        until = host.last_seen or now
        with self.store._write() as conn:
            for chunk in _chunks(gone):
                conn.execute(
                    update(HostAddressRow)
                    .where(HostAddressRow.id.in_(list(chunk)))
                    .values(current=False, last_seen=until)
                )
            if new:
                conn.execute(
                    insert(HostAddressRow),
                    [
                        {
                            "host_id": host.id,
                            "address": a,
                            "first_seen": now,
                            "last_seen": now,
                            "current": True,
                        }
                        for a in new
                    ],
                )
        return True

    def addresses(self, host_id: int) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
        """A host's addresses: ``(address, first seen, until)`` (until None: still held)."""
        with self.store._read() as conn:
            rows = conn.execute(
                select(HostAddressRow)
                .where(HostAddressRow.host_id == host_id)
                .order_by(HostAddressRow.first_seen, HostAddressRow.address)
            ).all()
        return [(r.address, r.first_seen, None if r.current else r.last_seen) for r in rows]

    def leases(self, org_id: int, addresses: Iterable[str]) -> list[Lease]:
        """Every lease the organisation's hosts had on ``addresses``; hosts named by identifier."""
        wanted = sorted({a for a in (canonical_address(x) for x in addresses) if a})
        out: list[Lease] = []
        with self.store._read() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    select(
                        Host.identifier,
                        Host.last_seen,
                        HostAddressRow.address,
                        HostAddressRow.first_seen,
                        HostAddressRow.last_seen.label("until"),
                        HostAddressRow.current,
                    )
                    .join(Host, Host.id == HostAddressRow.host_id)
                    .where(Host.org_id == org_id, HostAddressRow.address.in_(list(chunk)))
                )
                for r in rows:
                    end = (r.last_seen or r.until) + LEASE_GRACE if r.current else r.until
                    out.append(Lease(HostID(r.identifier), r.address, r.first_seen, end))
        return out

    # -- traffic of enrolled hosts ------------------------------------------------------------

    def record_traffic(self, items: Sequence[HostTraffic]) -> None:
        """Merge traffic into each host's row for its product (a lost race starts over)."""
        for attempt in range(3):
            try:
                self._record_traffic(items)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _record_traffic(self, items: Sequence[HostTraffic]) -> None:
        if not items:
            return
        merged: dict[tuple[int, str], Traffic] = {}
        for item in items:
            key = (item.host_id, item.traffic.product)
            old = merged.get(key)
            merged[key] = item.traffic if old is None else old.merge(item.traffic)
        with self.store._write() as conn:
            for (host_id, product), traffic in sorted(merged.items()):
                row = conn.execute(
                    select(HostTrafficRow).where(
                        HostTrafficRow.host_id == host_id, HostTrafficRow.product == product
                    )
                ).first()
                if row is not None:
                    traffic = _traffic(row).merge(traffic)
                values = {
                    "address": traffic.address,
                    "first_seen": traffic.first_seen,
                    "last_seen": traffic.last_seen,
                    "count": traffic.count,
                    "blocked": traffic.blocked,
                    "names": json.dumps(list(traffic.names)),
                    "lines": json.dumps(list(traffic.lines)),
                }
                if row is None:
                    conn.execute(
                        insert(HostTrafficRow).values(host_id=host_id, product=product, **values)
                    )
                else:
                    conn.execute(
                        update(HostTrafficRow).where(HostTrafficRow.id == row.id).values(**values)
                    )

    def traffic(self, host_ids: Sequence[int]) -> dict[int, list[Traffic]]:
        """The traffic credited to each host, latest first."""
        out: dict[int, list[Traffic]] = {}
        with self.store._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(
                    select(HostTrafficRow)
                    .where(HostTrafficRow.host_id.in_(list(chunk)))
                    .order_by(HostTrafficRow.last_seen.desc())
                )
                for r in rows:
                    out.setdefault(r.host_id, []).append(_traffic(r))
        return out

    def last_traffic(self, host_ids: Sequence[int]) -> dict[int, dt.datetime]:
        """When each host last showed vendor traffic (blocked or not), for hosts with some."""
        out: dict[int, dt.datetime] = {}
        with self.store._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(
                    select(HostTrafficRow.host_id, func.max(HostTrafficRow.last_seen))
                    .where(HostTrafficRow.host_id.in_(list(chunk)))
                    .group_by(HostTrafficRow.host_id)
                )
                for host_id, last in rows:
                    out[int(host_id)] = last
        return out

    def hosts_by_product(
        self, org_id: int, *, unit_id: int | None = None
    ) -> dict[str, tuple[int, int]]:
        """Product -> (enrolled hosts with traffic to it, of which only blocked attempts)."""
        stmt = (
            select(HostTrafficRow.product, HostTrafficRow.count, HostTrafficRow.blocked)
            .join(Host, Host.id == HostTrafficRow.host_id)
            .where(Host.org_id == org_id)
        )
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        out: dict[str, tuple[int, int]] = {}
        with self.store._read() as conn:
            for product, count, blocked in conn.execute(stmt):
                hosts, only_blocked = out.get(product, (0, 0))
                out[product] = (hosts + 1, only_blocked + (blocked >= count > 0))
        return out

    # -- unmanaged devices --------------------------------------------------------------------

    def record_unmanaged(self, org_id: int, devices: Sequence[DeviceUpdate]) -> None:
        """Merge what an upload saw of unmanaged devices into their rows.

        Two uploads at once may both add the same new device: the one that loses the race
        starts over, and then merges into the row the other wrote.
        """
        for attempt in range(3):
            try:
                self._record_unmanaged(org_id, devices)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _record_unmanaged(self, org_id: int, devices: Sequence[DeviceUpdate]) -> None:
        with self.store._write() as conn:
            for d in sorted(devices, key=lambda d: d.address):
                if not d.traffic:
                    continue
                row = conn.execute(
                    select(NetworkDeviceRow).where(
                        NetworkDeviceRow.org_id == org_id, NetworkDeviceRow.address == d.address
                    )
                ).first()
                first = min(t.first_seen for t in d.traffic)
                last = max(t.last_seen for t in d.traffic)
                count = sum(t.count for t in d.traffic)
                blocked = sum(t.blocked for t in d.traffic)
                names: tuple[str, ...] = ()
                for t in d.traffic:
                    names = _kept(names, t.names)
                products = {t.product for t in d.traffic}
                sources = set(d.sources)
                hostname = d.hostname
                ambiguous = set(d.ambiguous)
                if row is not None:
                    first = min(first, row.first_seen)
                    last = max(last, row.last_seen)
                    count += row._mapping["count"]
                    blocked += row.blocked
                    names = _kept(json.loads(row.names), names)
                    products |= set(filter(None, row.products.split(",")))
                    sources |= set(filter(None, row.sources.split(",")))
                    hostname = hostname or row.hostname
                    ambiguous |= set(filter(None, row.ambiguous.split(",")))
                values = {
                    "hostname": hostname[:255],
                    "first_seen": first,
                    "last_seen": last,
                    "count": count,
                    "blocked": blocked,
                    "names": json.dumps(list(names)),
                    "products": ",".join(sorted(products)),
                    "sources": ",".join(sorted(sources))[:200],
                    "ambiguous": ",".join(sorted(ambiguous)),
                }
                if row is None:
                    conn.execute(
                        insert(NetworkDeviceRow).values(org_id=org_id, address=d.address, **values)
                    )
                else:
                    conn.execute(
                        update(NetworkDeviceRow)
                        .where(NetworkDeviceRow.id == row.id)
                        .values(**values)
                    )

    def unmanaged(self, org_id: int, *, limit: int = 5000) -> list[UnmanagedDevice]:
        """The organisation's unmanaged devices, most recently seen first."""
        with self.store._read() as conn:
            rows = conn.execute(
                select(NetworkDeviceRow)
                .where(NetworkDeviceRow.org_id == org_id)
                .order_by(NetworkDeviceRow.last_seen.desc(), NetworkDeviceRow.address)
                .limit(limit)
            ).all()
        return [
            UnmanagedDevice(
                r.address,
                r.hostname,
                r.first_seen,
                r.last_seen,
                r._mapping["count"],
                r.blocked,
                tuple(json.loads(r.names)),
                tuple(filter(None, r.products.split(","))),
                tuple(filter(None, r.sources.split(","))),
                tuple(filter(None, r.ambiguous.split(","))),
            )
            for r in rows
        ]

    def unmanaged_count(self, org_id: int) -> int:
        """How many unmanaged devices the organisation has."""
        with self.store._read() as conn:
            n = conn.execute(
                select(func.count()).where(NetworkDeviceRow.org_id == org_id)
            ).scalar_one()
        return int(n)

    # -- settings -----------------------------------------------------------------------------

    def silence_days(self, org_ids: Iterable[int]) -> dict[int, int]:
        """Each organisation's days of silence (organisations without a setting: 0)."""
        ids = sorted(set(org_ids))
        out = dict.fromkeys(ids, 0)
        with self.store._read() as conn:
            for chunk in _chunks(ids):
                rows = conn.execute(
                    select(NetworkSettingRow.org_id, NetworkSettingRow.silence_days).where(
                        NetworkSettingRow.org_id.in_(list(chunk))
                    )
                )
                out.update({int(o): int(d) for o, d in rows})
        return out

    def set_silence_days(self, org_id: int, days: int, *, actor: str, now: dt.datetime) -> None:
        """Require ``days`` without vendor traffic before ``verified`` (0: not required)."""
        if not 0 <= days <= 3650:
            raise InvalidValueError(f"days of silence must be 0 to 3650, not {days}")
        org = self.store.org_by_id(org_id)
        with self.store._write() as conn:
            done = conn.execute(
                update(NetworkSettingRow)
                .where(NetworkSettingRow.org_id == org_id)
                .values(silence_days=days)
            )
            if not done.rowcount:
                conn.execute(insert(NetworkSettingRow).values(org_id=org_id, silence_days=days))
            self.store._audit(
                conn,
                now,
                [(actor, "org.silence", f"org:{org.name}", org_id, {"silence_days": days})],
            )


def _traffic(r: Any) -> Traffic:
    return Traffic(
        r.product,
        r.address,
        r.first_seen,
        r.last_seen,
        int(r._mapping["count"]),
        int(r.blocked),
        tuple(json.loads(r.names)),
        tuple(json.loads(r.lines)),
    )
