"""Two ``evict serve`` processes on one database, as behind a load balancer: every report stored
once, none lost, and what one server remembers of a host follows what the other changed."""

from __future__ import annotations

import gzip
import json
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import func, select

from evict._util import utcnow
from evict.agent.wire import inventory_digest, report_body
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store
from evict.store.tables import AuditEventRow, ReportRow
from tests.server.test_fleet_e2e import evict, serving

SEVEN_ZIP = Observation.make(Kind.PROGRAM, "7-Zip 23.01 (x64)", version="23.01", source="t")
KES = Observation.make(
    Kind.PROGRAM, "Kaspersky Endpoint Security for Windows", version="12.3", source="t"
)
SYNC_WAIT = 2.5
"""Longer than twice a server's sync of the hosts it remembers (evict.store.agents.SYNC_EVERY)."""


def _inventory(host: str, *observations: Observation) -> HostInventory:
    return HostInventory(HostID(host), host, Platform.WINDOWS, utcnow(), observations, "test")


def _send(client: httpx.Client, url: str, credential: str, body: dict[str, object]) -> int:
    r = client.post(
        f"{url}/api/v1/inventory",
        content=gzip.compress(json.dumps(body).encode()),
        headers={
            "Authorization": f"Bearer {credential}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    return r.status_code


def _check_in(url: str, credential: str, report_id: str, digest: str) -> str:
    r = httpx.post(
        f"{url}/api/v1/inventory/digest",
        json={"report_id": report_id, "digest": digest},
        headers={"Authorization": f"Bearer {credential}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


def test_two_servers_share_one_database(database_url: str, tmp_path: Path) -> None:
    evict("db", "upgrade", "--db", database_url)
    store = Store(make_engine(normalise_database_url(database_url)))
    _, secret = store.create_org("DHS", actor="cli:test", now=utcnow())
    with ExitStack() as stack:
        a = stack.enter_context(serving(database_url, tmp_path / "a.log"))
        b = stack.enter_context(serving(database_url, tmp_path / "b.log"))
        stack.callback(store.close)
        credentials = {}
        for i in range(4):
            r = httpx.post(
                f"{(a, b)[i % 2]}/api/v1/enroll",
                json={"secret": secret, "host": f"h{i}", "platform": "windows"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            credentials[f"h{i}"] = r.json()["credential"]

        # Each report sent to both servers at once (a balancer retrying on the other one).
        bodies = [
            (
                f"h{n % 4}",
                report_body(
                    _inventory(
                        f"h{n % 4}",
                        SEVEN_ZIP,
                        Observation.make(Kind.PROGRAM, f"tool {n}", version="1", source="t"),
                    ),
                    f"report-{n:04d}-0123456789",
                ),
            )
            for n in range(24)
        ]
        answers: list[int] = []
        lock = threading.Lock()

        def send(url: str, items: list[tuple[str, dict[str, object]]]) -> None:
            with httpx.Client(timeout=60) as client:
                for host, body in items:
                    status = _send(client, url, credentials[host], body)
                    with lock:
                        answers.append(status)

        threads = [
            threading.Thread(target=send, args=(url, bodies[k::4][::step]))
            for k in range(4)
            for url, step in ((a, 1), (b, -1))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200] * 48
        with store.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(ReportRow)).scalar_one()
            ingests = [
                json.loads(p)["report_id"]
                for p in conn.execute(
                    select(AuditEventRow.payload).where(AuditEventRow.action == "inventory.ingest")
                ).scalars()
            ]
        assert stored == 24
        assert sorted(ingests) == sorted(f"report-{n:04d}-0123456789" for n in range(24))

        # What one server remembers of a host follows a change made through the other: a host
        # that removed the product (stored by B) and put it back must be asked for its inventory
        # by A, not told that A's remembered copy (with the product) is still the stored one.
        host, credential = "h0", credentials["h0"]
        with_kes = _inventory(host, SEVEN_ZIP, KES)
        without = _inventory(host, SEVEN_ZIP)
        with httpx.Client(timeout=60) as client:
            assert _send(client, a, credential, report_body(with_kes, "kes-0001-0123456789")) == 200
            assert _check_in(
                a, credential, "kes-0002-0123456789", inventory_digest(with_kes.observations)
            ) == ("unchanged")
            assert _send(client, b, credential, report_body(without, "kes-0003-0123456789")) == 200
        time.sleep(SYNC_WAIT)
        assert (
            _check_in(a, credential, "kes-0004-0123456789", inventory_digest(with_kes.observations))
            == "send"
        )
        assert _check_in(
            a, credential, "kes-0005-0123456789", inventory_digest(without.observations)
        ) == ("unchanged")
        assert store.verify_audit().ok
