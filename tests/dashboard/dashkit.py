"""A small seeded fleet for the dashboard tests: two organisations, every role, a history.

The fleet is written once per module through the store (the same path agents' reports take),
on SQLite and, with ``EVICT_TEST_DATABASE_URL``, on PostgreSQL. Tests that change it use their
own hosts, so that the module's tests can share it.

DHS (org units HQ, Field East and the default DHS unit):

======================  ===========  ========  =========================================
host                    unit         platform  bod-17-01 story
======================  ===========  ========  =========================================
ws-kes-1                HQ           windows   KES found in week 1, planned by an operator
ws-kes-2                HQ           windows   KES found (waived by a test)
ws-kes-3                Field East   windows   KES found in week 1, gone in week 2: removed
ws-kes-4                HQ           windows   KES found (moved by a test)
ws-kes-5                HQ           windows   KES found (the browser test waives it)
srv-clean-1..3          HQ/East      linux     clean
=HYPERLINK(...)         Field East   windows   clean; a hostname that is a formula
phone-tiktok            HQ           android   TikTok: omb-m-23-13 identified
never-reported          HQ           windows   enrolled, no inventory: pending
======================  ===========  ========  =========================================

Treasury has one host, ``tr-secret-1``, with KES, that no DHS user may ever see.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from evict.agent.wire import inventory_digest
from evict.catalog.interface import Catalog
from evict.compliance.lifecycle import transition
from evict.model.observations import Kind, Observation
from evict.model.records import InventoryReport, Role
from evict.model.states import State
from evict.settings import Settings, normalise_database_url
from evict.store.store import Store

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
WEEK1 = NOW - dt.timedelta(days=14)
WEEK2 = NOW - dt.timedelta(days=7)
PASSWORD = "correct horse battery staple"

KES = Observation.make(
    Kind.PROGRAM,
    "Kaspersky Endpoint Security for Windows",
    version="12.3.0.493",
    publisher="AO Kaspersky Lab",
    identifiers={"product_code": "{9A017278-F7F4-4DF9-A482-0B97B70DD7ED}"},
    source="osquery:programs",
)
KLNAGENT = Observation.make(Kind.SERVICE, "klnagent", source="osquery:services")
SPOOLER = Observation.make(Kind.SERVICE, "Spooler", source="osquery:services")
SSHD = Observation.make(Kind.SERVICE, "ssh.service", source="osquery:systemd_units")
ZIP = Observation.make(
    Kind.PROGRAM,
    "7-Zip 23.01 (x64)",
    version="23.01",
    publisher="Igor Pavlov",
    source="osquery:programs",
)
BASH = Observation.make(
    Kind.PACKAGE,
    "bash",
    version="5.2.15-2+b7",
    publisher="Matthias Klose",
    source="osquery:deb_packages",
)
TIKTOK = Observation.make(
    Kind.APP,
    "TikTok",
    version="36.5.4",
    publisher="ByteDance",
    identifiers={"package_id": "com.zhiliaoapp.musically"},
    source="intune:apps",
)
EVIL_HOSTNAME = '=HYPERLINK("http://example.invalid/x","click")'


@dataclass
class Seeded:
    """The seeded database and what the tests need to know about it."""

    url: str
    ids: dict[str, int] = field(default_factory=dict)
    """Host identifier -> database id."""
    tokens: dict[str, str] = field(default_factory=dict)
    """User name -> API token (for comparing with the API)."""


def _report(observations: tuple[Observation, ...], hostname: str, platform: str) -> Any:
    return InventoryReport(
        secrets.token_hex(16),
        inventory_digest(observations),
        observations,
        hostname=hostname,
        platform=platform,
    )


def seed(url: str, catalog: Catalog) -> Seeded:
    """Write the fleet described in this module's docstring into the database at ``url``."""
    from evict.matching.engine import Matcher
    from evict.service.evaluate import MatchWorker
    from evict.store.engine import make_engine, upgrade

    engine = make_engine(normalise_database_url(url))
    upgrade(engine)
    store = Store(engine)
    seeded = Seeded(url)
    actor = "cli:test"
    _, dhs_secret = store.create_org("DHS", actor=actor, now=WEEK1)
    _, hq = store.create_unit("DHS", "HQ", actor=actor, now=WEEK1)
    _, east = store.create_unit("DHS", "Field East", actor=actor, now=WEEK1)
    _, treasury = store.create_org("Treasury", actor=actor, now=WEEK1)
    for name, org, role, unit in (
        ("admin-1", "DHS", Role.ADMIN, None),
        ("operator-1", "DHS", Role.OPERATOR, None),
        ("auditor-1", "DHS", Role.AUDITOR, None),
        ("east-operator", "DHS", Role.OPERATOR, "Field East"),
        ("treasury-admin", "Treasury", Role.ADMIN, None),
    ):
        store.create_user(
            name, org=org, role=role, password=PASSWORD, unit=unit, actor=actor, now=WEEK1
        )
        seeded.tokens[name] = store.create_token(name, days=3650, actor=actor, now=WEEK1)[1]
    store.adopt("DHS", "bod-17-01", catalog.directive("bod-17-01").start, actor=actor, now=WEEK1)
    store.adopt("DHS", "omb-m-23-13", (NOW - dt.timedelta(days=30)).date(), actor=actor, now=WEEK1)
    fleet = [
        ("ws-kes-1", hq, "windows", (KES, KLNAGENT, ZIP, SPOOLER)),
        ("ws-kes-2", hq, "windows", (KES, ZIP, SPOOLER)),
        ("ws-kes-3", east, "windows", (KES, ZIP, SPOOLER)),
        ("ws-kes-4", hq, "windows", (KES, SPOOLER)),
        ("ws-kes-5", hq, "windows", (KES, ZIP, SPOOLER)),
        ("srv-clean-1", hq, "linux", (BASH, SSHD)),
        ("srv-clean-2", east, "linux", (BASH, SSHD)),
        ("srv-clean-3", hq, "linux", (BASH, SSHD)),
        ("evil-1", east, "windows", (ZIP, SPOOLER)),
        ("phone-tiktok", hq, "android", (TIKTOK,)),
        ("tr-secret-1", treasury, "windows", (KES, ZIP, SPOOLER)),
    ]
    infos = {}
    for identifier, secret, platform, observations in fleet:
        hostname = EVIL_HOSTNAME if identifier == "evil-1" else identifier
        info, _ = store.enroll(secret, identifier, hostname=hostname, platform=platform, now=WEEK1)
        store.ingest(info, _report(observations, hostname, platform), now=WEEK1)
        infos[identifier] = info
        seeded.ids[identifier] = info.id
    worker = MatchWorker(store, Matcher(catalog))
    worker.run_once(now=WEEK1, today=WEEK1.date())
    # Enrolled after the first evaluation and never reported: pending.
    pending, _ = store.enroll(
        hq, "never-reported", hostname="never-reported", platform="windows", now=WEEK1
    )
    seeded.ids["never-reported"] = pending.id
    planned = WEEK1 + dt.timedelta(days=1)
    store.change_state(
        infos["ws-kes-1"],
        "bod-17-01",
        functools.partial(transition, to=State.PLANNED, now=planned, reason="ticket CHG-1042"),
        actor="user:operator-1",
        now=planned,
    )
    store.ingest(infos["ws-kes-3"], _report((ZIP, SPOOLER), "ws-kes-3", "windows"), now=WEEK2)
    worker.run_once(now=WEEK2, today=WEEK2.date())
    store.close()
    return seeded


def pg_schema_url(base: str) -> str:
    """A fresh schema of the session's PostgreSQL database, as a URL."""
    import psycopg

    schema = f"dash_{secrets.token_hex(5)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?options=-csearch_path%3D{schema}"


def app_settings(url: str) -> Settings:
    """Settings of a test server: no background worker, no schema upgrade, no login limit."""
    return Settings(
        database_url=normalise_database_url(url),
        run_worker=False,
        auto_upgrade=False,
        login_rate=(1000.0, 1000.0),
        login_account_rate=(1000.0, 1000.0),
    )


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    """Sign ``name`` in through the form; the client keeps the session cookie."""
    client.cookies.clear()
    page = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce, "the login form carries a CSRF nonce"
    response = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": nonce.group(1), "next": "/overview"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    """The session's CSRF token, as the page's forms carry it."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)
