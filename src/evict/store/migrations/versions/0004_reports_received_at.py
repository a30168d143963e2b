"""Index stored reports by arrival, so that old ones are pruned without reading them all.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``ix_reports_received_at``."""
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    """Drop ``ix_reports_received_at``."""
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_received_at")
