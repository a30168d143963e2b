"""Trigram indexes for the hosts page's search: any part of a hostname or identifier.

The dashboard searches hosts with ``ILIKE '%text%'``, which no B-tree serves: at a million hosts a
search for one host read every row (1.4-1.9 s on PostgreSQL). A GIN index with ``pg_trgm``'s
``gin_trgm_ops`` answers it in milliseconds. On PostgreSQL the extension is created (in
``public``) when it is not there yet; a database user that may not create it gets no index, and
the search still works, walking. On SQLite the same names are plain indexes on the two columns
(SQLite has no trigram index; the search walks there, see docs/dashboard.md).

Building the indexes takes a minute or two at a million hosts; to keep ingesting meanwhile,
build them beforehand with ``CREATE INDEX CONCURRENTLY`` under the same names.

Revision ID: 0012_host_search
Revises: 0011_hostile_agents
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012_host_search"
down_revision: str | Sequence[str] | None = "0011_hostile_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (("ix_hosts_hostname_trgm", "hostname"), ("ix_hosts_identifier_trgm", "identifier"))


def _trigram_schema(bind: sa.Connection) -> str | None:
    """The schema holding ``gin_trgm_ops`` once ``pg_trgm`` is there (None when it cannot be)."""
    find = sa.text(
        "SELECT n.nspname FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace "
        "WHERE c.opcname = 'gin_trgm_ops' LIMIT 1"
    )
    found = bind.execute(find).scalar()
    if found is None:
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
        except sa.exc.DBAPIError:
            return None  # not allowed to: the search walks instead
        found = bind.execute(find).scalar()
    return None if found is None else str(found)


def upgrade() -> None:
    """Index hostnames and identifiers for substring search."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for name, column in INDEXES:
            op.create_index(name, "hosts", [column], if_not_exists=True)
        return
    schema = _trigram_schema(bind)
    if schema is None:
        return
    quoted = bind.dialect.identifier_preparer.quote_identifier(schema)
    for name, column in INDEXES:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON hosts USING gin ({column} {quoted}.gin_trgm_ops)"
        )


def downgrade() -> None:
    """Drop the search indexes (the extension stays: other tables may use it)."""
    for name, _ in INDEXES:
        op.drop_index(name, table_name="hosts", if_exists=True)
