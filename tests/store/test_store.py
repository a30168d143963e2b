"""The store on SQLite and PostgreSQL: schema, enrolment, ingestion, tokens, the audit chain."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text

from evict.agent.wire import inventory_digest
from evict.compliance.lifecycle import transition
from evict.model.observations import Kind, Observation
from evict.model.records import (
    ConflictError,
    InvalidValueError,
    InventoryReport,
    NotFoundError,
    Role,
    SchemaError,
)
from evict.model.states import State
from evict.settings import normalise_database_url
from evict.store.engine import check_schema, make_engine
from evict.store.store import Store
from evict.store.tables import Base, HostSoftware, Software

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


def report(report_id: str, *observations: Observation) -> InventoryReport:
    return InventoryReport(report_id, inventory_digest(observations), observations)


def enrolled(store: Store, *hosts: str):
    org, secret = store.create_org("DHS", actor="cli:test", now=NOW)
    return org, [store.enroll(secret, h, hostname=h, platform="windows", now=NOW) for h in hosts]


def count(store: Store, table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_migrations_create_exactly_the_models_schema(fleet_store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    check_schema(fleet_store.engine)
    with fleet_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_an_empty_database_is_refused_with_the_command_to_run(database_url: str) -> None:
    engine = make_engine(normalise_database_url(database_url))
    with pytest.raises(SchemaError, match="evict db upgrade"):
        check_schema(engine)
    engine.dispose()


def test_enrolment_needs_the_secret_and_reenrolment_retires_the_old_credential(
    fleet_store: Store,
) -> None:
    org, secret = fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    with pytest.raises(NotFoundError, match="enrolment secret"):
        fleet_store.enroll("eve_wrong", "h1", hostname="h1", platform="linux", now=NOW)
    host, first = fleet_store.enroll(secret, "h1", hostname="h1", platform="linux", now=NOW)
    assert (host.identifier, host.org_unit, host.platform) == ("h1", "DHS", "linux")
    again, second = fleet_store.enroll(
        secret, "h1", hostname="h1b", platform="linux", now=NOW, credential=first
    )
    assert again.id == host.id and again.hostname == "h1b"
    assert fleet_store.host_for_credential(first) is None
    found = fleet_store.host_for_credential(second)
    assert found is not None and found.id == host.id


def test_the_unit_secret_alone_cannot_take_over_a_host_seen_recently(fleet_store: Store) -> None:
    org, secret = fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    host, credential = fleet_store.enroll(secret, "h1", hostname="h1", platform="linux", now=NOW)
    fleet_store.ingest(host, report("report-0001", KES, ZIP), now=NOW)
    later = NOW + dt.timedelta(days=29)
    with pytest.raises(ConflictError, match="allow-reenroll"):
        fleet_store.enroll(
            secret, "h1", hostname="evil", platform="linux", now=later, address="203.0.113.9"
        )
    with pytest.raises(ConflictError):
        fleet_store.enroll(
            secret, "h1", hostname="evil", platform="linux", now=later, credential="evh_guess"
        )
    assert fleet_store.host_for_credential(credential) is not None, "the real agent keeps its own"
    refused = fleet_store.audit_events(action_prefix="host.reenroll_refused")
    assert refused and refused[0].payload["address"] == "203.0.113.9"

    # An admin's permission works once.
    fleet_store.allow_reenroll(host, actor="user:admin", now=later)
    _, fresh = fleet_store.enroll(secret, "h1", hostname="h1", platform="linux", now=later)
    assert fleet_store.host_for_credential(credential) is None
    with pytest.raises(ConflictError):
        fleet_store.enroll(secret, "h1", hostname="h1", platform="linux", now=later)
    assert fleet_store.host_for_credential(fresh) is not None
    grounds = [
        e.payload["allowed_by"]
        for e in fleet_store.audit_events(action_prefix="host.re")
        if e.action == "host.reenroll"
    ]
    assert grounds == ["admin"]

    # A host unseen for longer than the window may enrol again (a machine rebuilt later).
    long_after = later + dt.timedelta(days=31)
    fleet_store.enroll(secret, "h1", hostname="h1", platform="linux", now=long_after)
    with pytest.raises(ConflictError):
        fleet_store.enroll(
            secret, "h1", hostname="h1", platform="linux", now=long_after, stale_after=None
        )


def test_an_inventory_that_drops_every_observation_is_held_for_review(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")
    fleet_store.ingest(host, report("report-0001", KES, ZIP), now=NOW)
    ack = fleet_store.ingest(host, report("report-0002"), now=NOW, address="198.51.100.7")
    assert ack.status == "held"
    held = fleet_store.host(host.org_id, "h1")
    assert held.observations == 2 and held.held is not None
    assert (held.held.report_id, held.held.address) == ("report-0002", "198.51.100.7")
    event = fleet_store.audit_events(action_prefix="inventory.held")[0]
    assert event.payload["address"] == "198.51.100.7"
    # The agent's next check-in with the same empty inventory is "unchanged", not a resend.
    assert fleet_store.checkin_unchanged(held, "report-0003", inventory_digest(()), now=NOW)

    assert fleet_store.review_held(held, accept=False, actor="user:admin", now=NOW)
    kept = fleet_store.host(host.org_id, "h1")
    assert kept.held is None and kept.observations == 2
    assert not fleet_store.review_held(kept, accept=True, actor="user:admin", now=NOW)

    fleet_store.ingest(kept, report("report-0004"), now=NOW, address="198.51.100.7")
    assert fleet_store.review_held(kept, accept=True, actor="user:admin", now=NOW)
    cleared = fleet_store.host(host.org_id, "h1")
    assert cleared.held is None and cleared.observations == 0
    accepted = fleet_store.audit_events(action_prefix="inventory.accept_empty")[0]
    assert accepted.payload["address"] == "198.51.100.7" and accepted.actor == "user:admin"


def test_distinct_software_is_stored_once_for_the_whole_fleet(fleet_store: Store) -> None:
    _, hosts = enrolled(fleet_store, "h1", "h2", "h3")
    for i, (host, _) in enumerate(hosts):
        fleet_store.ingest(host, report(f"report-{i:04d}", KES, ZIP), now=NOW)
    assert count(fleet_store, Software) == 2
    assert count(fleet_store, HostSoftware) == 6


def test_a_resent_report_is_acknowledged_the_same_and_stored_once(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")
    first = fleet_store.ingest(host, report("report-0001", KES, ZIP), now=NOW)
    later = NOW + dt.timedelta(minutes=5)
    again = fleet_store.ingest(host, report("report-0001", KES, ZIP), now=later)
    assert again == first
    ingests = fleet_store.audit_events(action_prefix="inventory.")
    assert len(ingests) == 1


def test_old_reports_are_pruned_but_each_hosts_latest_is_kept(fleet_store: Store) -> None:
    from evict.store.tables import ReportRow

    _, [(h1, _), (h2, _)] = enrolled(fleet_store, "h1", "h2")
    fleet_store.ingest(h1, report("r-old", KES), now=NOW)
    fleet_store.ingest(h1, report("r-new", ZIP), now=NOW + dt.timedelta(days=100))
    fleet_store.ingest(h2, report("r-only", BASH), now=NOW)  # old, but h2's latest
    later = NOW + dt.timedelta(days=101)
    assert fleet_store.prune_reports(later - dt.timedelta(days=90), now=later) == 1
    with fleet_store.engine.connect() as conn:
        kept = sorted(conn.execute(select(ReportRow.report_id)).scalars())
    assert kept == ["r-new", "r-only"]
    pruned = fleet_store.audit_events(action_prefix="reports.")
    assert [e.payload["reports"] for e in pruned] == [1]
    assert fleet_store.prune_reports(later - dt.timedelta(days=90), now=later) == 0
    # The ingest itself stays in the audit log, and a resend of the forgotten id is stored anew.
    ingested = [e.payload["report_id"] for e in fleet_store.audit_events(action_prefix="inv")]
    assert "r-old" in ingested
    assert fleet_store.ingest(h1, report("r-old", KES), now=later).status == "stored"
    assert fleet_store.verify_audit().ok


def test_a_report_id_of_another_host_is_a_conflict(fleet_store: Store) -> None:
    _, [(h1, _), (h2, _)] = enrolled(fleet_store, "h1", "h2")
    fleet_store.ingest(h1, report("report-0001", KES), now=NOW)
    with pytest.raises(ConflictError, match="another host"):
        fleet_store.ingest(h2, report("report-0001", BASH), now=NOW)


def test_a_new_inventory_replaces_the_hosts_software(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")
    fleet_store.ingest(host, report("report-0001", KES, ZIP), now=NOW)
    fleet_store.ingest(host, report("report-0002", ZIP), now=NOW)
    assert count(fleet_store, HostSoftware) == 1
    info = fleet_store.host(host.org_id, "h1")
    assert (info.observations, info.digest, info.last_checkin) == (
        1,
        inventory_digest([ZIP]),
        "report-0002",
    )


def test_each_inventory_leaves_exactly_its_own_links(fleet_store: Store) -> None:
    """Links are written as the difference from the last inventory; the result must be the
    same as replacing them all, whatever changed (software, version, source), and another
    host's links are never touched."""
    import dataclasses

    _, [(host, _), (other, _)] = enrolled(fleet_store, "h1", "h2")
    zip_new = dataclasses.replace(ZIP, version="24.08")
    kes_mdm = dataclasses.replace(KES, source="intune:apps")

    def links(h: int) -> set[tuple[str, str, str]]:
        with fleet_store.engine.connect() as conn:
            rows = conn.execute(
                select(Software.name, HostSoftware.version, HostSoftware.source)
                .join(Software, Software.id == HostSoftware.software_id)
                .where(HostSoftware.host_id == h)
            )
            return {tuple(r) for r in rows}  # type: ignore[misc]

    fleet_store.ingest(other, report("other-1", KES, ZIP, BASH), now=NOW)
    before = links(other.id)
    for n, inventory in enumerate(
        [(KES, ZIP), (KES, ZIP), (KES, zip_new), (kes_mdm, zip_new, BASH), (BASH,), (), (ZIP,)]
    ):
        ack = fleet_store.ingest(host, report(f"h1-{n}", *inventory), now=NOW)
        if not inventory:  # held for review until an admin accepts it
            assert ack.status == "held" and links(host.id) == {("bash", "5.1", BASH.source)}
            assert fleet_store.review_held(host, accept=True, actor="user:admin", now=NOW)
        assert links(host.id) == {(o.name, o.version, o.source) for o in inventory}, n
    assert links(other.id) == before


