"""Notification channels per organisation, and the keys each has delivered.

Revision ID: 0008_notifications
Revises: 0007_report_jobs
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_notifications"
down_revision: str | Sequence[str] | None = "0007_report_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``notify_channels`` and ``notify_sent``."""
    op.create_table(
        "notify_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("options", sa.Text(), server_default="{}", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name="fk_notify_channels_org_id_orgs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notify_channels"),
    )
    op.create_index("ix_notify_channels_org_id", "notify_channels", ["org_id"])
    op.create_table(
        "notify_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notify_channels.id"],
            name="fk_notify_sent_channel_id_notify_channels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notify_sent"),
        sa.UniqueConstraint("channel_id", "key", name="uq_notify_sent_channel_id_key"),
    )


def downgrade() -> None:
    """Drop the notification tables."""
    op.drop_table("notify_sent")
    op.drop_index("ix_notify_channels_org_id", table_name="notify_channels")
    op.drop_table("notify_channels")
