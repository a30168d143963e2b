"""Migration 0011 on a database with rows: endless tokens get an expiry, names per organisation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from evict.settings import normalise_database_url
from evict.store.engine import WRITE, _config, make_engine, upgrade

T0 = "2026-01-05 10:00:00"


def test_endless_tokens_expire_and_names_become_unique_per_organisation(
    database_url: str,
) -> None:
    from alembic import command

    engine = make_engine(normalise_database_url(database_url))
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        command.upgrade(_config(conn), "0006")
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO orgs (id, name, created_at) VALUES (1, 'A', '{T0}')"))
        conn.execute(text(f"INSERT INTO orgs (id, name, created_at) VALUES (2, 'B', '{T0}')"))
        for uid, role in ((1, "auditor"), (2, "admin")):
            conn.execute(
                text(
                    "INSERT INTO users (id, org_id, name, role, disabled, created_at) "
                    f"VALUES ({uid}, 1, 'u{uid}', '{role}', false, '{T0}')"
                )
            )
        for tid, uid, expires in ((1, 1, None), (2, 2, None), (3, 2, "2026-02-01 00:00:00")):
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, lookup, label, created_at, expires_at) "
                    f"VALUES ({tid}, {uid}, 'l{tid}', '', '{T0}', :e)"
                ),
                {"e": expires},
            )
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, expires_at FROM api_tokens")).all())
        # The same name in another organisation is allowed now.
        conn.execute(
            text(
                "INSERT INTO users (id, org_id, name, role, disabled, created_at) "
                f"VALUES (3, 2, 'u1', 'admin', false, '{T0}')"
            )
        )
        conn.commit()
    engine.dispose()

    def days(value: object) -> float:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        return (moment.replace(tzinfo=None) - before).total_seconds() / 86400

    assert 29.9 < days(rows[1]) < 30.1, "the auditor's endless token lasts 30 days from now"
    assert 89.9 < days(rows[2]) < 90.1, "the admin's 90"
    assert str(rows[3]).startswith("2026-02-01"), "a token that expires keeps its date"
    assert sorted(rows) == [1, 2, 3], "no token lost (SQLite rebuilds the users table)"
