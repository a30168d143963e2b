"""The app factory: ``create_app(settings) -> FastAPI``.

The lifespan opens the database (upgrading the schema first on SQLite, the embedded demo
default; on PostgreSQL it refuses to start on an old schema and says to run
``evict db upgrade``, so that N servers never race to migrate one database), loads and compiles
the catalog, and starts the matching worker thread. Routers live in :mod:`evict.server.api`, one
per resource; one exception handler turns every :class:`~evict.errors.EvictError` into a JSON
error with the status from :func:`evict.server.errors.status_for`.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import logging
import os
import pickle
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

from evict import __version__
from evict._util import utcnow
from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.errors import EvictError
from evict.matching.engine import Matcher
from evict.model.listings import ReportJob
from evict.server.api import ROUTERS
from evict.server.deps import ServerContext
from evict.server.errors import RateLimited, status_for
from evict.server.intake import CheckinFastPath, InventoryFastPath
from evict.server.limits import SMALL_BODY_BYTES, BodyLimit, ReceiveTimeout
from evict.server.models import InventoryBody
from evict.server.ratelimit import LoginGuard, RateLimiter
from evict.server.views import mount as mount_views
from evict.service.anchor import Anchorer, AnchorThread
from evict.service.evaluate import MatchWorker, WorkerThread, protection_products
from evict.service.fleet import Fleet
from evict.service.reports import ReportRunner, ReportScope
from evict.settings import Settings
from evict.signing import ensure_key, syslog_handler

log = logging.getLogger(__name__)


def build_context(
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    catalog: Catalog | None = None,
) -> ServerContext:
    """Open the store, load the catalog and prepare the worker (not started)."""

    fleet = Fleet.open(settings.database_url, migrate=settings.upgrade_on_start)
    store = fleet.store
    store.serve_agents(settings.checkin_flush)
    catalog = catalog or load_catalog(settings.catalog_dirs)
    matcher = Matcher(catalog)
    protection = protection_products(catalog, settings.protection_products)
    context = ServerContext(
        settings=settings,
        fleet=fleet,
        catalog=catalog,
        matcher=matcher,
        protection=protection,
        clock=clock,
        enroll_limit=RateLimiter(*settings.enroll_rate),
        login_limit=RateLimiter(*settings.login_rate),
        account_limit=RateLimiter(*settings.login_account_rate),
        lockout=LoginGuard(
            after=settings.lockout_after,
            base=settings.lockout_seconds,
            cap=settings.lockout_max_seconds,
        ),
        intake=fleet.batcher(settings.ingest_batch),
    )
    if settings.run_worker:
        retention = settings.report_retention_days
        worker = MatchWorker(
            store,
            matcher,
            protection=protection,
            report_retention=dt.timedelta(days=retention) if retention > 0 else None,
        )
        context.worker = WorkerThread(worker, interval=settings.worker_interval, clock=clock)
    if settings.run_worker and settings.notify_interval > 0:
        from evict.service.notifier import NotifierThread

        context.notifier = NotifierThread(
            store, catalog, interval=settings.notify_interval, clock=clock
        )
    _audit_signing(context, settings, clock)
    context.reports = _report_runner(context)
    return context


def _report_runner(context: ServerContext) -> ReportRunner:
    """The runner of the dashboard's report jobs, building each job's scope from ``context``."""

    def scope_for(job: ReportJob) -> ReportScope:
        now = context.now()
        return ReportScope(
            store=context.store,
            matcher=context.matcher,
            directive=context.directive(job.directive),
            org_id=job.org_id,
            unit_id=job.unit_id,
            protection=context.protection,
            today=now.date(),
            generated_at=now,
            catalog_dirs=context.settings.catalog_dirs,
        )

    return ReportRunner(
        context.fleet.report_jobs,
        context.settings.reports_directory(),
        scope_for,
        clock=context.clock,
        key=context.audit_key,
    )


def _audit_signing(
    context: ServerContext, settings: Settings, clock: Callable[[], dt.datetime]
) -> None:
    """Read (or create) the audit key and prepare the scheduled anchoring of signed heads."""
    if settings.audit_key is None:
        log.warning("no audit key: audit chain heads are not signed or anchored")
        return

    key, created = ensure_key(settings.audit_key)
    if created:
        log.warning(
            "created the audit key %s (keep it off the database host's backups)", settings.audit_key
        )
    context.audit_key = key
    syslog = syslog_handler(settings.audit_syslog) if settings.audit_syslog else None
    if settings.audit_anchor_interval > 0 and (settings.anchor_path or syslog):
        anchorer = Anchorer(context.store, key, path=settings.anchor_path, syslog=syslog)
        context.anchor = AnchorThread(
            anchorer, interval=settings.audit_anchor_interval, clock=clock
        )


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    catalog: Catalog | None = None,
    serving: bool = False,
) -> FastAPI:
    """Build the API app for ``settings``.

    :param clock: the one source of the current time (tests pass a fixed clock).
    :param catalog: a catalog to use instead of loading the built-in one plus
        ``settings.catalog_dirs``.
    :param serving: the app is the process's for its life (``evict serve``): the garbage
        collector is set for that once the app has started (:func:`settle_collector`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = build_context(settings, clock=clock, catalog=catalog)
        app.state.context = context
        if context.worker is not None:
            context.worker.start()
        if context.reports is not None:
            context.reports.start()
        if context.notifier is not None:
            context.notifier.start()
        if context.anchor is not None:
            context.anchor.start()
        if context.intake is not None:
            context.intake.start()
        if serving:
            settle_collector()
        try:
            yield
        finally:
            if context.notifier is not None:
                context.notifier.stop()
            if context.reports is not None:
                context.reports.stop()
            if context.worker is not None:
                context.worker.stop()
            if context.anchor is not None:
                context.anchor.stop()
            if context.intake is not None:
                context.intake.stop()
            context.store.close()

    app = FastAPI(
        title="evict",
        version=__version__,
        summary="Find, report, plan, remove and replace, and verify banned vendor software.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: nothing on an air-gapped network
        # may. The OpenAPI document itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    # The dashboard's pages, static files and HTML error pages (evict.server.views).

    mount_views(app)
    app.add_exception_handler(EvictError, _handle_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(HTTPException, _handle_http)

    app.add_middleware(
        BodyLimit, limit=SMALL_BODY_BYTES, exempt={"/api/v1/inventory", "/api/v1/network"}
    )
    # Unchanged check-ins of remembered hosts answered below FastAPI (evict.server.intake).
    app.add_middleware(CheckinFastPath)
    # Full inventories of remembered hosts, the same way (evict.server.intake).
    app.add_middleware(InventoryFastPath)

    app.add_middleware(ReceiveTimeout, timeout=settings.body_timeout)
    if settings.trusted_proxies:
        # X-Forwarded-For is believed only from these peers (none by default): from anyone
        # else it would let each request pick the address its rate limit is counted under.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


SETTINGS_ENV = "EVICT_SERVE_SETTINGS"
"""Where ``evict serve --workers N`` hands its settings to the worker processes (pickled by
the parent process itself, base64)."""


def settle_collector() -> None:
    """Set a serving process's garbage collector for a long life of many small requests.

    What the process built at start (the catalog and its matcher, the routes, the tables'
    metadata) lives as long as it does: it is moved out of the collected generations
    (:func:`gc.freeze`), so a full collection no longer walks it. And the youngest generation
    is collected every 50,000 container allocations instead of 700: reference counting frees
    what a request makes, the collector is only for cycles, and with the default threshold it
    ran several times per full inventory (about a quarter of a server's CPU under a stream of
    full inventories, most of it full collections walking the caches as they filled).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def app_from_environment() -> FastAPI:
    """The app of one ``evict serve --workers N`` process (uvicorn's factory)."""

    settings = pickle.loads(base64.b64decode(os.environ[SETTINGS_ENV]))  # noqa: S301
    if not isinstance(settings, Settings):
        raise TypeError(f"{SETTINGS_ENV} does not hold evict's settings")
    return create_app(settings, serving=True)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Any:
    body = {"error": {"status": status, "type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle_error(request: Request, exc: Exception) -> Any:
    """The one exception handler: every evict error becomes ``{"error": {...}}``."""
    assert isinstance(exc, EvictError)
    status = status_for(exc)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return _error(status, type(exc).__name__, str(exc), headers)


async def _handle_http(request: Request, exc: Exception) -> Any:
    """Errors the framework raises itself (unknown path, unreadable body) in evict's format."""
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if message == "There was an error parsing the body":
        message = "the body cannot be read as JSON (malformed, or nested too deeply)"
    return _error(exc.status_code, "HTTPError", message, dict(exc.headers or {}) or None)


async def _handle_validation(request: Request, exc: Exception) -> Any:
    """Request bodies and parameters that do not fit the models: 422 naming the field."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return _error(422, "ValidationError", "; ".join(problems) or "invalid request")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the inventory body's schema (sent raw, so not inferred)."""
    if app.openapi_schema:
        return app.openapi_schema

    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    _, defs = models_json_schema(
        [(InventoryBody, "validation")], ref_template="#/components/schemas/{model}"
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(defs.get("$defs", {}))
    app.openapi_schema = schema
    return schema
