"""Unmanaged devices: client addresses seen in network logs talking to a covered vendor's
endpoints that no enrolled host held at the time (see :mod:`evict.server.network`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from evict.catalog.interface import CatalogLookupError
from evict.server.deps import Ctx, ServerContext
from evict.server.views.web import Dash, ViewerDep

router = APIRouter(include_in_schema=False)


def unmanaged_count(ctx: ServerContext, org_id: int, unit_id: int | None) -> int | None:
    """How many unmanaged devices the organisation has (for the overview's card); None for a
    user limited to one org unit (they belong to no unit)."""
    if unit_id is not None:
        return None
    return ctx.fleet.network.unmanaged_count(org_id)


def host_network(ctx: ServerContext, host_id: int) -> dict[str, Any]:
    """What the host page shows of network evidence: traffic credited to the host (with product
    names) and its addresses over time."""
    network = ctx.fleet.network
    traffic = network.traffic([host_id]).get(host_id, [])
    names = {}
    for t in traffic:
        try:
            names[t.product] = ctx.catalog.product(t.product).name
        except CatalogLookupError:
            names[t.product] = t.product
    return {
        "traffic": traffic,
        "traffic_names": names,
        "addresses": network.addresses(host_id),
    }


@router.get("/unmanaged")
def unmanaged(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """Every unmanaged device, most recently seen first, with what it asked for."""
    scoped = viewer.unit_id is not None
    devices = [] if scoped else ctx.fleet.network.unmanaged(viewer.principal.org_id)
    names: dict[str, str] = {}
    for d in devices:
        for p in d.products:
            try:
                names[p] = ctx.catalog.product(p).name
            except CatalogLookupError:
                names[p] = p
    return dashboard.render(
        request,
        "unmanaged.html",
        viewer=viewer,
        title="Unmanaged devices",
        section="unmanaged",
        devices=devices,
        product_names=names,
        scoped=scoped,
    )
