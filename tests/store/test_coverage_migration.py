"""Migration 0009: hosts stored before it get the observation kinds of the software they link to,
so an upgrade does not turn a whole fleet incomplete."""

from __future__ import annotations

import datetime as dt

from alembic import command

from evict.settings import normalise_database_url
from evict.store.engine import _config, make_engine, upgrade
from evict.store.store import Store
from tests.store.migrationkit import store_old_fleet

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def test_an_upgrade_fills_the_kinds_of_hosts_stored_before(database_url: str) -> None:
    engine = make_engine(normalise_database_url(database_url))
    with engine.connect() as conn, conn.begin():
        command.upgrade(_config(conn), "0006")
    store_old_fleet(
        engine,
        unit="DHS",
        hosts=(1, 2),
        software=((1, "program"), (2, "service"), (3, "program")),
        links=((1, 1, ""), (1, 2, ""), (1, 3, ""), (2, 3, "")),
    )
    upgrade(engine)
    store = Store(engine)
    assert store.host(1, "ws-1").kinds == ("program", "service")
    assert store.host(1, "ws-2").kinds == ("program",)
    assert store.org("DHS").freshness_days == 7
    store.close()
