"""Signing in and out of the dashboard."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from evict.server.api.admin import password_login
from evict.server.deps import Ctx, client_address
from evict.server.errors import RateLimited, Unauthorized
from evict.server.views.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_DAYS,
    Dash,
    ViewerDep,
    new_login_nonce,
    optional_viewer,
    safe_next,
    session_cookie,
    set_cookie,
)

router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request, dashboard: Dash, *, next_path: str, error: str = "", status: int = 200
) -> Response:
    nonce = new_login_nonce()
    response = dashboard.render(
        request,
        "login.html",
        viewer=None,
        status_code=status,
        error=error,
        nonce=nonce,
        next_path=next_path,
        title="Sign in",
    )
    set_cookie(response, request, LOGIN_COOKIE, nonce, path="/login", max_age=3600)
    return response


@router.get("/login")
def login_form(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """The sign-in form (or straight on, for a browser already signed in)."""
    if optional_viewer(request, ctx, dashboard) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, dashboard, next_path=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password and start a session (a one-day token behind a signed cookie)."""
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not (csrf and expected and hmac.compare_digest(csrf, expected)):
        return _login_page(
            request,
            dashboard,
            next_path=target,
            error="The sign-in form expired. Please try again.",
            status=403,
        )
    try:
        ctx.login_limit.check(client_address(request), "login")
    except RateLimited as e:
        return _login_page(request, dashboard, next_path=target, error=str(e), status=429)
    try:
        principal = password_login(ctx, client_address(request), name.strip(), password)
    except RateLimited as e:
        return _login_page(request, dashboard, next_path=target, error=str(e), status=429)
    except Unauthorized:
        return _login_page(
            request, dashboard, next_path=target, error="Wrong name or password.", status=401
        )
    info, token = ctx.store.create_token(
        principal.name,
        days=SESSION_DAYS,
        label="dashboard",
        actor=principal.actor,
        now=ctx.now(),
        org_id=principal.org_id,
    )
    response = RedirectResponse(target, status_code=303)
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        session_cookie(dashboard.key(ctx), info.id, token),
        path="/",
        max_age=SESSION_DAYS * 86400,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    ctx: Ctx,
    viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End the session: revoke its token and drop the cookie."""
    viewer.check_csrf(csrf)
    ctx.store.revoke_token(
        viewer.principal.org_id, viewer.token_id, actor=viewer.principal.actor, now=ctx.now()
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
