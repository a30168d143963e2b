"""Determinations of the catalog's questions of scope, and room for the state that needs one.

- ``determinations``: one organisation's answer (covered or not covered) to one question, with
  who decided, when, and the citation or reasoning; revoked rows are kept.
- ``host_states.state`` and ``prior`` widen from 16 to 32 characters for
  ``needs_determination``.

Revision ID: 0010_determinations
Revises: 0009_coverage
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010_determinations"
down_revision: str | Sequence[str] | None = "0009_coverage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``determinations``; widen ``host_states.state`` and ``prior``."""
    op.create_table(
        "determinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_determinations_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_determinations")),
    )
    op.create_index("ix_determinations_org_id_question", "determinations", ["org_id", "question"])
    with op.batch_alter_table("host_states", schema=None) as batch_op:
        batch_op.alter_column(
            "state", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
        batch_op.alter_column(
            "prior", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )


def downgrade() -> None:
    """Drop ``determinations``; narrow the state columns back (fails if a row is longer)."""
    with op.batch_alter_table("host_states", schema=None) as batch_op:
        batch_op.alter_column(
            "prior", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
        batch_op.alter_column(
            "state", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
    op.drop_index("ix_determinations_org_id_question", table_name="determinations")
    op.drop_table("determinations")
