"""Bulk loading a fleet: hosts land credentialed, linked to shared software, and queued."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from evict.agent.wire import inventory_digest
from evict.demo.simulate import fleet
from evict.model.records import BulkHost, ConflictError, InventoryReport, NotFoundError
from evict.store import secrets
from evict.store.store import Store
from evict.store.tables import HostSoftware, Software

NOW = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)


def bulk(n: int, *, start: int = 0) -> list[BulkHost]:
    hosts = []
    for index, inv in enumerate(fleet(start + n, seed=3)):
        if index < start:
            continue
        hosts.append(
            BulkHost(
                identifier=inv.host,
                hostname=inv.hostname,
                platform=inv.platform.value,
                credential_hash=secrets.lookup_hash(f"evh_bulk{index}"),
                digest=inventory_digest(inv.observations),
                observations=inv.observations,
                collected_at=inv.collected_at,
            )
        )
    return hosts


def scalar(store: Store, stmt) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_bulk_load_stores_hosts_as_an_agent_report_would(fleet_store: Store) -> None:
    org, _ = fleet_store.create_org("DOE", actor="cli:test", now=NOW)
    unit = fleet_store.units(org.id)[0]
    hosts = bulk(25)
    assert fleet_store.bulk_load(unit.id, hosts, actor="cli:test", now=NOW, batch=10) == 25

    links = sum(len({(o.name, o.version, o.source, o.kind) for o in h.observations}) for h in hosts)
    assert scalar(fleet_store, select(func.count()).select_from(HostSoftware)) <= links
    distinct = scalar(fleet_store, select(func.count()).select_from(Software))
    assert 0 < distinct < sum(len(h.observations) for h in hosts)  # software stored once

    # The host authenticates with its credential, and an unchanged check-in matches its digest.
    found = fleet_store.host_for_credential("evh_bulk7")
    assert found is not None and found.identifier == hosts[7].identifier
    assert found.observations == len(hosts[7].observations)
    assert fleet_store.checkin_unchanged(found, "report-0007", hosts[7].digest, now=NOW)
    assert not fleet_store.checkin_unchanged(found, "report-0008", "0" * 64, now=NOW)

    # Every host is queued for the worker; each batch is one audit event.
    assert len(fleet_store.dirty_hosts(limit=100)) == 25
    events = fleet_store.audit_events(action_prefix="host.bulk_load")
    assert [e.payload["hosts"] for e in events] == [10, 10, 5]
    assert fleet_store.verify_audit().ok


def test_bulk_load_of_an_enrolled_identifier_is_a_conflict(fleet_store: Store) -> None:
    org, _ = fleet_store.create_org("DOE", actor="cli:test", now=NOW)
    unit = fleet_store.units(org.id)[0]
    hosts = bulk(4)
    fleet_store.bulk_load(unit.id, hosts[:2], actor="cli:test", now=NOW)
    with pytest.raises(ConflictError, match="already enrolled"):
        fleet_store.bulk_load(unit.id, hosts[1:], actor="cli:test", now=NOW)
    assert len(fleet_store.dirty_hosts()) == 2  # the failed batch left nothing behind


def test_bulk_load_into_an_unknown_unit_is_refused(fleet_store: Store) -> None:
    with pytest.raises(NotFoundError):
        fleet_store.bulk_load(999, bulk(1), actor="cli:test", now=NOW)


def test_an_evaluated_batch_leaves_the_queue_unless_a_newer_inventory_arrived(
    fleet_store: Store,
) -> None:
    org, _ = fleet_store.create_org("DOE", actor="cli:test", now=NOW)
    unit = fleet_store.units(org.id)[0]
    hosts = bulk(6)
    fleet_store.bulk_load(unit.id, hosts, actor="cli:test", now=NOW)
    queued = fleet_store.dirty_hosts()
    # Host 2 sends a new inventory after the worker read the queue.
    newer = fleet_store.host_for_credential("evh_bulk2")
    assert newer is not None
    later = NOW + dt.timedelta(hours=1)
    fleet_store.ingest(
        newer, InventoryReport("report-newer", "f" * 64, hosts[0].observations), now=later
    )
    fleet_store.apply_evaluation(queued, [], now=later)
    assert [h.id for h in fleet_store.dirty_hosts()] == [newer.id]


def test_a_state_an_operator_moved_meanwhile_is_not_overwritten_and_the_host_stays_queued(
    fleet_store: Store,
) -> None:
    from evict.compliance.lifecycle import transition
    from evict.model.records import StateChange
    from evict.model.states import HostState, State

    org, _ = fleet_store.create_org("DOE", actor="cli:test", now=NOW)
    fleet_store.bulk_load(fleet_store.units(org.id)[0].id, bulk(2), actor="cli:test", now=NOW)
    one, two = fleet_store.dirty_hosts()
    info = fleet_store.host_for_credential("evh_bulk0")
    other = fleet_store.host_for_credential("evh_bulk1")
    assert info is not None and other is not None and (info.id, other.id) == (one.id, two.id)
    found = HostState(State.IDENTIFIED, NOW, ("kes",), "covered product found", "r1")
    firsts = [StateChange(h.id, "bod-17-01", None, found) for h in (one, two)]
    assert fleet_store.apply_evaluation([one, two], firsts, now=NOW) == 2
    # The worker read both hosts identified; an operator plans host one before it writes.
    later = NOW + dt.timedelta(hours=1)
    # Each host now reports one unrelated program (an empty report would be held for review).
    from evict.model.observations import Kind, Observation

    tool = (Observation.make(Kind.PROGRAM, "Notepad++", version="8.6", source="osquery:programs"),)
    fleet_store.ingest(info, InventoryReport("r2", inventory_digest(tool), tool), now=later)
    fleet_store.ingest(other, InventoryReport("r3", "d" * 64, tool), now=later)
    queued = fleet_store.dirty_hosts()
    fleet_store.change_state(
        info,
        "bod-17-01",
        lambda cur: transition(cur, State.PLANNED, now=later),
        actor="user:alice",
        now=later,
    )
    gone = HostState(State.REMOVED, later, ("kes",), "covered product no longer present", "r2")
    decided = [StateChange(h.id, "bod-17-01", found, gone) for h in queued]
    assert fleet_store.apply_evaluation(queued, decided, now=later) == 1
    states = fleet_store.states([one.id, two.id])
    assert states[one.id]["bod-17-01"].state is State.PLANNED  # the operator's move stands
    assert states[two.id]["bod-17-01"].state is State.REMOVED
    assert [h.id for h in fleet_store.dirty_hosts()] == [one.id]  # evaluated again later
    worker_events = [
        e for e in fleet_store.audit_events(action_prefix="state.") if e.actor == "worker"
    ]
    assert [e.payload["to"] for e in worker_events][-1] == "removed"
    assert fleet_store.verify_audit().ok
