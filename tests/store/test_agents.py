"""Hosts remembered by credential, and check-ins written in batches, on both backends."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from evict.agent.wire import inventory_digest
from evict.model.observations import Kind, Observation
from evict.model.records import InventoryReport
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store

NOW = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
ZIP = Observation.make(
    Kind.PROGRAM, "7-Zip 23.01 (x64)", version="23.01", source="osquery:programs"
)
BASH = Observation.make(Kind.PACKAGE, "bash", version="5.1", source="osquery:deb_packages")


@pytest.fixture
def servers(migrated_url: str) -> Iterator[tuple[Store, Store]]:
    """Two servers' stores on one database, remembering hosts; check-ins written on demand."""
    url = normalise_database_url(migrated_url)
    pair = (Store(make_engine(url)), Store(make_engine(url)))
    for store in pair:
        store.serve_agents(flush_every=3600)
    yield pair
    for store in pair:
        store.close()


def test_a_credential_retired_on_another_server_is_refused_after_a_sync(
    servers: tuple[Store, Store],
) -> None:
    a, b = servers
    _, secret = a.create_org("DHS", actor="cli:test", now=NOW)
    host, old = a.enroll(secret, "h1", hostname="h1", platform="windows", now=NOW)
    assert a.agent_host(old) is not None and a.cached_agent_host(old) is not None
    # The agent re-enrols through the other server, proving itself with its credential.
    _, new = b.enroll(secret, "h1", hostname="h1", platform="windows", now=NOW, credential=old)
    assert a.agents is not None
    a.agents.sync()
    assert a.cached_agent_host(old) is None
    assert a.agent_host(old) is None
    again = a.agent_host(new)
    assert again is not None and again.id == host.id
    # On the server that re-enrolled it, the old credential is refused at once.
    assert b.agent_host(old) is None


def test_an_inventory_stored_elsewhere_changes_the_digest_answered_here(
    servers: tuple[Store, Store],
) -> None:
    a, b = servers
    _, secret = a.create_org("DHS", actor="cli:test", now=NOW)
    _, credential = a.enroll(secret, "h1", hostname="h1", platform="windows", now=NOW)
    first = inventory_digest([ZIP])
    host = a.agent_host(credential)
    assert host is not None
    a.ingest(host, InventoryReport("r-1", first, (ZIP,)), now=NOW)
    host = a.agent_host(credential)
    assert host is not None and host.digest == first
    assert a.checkin_unchanged(host, "r-2", first, now=NOW)
    second = inventory_digest([ZIP, BASH])
    b.ingest(host, InventoryReport("r-3", second, (ZIP, BASH)), now=NOW)
    assert a.agents is not None
    a.agents.sync()
    fresh = a.agent_host(credential)
    assert fresh is not None and fresh.digest == second
    assert not a.checkin_unchanged(fresh, "r-4", first, now=NOW)
    assert a.checkin_unchanged(fresh, "r-5", second, now=NOW)


def test_check_ins_wait_in_memory_and_are_written_together(
    servers: tuple[Store, Store],
) -> None:
    a, b = servers
    _, secret = a.create_org("DHS", actor="cli:test", now=NOW)
    later = NOW + dt.timedelta(hours=1)
    hosts = []
    for name in ("h1", "h2", "h3"):
        enrolled, _ = a.enroll(secret, name, hostname=name, platform="windows", now=NOW)
        a.ingest(enrolled, InventoryReport(f"r-{name}", inventory_digest([ZIP]), (ZIP,)), now=NOW)
        hosts.append(a.host(enrolled.org_id, name))
    for n, host in enumerate(hosts):
        assert a.checkin_unchanged(host, f"c-{n}", host.digest, now=later)
    assert not a.checkin_unchanged(hosts[0], "c-x", inventory_digest([BASH]), now=later)
    # Not written yet: the other server still sees the inventory's time.
    assert b.host(hosts[0].org_id, "h1").last_seen == NOW
    assert a.checkins is not None and a.checkins.flush() == 3
    for n, host in enumerate(hosts):
        info = b.host(host.org_id, host.identifier)
        assert (info.last_seen, info.last_checkin) == (later, f"c-{n}")


def test_closing_the_store_writes_the_waiting_check_ins(migrated_url: str) -> None:
    url = normalise_database_url(migrated_url)
    store = Store(make_engine(url))
    store.serve_agents(flush_every=3600)
    _, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    host, _ = store.enroll(secret, "h1", hostname="h1", platform="windows", now=NOW)
    store.ingest(host, InventoryReport("r-1", inventory_digest([ZIP]), (ZIP,)), now=NOW)
    host = store.host(host.org_id, "h1")
    later = NOW + dt.timedelta(minutes=5)
    assert store.checkin_unchanged(host, "c-1", host.digest, now=later)
    store.close()
    other = Store(make_engine(url))
    try:
        assert other.host(host.org_id, "h1").last_seen == later
    finally:
        other.close()


def test_a_server_reads_the_enrolled_hosts_ahead(migrated_url: str) -> None:
    url = normalise_database_url(migrated_url)
    setup = Store(make_engine(url))
    _, secret = setup.create_org("DHS", actor="cli:test", now=NOW)
    credentials = [
        setup.enroll(secret, f"h{i}", hostname=f"h{i}", platform="windows", now=NOW)[1]
        for i in range(3)
    ]
    setup.close()
    store = Store(make_engine(url))
    try:
        store.serve_agents(flush_every=3600)
        deadline = time.monotonic() + 10
        while store.cached_agent_host(credentials[2]) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [store.cached_agent_host(c) is not None for c in credentials] == [True] * 3
        assert store.cached_agent_host("evict_host_not-a-credential") is None
    finally:
        store.close()


def test_a_flush_waits_for_the_batch_another_thread_is_writing() -> None:
    """The worker flushes before it reads the queued hosts: a batch the flushing thread took
    but has not committed yet must hold it up, or the worker misses those check-ins."""
    import threading

    from evict.store.agents import Checkin, CheckinBuffer

    writing, release = threading.Event(), threading.Event()
    written: list[list[int]] = []

    def write(batch: list[Checkin]) -> None:
        writing.set()
        release.wait(10)
        written.append([c.host_id for c in batch])

    buffer = CheckinBuffer(write, every=3600)
    buffer.add(Checkin(1, "r-1", "d", NOW))
    background = threading.Thread(target=buffer.flush)
    background.start()
    assert writing.wait(10)
    assert buffer, "a batch being written still counts as waiting"
    waited = threading.Thread(target=buffer.flush)
    waited.start()
    waited.join(0.2)
    assert waited.is_alive() and written == []
    release.set()
    background.join(10)
    waited.join(10)
    assert written == [[1]] and not buffer


def test_hosts_read_while_others_were_forgotten_are_still_remembered() -> None:
    """A server warming up under load reads the fleet while inventories arrive: only the hosts
    whose inventory changed after the read began are left out, not the whole fleet."""
    from evict.model.records import HostInfo
    from evict.store.agents import AgentDirectory

    fleet = {
        f"lookup-{i}": HostInfo(i, 1, 1, f"h{i}", f"h{i}", "linux", digest=f"d{i}")
        for i in range(5)
    }
    directory = AgentDirectory(lambda lookup: None, lambda after: ([], 7))
    directory.sync()
    began = directory.generation
    read = list(fleet.items())  # the warm-up's read, at audit sequence 7
    directory.forget(1, "h3")  # h3's inventory changed in this process after the read began
    assert directory.remember(read, 7, began) == 4
    assert directory.cached("lookup-0") == fleet["lookup-0"]
    assert directory.cached("lookup-3") is None
