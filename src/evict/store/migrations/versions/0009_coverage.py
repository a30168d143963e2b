"""Hosts keep the observation kinds of their latest inventory; organisations a freshness limit.

``hosts.kinds`` says what the latest inventory showed (``program,service``), from which the worker
decides whether it is complete enough to conclude (:mod:`evict.compliance.coverage`): a host with
nothing found on an incomplete inventory is ``incomplete``, not ``clean``. Hosts stored before
this migration get the kinds of the software they are linked to, so an upgrade does not turn a
fleet incomplete. ``orgs.freshness_days`` is how old a host's last inventory may be before the
host is ``stale`` rather than ``clean`` (7 days unless set).

Revision ID: 0009_coverage
Revises: 0008_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_coverage"
down_revision: str | Sequence[str] | None = "0008_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``hosts.kinds`` (filled from the hosts' links) and ``orgs.freshness_days``."""
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kinds", sa.String(length=300), server_default="", nullable=False)
        )
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("freshness_days", sa.Integer(), server_default="7", nullable=False)
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        aggregate = "string_agg(DISTINCT s.kind, ',' ORDER BY s.kind)"
        op.execute(
            "UPDATE hosts SET kinds = coalesce((SELECT "
            + aggregate
            + " FROM host_software hs JOIN software s ON s.id = hs.software_id"
            " WHERE hs.host_id = hosts.id), '')"
        )
    else:
        op.execute(
            "UPDATE hosts SET kinds = coalesce((SELECT group_concat(kind, ',') FROM "
            "(SELECT DISTINCT s.kind AS kind FROM host_software hs JOIN software s "
            "ON s.id = hs.software_id WHERE hs.host_id = hosts.id ORDER BY s.kind)), '')"
        )


def downgrade() -> None:
    """Drop ``hosts.kinds`` and ``orgs.freshness_days``."""
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_column("freshness_days")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("kinds")
