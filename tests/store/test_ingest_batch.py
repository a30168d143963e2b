"""Full inventories written in batches (group commit), on both backends: the same rows, answers
and audit events as one report at a time, in one transaction for many reports."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from evict.agent.wire import inventory_digest
from evict.model.observations import Kind, Observation
from evict.model.records import ConflictError, InventoryReport
from evict.store.ingest_batch import IngestBatcher
from evict.store.store import Store
from evict.store.tables import AuditEventRow, HostSoftware, Software

NOW = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
KES = Observation.make(
    Kind.PROGRAM,
    "Kaspersky Endpoint Security for Windows",
    version="12.3.0.493",
    publisher="AO Kaspersky Lab",
    source="osquery:programs",
)
ZIP = Observation.make(
    Kind.PROGRAM, "7-Zip 23.01 (x64)", version="23.01", source="osquery:programs"
)
BASH = Observation.make(Kind.PACKAGE, "bash", version="5.1", source="osquery:deb_packages")
ZIP_NEW = dataclasses.replace(ZIP, version="24.08")
KES_MDM = dataclasses.replace(KES, source="intune:apps")


def report(report_id: str, *observations: Observation, hostname: str = "") -> InventoryReport:
    return InventoryReport(
        report_id, inventory_digest(observations), observations, hostname=hostname
    )


def links(store: Store, host_id: int) -> set[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(Software.name, HostSoftware.version, HostSoftware.source)
            .join(Software, Software.id == HostSoftware.software_id)
            .where(HostSoftware.host_id == host_id)
        )
        return {(r[0], r[1], r[2]) for r in rows}


def ingest_events(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(AuditEventRow.payload).where(AuditEventRow.action == "inventory.ingest")
        )
        return [r[0] for r in rows]


def test_many_hosts_reports_go_in_one_transaction_with_each_hosts_exact_links(
    fleet_store: Store,
) -> None:
    store = fleet_store
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    hosts = [
        store.enroll(secret, f"h{i}", hostname=f"h{i}", platform="windows", now=NOW)[0]
        for i in range(6)
    ]
    first = [(KES, ZIP), (ZIP,), (BASH,), (KES, ZIP, BASH), (ZIP,), (KES,)]
    for i, (host, inventory) in enumerate(zip(hosts, first, strict=True)):
        store.ingest(host, report(f"first-{i}", *inventory), now=NOW)
    # Every kind of change at once: a new version, a new source, software gone, software
    # added, nothing changed, and everything replaced.
    second = [(KES, ZIP_NEW), (KES_MDM, ZIP), (ZIP,), (KES, ZIP, BASH), (ZIP, BASH), (BASH,)]
    batcher = IngestBatcher(store)  # not started: stop() writes what waits, in this thread
    later = NOW + dt.timedelta(hours=1)
    futures = [
        batcher.submit(host, report(f"second-{i}", *inv, hostname=f"renamed-{i}"), now=later)
        for i, (host, inv) in enumerate(zip(hosts, second, strict=True))
    ]
    batcher.stop()
    assert batcher.batches == 1
    for i, (host, inventory, future) in enumerate(zip(hosts, second, futures, strict=True)):
        ack = future.result()
        assert (ack.status, ack.report_id, ack.observations) == (
            "stored",
            f"second-{i}",
            len(inventory),
        )
        assert links(store, host.id) == {(o.name, o.version, o.source) for o in inventory}, i
        stored = store.host(host.org_id, host.identifier)
        assert stored.digest == inventory_digest(inventory)
        assert (stored.last_checkin, stored.hostname) == (f"second-{i}", f"renamed-{i}")
        assert stored.last_seen == later
    assert len(ingest_events(store)) == 12
    assert store.verify_audit().ok
    # The host directory no longer answers the old digest from memory.
    assert not store.checkin_unchanged(
        store.host(hosts[0].org_id, "h0"), "c-1", inventory_digest(first[0]), now=later
    )


def test_resends_conflicts_empty_inventories_and_a_hosts_second_report_in_one_batch(
    fleet_store: Store,
) -> None:
    store = fleet_store
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    h1, h2, h3 = (
        store.enroll(secret, name, hostname=name, platform="linux", now=NOW)[0]
        for name in ("h1", "h2", "h3")
    )
    stored = store.ingest(h1, report("r-stored", KES, ZIP), now=NOW)
    store.ingest(h3, report("r-h3", BASH), now=NOW)
    batcher = IngestBatcher(store)
    later = NOW + dt.timedelta(minutes=5)
    resend = batcher.submit(h1, report("r-stored", KES, ZIP), now=later)
    stolen = batcher.submit(h2, report("r-stored", BASH), now=later)
    emptied = batcher.submit(h3, report("r-empty"), now=later)
    h2_first = batcher.submit(h2, report("r-h2-a", ZIP), now=later)
    h2_second = batcher.submit(h2, report("r-h2-b", BASH, ZIP_NEW), now=later)
    batcher.stop()
    assert resend.result() == stored
    with pytest.raises(ConflictError, match="another host"):
        stolen.result()
    assert emptied.result().status == "held"
    assert links(store, h3.id) == {("bash", "5.1", BASH.source)}
    assert h2_first.result().status == h2_second.result().status == "stored"
    # The later report of a host wins, as when they come one after the other.
    assert links(store, h2.id) == {("bash", "5.1", BASH.source), (ZIP.name, "24.08", ZIP.source)}
    assert store.host(h2.org_id, "h2").last_checkin == "r-h2-b"
    reports = [p for p in ingest_events(store) if "r-stored" in str(p)]
    assert len(reports) == 1
    assert store.verify_audit().ok


def test_the_writer_thread_answers_each_request_once_it_is_committed(fleet_store: Store) -> None:
    store = fleet_store
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    hosts = [
        store.enroll(secret, f"w{i}", hostname=f"w{i}", platform="windows", now=NOW)[0]
        for i in range(20)
    ]
    batcher = IngestBatcher(store, max_batch=8)
    batcher.start()
    try:
        futures = [
            batcher.submit(h, report(f"thread-{i}", KES if i % 2 else BASH, ZIP), now=NOW)
            for i, h in enumerate(hosts)
        ]
        acks = [f.result(timeout=60) for f in futures]
    finally:
        batcher.stop()
    assert [a.report_id for a in acks] == [f"thread-{i}" for i in range(20)]
    assert 3 <= batcher.batches <= 20
    for i, h in enumerate(hosts):
        assert store.host(h.org_id, h.identifier).last_checkin == f"thread-{i}"
    assert len(ingest_events(store)) == 20
    assert store.verify_audit().ok
