"""Network logs fed to the server: match, join with the fleet, record, reopen.

The devices a network log source read (``net:ADDRESS``, kind ``network`` observations) are
matched against the catalog's endpoints; each observation that names a covered product is
credited to the enrolled host that held the client address over the whole time the traffic was
seen (:func:`evict.inventory.network.join.join_devices`, with the leases the agents' reported
addresses give), and the rest become the organisation's **unmanaged devices**. Traffic credited
to a host after it was ``removed``, ``replaced`` or ``verified`` reopens it
(:func:`evict.compliance.lifecycle.reopen_on_traffic`), audit-logged with the evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from evict.catalog.interface import Catalog, CatalogLookupError
from evict.compliance.lifecycle import LifecycleError, reopen_on_traffic
from evict.inventory.network.join import NET_PREFIX, canonical_address, join_devices
from evict.matching.engine import Matcher
from evict.model.listings import DeviceUpdate, HostTraffic, Traffic
from evict.model.observations import HostInventory, Ident, Observation
from evict.model.records import ConflictError, HostInfo, Principal
from evict.model.states import HostState
from evict.store.network import NetworkStore
from evict.store.store import Store


@dataclass
class UploadResult:
    """What one upload of network devices did."""

    devices: int = 0
    """Devices (client addresses) in the upload."""
    matched: int = 0
    """Of those, devices with traffic to a covered product's endpoints."""
    joined: list[str] = field(default_factory=list)
    """Enrolled hosts credited with traffic (identifiers)."""
    unmanaged: list[str] = field(default_factory=list)
    """Addresses no enrolled host accounts for."""
    reopened: list[tuple[str, str]] = field(default_factory=list)
    """(host, directive) reopened by traffic after removal."""

    def to_json(self) -> dict[str, object]:
        """Render for the API."""
        return {
            "devices": self.devices,
            "matched": self.matched,
            "joined": sorted(self.joined),
            "unmanaged": sorted(self.unmanaged),
            "reopened": [{"host": h, "directive": d} for h, d in sorted(self.reopened)],
        }


def _when(o: Observation, key: str, fallback: dt.datetime) -> dt.datetime:
    value = o.ident(key)
    try:
        when = dt.datetime.fromisoformat(value) if value else fallback
    except ValueError:
        when = fallback
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _number(o: Observation, key: str, default: int) -> int:
    value = o.ident(key) or ""
    return int(value) if value.isdigit() and len(value) < 16 else default


def _traffic(o: Observation, address: str, product: str, collected: dt.datetime) -> Traffic:
    last = _when(o, Ident.LAST_SEEN, collected)
    count = max(_number(o, Ident.COUNT, 1), 1)
    return Traffic(
        product,
        address,
        _when(o, Ident.FIRST_SEEN, last),
        last,
        count,
        min(_number(o, Ident.BLOCKED, 0), count),
        (o.name,),
        tuple(v for k, v in o.identifiers if k == Ident.LOG_LINE)[:3],
    )


def covered_products(
    matcher: Matcher, protection: frozenset[str], observations: Sequence[Observation]
) -> list[tuple[str, ...]]:
    """For each observation, the covered products whose endpoints it names (lined up)."""
    catalog = matcher.catalog
    out: list[tuple[str, ...]] = []
    for hits in matcher.match_distinct(list(observations)):
        found = set()
        for hit in hits:
            if hit.product in protection:
                continue
            try:
                product = catalog.product(hit.product)
            except CatalogLookupError:
                continue
            if catalog.directives_for(product, embedded=False):
                found.add(str(hit.product))
        out.append(tuple(sorted(found)))
    return out


def _evidence(traffic: Traffic) -> str:
    what = (
        f"{traffic.blocked} blocked attempts (the block works; the software is still there)"
        if traffic.only_blocked
        else f"{traffic.count} requests"
        + (f", {traffic.blocked} of them blocked" if traffic.blocked else "")
    )
    names = ", ".join(traffic.names[:3])
    return (
        f"{names} from {traffic.address}, {what}, "
        f"{traffic.first_seen.isoformat()} to {traffic.last_seen.isoformat()}"
    )


