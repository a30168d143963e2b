"""Migration 0009: hosts stored before it get the observation kinds of the software they link to,
so an upgrade does not turn a whole fleet incomplete."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from evict.settings import normalise_database_url
from evict.store.engine import _config, make_engine, upgrade
from evict.store.store import Store

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def test_an_upgrade_fills_the_kinds_of_hosts_stored_before(database_url: str) -> None:
    engine = make_engine(normalise_database_url(database_url))
    with engine.connect() as conn, conn.begin():
        command.upgrade(_config(conn), "0006")
    with engine.connect() as conn, conn.begin():
        conn.execute(
            text("INSERT INTO orgs (id, name, created_at) VALUES (1, 'DHS', :t)"), {"t": NOW}
        )
        conn.execute(
            text(
                "INSERT INTO org_units (id, org_id, name, secret_hash, created_at) "
                "VALUES (1, 1, 'DHS', 'x', :t)"
            ),
            {"t": NOW},
        )
        for host in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO hosts (id, org_id, org_unit_id, identifier, hostname, platform,"
                    " enrolled_at, digest, last_checkin, observations, inventory_version, dirty)"
                    " VALUES (:id, 1, 1, :ident, '', 'windows', :t, '', '', 0, 0, false)"
                ),
                {"id": host, "ident": f"ws-{host}", "t": NOW},
            )
        for sid, kind in ((1, "program"), (2, "service"), (3, "program")):
            conn.execute(
                text(
                    "INSERT INTO software (id, key, kind, name, publisher, identifiers)"
                    " VALUES (:id, :key, :kind, :name, '', '{}')"
                ),
                {"id": sid, "key": f"k{sid}", "kind": kind, "name": f"s{sid}"},
            )
        for host, sid in ((1, 1), (1, 2), (1, 3), (2, 3)):
            conn.execute(
                text(
                    "INSERT INTO host_software (host_id, software_id, version, source)"
                    " VALUES (:h, :s, '', '')"
                ),
                {"h": host, "s": sid},
            )
    upgrade(engine)
    store = Store(engine)
    assert store.host(1, "ws-1").kinds == ("program", "service")
    assert store.host(1, "ws-2").kinds == ("program",)
    assert store.org("DHS").freshness_days == 7
    store.close()
