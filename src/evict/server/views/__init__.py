"""The dashboard: server-rendered pages over the same store and catalog as the API.

One router per page family (``auth``, ``overview``, ``hosts``, ``host_page``, ``host_actions``,
``products``, ``unmanaged``, ``waivers``, ``determinations``, ``reports``, ``notifications``,
``audit``), Jinja2 templates under ``server/templates``, one stylesheet under ``server/static``,
and charts drawn as inline SVG on the server
(:mod:`evict.server.views.charts`): no script, no font and nothing else fetched from anywhere,
so the pages work on an air-gapped network.
:func:`mount` adds all of it to the app the factory built.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from evict.server.views import (
    audit,
    auth,
    determinations,
    host_actions,
    host_page,
    hosts,
    notifications,
    overview,
    products,
    reports,
    unmanaged,
    waivers,
)
from evict.server.views.web import STATIC, Dashboard, LoginRequired, ViewError, page_url

ROUTERS = (
    auth.router,
    overview.router,
    hosts.router,
    host_page.router,
    host_actions.router,
    products.router,
    unmanaged.router,
    waivers.router,
    determinations.router,
    reports.router,
    notifications.router,
    audit.router,
)
"""The pages' routers."""


def mount(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    app.state.dashboard = Dashboard()
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(ViewError, _handle_view_error)


async def _handle_view_error(request: Request, exc: Exception) -> Response:
    """Page errors as HTML; a missing session goes to the login page and comes back after."""
    assert isinstance(exc, ViewError)
    if isinstance(exc, LoginRequired):
        target = request.url.path
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        return RedirectResponse(page_url("/login", next=target), status_code=303)
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard.render(
        request,
        "error.html",
        viewer=getattr(request.state, "viewer", None),
        status_code=exc.status,
        title={403: "Not allowed", 404: "Not found"}.get(exc.status, "Cannot do that"),
        message=str(exc),
        error_status=exc.status,
    )


__all__ = ["ROUTERS", "mount"]
