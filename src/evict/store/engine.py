"""Engines for SQLite and PostgreSQL, and the schema's migrations (Alembic).

SQLite is set up for a server: WAL (readers never block the writer), foreign keys on, a busy
timeout, and transactions that say up front whether they will write (``BEGIN IMMEDIATE``) so two
writers queue on the lock instead of failing with ``database is locked`` halfway through.
PostgreSQL goes through psycopg 3.

Migrations live in the package (``evict.store:migrations``) and run without an ``alembic.ini``,
so ``evict db upgrade`` works from an installed wheel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from evict.model.records import DatabaseError, SchemaError

SCRIPT_LOCATION = "evict.store:migrations"
"""Where Alembic finds the migration scripts, as a package resource."""

WRITE = {"evict_write": True}
"""Execution options of a connection that will write (``BEGIN IMMEDIATE`` on SQLite)."""


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` (already normalised by :mod:`evict.settings`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # No JIT: PostgreSQL compiles a query it estimates to be expensive, and with estimates
    # gone stale (a table filled within minutes, as a fleet's first evaluation does) each of
    # the worker's batch reads of 1,000 hosts' states was planned as a 270,000-row scan and
    # compiled. evict's queries are short; a URL that sets ``options`` keeps its own.
    connect_args = {} if "options" in parsed.query else {"options": "-c jit=off"}
    # No ping before each checkout (it was a round trip per statement group on the agents'
    # path): a connection the server dropped fails its statement, SQLAlchemy then discards
    # the whole pool, and the next checkout connects afresh; connections are also replaced
    # after an hour so that none lingers past a restart unnoticed.
    return create_engine(
        url, pool_size=10, max_overflow=20, pool_recycle=3600, connect_args=connect_args
    )


SQLITE_CACHE_KIB = 65_536
"""SQLite page cache per connection, in KiB."""


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # NOTE: pysqlite's own transaction handling defers BEGIN and commits before DDL; turn it
        # off and begin ourselves (SQLAlchemy's documented recipe), so transactions are real.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache per connection (the default is 2 MiB): a fleet's link indexes
        # are gigabytes, and each write touches pages all over them.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("evict_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _config(connection: Any = None) -> Any:
    # alembic and its scripts: only when migrating
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this version of evict knows."""
    # alembic and its scripts: only when migrating
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    # alembic and its scripts: only when migrating
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as e:
        raise DatabaseError(f"cannot read the database {_safe(engine)}: {e}") from e


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema up to the newest migration; return ``(before, after)`` revisions."""
    from alembic import command  # alembic and its templates: only when migrating

    before = current_revision(engine)
    try:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            command.upgrade(_config(conn), "head")
    except SQLAlchemyError as e:
        raise DatabaseError(f"cannot upgrade the database {_safe(engine)}: {e}") from e
    return before, head_revision()


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the schema is at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaError(
            f"the database {_safe(engine)} is {state}, this evict needs revision {head}: "
            f"run `evict db upgrade --db URL` first"
        )


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