def ingest_network(
    store: Store,
    matcher: Matcher,
    devices: Sequence[HostInventory],
    *,
    org_id: int,
    caller: Principal,
    protection: frozenset[str] = frozenset(),
    now: dt.datetime,
) -> UploadResult:
    """Match, join and record one upload of network devices for ``org_id``."""
    result = UploadResult(devices=len(devices))
    network = NetworkStore(store)
    flat: list[tuple[HostInventory, Observation]] = [
        (d, o) for d in devices if d.host.startswith(NET_PREFIX) for o in d.observations
    ]
    products = covered_products(matcher, protection, [o for _, o in flat])
    found: dict[int, tuple[str, tuple[str, ...], dt.datetime]] = {}
    kept: dict[str, list[Observation]] = {}
    for (device, o), named in zip(flat, products, strict=True):
        address = canonical_address(device.host.removeprefix(NET_PREFIX))
        if not named or address is None:
            continue
        found[id(o)] = (address, named, device.collected_at)
        kept.setdefault(device.host, []).append(o)
    matched = [
        HostInventory(d.host, d.hostname, d.platform, d.collected_at, tuple(kept[d.host]), d.source)
        for d in devices
        if d.host in kept
    ]
    result.matched = len(matched)
    addresses = [d.host.removeprefix(NET_PREFIX) for d in matched]
    joined = join_devices(matched, network.leases(org_id, addresses))

    credited: list[HostTraffic] = []
    per_host: dict[str, dict[str, Traffic]] = {}
    hosts: dict[str, HostInfo] = {}
    for identifier, observations in joined.joined.items():
        host = store.host(org_id, identifier)
        hosts[identifier] = host
        mine = per_host.setdefault(identifier, {})
        for o in observations:
            address, named, collected = found[id(o)]
            for product in named:
                t = _traffic(o, address, product, collected)
                mine[product] = mine[product].merge(t) if product in mine else t
        credited.extend(HostTraffic(host.id, t) for t in mine.values())
    network.record_traffic(credited)
    result.joined = sorted(per_host)

    updates = []
    for device in joined.unmanaged:
        address = device.host.removeprefix(NET_PREFIX)
        update = DeviceUpdate(
            canonical_address(address) or address,
            device.hostname,
            sources={device.source} if device.source else set(),
            ambiguous=tuple(joined.ambiguous.get(device.host, ())),
        )
        for o in device.observations:
            addr, named, collected = found[id(o)]
            update.traffic.extend(_traffic(o, addr, p, collected) for p in named)
        updates.append(update)
    network.record_unmanaged(org_id, updates)
    result.unmanaged = sorted(u.address for u in updates)

    catalog: Catalog = matcher.catalog
    states = store.states([h.id for h in hosts.values()])
    for name, traffic_by_product in sorted(per_host.items()):
        host = hosts[name]
        for directive in catalog.directives:
            relevant = [
                t
                for p, t in traffic_by_product.items()
                if directive in catalog.directives_for(catalog.product(p), embedded=False)
            ]
            if not relevant:
                continue
            last = max(t.last_seen for t in relevant)
            product_ids = [t.product for t in relevant]
            evidence = "; ".join(_evidence(t) for t in relevant)
            current = states.get(host.id, {}).get(directive.id)
            if (
                reopen_on_traffic(
                    current, last_traffic=last, products=product_ids, evidence=evidence, now=now
                )
                is None
            ):
                continue
            decide = partial(
                _reopen, last_traffic=last, products=product_ids, evidence=evidence, now=now
            )
            try:
                store.change_state(host, directive.id, decide, actor=caller.actor, now=now)
            except (LifecycleError, ConflictError):
                continue  # moved meanwhile: the next upload sees the new state
            result.reopened.append((name, directive.id))
    org = store.org_by_id(org_id)
    store.audit(
        actor=caller.actor,
        action="network.upload",
        subject=f"org:{org.name}",
        org=org_id,
        payload={
            "devices": result.devices,
            "matched": result.matched,
            "joined": result.joined,
            "unmanaged": result.unmanaged[:100],
            "unmanaged_count": len(result.unmanaged),
            "reopened": len(result.reopened),
        },
        now=now,
    )
    return result


def _reopen(
    current: HostState | None,
    *,
    last_traffic: dt.datetime,
    products: list[str],
    evidence: str,
    now: dt.datetime,
) -> HostState:
    new = reopen_on_traffic(
        current, last_traffic=last_traffic, products=products, evidence=evidence, now=now
    )
    if new is None:
        raise LifecycleError("the traffic does not change the host's state")
    return new
