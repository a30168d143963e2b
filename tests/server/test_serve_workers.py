"""``evict serve --workers 2`` on one PostgreSQL: every report stored once, none lost."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import httpx
from sqlalchemy import func, select

from evict.agent.wire import report_body
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store
from evict.store.tables import AuditEventRow, ReportRow
from tests.server.test_fleet_e2e import evict, serving

NOW_OBS = Observation.make(Kind.PROGRAM, "7-Zip 23.01 (x64)", version="23.01", source="t")


def test_two_server_processes_store_each_report_once(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):  # one writer at a time: refused, plainly
        refused = evict("serve", "--db", database_url, "--workers", "2", ok=False)
        assert refused.returncode == 2 and "--workers needs PostgreSQL" in refused.stderr
        return
    evict("db", "upgrade", "--db", database_url)
    store = Store(make_engine(normalise_database_url(database_url)))
    _, secret = store.create_org("DHS", actor="cli:test", now=store_now())
    try:
        with serving(database_url, tmp_path / "serve.log", "--workers", "2") as url:
            credentials = {}
            for i in range(4):
                name = f"h{i}"
                r = httpx.post(
                    f"{url}/api/v1/enroll",
                    json={"secret": secret, "host": name, "platform": "windows"},
                    timeout=30,
                )
                assert r.status_code == 200, r.text
                credentials[name] = r.json()["credential"]
            bodies = []
            for n in range(40):
                host = f"h{n % 4}"
                extra = Observation.make(Kind.PROGRAM, f"tool {n}", version="1", source="t")
                inventory = HostInventory(
                    HostID(host), host, Platform.WINDOWS, store_now(), (NOW_OBS, extra), "test"
                )
                bodies.append((host, report_body(inventory, f"report-{n:04d}-0123456789")))
            answers: list[tuple[str, int, str]] = []
            lock = threading.Lock()

            def send(items: list[tuple[str, dict[str, object]]]) -> None:
                with httpx.Client(timeout=60) as client:  # one connection: each thread's own
                    for host, body in items:
                        r = client.post(
                            f"{url}/api/v1/inventory",
                            content=gzip.compress(json.dumps(body).encode()),
                            headers={
                                "Authorization": f"Bearer {credentials[host]}",
                                "Content-Encoding": "gzip",
                                "Content-Type": "application/json",
                            },
                        )
                        with lock:
                            answers.append((str(body["report_id"]), r.status_code, r.text))

            # Every report sent twice at once, from different connections (a retrying agent).
            threads = [threading.Thread(target=send, args=(bodies[k::4],)) for k in range(4)]
            threads += [threading.Thread(target=send, args=(bodies[k::4][::-1],)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(answers) == 80
            assert all(status == 200 for _, status, _ in answers), [
                a for a in answers if a[1] != 200
            ]
            with store.engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(ReportRow)).scalar_one()
                ingests = list(
                    conn.execute(
                        select(AuditEventRow.payload).where(
                            AuditEventRow.action == "inventory.ingest"
                        )
                    ).scalars()
                )
            assert stored == 40
            ids = sorted(json.loads(p)["report_id"] for p in ingests)
            assert ids == sorted(f"report-{n:04d}-0123456789" for n in range(40))
            assert store.verify_audit().ok
    finally:
        store.close()


def store_now():  # noqa: ANN201 - a fresh aware time
    from evict._util import utcnow

    return utcnow()
