"""Hosts by organisation in id order: the keyset pages of a directive's listings.

A report's per-host listing reads an organisation's hosts a page at a time, ``WHERE org_id = ?
AND id > ? ORDER BY id LIMIT 1000``. Without an index on ``(org_id, id)`` SQLite's planner took
the hosts of the organisation from another index and sorted all of them for every page: 110 ms a
page at 100,000 hosts, so a listing grew with the square of the fleet. With it a page is one
range of the index (13 ms at 100,000 hosts, the same at a million).

Revision ID: 0015_hosts_org_id_id
Revises: 0014_host_sources
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015_hosts_org_id_id"
down_revision: str | Sequence[str] | None = "0014_host_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index hosts on ``(org_id, id)``."""
    op.create_index("ix_hosts_org_id_id", "hosts", ["org_id", "id"], if_not_exists=True)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_hosts_org_id_id", table_name="hosts")
