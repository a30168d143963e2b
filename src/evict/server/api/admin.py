"""Organisation, org units, users and API tokens; login; health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from evict import __version__
from evict.model.records import InvalidValueError, Principal, Role
from evict.server.deps import Admin, Caller, Ctx, ServerContext, client_address
from evict.server.errors import Forbidden, Unauthorized
from evict.server.models import (
    ErrorResponse,
    HealthResponse,
    LoginRequest,
    OrgModel,
    TokenCreate,
    TokenCreated,
    TokenModel,
    UnitCreate,
    UnitCreated,
    UnitModel,
    UserCreate,
    UserModel,
)
from evict.server.ratelimit import LoginGuard

router = APIRouter(prefix="/api/v1", tags=["admin"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("/orgs", response_model=list[OrgModel], responses=ERRORS, summary="Your organisation")
def list_orgs(ctx: Ctx, caller: Caller) -> list[OrgModel]:
    """The caller's organisation and its org units (users see only their own)."""
    org = ctx.store.org_by_id(caller.org_id)
    units = [
        UnitModel(id=u.id, name=u.name)
        for u in ctx.store.units(org.id)
        if caller.org_unit_id in (None, u.id)
    ]
    return [OrgModel(id=org.id, name=org.name, org_units=units)]


@router.post(
    "/orgs/units",
    response_model=UnitCreated,
    status_code=201,
    responses=ERRORS,
    summary="Create an org unit",
)
def create_unit(body: UnitCreate, ctx: Ctx, caller: Admin) -> UnitCreated:
    """Create an org unit; its enrolment secret is in the answer and shown only once."""
    if caller.org_unit_id is not None:
        raise Forbidden("an admin limited to one org unit cannot create org units")
    org = ctx.store.org_by_id(caller.org_id)
    unit, secret = ctx.store.create_unit(org.name, body.name, actor=caller.actor, now=ctx.now())
    return UnitCreated(id=unit.id, name=unit.name, enroll_secret=secret)


@router.get("/users", response_model=list[UserModel], responses=ERRORS, summary="List users")
def list_users(ctx: Ctx, caller: Caller) -> list[UserModel]:
    """The organisation's users."""
    return [
        UserModel(id=u.id, name=u.name, role=u.role, org_unit_id=u.org_unit_id)
        for u in ctx.store.users(caller.org_id)
    ]


@router.post(
    "/users", response_model=UserModel, status_code=201, responses=ERRORS, summary="Create a user"
)
def create_user(body: UserCreate, ctx: Ctx, caller: Admin) -> UserModel:
    """Create a user in the caller's organisation (password hashed with argon2id).

    An admin limited to one org unit creates users of that unit only.
    """
    org = ctx.store.org_by_id(caller.org_id)
    if caller.org_unit_id is not None and (
        body.org_unit is None or ctx.store.unit_id(org.id, body.org_unit) != caller.org_unit_id
    ):
        raise Forbidden("an admin limited to one org unit creates users of that unit only")
    user = ctx.store.create_user(
        body.name,
        org=org.name,
        role=body.role,
        password=body.password,
        unit=body.org_unit,
        actor=caller.actor,
        now=ctx.now(),
    )
    return UserModel(id=user.id, name=user.name, role=user.role, org_unit_id=user.org_unit_id)


@router.get("/tokens", response_model=list[TokenModel], responses=ERRORS, summary="List tokens")
def list_tokens(ctx: Ctx, caller: Caller) -> list[TokenModel]:
    """Token records (never the tokens): all of the organisation's for an admin, else yours."""
    user = None if caller.role is Role.ADMIN else caller.name
    return [
        TokenModel(
            id=t.id,
            user=t.user,
            label=t.label,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked=t.revoked,
        )
        for t in ctx.store.tokens(caller.org_id, user)
    ]


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    responses=ERRORS,
    summary="Create an API token",
)
def create_token(body: TokenCreate, ctx: Ctx, caller: Caller) -> TokenCreated:
    """Issue a token for yourself, or (admins) for a user of the organisation; shown once."""
    user = body.user or caller.name
    if user != caller.name:
        if caller.role is not Role.ADMIN:
            raise Forbidden("only an admin may create tokens for other users")
        _check_unit(ctx, caller, user)
    if "days" in body.model_fields_set and body.days is None:
        raise InvalidValueError(
            "days: null would make a token that never expires; every token expires "
            "(give a number of days, at most the role's maximum)"
        )
    days = body.days
    if days is None:
        role = ctx.store.user_role(caller.org_id, user)
        longest = ctx.settings.token_max_days.get(role.value, 0) if role else 0
        days = min(ctx.settings.token_days, longest) if longest else ctx.settings.token_days
    info, token = ctx.store.create_token(
        user,
        days=days,
        label=body.label,
        actor=caller.actor,
        now=ctx.now(),
        org_id=caller.org_id,
        max_days=ctx.settings.token_max_days,
    )
    return TokenCreated(id=info.id, user=info.user, token=token, expires_at=info.expires_at)


