"""Network evidence: hosts' addresses over time, traffic credited to hosts, unmanaged devices.

``host_addresses`` keeps each enrolled host's interface addresses with when they were first and
last reported, so that a network log's client address can be joined with the host that held it
at the time; ``host_traffic`` is the vendor traffic credited to a host, per product;
``network_devices`` the devices no enrolled host accounts for; ``network_settings`` an
organisation's days of silence ``verified`` requires.

Revision ID: 0013_network
Revises: 0012_host_search
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013_network"
down_revision: str | Sequence[str] | None = "0012_host_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the network evidence tables."""
    op.create_table(
        "host_addresses",
        sa.Column("id", BigID, nullable=False),
        sa.Column("host_id", BigID, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_host_addresses_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_host_addresses"),
    )
    op.create_index("ix_host_addresses_address", "host_addresses", ["address"])
    op.create_index("ix_host_addresses_host_id", "host_addresses", ["host_id"])
    op.create_table(
        "host_traffic",
        sa.Column("id", BigID, nullable=False),
        sa.Column("host_id", BigID, nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.BigInteger(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_host_traffic_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_host_traffic"),
        sa.UniqueConstraint("host_id", "product", name="uq_host_traffic_host_id_product"),
    )
    op.create_table(
        "network_devices",
        sa.Column("id", BigID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.BigInteger(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("products", sa.Text(), nullable=False),
        sa.Column("sources", sa.String(length=200), nullable=False),
        sa.Column("ambiguous", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name="fk_network_devices_org_id_orgs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_network_devices"),
        sa.UniqueConstraint("org_id", "address", name="uq_network_devices_org_id_address"),
    )
    op.create_table(
        "network_settings",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("silence_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name="fk_network_settings_org_id_orgs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name="pk_network_settings"),
    )


def downgrade() -> None:
    """Drop the network evidence tables."""
    op.drop_table("network_settings")
    op.drop_table("network_devices")
    op.drop_table("host_traffic")
    op.drop_index("ix_host_addresses_host_id", table_name="host_addresses")
    op.drop_index("ix_host_addresses_address", table_name="host_addresses")
    op.drop_table("host_addresses")
