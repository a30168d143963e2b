"""A fleet written row by row into the schema of an older revision, for the tests that check
what a migration fills in for hosts stored before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, text

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def store_old_fleet(
    engine: Engine,
    *,
    unit: str,
    hosts: Iterable[int],
    software: Iterable[tuple[int, str]],
    links: Iterable[tuple[int, int, str]],
) -> None:
    """Organisation 1 ``DHS`` with org unit 1 ``unit``; Windows hosts ``ws-N`` of ids ``hosts``;
    software ``(id, kind)`` named ``sN``; links ``(host id, software id, source)``."""
    with engine.connect() as conn, conn.begin():
        conn.execute(
            text("INSERT INTO orgs (id, name, created_at) VALUES (1, 'DHS', :t)"), {"t": NOW}
        )
        conn.execute(
            text(
                "INSERT INTO org_units (id, org_id, name, secret_hash, created_at) "
                "VALUES (1, 1, :name, 'x', :t)"
            ),
            {"name": unit, "t": NOW},
        )
        for host in hosts:
            conn.execute(
                text(
                    "INSERT INTO hosts (id, org_id, org_unit_id, identifier, hostname, platform,"
                    " enrolled_at, digest, last_checkin, observations, inventory_version, dirty)"
                    " VALUES (:id, 1, 1, :ident, '', 'windows', :t, '', '', 0, 0, false)"
                ),
                {"id": host, "ident": f"ws-{host}", "t": NOW},
            )
        for sid, kind in software:
            conn.execute(
                text(
                    "INSERT INTO software (id, key, kind, name, publisher, identifiers)"
                    " VALUES (:id, :key, :kind, :name, '', '{}')"
                ),
                {"id": sid, "key": f"k{sid}", "kind": kind, "name": f"s{sid}"},
            )
        for host, sid, source in links:
            conn.execute(
                text(
                    "INSERT INTO host_software (host_id, software_id, version, source)"
                    " VALUES (:h, :s, '', :src)"
                ),
                {"h": host, "s": sid, "src": source},
            )
