"""The initial schema: organisations, users, hosts, distinct software, states, audit chain.

Revision ID: 0001
Revises: none
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit keys on PostgreSQL; SQLite's auto-incrementing ``INTEGER PRIMARY KEY``."""

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "audit_events",
        sa.Column("seq", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_org_id_subject_seq", ["org_id", "subject", "seq"], unique=False
        )

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain head exists from the start, so appending is always an UPDATE of one locked row.
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')")
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "orgs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs")),
        sa.UniqueConstraint("name", name=op.f("uq_orgs_name")),
    )
    op.create_table(
        "software",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_software")),
        sa.UniqueConstraint("key", name=op.f("uq_software_key")),
    )
    op.create_table(
        "adoptions",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("directive", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_adoptions_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "directive", name=op.f("pk_adoptions")),
    )
    op.create_table(
        "org_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_units_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_org_units_org_id_name")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_org_units_secret_hash")),
    )
    op.create_table(
        "software_match",
        sa.Column("software_id", BIG_ID, nullable=False),
        sa.Column("catalog_version", sa.String(length=64), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("hits", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["software_id"],
            ["software.id"],
            name=op.f("fk_software_match_software_id_software"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("software_id", "catalog_version", name=op.f("pk_software_match")),
    )
    with op.batch_alter_table("software_match", schema=None) as batch_op:
        batch_op.create_index(
            "ix_software_match_matched", ["catalog_version", "software_id", "matched"], unique=False
        )

    op.create_table(
        "hosts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("credential_hash", sa.String(length=64), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("collected_at", sa.DateTime(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("last_checkin", sa.String(length=64), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("inventory_version", sa.Integer(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_hosts_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_hosts_org_unit_id_org_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("credential_hash", name=op.f("uq_hosts_credential_hash")),
        sa.UniqueConstraint("org_id", "identifier", name=op.f("uq_hosts_org_id_identifier")),
    )
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hosts_dirty",
            ["id"],
            unique=False,
            postgresql_where=sa.text("dirty"),
            sqlite_where=sa.text("dirty = 1"),
        )
        batch_op.create_index("ix_hosts_org_id_hostname", ["org_id", "hostname"], unique=False)
        batch_op.create_index("ix_hosts_org_id_last_seen", ["org_id", "last_seen"], unique=False)
        batch_op.create_index(
            "ix_hosts_org_id_org_unit_id_id", ["org_id", "org_unit_id", "id"], unique=False
        )
        batch_op.create_index("ix_hosts_org_id_platform", ["org_id", "platform"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_users_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_users_org_unit_id_org_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("lookup", name=op.f("uq_api_tokens_lookup")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "host_software",
        sa.Column("host_id", BIG_ID, nullable=False),
        sa.Column("software_id", BIG_ID, nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name=op.f("fk_host_software_host_id_hosts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["software_id"],
            ["software.id"],
            name=op.f("fk_host_software_software_id_software"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "host_id", "software_id", "version", "source", name=op.f("pk_host_software")
        ),
    )
    with op.batch_alter_table("host_software", schema=None) as batch_op:
        batch_op.create_index("ix_host_software_software_id", ["software_id"], unique=False)

    op.create_table(
        "host_states",
        sa.Column("host_id", BIG_ID, nullable=False),
        sa.Column("directive", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("products", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checkin", sa.String(length=64), nullable=False),
        sa.Column("prior", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_states_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", "directive", name=op.f("pk_host_states")),
    )
    with op.batch_alter_table("host_states", schema=None) as batch_op:
        batch_op.create_index(
            "ix_host_states_org_id_directive_state", ["org_id", "directive", "state"], unique=False
        )

    op.create_table(
        "reports",
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("host_id", BIG_ID, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("software", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_reports_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_host_id"), ["host_id"], unique=False)

    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", BIG_ID, nullable=False),
        sa.Column("directive", sa.String(length=64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_waivers_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
    )
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waivers_host_id_directive", ["host_id", "directive"], unique=False
        )


def downgrade() -> None:
    """Drop everything the upgrade created."""
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.drop_index("ix_waivers_host_id_directive")

    op.drop_table("waivers")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_host_id"))

    op.drop_table("reports")
    with op.batch_alter_table("host_states", schema=None) as batch_op:
        batch_op.drop_index("ix_host_states_org_id_directive_state")

    op.drop_table("host_states")
    with op.batch_alter_table("host_software", schema=None) as batch_op:
        batch_op.drop_index("ix_host_software_software_id")

    op.drop_table("host_software")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_org_id"))

    op.drop_table("users")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_index("ix_hosts_org_id_platform")
        batch_op.drop_index("ix_hosts_org_id_org_unit_id_id")
        batch_op.drop_index("ix_hosts_org_id_last_seen")
        batch_op.drop_index("ix_hosts_org_id_hostname")
        batch_op.drop_index(
            "ix_hosts_dirty", postgresql_where=sa.text("dirty"), sqlite_where=sa.text("dirty = 1")
        )

    op.drop_table("hosts")
    with op.batch_alter_table("software_match", schema=None) as batch_op:
        batch_op.drop_index("ix_software_match_matched")

    op.drop_table("software_match")
    op.drop_table("org_units")
    op.drop_table("adoptions")
    op.drop_table("software")
    op.drop_table("orgs")
    op.drop_table("meta")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_org_id_subject_seq")

    op.drop_table("audit_events")
