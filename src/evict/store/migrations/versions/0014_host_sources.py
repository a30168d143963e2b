"""Hosts keep the source families of their latest inventory.

A directive's documents say which inventory methods reported, per org unit (BOD 17-01's
methodology: how the agency identified the products). That count read every software link of the
fleet (about 250 per host: 250 million rows at a million hosts); ``hosts.sources`` holds each
host's families (``["osquery", "registry"]``, a sorted JSON list written at ingest), so the count
is a ``GROUP BY`` on hosts. Hosts stored before this migration get the families of their links.

Revision ID: 0014_host_sources
Revises: 0013_network
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014_host_sources"
down_revision: str | Sequence[str] | None = "0013_network"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``hosts.sources``, filled from the hosts' links."""
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sources", sa.Text(), server_default="[]", nullable=False))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE hosts SET sources = f.families FROM ("
            " SELECT host_id, json_agg(family ORDER BY family)::text AS families FROM ("
            "  SELECT DISTINCT host_id, split_part(source, ':', 1) AS family FROM host_software"
            " ) AS d GROUP BY host_id"
            ") AS f WHERE f.host_id = hosts.id"
        )
    else:
        op.execute(
            "UPDATE hosts SET sources = coalesce((SELECT json_group_array(family) FROM ("
            " SELECT DISTINCT CASE WHEN instr(source, ':') > 0"
            " THEN substr(source, 1, instr(source, ':') - 1) ELSE source END AS family"
            " FROM host_software WHERE host_id = hosts.id ORDER BY family)), '[]')"
        )


def downgrade() -> None:
    """Drop ``hosts.sources``."""
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("sources")
