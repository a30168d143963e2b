"""Typed dependencies of the API: the server context, the caller, the host, the clock.

Routers declare what they need with these aliases (``Ctx``, ``Caller``, ``Writer``, ``Admin``,
``AgentHost``) and tests swap them with ``app.dependency_overrides``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from evict.catalog.interface import Catalog, Directive
from evict.matching.engine import Matcher
from evict.model.records import HostInfo, Principal, Role
from evict.server.errors import Forbidden, Unauthorized
from evict.server.ratelimit import LoginGuard, RateLimiter
from evict.service.anchor import AnchorThread
from evict.service.audit import signed_head
from evict.service.evaluate import WorkerThread
from evict.service.fleet import Fleet
from evict.service.notifier import NotifierThread
from evict.service.reports import ReportRunner
from evict.settings import Settings
from evict.signing import anchor_line
from evict.store.ingest_batch import IngestBatcher
from evict.store.store import Store


@dataclass
class ServerContext:
    """Everything a request handler works with, built once by the app's lifespan."""

    settings: Settings
    fleet: Fleet
    """The fleet's database: the store and the query objects over it."""
    catalog: Catalog
    matcher: Matcher
    protection: frozenset[str]
    clock: Callable[[], dt.datetime]
    enroll_limit: RateLimiter
    login_limit: RateLimiter
    worker: WorkerThread | None = None
    notifier: NotifierThread | None = None
    """Sends the organisations' reminders and alerts on a schedule (None: not this server)."""
    reports: ReportRunner | None = None
    """Runs the reports asked for from the dashboard (None: the page offers none)."""
    audit_key: Ed25519PrivateKey | None = None
    """The key that signs audit heads (None: heads are not signed)."""
    anchor: AnchorThread | None = None
    """The thread that anchors signed heads outside the database on a schedule."""
    intake: IngestBatcher | None = None
    """Writes full inventories in batches, one transaction each (None: one by one)."""
    account_limit: RateLimiter = field(default_factory=lambda: RateLimiter(10.0, 0.05))
    """Login attempts per account name, from any address."""
    lockout: LoginGuard = field(default_factory=LoginGuard)
    """Failed logins per account name: locked with backoff after a few in a row."""

    @property
    def store(self) -> Store:
        """The fleet's store (``fleet.store``)."""
        return self.fleet.store

    def now(self) -> dt.datetime:
        """The current time in UTC."""
        return self.clock()

    def today(self) -> dt.date:
        """Today's date in UTC."""
        return self.clock().date()

    def wake_worker(self) -> None:
        """Ask the background worker to run a pass soon."""
        if self.worker is not None:
            self.worker.wake()

    def audit_head_header(self) -> dict[str, str]:
        """``{"Evict-Audit-Head": SIGNED HEAD JSON}`` for a report response (empty without a
        key): every report carries the chain head as signed when it was made."""
        if self.audit_key is None:
            return {}

        head = signed_head(self.store, self.audit_key, self.now())
        return {"Evict-Audit-Head": anchor_line(head).strip()}

    def directive(self, directive_id: str) -> Directive:
        """A directive of the catalog (404 when unknown)."""
        return self.catalog.directive(directive_id)


async def get_context(request: Request) -> ServerContext:
    """The server context the lifespan stored on the app (async: FastAPI would run a plain
    function in the thread pool, a hand-off per request for an attribute read)."""
    context: ServerContext = request.app.state.context
    return context


Ctx = Annotated[ServerContext, Depends(get_context)]
"""The server context."""

_bearer = HTTPBearer(auto_error=False, description="An API token (users) or host credential.")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    return credentials.credentials


def get_caller(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The user behind the request's API token (401 without a valid one)."""
    principal = ctx.store.principal_for_token(_token(credentials), ctx.now())
    if principal is None:
        raise Unauthorized("invalid, expired or revoked API token")
    return principal


Caller = Annotated[Principal, Depends(get_caller)]
"""Any authenticated user (auditors included: read-only endpoints)."""


def get_writer(caller: Caller) -> Principal:
    """A user who may change lifecycle states and waivers (admin or operator)."""
    if not caller.can_write:
        raise Forbidden(f"the {caller.role.value} role is read-only")
    return caller


Writer = Annotated[Principal, Depends(get_writer)]
"""An admin or operator."""


def get_admin(caller: Caller) -> Principal:
    """A user who may manage users, tokens and org units."""
    if caller.role is not Role.ADMIN:
        raise Forbidden("only an admin may do this")
    return caller


Admin = Annotated[Principal, Depends(get_admin)]
"""An admin."""


async def get_agent_host(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> HostInfo:
    """The enrolled host behind the request's host credential (401 without a valid one).

    A host the store remembers is found without leaving the event loop; otherwise the
    database is read in the thread pool.
    """
    token = _token(credentials)
    host = ctx.store.cached_agent_host(token)
    if host is None:
        host = await run_in_threadpool(ctx.store.agent_host, token)
    if host is None:
        raise Unauthorized("unknown host credential: enrol again")
    return host


AgentHost = Annotated[HostInfo, Depends(get_agent_host)]
"""The host an agent speaks for."""


def client_address(request: Request) -> str:
    """The caller's address, the key of the rate limits.

    The peer's address, unless it is one of ``settings.trusted_proxies``: then the app's
    proxy-headers middleware has already put the client's address from ``X-Forwarded-For``
    in its place (see :func:`evict.server.app.create_app`).
    """
    return request.client.host if request.client else "unknown"
