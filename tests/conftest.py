"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ASSETS = Path(__file__).parent / "assets"

pytest_plugins = ["tests.notify.receivers"]
"""Fixtures shared across packages: the notification receivers (SMTP, webhook, syslog)."""


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the compiled-catalog and file-scan caches out of the user's home."""
    os.environ["EVICT_CACHE_DIR"] = str(tmp_path_factory.mktemp("evict-cache"))
    # The audit key too: `evict db upgrade` and `evict serve` create it when absent. Each test
    # that anchors names its own anchor file, so the servers tests start do not share one.
    from evict.signing import ensure_key

    key = tmp_path_factory.mktemp("evict-audit") / "audit-key.pem"
    ensure_key(key)
    os.environ["EVICT_AUDIT_KEY"] = str(key)
    os.environ["EVICT_AUDIT_ANCHOR"] = "off"


@pytest.fixture
def asset():
    """Return the path of a file under tests/assets, failing if it does not exist."""

    def _asset(*parts: str) -> Path:
        path = ASSETS.joinpath(*parts)
        assert path.exists(), f"missing test asset {path}"
        return path

    return _asset


# ---- Fleet database fixtures (store, server, agent tests) --------------------------------------
# Every test that takes `database_url` runs twice: on SQLite in tmp_path and on PostgreSQL from
# EVICT_TEST_DATABASE_URL (CI: postgresql://postgres@127.0.0.1:5432/test). The session creates
# one database `evict_test_<random>` through that URL and drops it at the end; each test gets its
# own schema in it. Without the variable the PostgreSQL runs are skipped, except under CI=true,
# where they fail.

FLEET_BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def fleet_pg_database() -> Iterator[str | None]:
    """A PostgreSQL database made for this test session (None when none is configured)."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("EVICT_TEST_DATABASE_URL", "")
    if not url:
        yield None
        return
    import psycopg

    name = f"evict_test_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=FLEET_BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, fleet_pg_database: str | None
) -> Iterator[str]:
    """An empty database URL: a SQLite file, or a fresh schema of the session's PostgreSQL."""
    import secrets

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evict.db'}"
        return
    if fleet_pg_database is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("EVICT_TEST_DATABASE_URL is not set: CI must test on PostgreSQL too")
        pytest.skip("PostgreSQL: set EVICT_TEST_DATABASE_URL (postgresql://user@host:port/db)")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(fleet_pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{fleet_pg_database}?options=-csearch_path%3D{schema}"
    with psycopg.connect(fleet_pg_database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _fleet_migrated(
    tmp_path_factory: pytest.TempPathFactory, fleet_pg_database: str | None
) -> dict[str, str]:
    """Databases migrated once per session: a SQLite file to copy, a PostgreSQL schema."""
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine, upgrade

    out: dict[str, str] = {}
    template = tmp_path_factory.mktemp("fleet-template") / "evict.db"
    engine = make_engine(normalise_database_url(str(template)))
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    out["sqlite"] = str(template)
    if fleet_pg_database is not None:
        import psycopg

        with psycopg.connect(fleet_pg_database, autocommit=True) as conn:
            conn.execute('CREATE SCHEMA "migrated"')
        url = f"{fleet_pg_database}?options=-csearch_path%3Dmigrated"
        engine = make_engine(normalise_database_url(url))
        upgrade(engine)
        engine.dispose()
        out["postgresql"] = url
    return out


@pytest.fixture
def migrated_url(
    database_url: str, tmp_path: Path, _fleet_migrated: dict[str, str]
) -> Iterator[str]:
    """A database URL at the current schema with no rows, on each backend.

    SQLite: a copy of a file migrated once. PostgreSQL: one migrated schema, emptied after
    each test (faster than migrating a schema per test).
    """
    import shutil

    if database_url.startswith("sqlite"):
        target = tmp_path / "migrated.db"
        shutil.copy(_fleet_migrated["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    url = _fleet_migrated["postgresql"]
    yield url
    from evict.compliance.audit import GENESIS
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine
    from evict.store.tables import Base

    engine = make_engine(normalise_database_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_head":
                conn.execute(table.delete())
        # a test may have deleted the head row (an attack on the audit log): put it back
        conn.exec_driver_sql("DELETE FROM audit_head")
        conn.exec_driver_sql(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")
    engine.dispose()


@pytest.fixture
def fleet_store(migrated_url: str) -> Iterator[Any]:
    """A :class:`evict.store.Store` on an empty database at the current schema, each backend."""
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine
    from evict.store.store import Store

    store = Store(make_engine(normalise_database_url(migrated_url)))
    yield store
    store.close()


# ---- end of the fleet database fixtures --------------------------------------------------------
