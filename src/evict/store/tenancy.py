"""Organisations, org units, users, API tokens and who they are; directives adopted; the freshness
limit.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping

from sqlalchemy import (
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from evict.model.records import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    OrgInfo,
    Principal,
    Role,
    TokenInfo,
    UnitInfo,
    UserInfo,
)
from evict.model.states import State
from evict.store import secrets
from evict.store.core import (
    StoreCore,
    _clean_name,
    _iso,
)
from evict.store.tables import (
    Adoption,
    ApiToken,
    Host,
    HostStateRow,
    Org,
    OrgUnit,
    User,
)


@functools.cache
def _dummy_hash() -> str:
    """An argon2 hash of nothing anyone knows: verified against when no user has the name."""
    return secrets.hash_password(secrets.new_secret("dummy_"))


class Tenancy(StoreCore):
    """Organisations, org units, users, API tokens and who they are; directives adopted; the
    freshness limit.
    """

    def create_org(self, name: str, *, actor: str, now: dt.datetime) -> tuple[OrgInfo, str]:
        """Create an organisation and its first org unit, named after it.

        Returns the organisation and that unit's enrolment secret, which is shown only now.
        """
        name = _clean_name(name, "an organisation")
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        try:
            with self._write() as conn:
                org_id = conn.execute(
                    insert(Org).values(name=name, created_at=now).returning(Org.id)
                ).scalar_one()
                conn.execute(
                    insert(OrgUnit).values(
                        org_id=org_id,
                        name=name,
                        secret_hash=secrets.lookup_hash(secret),
                        created_at=now,
                    )
                )
                self._audit(
                    conn, now, [(actor, "org.create", f"org:{name}", org_id, {"name": name})]
                )
        except IntegrityError as e:
            raise ConflictError(f"an organisation named {name!r} already exists") from e
        return OrgInfo(org_id, name, now), secret

    def org(self, name: str) -> OrgInfo:
        """Look an organisation up by name."""
        with self._read() as conn:
            row = conn.execute(select(Org).where(Org.name == name)).first()
        if row is None:
            raise NotFoundError(f"no organisation named {name!r}")
        return OrgInfo(row.id, row.name, row.created_at, row.freshness_days)

    def org_by_id(self, org_id: int) -> OrgInfo:
        """Look an organisation up by id."""
        with self._read() as conn:
            row = conn.execute(select(Org).where(Org.id == org_id)).first()
        if row is None:
            raise NotFoundError(f"no organisation {org_id}")
        return OrgInfo(row.id, row.name, row.created_at, row.freshness_days)

    def orgs(self) -> list[OrgInfo]:
        """Every organisation."""
        with self._read() as conn:
            return [
                OrgInfo(r.id, r.name, r.created_at, r.freshness_days)
                for r in conn.execute(select(Org).order_by(Org.id))
            ]

    def create_unit(
        self, org_name: str, unit: str, *, actor: str, now: dt.datetime
    ) -> tuple[UnitInfo, str]:
        """Create an org unit; return it with its enrolment secret (shown only now)."""
        org = self.org(org_name)
        unit = _clean_name(unit, "an org unit")
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        try:
            with self._write() as conn:
                unit_id = conn.execute(
                    insert(OrgUnit)
                    .values(
                        org_id=org.id,
                        name=unit,
                        secret_hash=secrets.lookup_hash(secret),
                        created_at=now,
                    )
                    .returning(OrgUnit.id)
                ).scalar_one()
                self._audit(
                    conn,
                    now,
                    [(actor, "unit.create", f"unit:{org.name}/{unit}", org.id, {"unit": unit})],
                )
        except IntegrityError as e:
            raise ConflictError(f"{org.name} already has an org unit named {unit!r}") from e
        return UnitInfo(unit_id, org.id, unit), secret

    def rotate_unit_secret(self, org_id: int, unit: str, *, actor: str, now: dt.datetime) -> str:
        """Replace an org unit's enrolment secret; return it (enrolled hosts keep theirs)."""
        secret = secrets.new_secret(secrets.ENROLL_PREFIX)
        with self._write() as conn:
            done = conn.execute(
                update(OrgUnit)
                .where(OrgUnit.org_id == org_id, OrgUnit.name == unit)
                .values(secret_hash=secrets.lookup_hash(secret))
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no org unit named {unit!r}")
            self._audit(conn, now, [(actor, "unit.secret", f"unit:{unit}", org_id, {"unit": unit})])
        return secret

    def units(self, org_id: int) -> list[UnitInfo]:
        """An organisation's org units."""
        with self._read() as conn:
            rows = conn.execute(
                select(OrgUnit).where(OrgUnit.org_id == org_id).order_by(OrgUnit.id)
            )
            return [UnitInfo(r.id, r.org_id, r.name) for r in rows]

    def unit_id(self, org_id: int, name: str) -> int:
        """The id of an org unit by name."""
        with self._read() as conn:
            found = conn.execute(
                select(OrgUnit.id).where(OrgUnit.org_id == org_id, OrgUnit.name == name)
            ).scalar()
        if found is None:
            raise NotFoundError(f"no org unit named {name!r}")
        return int(found)

    def create_user(
        self,
        name: str,
        *,
        org: str,
        role: Role,
        password: str | None,
        unit: str | None = None,
        actor: str,
        now: dt.datetime,
    ) -> UserInfo:
        """Create a user (password hashed with argon2id; None means token-only)."""
        info = self.org(org)
        unit_id = self.unit_id(info.id, unit) if unit else None
        name = _clean_name(name, "a user")
        if password is not None:
            problem = secrets.password_problem(password, context=(name, info.name))
            if problem:
                raise InvalidValueError(problem)
        hashed = secrets.hash_password(password) if password else None
        try:
            with self._write() as conn:
                user_id = conn.execute(
                    insert(User)
                    .values(
                        org_id=info.id,
                        org_unit_id=unit_id,
                        name=name,
                        role=role.value,
                        password_hash=hashed,
                        disabled=False,
                        created_at=now,
                    )
                    .returning(User.id)
                ).scalar_one()
                payload = {"role": role.value, "unit": unit, "password": hashed is not None}
                self._audit(conn, now, [(actor, "user.create", f"user:{name}", info.id, payload)])
        except IntegrityError as e:
            # Names are unique per organisation: this one is taken in the caller's own.
            raise ConflictError(f"{info.name} already has a user named {name!r}") from e
        return UserInfo(user_id, info.id, name, role, unit_id)

    def users(self, org_id: int) -> list[UserInfo]:
        """An organisation's users."""
        with self._read() as conn:
            rows = conn.execute(select(User).where(User.org_id == org_id).order_by(User.id))
            return [UserInfo(r.id, r.org_id, r.name, Role(r.role), r.org_unit_id) for r in rows]

    def create_token(
        self,
        user: str,
        *,
        days: int | None,
        label: str = "",
        actor: str,
        now: dt.datetime,
        org_id: int | None = None,
        max_days: Mapping[str, int] | None = None,
    ) -> tuple[TokenInfo, str]:
        """Issue an API token for ``user``; return its record and the token (shown only now).

        :param days: lifetime; None for a token that does not expire (refused under
            ``max_days``).
        :param org_id: the user's organisation; without it the name must be unique on the
            server (user names are unique per organisation only).
        :param max_days: the longest lifetime per role; a longer (or endless) one is refused
            with :class:`InvalidValueError`.
        """
        if days is not None and days < 0:
            raise InvalidValueError(f"a token's lifetime is a number of days, not {days}")
        token = secrets.new_secret(secrets.TOKEN_PREFIX)
        expires = now + dt.timedelta(days=days) if days else None
        with self._write() as conn:
            stmt = select(User.id, User.org_id, User.role).where(User.name == user)
            if org_id is not None:
                stmt = stmt.where(User.org_id == org_id)
            rows = conn.execute(stmt.limit(2)).all()
            if not rows:
                raise NotFoundError(f"no user named {user!r}")
            if len(rows) > 1:
                raise ConflictError(
                    f"users named {user!r} exist in several organisations: give --org"
                )
            row = rows[0]
            if max_days is not None:
                longest = max_days.get(row.role)
                if longest is not None and (not days or days > longest):
                    asked = f"{days} days" if days else "a token that never expires"
                    raise InvalidValueError(
                        f"tokens of the {row.role} role last at most {longest} days "
                        f"({asked} was asked); ask for {longest} or fewer"
                    )
            token_id = conn.execute(
                insert(ApiToken)
                .values(
                    user_id=row.id,
                    lookup=secrets.lookup_hash(token),
                    label=label,
                    created_at=now,
                    expires_at=expires,
                )
                .returning(ApiToken.id)
            ).scalar_one()
            payload = {"token": token_id, "label": label, "expires": expires and _iso(expires)}
            self._audit(conn, now, [(actor, "token.create", f"user:{user}", row.org_id, payload)])
        return TokenInfo(token_id, user, label, now, expires), token

    def user_role(self, org_id: int, name: str) -> Role | None:
        """The role of the organisation's user ``name`` (None when it has no such user)."""
        with self._read() as conn:
            role = conn.execute(
                select(User.role).where(User.org_id == org_id, User.name == name)
            ).scalar()
        return Role(role) if role is not None else None

    def tokens(self, org_id: int, user: str | None = None) -> list[TokenInfo]:
        """Tokens of an organisation's users (records only)."""
        stmt = (
            select(ApiToken, User.name)
            .join(User, User.id == ApiToken.user_id)
            .where(User.org_id == org_id)
            .order_by(ApiToken.id)
        )
        if user is not None:
            stmt = stmt.where(User.name == user)
        with self._read() as conn:
            return [
                TokenInfo(
                    r.id, r.name, r.label, r.created_at, r.expires_at, r.revoked_at is not None
                )
                for r in conn.execute(stmt)
            ]

    def revoke_token(self, org_id: int, token_id: int, *, actor: str, now: dt.datetime) -> None:
        """Revoke a token of one of the organisation's users."""
        with self._write() as conn:
            row = conn.execute(
                select(ApiToken.id, User.name)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id, User.org_id == org_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no token {token_id}")
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now))
            self._audit(
                conn,
                now,
                [(actor, "token.revoke", f"user:{row.name}", org_id, {"token": token_id})],
            )

    def principal_for_token(self, token: str, now: dt.datetime) -> Principal | None:
        """The user an API token belongs to, if the token is valid now."""
        stmt = (
            select(User.id, User.name, User.org_id, User.role, User.org_unit_id)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.lookup == secrets.lookup_hash(token),
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
                ~User.disabled,
            )
        )
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return Principal(row.id, row.name, row.org_id, Role(row.role), row.org_unit_id)

    def principal_for_password(
        self, name: str, password: str, *, org: str | None = None
    ) -> Principal | None:
        """The user ``name`` (of ``org``, when given) if ``password`` is theirs.

        User names are unique per organisation: without ``org`` every user of that name is
        tried, and the password must match exactly one. A name no one has still costs one
        argon2 verification, so the answer's timing does not tell taken names from free ones.
        """
        stmt = select(User).where(User.name == name, ~User.disabled)
        if org is not None:
            stmt = stmt.join(Org, Org.id == User.org_id).where(Org.name == org)
        with self._read() as conn:
            rows = conn.execute(stmt.limit(10)).all()
        hashes = [r for r in rows if r.password_hash]
        if not hashes:
            secrets.check_password(_dummy_hash(), password)
            return None
        matches = [r for r in hashes if secrets.check_password(r.password_hash, password)]
        if len(matches) != 1:
            return None
        row = matches[0]
        return Principal(row.id, row.name, row.org_id, Role(row.role), row.org_unit_id)

    def adopt(
        self, org_name: str, directive: str, start: dt.date, *, actor: str, now: dt.datetime
    ) -> None:
        """Record that an organisation follows ``directive`` on its own clock from ``start``."""
        org = self.org(org_name)
        with self._write() as conn:
            done = conn.execute(
                update(Adoption)
                .where(Adoption.org_id == org.id, Adoption.directive == directive)
                .values(start=start)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(Adoption).values(
                        org_id=org.id, directive=directive, start=start, created_at=now
                    )
                )
            payload = {"directive": directive, "start": start.isoformat()}
            self._audit(conn, now, [(actor, "directive.adopt", f"org:{org.name}", org.id, payload)])

    def adoptions(self, org_id: int) -> dict[str, dt.date]:
        """An organisation's own start dates, by directive."""
        with self._read() as conn:
            rows = conn.execute(select(Adoption).where(Adoption.org_id == org_id))
            return {r.directive: r.start for r in rows}

    def set_freshness(self, org_id: int, days: int, *, actor: str, now: dt.datetime) -> None:
        """Set how old a host's last inventory may be before the host is ``stale``.

        Hosts are re-judged against the new limit: clean ones past it are queued now, and
        stale ones within it at their next check-in or the next worker pass.
        """
        if not 1 <= days <= 3650:
            raise InvalidValueError(f"a freshness limit is 1 to 3650 days, not {days}")
        with self._write() as conn:
            name = conn.execute(select(Org.name).where(Org.id == org_id)).scalar_one_or_none()
            if name is None:
                raise NotFoundError(f"no organisation {org_id}")
            conn.execute(update(Org).where(Org.id == org_id).values(freshness_days=days))
            stale = select(HostStateRow.host_id).where(
                HostStateRow.org_id == org_id, HostStateRow.state == State.STALE.value
            )
            conn.execute(update(Host).where(Host.id.in_(stale)).values(dirty=True))
            payload = {"freshness_days": days}
            self._audit(conn, now, [(actor, "org.freshness", f"org:{name}", org_id, payload)])
