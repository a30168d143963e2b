"""The matching worker against software that arrives while a pass is running."""

from __future__ import annotations

import datetime as dt

from evict.catalog.loader import load_catalog
from evict.matching.engine import Matcher
from evict.model.observations import Observation
from evict.model.records import InventoryReport
from evict.service.evaluate import MatchWorker
from evict.store.store import Store
from tests.dashboard.dashkit import KES, SPOOLER, ZIP, _report

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def report(*observations: Observation) -> InventoryReport:
    return _report((*observations, SPOOLER), "ws-1", "windows")  # type: ignore[no-any-return]


def test_software_stored_after_the_matching_step_is_not_missed(fleet_store: Store) -> None:
    """A host whose inventory brings software after the pass's matching step waits for the
    next pass, which decides it with that software's hits: Kaspersky is never reported clean."""
    worker = MatchWorker(fleet_store, Matcher(load_catalog()))
    _, secret = fleet_store.create_org("DHS", actor="t", now=NOW)
    host, _ = fleet_store.enroll(secret, "ws-1", hostname="ws-1", platform="windows", now=NOW)
    fleet_store.ingest(host, report(ZIP), now=NOW)
    worker.run_once(now=NOW, today=NOW.date())

    def state() -> str:
        return fleet_store.states([host.id])[host.id]["bod-17-01"].state.value

    assert state() == "clean"
    # The race, step by step: the pass matches (Kaspersky is not stored yet), then the
    # inventory with Kaspersky lands before the same pass evaluates the queued hosts.
    worker.match_new_software()
    fleet_store.ingest(host, report(ZIP, KES), now=NOW)
    assert worker.evaluate_queued(now=NOW, today=NOW.date()) == (0, 0)
    assert [h.id for h in fleet_store.dirty_hosts()] == [host.id], "left for the next pass"
    worker.run_once(now=NOW, today=NOW.date())
    assert state() == "identified"


def test_a_host_decided_without_new_softwares_hits_is_decided_again(
    fleet_store: Store,
) -> None:
    """Should a host still be decided before its new software is matched (software stored
    with a lower id than one already matched, committed later), the pass that matches that
    software queues the host again."""
    worker = MatchWorker(fleet_store, Matcher(load_catalog()))
    _, secret = fleet_store.create_org("DHS", actor="t", now=NOW)
    host, _ = fleet_store.enroll(secret, "ws-1", hostname="ws-1", platform="windows", now=NOW)
    fleet_store.ingest(host, report(ZIP), now=NOW)
    worker.run_once(now=NOW, today=NOW.date())
    worker.match_new_software()
    fleet_store.ingest(host, report(ZIP, KES), now=NOW)
    worker.matched_through = None  # the newer row is not recognised as newer
    worker.evaluate_queued(now=NOW, today=NOW.date())
    assert fleet_store.states([host.id])[host.id]["bod-17-01"].state.value == "clean"
    assert fleet_store.dirty_hosts() == []
    worker.run_once(now=NOW, today=NOW.date())
    assert fleet_store.states([host.id])[host.id]["bod-17-01"].state.value == "identified"