def test_the_digest_check_only_matches_the_stored_inventory(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")
    assert not fleet_store.checkin_unchanged(host, "report-0000", inventory_digest([]), now=NOW)
    fleet_store.ingest(host, report("report-0001", KES), now=NOW)
    later = NOW + dt.timedelta(hours=1)
    assert not fleet_store.checkin_unchanged(
        host, "report-0002", inventory_digest([ZIP]), now=later
    )
    assert fleet_store.checkin_unchanged(host, "report-0003", inventory_digest([KES]), now=later)
    info = fleet_store.host(host.org_id, "h1")
    assert (info.last_seen, info.last_checkin) == (later, "report-0003")


def test_concurrent_ingests_of_the_same_software_all_land(fleet_store: Store) -> None:
    _, hosts = enrolled(fleet_store, *(f"h{i}" for i in range(8)))
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            host = hosts[i][0]
            fleet_store.ingest(host, report(f"report-{i:04d}", KES, ZIP, BASH), now=NOW)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(fleet_store, Software) == 3
    assert fleet_store.verify_audit().ok


def test_the_audit_chain_catches_an_edited_row(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")
    fleet_store.ingest(host, report("report-0001", KES), now=NOW)
    verdict = fleet_store.verify_audit()
    assert verdict.ok and verdict.events == 3
    assert fleet_store.audit_head() == (3, verdict.head_hash)
    with fleet_store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 2"))
    broken = fleet_store.verify_audit()
    assert (broken.ok, broken.seq, broken.fault) == (False, 2, "altered")


def test_the_audit_chain_catches_a_deleted_last_event(fleet_store: Store) -> None:
    enrolled(fleet_store, "h1")
    with fleet_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    assert fleet_store.verify_audit().fault == "truncated"


def test_tokens_are_checked_for_expiry_and_revocation(fleet_store: Store) -> None:
    org, _ = fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    fleet_store.create_user(
        "alice", org="DHS", role=Role.OPERATOR, password=None, actor="cli:test", now=NOW
    )
    info, token = fleet_store.create_token("alice", days=1, actor="cli:test", now=NOW)
    caller = fleet_store.principal_for_token(token, NOW)
    assert caller is not None and (caller.name, caller.role) == ("alice", Role.OPERATOR)
    assert fleet_store.principal_for_token(token, NOW + dt.timedelta(days=2)) is None
    assert fleet_store.principal_for_token(token + "x", NOW) is None
    fleet_store.revoke_token(org.id, info.id, actor="cli:test", now=NOW)
    assert fleet_store.principal_for_token(token, NOW) is None


def test_passwords_are_hashed_and_checked(fleet_store: Store) -> None:
    fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    fleet_store.create_user(
        "bob",
        org="DHS",
        role=Role.AUDITOR,
        password="correct horse battery",
        actor="cli:test",
        now=NOW,
    )
    with fleet_store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert fleet_store.principal_for_password("bob", "correct horse battery") is not None
    assert fleet_store.principal_for_password("bob", "wrong") is None


def test_names_are_validated_and_unique(fleet_store: Store) -> None:
    fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    with pytest.raises(ConflictError, match="already exists"):
        fleet_store.create_org("DHS", actor="cli:test", now=NOW)
    with pytest.raises(InvalidValueError):
        fleet_store.create_org("  ", actor="cli:test", now=NOW)
    with pytest.raises(InvalidValueError):
        fleet_store.create_org("x" * 201, actor="cli:test", now=NOW)
    with pytest.raises(ConflictError):
        fleet_store.create_unit("DHS", "DHS", actor="cli:test", now=NOW)


def test_an_operator_move_is_atomic_and_audited(fleet_store: Store) -> None:
    _, [(host, _)] = enrolled(fleet_store, "h1")

    def first(_current):
        from evict.compliance.lifecycle import Observed, observe

        return observe(None, Observed(frozenset({"kes"}), False, "r1"), now=NOW)

    fleet_store.change_state(host, "bod-17-01", first, actor="worker", now=NOW)
    change = fleet_store.change_state(
        host,
        "bod-17-01",
        lambda cur: transition(cur, State.PLANNED, now=NOW),
        actor="user:alice",
        now=NOW,
    )
    assert (change.old.state, change.new.state) == (State.IDENTIFIED, State.PLANNED)
    last = fleet_store.audit_events(subject="host:h1")[-1]
    assert (last.actor, last.action, last.payload["to"]) == (
        "user:alice",
        "state.change",
        "planned",
    )
    from evict.compliance.lifecycle import TransitionError

    with pytest.raises(TransitionError):
        fleet_store.change_state(
            host,
            "bod-17-01",
            lambda cur: transition(cur, State.VERIFIED, now=NOW),
            actor="user:alice",
            now=NOW,
        )
    assert fleet_store.states([host.id])[host.id]["bod-17-01"].state is State.PLANNED


def test_hosts_are_listed_a_page_at_a_time(fleet_store: Store) -> None:
    org, hosts = enrolled(fleet_store, *(f"ws-{i:02d}" for i in range(7)))
    seen: list[str] = []
    after = 0
    while True:
        page = fleet_store.list_hosts(org.id, after=after, limit=3)
        seen.extend(h.identifier for h in page)
        if len(page) < 3:
            break
        after = page[-1].id
    assert seen == [f"ws-{i:02d}" for i in range(7)]
    assert [h.identifier for h in fleet_store.list_hosts(org.id, name="ws-0")] == [
        f"ws-{i:02d}" for i in range(7)
    ]
    assert fleet_store.list_hosts(org.id, name="ws-1") == []
    pending = fleet_store.list_hosts(org.id, directive="bod-17-01", state="pending")
    assert len(pending) == 7


def test_hosts_of_another_organisation_are_invisible(fleet_store: Store) -> None:
    enrolled(fleet_store, "h1")
    other, _ = fleet_store.create_org("DOE", actor="cli:test", now=NOW)
    with pytest.raises(NotFoundError):
        fleet_store.host(other.id, "h1")
    assert fleet_store.list_hosts(other.id) == []
