"""Each host keeps the source families of its latest inventory (``hosts.sources``), which the
methodology's count of inventory sources reads instead of every software link: filled by the
migration for hosts stored before it, and kept by every way an inventory is written."""

from __future__ import annotations

import datetime as dt
import json

from alembic import command
from sqlalchemy import select

from evict.agent.wire import inventory_digest
from evict.model.observations import Kind, Observation
from evict.model.records import InventoryReport
from evict.settings import normalise_database_url
from evict.store.engine import _config, make_engine, upgrade
from evict.store.ingest_batch import IngestBatcher
from evict.store.reports import ReportQueries
from evict.store.store import Store
from evict.store.tables import Host
from tests.store.migrationkit import store_old_fleet

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def _stored_sources(store: Store) -> dict[str, list[str]]:
    with store.engine.connect() as conn:
        return {
            r.identifier: json.loads(r.sources)
            for r in conn.execute(select(Host.identifier, Host.sources))
        }


def test_an_upgrade_fills_the_source_families_of_hosts_stored_before(database_url: str) -> None:
    engine = make_engine(normalise_database_url(database_url))
    with engine.connect() as conn, conn.begin():
        command.upgrade(_config(conn), "0013_network")
    store_old_fleet(
        engine,
        unit="CBP",
        hosts=(1, 2, 3),
        software=((1, "program"), (2, "program"), (3, "program")),
        links=(
            (1, 1, "osquery:programs"),
            (1, 2, "osquery:services"),
            (1, 3, "registry:uninstall"),
            (2, 3, "intune"),
        ),
    )
    upgrade(engine)
    store = Store(engine)
    assert _stored_sources(store) == {
        "ws-1": ["osquery", "registry"],
        "ws-2": ["intune"],
        "ws-3": [],
    }
    queries = ReportQueries(store, "bod-17-01", org_id=1, unit_id=None)
    assert queries.census().families == [
        ("CBP", "intune", 1),
        ("CBP", "osquery", 1),
        ("CBP", "registry", 1),
    ]
    store.close()


def _report(report_id: str, *sources: str) -> InventoryReport:
    observations = tuple(
        Observation.make(Kind.PROGRAM, f"Program {i}", version="1.0", source=s)
        for i, s in enumerate(sources)
    )
    return InventoryReport(report_id, inventory_digest(observations), observations)


def test_every_inventory_write_keeps_the_host_families_of_its_links(fleet_store: Store) -> None:
    store = fleet_store
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    one, two = (
        store.enroll(secret, f"ws-{i}", hostname=f"ws-{i}", platform="windows", now=NOW)[0]
        for i in (1, 2)
    )
    store.ingest(one, _report("r1", "osquery:programs", "osquery:services"), now=NOW)
    assert _stored_sources(store)["ws-1"] == ["osquery"]
    # a later inventory replaces the families, as it replaces the links
    store.ingest(one, _report("r2", "registry:uninstall", "intune:apps"), now=NOW)
    assert _stored_sources(store)["ws-1"] == ["intune", "registry"]
    batcher = IngestBatcher(store)  # not started: stop() writes what waits, in this thread
    batched = batcher.submit(two, _report("r3", "jamf", "jamf:apps"), now=NOW)
    batcher.stop()
    assert batched.result().status == "stored"
    assert _stored_sources(store)["ws-2"] == ["jamf"]
    org_id = store.org("DHS").id
    queries = ReportQueries(store, "bod-17-01", org_id=org_id, unit_id=None)
    assert queries.census().families == [
        ("DHS", "intune", 1),
        ("DHS", "jamf", 1),
        ("DHS", "registry", 1),
    ]
    # an empty inventory, held and then accepted, leaves the host no links and no families
    assert store.ingest(one, _report("r4"), now=NOW).status == "held"
    assert store.review_held(one, accept=True, actor="cli:test", now=NOW)
    assert queries.census().families == [("DHS", "jamf", 1)]
