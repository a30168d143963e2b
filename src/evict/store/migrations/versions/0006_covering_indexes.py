"""Two indexes that also carry ``host_id``, so that reading host ids never visits the table.

- ``ix_host_software_software_id_host_id`` replaces ``ix_host_software_software_id``: the
  hosts linked to a product's software (the hosts page's product filter, the worker's queue
  after a catalog change) come from the index alone, instead of one random read of a
  hundreds-of-millions-row table per link.
- ``ix_host_states_org_id_directive_state_host_id`` replaces
  ``ix_host_states_org_id_directive_state``: the hosts in some states of a directive (the
  hosts page's state filter) likewise.

Building them takes minutes at a million hosts (about 250 million links), and writes to the
table wait meanwhile. To keep ingesting, build them beforehand with ``CREATE INDEX
CONCURRENTLY`` under the same names: the upgrade keeps an index that already exists.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    # table, old name, old columns, new name, new columns
    (
        "host_software",
        "ix_host_software_software_id",
        ["software_id"],
        "ix_host_software_software_id_host_id",
        ["software_id", "host_id"],
    ),
    (
        "host_states",
        "ix_host_states_org_id_directive_state",
        ["org_id", "directive", "state"],
        "ix_host_states_org_id_directive_state_host_id",
        ["org_id", "directive", "state", "host_id"],
    ),
)


def _swap(table: str, drop: str, create: str, columns: list[str]) -> None:
    op.create_index(create, table, columns, if_not_exists=True)
    op.drop_index(drop, table_name=table, if_exists=True)


def upgrade() -> None:
    """Build each covering index, then drop the index it replaces."""
    for table, old, _, new, columns in INDEXES:
        _swap(table, old, new, columns)


def downgrade() -> None:
    """Restore the narrower indexes."""
    for table, old, old_columns, new, _ in INDEXES:
        _swap(table, new, old, old_columns)
