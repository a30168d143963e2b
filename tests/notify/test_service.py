"""A notification pass over the seeded fleet (tests/dashboard/dashkit.py), on each backend:
what is due goes out once, to the right organisation, and every delivery is audit-logged."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from evict.catalog.interface import Catalog
from evict.notify.events import HostFact, hosts_overdue
from evict.notify.interface import ChannelKind, Event
from evict.service.notify import notify_once
from evict.settings import normalise_database_url
from evict.store.notifications import NotificationStore
from evict.store.store import Store
from tests.dashboard.dashkit import NOW, pg_schema_url, seed
from tests.notify.receivers import Hook, Mailbox


@pytest.fixture(params=("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)))
def store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fleet_pg_database: str | None,
    builtin_catalog: Catalog,
) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('notify') / 'evict.db'}"
    else:
        if fleet_pg_database is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("EVICT_TEST_DATABASE_URL is not set: CI must test on PostgreSQL too")
            pytest.skip("PostgreSQL: set EVICT_TEST_DATABASE_URL")
        url = pg_schema_url(fleet_pg_database)
    seed(url, builtin_catalog)
    return Store.open(normalise_database_url(url))


@pytest.fixture(scope="session")
def builtin_catalog() -> Catalog:
    from evict.catalog.loader import load_catalog

    return load_catalog()


def test_a_pass_tells_each_channel_once_and_logs_it(
    store: Store, builtin_catalog: Catalog, smtp: Mailbox, webhook: Hook
) -> None:
    notes = NotificationStore(store.engine)
    dhs = store.org("DHS").id
    notes.add(
        dhs, kind=ChannelKind.EMAIL, target="soc@dhs.example", events=set(Event), days_before=7,
        options={"smtp": f"127.0.0.1:{smtp.port}"}, actor="cli:test", now=NOW,
    )  # fmt: skip
    notes.add(
        dhs, kind=ChannelKind.WEBHOOK, target=webhook.url, events={Event.HOST_OVERDUE},
        days_before=7, options={"secret": "k"}, actor="cli:test", now=NOW,
    )  # fmt: skip
    stats = notify_once(store, builtin_catalog, now=NOW)
    assert stats.failed == 0 and stats.delivered == len(smtp.messages) + len(webhook.requests)
    subjects = [" ".join(m["Subject"].split()) for m in smtp.messages]  # unfolded
    assert any("overdue" in s for s in subjects), subjects
    assert any("found on" in s for s in subjects), "a covered product found for the first time"
    assert any(s.startswith("omb-m-23-13:") and "due today" in s for s in subjects), subjects
    assert all(req[0]["x-evict-event"] == "host-overdue" for req in webhook.requests)
    everything = "".join(m.as_string() for m in smtp.messages)
    assert "tr-secret-1" not in everything, "another organisation's hosts are never told"
    again = notify_once(store, builtin_catalog, now=NOW + dt.timedelta(minutes=15))
    assert again.delivered == 0, "each fact is told once"
    delivered = store.audit_events(action_prefix="notify.delivered")
    assert len(delivered) == stats.delivered
    store.close()


def test_a_failed_delivery_is_logged_and_tried_again_next_pass(
    store: Store, builtin_catalog: Catalog, webhook: Hook
) -> None:
    notes = NotificationStore(store.engine)
    channel = notes.add(
        store.org("DHS").id, kind=ChannelKind.WEBHOOK, target=webhook.url,
        events={Event.NEW_PRODUCT}, days_before=7, options={}, actor="cli:test", now=NOW,
    )  # fmt: skip
    webhook.statuses = [400] * 20
    first = notify_once(store, builtin_catalog, now=NOW)
    assert first.failed > 0 and first.delivered == 0
    assert store.audit_events(action_prefix="notify.failed")
    assert notes.sent(channel.id) == set()
    webhook.statuses = []
    second = notify_once(store, builtin_catalog, now=NOW)
    assert second.delivered == first.failed
    store.close()


def test_hosts_already_told_are_not_told_again_but_new_ones_are() -> None:
    def fact(host: str) -> HostFact:
        return HostFact(host, host, "bod-17-01", "identified", ("kes",), "day90",
                        dt.date(2017, 12, 12), True)  # fmt: skip

    (first,) = hosts_overdue(1, [fact("a"), fact("b")], sent=set())
    sent = set(first.key.split(";"))
    (second,) = hosts_overdue(1, [fact("a"), fact("b"), fact("c")], sent=sent)
    assert second.details["hosts"] == ["c"]
