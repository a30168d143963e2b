"""A two-organisation world for the access tests: users of every role, scoped users, hosts.

``DHS`` (the caller's organisation) has org units ``East`` and ``West``; ``Rival`` is another
organisation on the same server. Every host has an inventory with Kaspersky Endpoint Security,
evaluated by the worker, so it is ``identified`` for BOD 17-01.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from evict.catalog.interface import Catalog
from evict.model.observations import HostID, HostInventory, Platform
from evict.model.records import Role
from evict.server.app import create_app
from evict.server.deps import ServerContext
from evict.service.evaluate import MatchWorker
from evict.settings import Settings, normalise_database_url
from evict.store.store import Store
from tests.server.fleetkit import KES, ZIP, Clock

ACTOR = "cli:test"
DIRECTIVE = "bod-17-01"
PASSWORD = "correct horse battery staple"

USER_CALLERS = ("admin", "operator", "auditor", "unit-admin", "unit-operator", "unit-auditor")
"""Callers with an API token: org-wide users, then users limited to org unit East."""
CALLERS = (*USER_CALLERS, "host", "anonymous", "expired", "revoked")
"""Every caller of the matrix: users, a host credential, no token, an expired and a revoked one."""
TARGETS = ("own", "other-unit", "other-org")
"""What a request is about: the caller's own unit, another unit of its organisation, another
organisation."""

HOSTS = {"own": "east-1", "other-unit": "west-1", "other-org": "rival-1"}
UNITS = {"own": "East", "other-unit": "West", "other-org": "Rival"}
ORG_OF = {"own": "DHS", "other-unit": "DHS", "other-org": "Rival"}


def is_scoped(caller: str) -> bool:
    """Whether the caller is a user limited to org unit East."""
    return caller.startswith("unit-")


def role_of(caller: str) -> str:
    """The role name of a user caller (``unit-admin`` -> ``admin``)."""
    return caller.removeprefix("unit-")


@dataclass
class World:
    """The running app, its store, and the tokens, credentials and secrets of the world."""

    client: TestClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)
    """API token per caller (expired and revoked included); ``host`` is east-1's credential."""
    users: dict[str, str] = field(default_factory=dict)
    """User name per caller, plus ``rival-admin``, ``east-extra`` and ``west-extra``."""
    credentials: dict[str, str] = field(default_factory=dict)
    """Host credential per host identifier."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Enrolment secret per org unit name."""
    serial: int = 0

    @property
    def ctx(self) -> ServerContext:
        """The app's server context."""
        context: ServerContext = self.client.app.state.context  # type: ignore[attr-defined]
        return context

    @property
    def store(self) -> Store:
        """The app's store."""
        return self.ctx.store

    def next(self, prefix: str) -> str:
        """A name not used before in this world."""
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def headers(self, caller: str) -> dict[str, str]:
        """The Authorization header ``caller`` sends (none for anonymous)."""
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def enroll(self, host: str, unit: str, *, credential: str | None = None) -> str:
        """Enrol ``host`` with ``unit``'s secret through the API; return its credential.

        :param credential: the host's current credential (needed to enrol an enrolled host).
        """
        response = self.client.post(
            "/api/v1/enroll",
            json={
                "secret": self.secrets[unit],
                "host": host,
                "hostname": host,
                "platform": "windows",
                **({"credential": credential} if credential else {}),
            },
        )
        assert response.status_code == 200, response.text
        self.credentials[host] = response.json()["credential"]
        return self.credentials[host]

    def report(self, host: str, *, about: str | None = None) -> dict[str, Any]:
        """A full report for ``about`` (default ``host``) with KES and 7-Zip."""
        inventory = HostInventory(
            HostID(about or host),
            about or host,
            Platform.WINDOWS,
            self.clock(),
            (KES, ZIP),
            "osquery",
        )
        from evict.agent.wire import report_body

        return report_body(inventory, self.next("report").replace("-", "_") + "_" + host[:20])

    def push(self, host: str, body: dict[str, Any] | None = None) -> Any:
        """Send a full report with ``host``'s credential."""
        return self.client.post(
            "/api/v1/inventory",
            content=gzip.compress(json.dumps(body or self.report(host)).encode()),
            headers={
                "Authorization": f"Bearer {self.credentials[host]}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            },
        )

    def work(self) -> None:
        """One pass of the matching worker."""
        worker = MatchWorker(self.store, self.ctx.matcher, protection=self.ctx.protection)
        now = self.clock()
        worker.run_once(now=now, today=now.date())

    def user(self, name: str, org: str, role: Role, unit: str | None = None) -> str:
        """Create a user (no password) and return a 30-day token."""
        self.store.create_user(
            name, org=org, role=role, password=None, unit=unit, actor=ACTOR, now=self.clock()
        )
        return self.store.create_token(name, days=30, actor=ACTOR, now=self.clock())[1]

    def token_id(self, user: str) -> int:
        """A fresh token of ``user``, by id (something to revoke)."""
        info, _ = self.store.create_token(user, days=30, actor=ACTOR, now=self.clock())
        return info.id

    def counts(self) -> dict[str, int]:
        """Rows per table: what a refused request must leave as it was."""
        from sqlalchemy import func, literal, select, union_all

        from evict.store.tables import Base

        tables = Base.metadata.sorted_tables
        query = union_all(*(select(literal(t.name), func.count()).select_from(t) for t in tables))
        with self.store.engine.connect() as conn:
            return {str(name): int(n) for name, n in conn.execute(query)}


def make_world(
    url: str, catalog: Catalog, *, passwords: bool = False, **settings: Any
) -> Iterator[World]:
    """Start the app on ``url`` and build the world described in the module docstring.

    :param passwords: also create ``dhs-login`` and ``rival-login`` with :data:`PASSWORD`
        (argon2 makes each cost a few tenths of a second).
    """
    clock = Clock()
    config = Settings(
        database_url=normalise_database_url(url),
        run_worker=False,
        auto_upgrade=False,
        **settings,
    )
    app = create_app(config, clock=clock, catalog=catalog)
    with TestClient(app) as client:
        world = World(client, clock)
        store = world.store
        now = clock()
        _, world.secrets["DHS"] = store.create_org("DHS", actor=ACTOR, now=now)
        _, world.secrets["Rival"] = store.create_org("Rival", actor=ACTOR, now=now)
        for unit in ("East", "West"):
            _, world.secrets[unit] = store.create_unit("DHS", unit, actor=ACTOR, now=now)
        for role in Role:
            world.users[role.value] = f"dhs-{role.value}"
            world.tokens[role.value] = world.user(f"dhs-{role.value}", "DHS", role)
            world.users[f"unit-{role.value}"] = f"east-{role.value}"
            world.tokens[f"unit-{role.value}"] = world.user(
                f"east-{role.value}", "DHS", role, "East"
            )
        world.users["rival-admin"] = "rival-admin"
        world.tokens["rival-admin"] = world.user("rival-admin", "Rival", Role.ADMIN)
        world.users["east-extra"] = "east-extra"
        world.user("east-extra", "DHS", Role.AUDITOR, "East")
        world.users["west-extra"] = "west-extra"
        world.user("west-extra", "DHS", Role.AUDITOR, "West")
        if passwords:
            for name, org in (("dhs-login", "DHS"), ("rival-login", "Rival")):
                store.create_user(
                    name, org=org, role=Role.AUDITOR, password=PASSWORD, actor=ACTOR, now=now
                )
        world.users["expired"] = world.users["revoked"] = "dhs-admin"
        world.tokens["expired"] = store.create_token(
            "dhs-admin", days=1, actor=ACTOR, now=now - dt.timedelta(days=2)
        )[1]
        revoked, world.tokens["revoked"] = store.create_token(
            "dhs-admin", days=30, actor=ACTOR, now=now
        )
        dhs = store.org("DHS")
        store.revoke_token(dhs.id, revoked.id, actor=ACTOR, now=now)
        for target, host in HOSTS.items():
            world.enroll(host, UNITS[target])
            assert world.push(host).status_code == 200
        world.tokens["host"] = world.credentials["east-1"]
        world.work()
        yield world