@router.delete(
    "/tokens/{token_id}", status_code=204, responses=ERRORS, summary="Revoke an API token"
)
def revoke_token(token_id: int, ctx: Ctx, caller: Caller) -> None:
    """Revoke one of your tokens, or (admins) any token of the organisation."""
    if caller.role is not Role.ADMIN:
        mine = {t.id for t in ctx.store.tokens(caller.org_id, caller.name)}
        if token_id not in mine:
            raise Forbidden("only an admin may revoke other users' tokens")
    elif caller.org_unit_id is not None:
        owners = {t.id: t.user for t in ctx.store.tokens(caller.org_id)}
        if token_id in owners:
            _check_unit(ctx, caller, owners[token_id])
    ctx.store.revoke_token(caller.org_id, token_id, actor=caller.actor, now=ctx.now())


def _check_unit(ctx: ServerContext, caller: Principal, user: str) -> None:
    """Refuse an admin limited to one org unit who acts on a user outside it.

    A user of another organisation is left to the store, which answers 404 for it.
    """
    if caller.org_unit_id is None:
        return
    units = {u.name: u.org_unit_id for u in ctx.store.users(caller.org_id)}
    if user in units and units[user] != caller.org_unit_id:
        raise Forbidden("an admin limited to one org unit manages that unit's users only")


def password_login(
    ctx: ServerContext, address: str, name: str, password: str, *, org: str | None = None
) -> Principal:
    """The user whose name and password these are, within the per-account limits.

    The caller has already passed the per-address limit. Here: the per-account rate limit and
    lockout (429 while locked; a lockout's start is audit-logged with the address), then the
    password (401 when wrong). Used by the API's login and the dashboard's.
    """
    ctx.account_limit.check(LoginGuard.key(name), "login")
    ctx.lockout.check(name)
    principal = ctx.store.principal_for_password(name, password, org=org)
    if principal is None:
        locked = ctx.lockout.failed(name)
        if locked:
            ctx.store.audit(
                actor="server",
                action="login.lockout",
                subject=f"user:{name[:200]}",
                org=None,
                payload={"address": address, "seconds": round(locked), "after": ctx.lockout.after},
                now=ctx.now(),
            )
        raise Unauthorized("wrong name or password")
    ctx.lockout.succeeded(name)
    return principal


def _limit_login(request: Request, ctx: Ctx) -> None:
    ctx.login_limit.check(client_address(request), "login")


@router.post(
    "/login",
    response_model=TokenCreated,
    responses={**ERRORS, 429: {"model": ErrorResponse}},
    dependencies=[Depends(_limit_login)],
    summary="Exchange a name and password for a one-day API token",
)
def login(body: LoginRequest, request: Request, ctx: Ctx) -> TokenCreated:
    """Check the password (argon2id) and issue a token that expires in a day."""
    principal = password_login(ctx, client_address(request), body.name, body.password, org=body.org)
    info, token = ctx.store.create_token(
        principal.name,
        days=1,
        label="login",
        actor=principal.actor,
        now=ctx.now(),
        org_id=principal.org_id,
    )
    return TokenCreated(id=info.id, user=info.user, token=token, expires_at=info.expires_at)


@router.get("/health", response_model=HealthResponse, summary="Is the server up")
def health(ctx: Ctx) -> HealthResponse:
    """The server's version, catalog version, database kind and worker state."""
    ctx.store.ping()
    return HealthResponse(
        status="ok",
        version=__version__,
        catalog_version=ctx.catalog.version,
        database=ctx.store.dialect,
        worker=ctx.worker.status() if ctx.worker else None,
    )
