"""Drop the foreign keys of ``host_software``: the store keeps those links consistent itself.

Each link row cost two foreign-key checks on insert, about 70% of the time spent writing a
host's software on PostgreSQL (docs/performance.md). Only the store writes links, always for
a host id and software ids it has just read or created in the same transaction, and it never
deletes hosts or software rows; the primary key and the ``software_id`` index stay.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop both foreign keys of ``host_software``."""
    with op.batch_alter_table("host_software", schema=None) as batch_op:
        batch_op.drop_constraint("fk_host_software_host_id_hosts", type_="foreignkey")
        batch_op.drop_constraint("fk_host_software_software_id_software", type_="foreignkey")


def downgrade() -> None:
    """Put the foreign keys back (fails if links point at hosts or software that are gone)."""
    with op.batch_alter_table("host_software", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_host_software_host_id_hosts", "hosts", ["host_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            "fk_host_software_software_id_software",
            "software",
            ["software_id"],
            ["id"],
            ondelete="CASCADE",
        )
