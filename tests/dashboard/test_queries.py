"""The dashboard's queries on both backends: keyset pages in every order, filters, counts."""

from __future__ import annotations

import datetime as dt
import functools

import pytest

from evict.catalog.loader import load_catalog
from evict.compliance.lifecycle import transition
from evict.matching.engine import Matcher
from evict.model.listings import HostFilter, HostListRow, HostSort
from evict.model.records import InvalidValueError, NotFoundError
from evict.model.states import PENDING, STATE_ORDER, State
from evict.service.evaluate import MatchWorker
from evict.store import dashboard
from evict.store.dashboard import DashboardQueries, decode_cursor, encode_cursor
from evict.store.store import Store
from tests.dashboard.dashkit import KES, SPOOLER, ZIP, _report

T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def build(store: Store, catalog) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """24 hosts: repeated hostnames, equal and missing last-seen times, several states."""
    _, secret = store.create_org("DHS", actor="t", now=T0)
    _, other = store.create_org("Other", actor="t", now=T0)
    _, east = store.create_unit("DHS", "East", actor="t", now=T0)
    ids: dict[str, int] = {}
    for i in range(20):
        identifier = f"H-{i:02d}"
        hostname = f"ws-{i % 7}"  # names repeat: the keyset must break ties by id
        info, _ = store.enroll(
            east if i % 3 == 0 else secret,
            identifier,
            hostname=hostname,
            platform="windows",
            now=T0,
        )
        observations = (KES, ZIP, SPOOLER) if i % 4 == 0 else (ZIP, SPOOLER)
        seen = T0 + dt.timedelta(hours=i % 5)  # equal times too
        store.ingest(info, _report(observations, hostname, "windows"), now=seen)
        ids[identifier] = info.id
    tr, _ = store.enroll(other, "TR-1", hostname="ws-0", platform="windows", now=T0)
    store.ingest(tr, _report((KES, SPOOLER), "ws-0", "windows"), now=T0)
    MatchWorker(store, Matcher(catalog)).run_once(now=T0, today=T0.date())
    for i in range(3):
        info, _ = store.enroll(secret, f"N-{i}", hostname=f"new-{i}", platform="linux", now=T0)
        ids[f"N-{i}"] = info.id  # never reported: no last_seen, no state
    planned = store.host(store.org("DHS").id, "H-04")
    store.change_state(
        planned,
        "bod-17-01",
        functools.partial(transition, to=State.PLANNED, now=T0),
        actor="user:x",
        now=T0,
    )
    return ids


def every_page(
    queries: DashboardQueries, org_id: int, f: HostFilter, sort: HostSort, limit: int
) -> list[HostListRow]:
    rows: list[HostListRow] = []
    after = None
    for _ in range(100):
        page = queries.host_page(
            org_id, f, sort=sort, directive="bod-17-01", after=after, limit=limit
        )
        assert len(page.rows) <= limit
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        after = page.next_cursor
    raise AssertionError("paging did not end")


def expected_order(rows: list[HostListRow], sort: HostSort) -> list[int]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    if sort is HostSort.NAME:
        key = sorted(rows, key=lambda r: (r.hostname, r.id))
    elif sort is HostSort.LAST_SEEN:
        key = sorted(rows, key=lambda r: (r.last_seen is not None, r.last_seen or far, r.id))
    elif sort is HostSort.RECENT:
        seen = sorted(
            (r for r in rows if r.last_seen), key=lambda r: (r.last_seen, r.id), reverse=True
        )
        key = seen + sorted((r for r in rows if not r.last_seen), key=lambda r: r.id)
    elif sort is HostSort.NAME_DESC:
        key = sorted(rows, key=lambda r: (r.hostname, r.id), reverse=True)
    elif sort is HostSort.STATE:
        key = sorted(rows, key=lambda r: (STATE_ORDER.index(r.state), r.id))
    elif sort is HostSort.STATE_DESC:
        key = sorted(rows, key=lambda r: (-STATE_ORDER.index(r.state), r.id))
    else:
        # The work queue: open states first (overdue, then due), each state in id order.
        opened = {"identified", "planned", "removing"}
        queue = sorted(
            rows, key=lambda r: (r.state not in opened, STATE_ORDER.index(r.state), r.id)
        )
        if sort is HostSort.DUE_DESC:
            queue = sorted(
                rows, key=lambda r: (r.state in opened, -STATE_ORDER.index(r.state), r.id)
            )
        key = queue
    return [r.id for r in key]


