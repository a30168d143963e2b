"""Waivers record their grounds (OMB M-23-13 allows exceptions only on three).

Waivers stored before this migration get an empty value; the M-23-13 exceptions report reads
their grounds from the justification, as it did.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``waivers.grounds``."""
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grounds", sa.String(length=64), server_default="", nullable=False)
        )


def downgrade() -> None:
    """Drop ``waivers.grounds``."""
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.drop_column("grounds")
