"""Hosts: a one-time re-enrolment permission and an inventory held for review; user names unique
per organisation.

- ``hosts.reenroll_until``: an admin allowed this host to enrol again (once) until then.
- ``hosts.held_*``: an inventory that dropped every observation of the host at once, kept aside
  until an admin accepts or rejects it (the host's stored inventory and states are unchanged).
- ``users.name`` is unique within an organisation instead of across the server, so that a name
  taken in another organisation cannot be told from a free one.

Revision ID: 0007_hostile_agents
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_hostile_agents"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOST_COLUMNS = ("reenroll_until", "held_report", "held_digest", "held_at", "held_address")


def upgrade() -> None:
    """Add the hosts' columns; make user names unique per organisation."""
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reenroll_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_report", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_address", sa.String(length=64), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_name", type_="unique")
        batch_op.create_unique_constraint("uq_users_org_id_name", ["org_id", "name"])


def downgrade() -> None:
    """Drop the hosts' columns; user names unique across the server again."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_org_id_name", type_="unique")
        batch_op.create_unique_constraint("uq_users_name", ["name"])
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        for column in reversed(HOST_COLUMNS):
            batch_op.drop_column(column)