@pytest.mark.parametrize("sort", list(HostSort))
@pytest.mark.parametrize("limit", [1, 4, 50])
def test_keyset_pages_cover_every_host_once_in_order(
    fleet_store: Store,
    catalog,
    sort: HostSort,
    limit: int,  # type: ignore[no-untyped-def]
) -> None:
    build(fleet_store, catalog)
    queries = DashboardQueries(fleet_store)
    org_id = fleet_store.org("DHS").id
    rows = every_page(queries, org_id, HostFilter(directive="bod-17-01"), sort, limit)
    assert len(rows) == len({r.id for r in rows}) == 23
    assert [r.id for r in rows] == expected_order(rows, sort)
    assert "TR-1" not in {r.identifier for r in rows}


def test_filters_narrow_the_listing_and_the_count(fleet_store: Store, catalog) -> None:  # type: ignore[no-untyped-def]
    ids = build(fleet_store, catalog)
    queries = DashboardQueries(fleet_store)
    org_id = fleet_store.org("DHS").id
    east = fleet_store.unit_id(org_id, "East")

    def listed(**fields: object) -> set[str]:
        f = HostFilter(directive="bod-17-01", catalog_version=catalog.version, **fields)  # type: ignore[arg-type]
        rows = every_page(queries, org_id, f, HostSort.STATE, 5)
        n, capped = queries.count_hosts(org_id, f)
        assert (n, capped) == (len(rows), False)
        return {r.identifier for r in rows}

    kes = {f"H-{i:02d}" for i in range(0, 20, 4)}
    assert listed(states=frozenset({"identified", "planned"})) == kes
    assert listed(states=frozenset({"planned"})) == {"H-04"}
    assert listed(states=frozenset({PENDING})) == {"N-0", "N-1", "N-2"}
    assert listed(product="kaspersky-endpoint-security") == kes
    assert listed(unit_id=east) == {f"H-{i:02d}" for i in range(0, 20, 3)}
    assert listed(platform="linux") == {"N-0", "N-1", "N-2"}
    assert listed(name="ws-3") == {"H-03", "H-10", "H-17"}
    assert listed(name="H-1") == {f"H-{i}" for i in range(10, 20)}
    assert listed(name="ws-") == {f"H-{i:02d}" for i in range(20)}
    cutoff = T0 + dt.timedelta(hours=2)
    assert listed(seen_before=cutoff) == {f"H-{i:02d}" for i in range(20) if i % 5 < 2} | {
        "N-0",
        "N-1",
        "N-2",
    }
    assert queries.count_hosts(org_id, HostFilter(), cap=10) == (10, True)
    assert queries.count_hosts(org_id, HostFilter(), cap=23) == (23, False)
    assert len(ids) == 23


