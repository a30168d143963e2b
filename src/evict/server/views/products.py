"""Products: each covered product found, on how many hosts, in which versions and org units.

Read from the hosts' current inventories: the software rows the matcher fired on (a small set,
whatever the fleet's size) and the hosts linked to them. Computed through the dashboard's
:class:`~evict.server.views.cache.Refresher` like the overview.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from evict.catalog.interface import CatalogLookupError, Directive, Product
from evict.server.deps import Ctx, ServerContext
from evict.server.views.cache import Cached
from evict.server.views.web import Dash, Dashboard, ViewerDep

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class ProductUse:
    """One covered product across the organisation's hosts."""

    product: Product
    directives: tuple[Directive, ...]
    hosts: int
    versions: tuple[tuple[str, int], ...]
    """``(version, hosts)``, most common first (software without a version is left out)."""
    units: tuple[tuple[str, int], ...]
    """``(org unit, hosts)``, most hosts first."""


def product_uses(ctx: ServerContext, org_id: int, unit_id: int | None) -> list[ProductUse]:
    """Every covered product with hosts, most hosts first."""
    by_product: dict[str, set[int]] = defaultdict(set)
    for sid, (_, hits) in ctx.store.matched_software(ctx.catalog.version).items():
        for hit in hits:
            if hit.product not in ctx.protection:
                by_product[hit.product].add(sid)
    every = {sid for sids in by_product.values() for sid in sids}
    links = ctx.fleet.dashboard.product_links(org_id, sorted(every), unit_id=unit_id)
    by_software = defaultdict(list)
    for link in links:
        by_software[link.software_id].append(link)
    out = []
    for product_id, sids in by_product.items():
        hosts: set[int] = set()
        versions: dict[str, set[int]] = defaultdict(set)
        units: dict[str, set[int]] = defaultdict(set)
        for sid in sids:
            for link in by_software.get(sid, ()):
                hosts.add(link.host_id)
                units[link.org_unit].add(link.host_id)
                if link.version:
                    versions[link.version].add(link.host_id)
        if not hosts:
            continue
        try:
            product = ctx.catalog.product(product_id)
        except CatalogLookupError:
            continue  # matched under a catalog version that no longer has it
        out.append(
            ProductUse(
                product,
                tuple(ctx.catalog.directives_for(product, embedded=False)),
                len(hosts),
                tuple(Counter({v: len(h) for v, h in versions.items()}).most_common()),
                tuple(Counter({u: len(h) for u, h in units.items()}).most_common()),
            )
        )
    out.sort(key=lambda u: (-u.hosts, u.product.name.lower()))
    return out


def kept_product_uses(
    ctx: ServerContext, dashboard: Dashboard, org_id: int, unit_id: int | None
) -> Cached[list[ProductUse]] | None:
    """:func:`product_uses` as the dashboard keeps it (None while the first is computed)."""
    return dashboard.cache.get(
        ("products", org_id, unit_id),
        ctx.store.audit_head()[0],
        lambda: product_uses(ctx, org_id, unit_id),
        now=ctx.now(),
    )


@router.get("/products")
def products(request: Request, ctx: Ctx, dashboard: Dash, viewer: ViewerDep) -> Response:
    """Covered products found, with host counts, versions and org units."""
    cached = kept_product_uses(ctx, dashboard, viewer.principal.org_id, viewer.unit_id)
    found = {u.product.id for u in cached.value} if cached else set()
    missing = sorted(
        (p for p in ctx.catalog.products if p.id not in found and p.id not in ctx.protection),
        key=lambda p: p.name.lower(),
    )
    return dashboard.render(
        request,
        "products.html",
        viewer=viewer,
        title="Products",
        section="products",
        cached=cached,
        uses=cached.value if cached else [],
        missing=missing,
        headers=None if cached else {"Refresh": "5"},
    )
