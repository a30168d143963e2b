"""API routers, one module per resource; :data:`ROUTERS` lists them for the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from evict.server.api import (
    admin,
    agent,
    audit,
    determinations,
    directives,
    hosts,
    network,
    reports,
    waivers,
)

ROUTERS: tuple[APIRouter, ...] = (
    agent.router,
    hosts.router,
    waivers.router,
    determinations.router,
    directives.router,
    reports.router,
    audit.router,
    admin.router,
    network.router,
)
"""Every router, in the order the OpenAPI document lists them."""

__all__ = ["ROUTERS"]