@pytest.mark.parametrize(("walk_past", "host_ids"), [(0, 50_000), (50_000, 50_000), (50_000, 1)])
def test_a_filtered_listing_is_the_same_however_its_hosts_are_read(
    fleet_store: Store,
    catalog,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    walk_past: int,
    host_ids: int,
) -> None:
    """A product's hosts walked in page order, read one by one, or left to a subquery
    (PostgreSQL chooses by how many there are): the same pages in every order, beside a
    state filter's."""
    monkeypatch.setattr(dashboard, "WALK_PAST", walk_past)
    monkeypatch.setattr(dashboard, "HOST_IDS", host_ids)
    build(fleet_store, catalog)
    queries = DashboardQueries(fleet_store)
    org_id = fleet_store.org("DHS").id
    kes = {f"H-{i:02d}" for i in range(0, 20, 4)}
    carrying = frozenset({"identified", "planned", "removing", "waived"})
    for sort in HostSort:
        for fields in ({"states": carrying}, {"product": "kaspersky-endpoint-security"}):
            f = HostFilter(directive="bod-17-01", catalog_version=catalog.version, **fields)  # type: ignore[arg-type]
            rows = every_page(queries, org_id, f, sort, 2)
            assert {r.identifier for r in rows} == kes, (sort, fields)
            assert [r.id for r in rows] == expected_order(rows, sort)
            assert queries.count_hosts(org_id, f) == (5, False)


def test_a_cursor_cannot_be_forged_into_another_listing(fleet_store: Store, catalog) -> None:  # type: ignore[no-untyped-def]
    build(fleet_store, catalog)
    queries = DashboardQueries(fleet_store)
    org_id = fleet_store.org("DHS").id
    assert decode_cursor(encode_cursor(2, 17, "ws-1")) == (2, 17, "ws-1")
    for bad in ("!!!", encode_cursor(9, 1), "x" * 3000, "WzEsMl0"):
        with pytest.raises(InvalidValueError):
            queries.host_page(org_id, HostFilter(), sort=HostSort.NAME, after=bad)
    with pytest.raises(InvalidValueError):
        queries.host_page(org_id, HostFilter(), sort=HostSort.STATE)  # no directive


def test_hosts_of_other_organisations_or_units_are_not_found(fleet_store: Store, catalog) -> None:  # type: ignore[no-untyped-def]
    ids = build(fleet_store, catalog)
    queries = DashboardQueries(fleet_store)
    dhs = fleet_store.org("DHS").id
    other = fleet_store.org("Other").id
    east = fleet_store.unit_id(dhs, "East")
    assert queries.host_by_id(dhs, ids["H-00"]).identifier == "H-00"
    with pytest.raises(NotFoundError):
        queries.host_by_id(other, ids["H-00"])
    with pytest.raises(NotFoundError):
        queries.host_by_id(dhs, ids["H-01"], unit_id=east)
    assert queries.host_names(other, ["H-00"]) == {}
    assert queries.host_names(dhs, ["H-00", "nope"]) == {"H-00": (ids["H-00"], "ws-0")}


def test_the_burndown_changes_come_from_state_changes(fleet_store: Store, catalog) -> None:  # type: ignore[no-untyped-def]
    ids = build(fleet_store, catalog)
    later = T0 + dt.timedelta(days=3)
    host = fleet_store.host(fleet_store.org("DHS").id, "H-08")
    fleet_store.ingest(host, _report((ZIP, SPOOLER), "ws-1", "windows"), now=later)
    MatchWorker(fleet_store, Matcher(catalog)).run_once(now=later, today=later.date())
    queries = DashboardQueries(fleet_store)
    org_id = fleet_store.org("DHS").id
    assert queries.carrying_changes(org_id, "bod-17-01") == [(T0.date(), 5), (later.date(), -1)]
    east = fleet_store.unit_id(org_id, "East")
    assert queries.carrying_changes(org_id, "bod-17-01", unit_id=east) == [(T0.date(), 2)]
    states = {(p, s): n for p, s, n in queries.product_states(org_id, "bod-17-01")}
    kes = ("kaspersky-endpoint-security",)
    assert states == {(kes, "identified"): 3, (kes, "planned"): 1, (kes, "removed"): 1}
    assert len(ids) == 23


def test_the_session_key_is_made_once_and_shared(fleet_store: Store) -> None:
    first = DashboardQueries(fleet_store).session_key()
    assert len(first) == 32
    assert DashboardQueries(Store(fleet_store.engine)).session_key() == first
