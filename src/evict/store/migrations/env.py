"""Alembic environment: runs on the connection :mod:`evict.store.engine` hands in.

There is no ``alembic.ini``: the engine module builds the configuration and passes an open
connection in ``config.attributes["connection"]``, so migrations run from an installed package.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from evict.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run the migrations online, on the given connection (or one made from the URL)."""
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        assert url, "set sqlalchemy.url or pass a connection"
        with create_engine(url).connect() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
