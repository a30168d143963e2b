"""Network logs fed to the server, and the unmanaged devices they reveal.

``POST /api/v1/network`` takes the devices ``evict agent --from zeek|suricata|squid|bind|
windows-dns|dnsmasq PATH --token T`` read from network logs (:mod:`evict.agent.network`), with
the API token of an operator or admin of the whole organisation: a log covers many clients, so
it is sent by a person or a job acting for the organisation, never on a host's agent credential
(a host could otherwise speak for its neighbours' addresses).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from evict.agent.wire import (
    WireError,
    check_hostname,
    parse_observations,
)
from evict.inventory.network.join import NET_PREFIX, canonical_address
from evict.model.observations import HostID, HostInventory, Platform
from evict.model.records import Principal
from evict.server.api.agent import ERRORS, read_body
from evict.server.deps import Caller, Ctx, Writer
from evict.server.errors import Forbidden
from evict.service.network import ingest_network

router = APIRouter(prefix="/api/v1", tags=["network"])

MAX_DEVICES = 100_000
"""Most devices one upload may carry."""


def _org_wide(caller: Principal) -> None:
    """Network logs and unmanaged devices belong to the organisation, not to an org unit: a
    user limited to one unit may neither send them (they can reopen any unit's hosts) nor read
    them."""
    if caller.org_unit_id is not None:
        raise Forbidden("network evidence is organisation-wide: not for a user limited to a unit")


def parse_devices(data: object, *, max_observations: int) -> list[HostInventory]:
    """Check an upload body ``{"devices": [{"host": {"id": "net:ADDR", "hostname"},
    "collected_at", "source", "observations": [...]}]}`` and build its devices.

    Devices named by a host name rather than an address (``net:laptop-17``) are left out.
    """
    if not isinstance(data, Mapping):
        raise WireError("the body must be a JSON object")
    items = data.get("devices")
    if not isinstance(items, list) or len(items) > MAX_DEVICES:
        raise WireError(f"must be a list of at most {MAX_DEVICES} devices", "devices")
    out: list[HostInventory] = []
    total = 0
    for i, item in enumerate(items):
        where = f"devices[{i}]"
        if not isinstance(item, Mapping):
            raise WireError("must be an object", where)
        host = item.get("host")
        if not isinstance(host, Mapping) or not isinstance(host.get("id"), str):
            raise WireError("must be an object with id (net:ADDRESS)", f"{where}.host")
        identifier = str(host["id"])
        if not identifier.startswith(NET_PREFIX) or len(identifier) > 300:
            raise WireError("must be net: and the client's address", f"{where}.host.id")
        address = canonical_address(identifier.removeprefix(NET_PREFIX))
        if address is None:
            # A client the log names by host name (Squid's log_fqdn): it cannot be joined with
            # an address, and is left out.
            continue
        hostname = check_hostname(host.get("hostname") or "", f"{where}.host.hostname")
        try:
            collected = dt.datetime.fromisoformat(str(item.get("collected_at") or ""))
        except ValueError:
            raise WireError("must be an ISO 8601 timestamp", f"{where}.collected_at") from None
        if collected.tzinfo is None:
            collected = collected.replace(tzinfo=dt.UTC)
        source = item.get("source") or ""
        if not isinstance(source, str) or len(source) > 64:
            raise WireError("must be a short string", f"{where}.source")
        observations = item.get("observations")
        if not isinstance(observations, list):
            raise WireError("must be a list", f"{where}.observations")
        total += len(observations)
        if total > max_observations:
            raise WireError(
                f"at most {max_observations} observations are accepted in one upload", where
            )
        out.append(
            HostInventory(
                HostID(NET_PREFIX + address),
                hostname,
                Platform.UNKNOWN,
                collected,
                parse_observations(observations, f"{where}.observations"),
                source,
            )
        )
    return out


@router.post(
    "/network",
    responses=ERRORS,
    summary="Send devices read from network logs (operator or admin token)",
)
async def upload_network(request: Request, ctx: Ctx, caller: Writer) -> dict[str, Any]:
    """Join each device's vendor traffic with the enrolled host that held its address at the
    time; the rest become unmanaged devices. Traffic from a removed host reopens it."""
    _org_wide(caller)
    settings = ctx.settings
    data = await read_body(
        request, limit=settings.max_body_bytes, inflated_limit=settings.max_inflated_bytes
    )
    devices = parse_devices(data, max_observations=settings.max_observations)
    result = await run_in_threadpool(
        lambda: ingest_network(
            ctx.store,
            ctx.matcher,
            devices,
            org_id=caller.org_id,
            caller=caller,
            protection=ctx.protection,
            now=ctx.now(),
        )
    )
    ctx.wake_worker()
    return result.to_json()


@router.get("/network/unmanaged", summary="The organisation's unmanaged devices")
def unmanaged(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Devices seen talking to covered vendors' endpoints that no enrolled host accounts for."""
    _org_wide(caller)
    return {
        "devices": [
            {
                "address": d.address,
                "hostname": d.hostname,
                "first_seen": d.first_seen.isoformat(),
                "last_seen": d.last_seen.isoformat(),
                "count": d.count,
                "blocked": d.blocked,
                "names": list(d.names),
                "products": list(d.products),
                "sources": list(d.sources),
                "ambiguous": list(d.ambiguous),
            }
            for d in ctx.fleet.network.unmanaged(caller.org_id)
        ]
    }
