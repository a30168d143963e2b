"""What every page shares: templates, the signed session cookie, CSRF, the viewer, page errors.

**Sessions.** Logging in issues an ordinary API token (one day, label ``dashboard``, stored as its
SHA-256 like every token, listed and revocable with the others, its creation in the audit log).
The cookie holds ``<token id>.<token>.<signature>``: HMAC-SHA256 under a key kept in the database
(:meth:`evict.store.dashboard.DashboardQueries.session_key`), so any server of a fleet accepts it,
a tampered cookie is refused before the database is asked, and logging out revokes the token.
The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS, and scoped to ``/``.

**CSRF.** Every POST form carries a token derived from the session (HMAC of the session token
under the same key), compared in constant time; the login form, before any session, uses a
random value that must match a short-lived cookie (double submit). With ``SameSite=Strict``
either would stop a cross-site form; both together also cover a lax proxy or an old browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from evict.model.records import Principal
from evict.neutral import finalize_html
from evict.server.deps import Ctx, ServerContext
from evict.server.errors import ServerError
from evict.server.views.cache import Refresher

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE.parent / "templates"
"""The pages' Jinja2 templates."""
STATIC = HERE.parent / "static"
"""The stylesheet and icon, served under ``/static``."""

SESSION_COOKIE = "evict_session"
LOGIN_COOKIE = "evict_login"
SESSION_DAYS = 1
"""Lifetime of a dashboard session (and of the token behind it)."""

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
"""Sent with every page: no script at all, nothing from elsewhere, no framing, no caching."""


class ViewError(ServerError):
    """Base error of the pages; rendered as an HTML page with :attr:`status`."""

    status = 400


class LoginRequired(ViewError):
    """No valid session: the handler sends the browser to the login page."""

    status = 401


class PageForbidden(ViewError):
    """Signed in, but the role or the form's CSRF token does not allow this."""

    status = 403


class PageNotFound(ViewError):
    """Nothing here that this user may see (other organisations' hosts included)."""

    status = 404


class BadRequest(ViewError):
    """A query parameter or form field that cannot be used."""

    status = 400


def _format_number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _format_time(value: dt.datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _format_audit_time(value: str) -> str:
    try:
        return _format_time(dt.datetime.fromisoformat(value))
    except ValueError:
        return value


def _format_value(value: object) -> str:
    """A payload value in words: no Python reprs, long digests shortened."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value) or "—"
    text = str(value)
    if len(text) > 24 and all(c in "0123456789abcdef" for c in text):
        return text[:12] + "…"
    return text


def make_environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize_html,
    )
    env.filters["number"] = _format_number
    env.filters["when"] = _format_time
    env.filters["audit_time"] = _format_audit_time
    env.filters["value"] = _format_value
    env.globals["url"] = page_url
    return env


def page_url(path: str, params: Mapping[str, object] | None = None, **more: object) -> str:
    """``path`` with the non-empty ``params`` (and ``more``) as its query string."""
    merged = {**(params or {}), **more}
    query = {k: str(v) for k, v in merged.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(query)}" if query else path


@dataclass
class Dashboard:
    """What the pages keep across requests: templates, cached aggregates, the session key."""

    env: jinja2.Environment = field(default_factory=make_environment)
    cache: Refresher = field(default_factory=Refresher)
    _key: bytes | None = None

    def key(self, ctx: ServerContext) -> bytes:
        """The session key (read from the database once)."""
        if self._key is None:
            self._key = ctx.fleet.dashboard.session_key()
        return self._key

    def invalidate(self, org_id: int) -> None:
        """Drop the organisation's cached aggregates after a change made here."""
        self.cache.invalidate(lambda k: isinstance(k, tuple) and len(k) > 1 and k[1] == org_id)

    def render(
        self,
        request: Request,
        template: str,
        *,
        viewer: Viewer | None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render a page with the common context (viewer, current path, CSRF token)."""
        html = self.env.get_template(template).render(
            viewer=viewer, path=request.url.path, **context
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers.update(SECURITY_HEADERS)
        if headers:
            response.headers.update(headers)
        return response


def get_dashboard(request: Request) -> Dashboard:
    """The pages' shared state, made when the views were mounted."""
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


Dash = Annotated[Dashboard, Depends(get_dashboard)]
"""The pages' shared state."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(key: bytes, purpose: str, value: str) -> str:
    """An HMAC-SHA256 of ``value`` for ``purpose`` under ``key`` (URL-safe)."""
    return _b64(hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest())


def session_cookie(key: bytes, token_id: int, token: str) -> str:
    """The cookie value of a session: token id, token and their signature."""
    body = f"{token_id}.{token}"
    return f"{body}.{sign(key, 'session', body)}"


def read_session_cookie(key: bytes, value: str) -> tuple[int, str] | None:
    """``(token id, token)`` from a cookie whose signature holds, else None."""
    if len(value) > 300:
        return None
    body, _, signature = value.rpartition(".")
    token_id, _, token = body.partition(".")
    if not (token_id.isdigit() and token and signature):
        return None
    if not hmac.compare_digest(signature, sign(key, "session", body)):
        return None
    return int(token_id), token


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a page, with the session's CSRF token."""

    principal: Principal
    org_name: str
    token_id: int
    csrf: str

    @property
    def can_write(self) -> bool:
        """Whether the user may move states and waive (admins and operators)."""
        return self.principal.can_write

    @property
    def unit_id(self) -> int | None:
        """The org unit the user is limited to, if any."""
        return self.principal.org_unit_id

    def check_csrf(self, sent: str) -> None:
        """Raise :class:`PageForbidden` unless ``sent`` is this session's CSRF token."""
        if not sent or not hmac.compare_digest(sent, self.csrf):
            raise PageForbidden("the form's security token is missing or wrong: reload the page")

    def require_write(self) -> None:
        """Raise :class:`PageForbidden` for a read-only role."""
        if not self.can_write:
            raise PageForbidden(f"the {self.principal.role.value} role is read-only")


def get_viewer(request: Request, ctx: Ctx, dashboard: Dash) -> Viewer:
    """The user behind the session cookie (:class:`LoginRequired` without a valid one)."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    key = dashboard.key(ctx)
    parsed = read_session_cookie(key, raw) if raw else None
    if parsed is None:
        raise LoginRequired("sign in to continue")
    token_id, token = parsed
    principal = ctx.store.principal_for_token(token, ctx.now())
    if principal is None:
        raise LoginRequired("your session has ended: sign in again")
    viewer = Viewer(
        principal=principal,
        org_name=ctx.store.org_by_id(principal.org_id).name,
        token_id=token_id,
        csrf=sign(key, "csrf", token),
    )
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
"""The signed-in user."""


def optional_viewer(request: Request, ctx: ServerContext, dashboard: Dashboard) -> Viewer | None:
    """The signed-in user, or None when the browser has no valid session."""
    if not request.cookies.get(SESSION_COOKIE):
        return None
    try:
        return get_viewer(request, ctx, dashboard)
    except LoginRequired:
        return None


def new_login_nonce() -> str:
    """A fresh value for the login form's double-submit cookie."""
    return secrets.token_urlsafe(24)


def safe_next(value: str | None) -> str:
    """A local path to return to after login (anything else goes to the overview)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/overview"


def set_cookie(response: Response, request: Request, name: str, value: str, **options: Any) -> None:
    """Set a cookie that scripts cannot read and other sites cannot send."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        **options,
    )
