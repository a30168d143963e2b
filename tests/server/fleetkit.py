"""Helpers of the server tests: an in-process app with users and tokens, a clock set by hand."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from evict.agent.wire import report_body
from evict.catalog.interface import Catalog
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform
from evict.model.records import Role
from evict.server.app import create_app
from evict.server.deps import ServerContext
from evict.service.evaluate import MatchWorker, WorkerStats
from evict.settings import Settings, normalise_database_url

SERVER_ASSETS = Path(__file__).parents[1] / "assets" / "server"
START = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)

KES = Observation.make(
    Kind.PROGRAM,
    "Kaspersky Endpoint Security for Windows",
    version="12.3.0.493",
    publisher="AO Kaspersky Lab",
    identifiers={"product_code": "{9A017278-F7F4-4DF9-A482-0B97B70DD7ED}"},
    source="osquery:programs",
)
ZIP = Observation.make(
    Kind.PROGRAM,
    "7-Zip 23.01 (x64)",
    version="23.01",
    publisher="Igor Pavlov",
    source="osquery:programs",
)
TIKTOK = Observation.make(
    Kind.APP,
    "TikTok",
    version="34.1.2",
    identifiers={"package_id": "com.zhiliaoapp.musically"},
    source="mdm:intune",
)
DEFENDER = Observation.make(
    Kind.PROGRAM,
    "Microsoft Defender Antivirus",
    version="4.18.24090",
    publisher="Microsoft Corporation",
    source="osquery:programs",
)

SPOOLER = Observation.make(Kind.SERVICE, "Spooler", source="osquery:services")
"""A service every pushed Windows inventory carries (unless told not to): with its programs, enough
to conclude (see ``evict.compliance.coverage``)."""


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Fleet:
    """A running app (in-process) with an organisation, users and helpers to push inventories."""

    client: TestClient
    clock: Clock
    secret: str
    tokens: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    platforms: dict[str, str] = field(default_factory=dict)
    """Host -> the platform it enrolled with (its inventories say the same)."""
    reports: int = 0

    @property
    def ctx(self) -> ServerContext:
        context: ServerContext = self.client.app.state.context  # type: ignore[attr-defined]
        return context

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def enroll(self, host: str, platform: str = "windows", secret: str | None = None) -> str:
        response = self.client.post(
            "/api/v1/enroll",
            json={
                "secret": secret or self.secret,
                "host": host,
                "hostname": host,
                "platform": platform,
            },
        )
        assert response.status_code == 200, response.text
        self.credentials[host] = response.json()["credential"]
        self.platforms[host] = platform
        return self.credentials[host]

    def body(
        self, host: str, observations: Sequence[Observation], *, complete: bool = True
    ) -> dict[str, Any]:
        self.reports += 1
        platform = Platform(self.platforms.get(host, "windows"))
        # A desktop's inventory is complete with a service besides its programs; a phone's
        # with its apps alone (evict.compliance.coverage).
        desktop = platform not in (Platform.ANDROID, Platform.IOS)
        seen = (*observations, SPOOLER) if complete and desktop else tuple(observations)
        inventory = HostInventory(HostID(host), host, platform, self.clock(), seen, "test")
        return report_body(inventory, f"report-{self.reports:06d}")

    def send(self, host: str, body: dict[str, Any]) -> Any:
        return self.client.post(
            "/api/v1/inventory",
            content=gzip.compress(json.dumps(body).encode()),
            headers={
                "Authorization": f"Bearer {self.credentials[host]}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            },
        )

    def push(self, host: str, *observations: Observation, complete: bool = True) -> dict[str, Any]:
        """Push an inventory; ``complete=False`` leaves out the service that makes it complete."""
        if host not in self.credentials:
            self.enroll(host)
        response = self.send(host, self.body(host, observations, complete=complete))
        assert response.status_code == 200, response.text
        ack: dict[str, Any] = response.json()
        return ack

    def check_in(self, host: str, *observations: Observation) -> str:
        body = self.body(host, observations)
        response = self.client.post(
            "/api/v1/inventory/digest",
            json={"report_id": body["report_id"], "digest": body["digest"]},
            headers={"Authorization": f"Bearer {self.credentials[host]}"},
        )
        assert response.status_code == 200, response.text
        status: str = response.json()["status"]
        return status

    def work(self) -> WorkerStats:
        worker = MatchWorker(self.ctx.store, self.ctx.matcher, protection=self.ctx.protection)
        now = self.clock()
        return worker.run_once(now=now, today=now.date())

    def state(self, host: str, directive: str = "bod-17-01", who: str = "admin") -> str:
        response = self.client.get(f"/api/v1/hosts/{host}", headers=self.auth(who))
        assert response.status_code == 200, response.text
        states = response.json()["states"]
        return str(states[directive]["state"]) if directive in states else "pending"


def make_fleet(url: str, catalog: Catalog, clock: Clock, **settings: Any) -> Iterator[Fleet]:
    """Start the app on ``url`` with an organisation DHS and an admin, operator and auditor."""
    config = Settings(
        database_url=normalise_database_url(url),
        run_worker=False,
        auto_upgrade=False,
        **settings,
    )
    app = create_app(config, clock=clock, catalog=catalog)
    with TestClient(app) as client:
        store = app.state.context.store
        _, secret = store.create_org("DHS", actor="cli:test", now=clock())
        fleet = Fleet(client, clock, secret)
        for role in Role:
            name = f"{role.value}-1"
            store.create_user(
                name, org="DHS", role=role, password=None, actor="cli:test", now=clock()
            )
            fleet.tokens[role.value] = store.create_token(
                name, days=30, actor="cli:test", now=clock()
            )[1]
        yield fleet
