"""Hosts: a one-time re-enrolment permission and an inventory held for review; user names unique
per organisation.

- ``hosts.reenroll_until``: an admin allowed this host to enrol again (once) until then.
- ``hosts.held_*``: an inventory that dropped every observation of the host at once, kept aside
  until an admin accepts or rejects it (the host's stored inventory and states are unchanged).
- ``users.name`` is unique within an organisation instead of across the server, so that a name
  taken in another organisation cannot be told from a free one.
- API tokens that never expire get an expiry: the upgrade's time plus their role's default
  maximum lifetime (admin 90, operator 90, auditor 30 days), so endless tokens end too.

Revision ID: 0011_hostile_agents
Revises: 0010_determinations
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_hostile_agents"
down_revision: str | Sequence[str] | None = "0010_determinations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOST_COLUMNS = ("reenroll_until", "held_report", "held_digest", "held_at", "held_address")
TOKEN_MAX_DAYS = {"admin": 90, "operator": 90, "auditor": 30}
"""The roles' default longest token lifetime (``evict.settings.TOKEN_MAX_DAYS`` when written)."""


def _expire_endless_tokens() -> None:
    """Give every token without an expiry one: now plus its user's role's maximum."""

    tokens = sa.table("api_tokens", sa.column("id"), sa.column("user_id"), sa.column("expires_at"))
    users = sa.table("users", sa.column("id"), sa.column("role"))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(tokens.c.id, users.c.role)
        .join(users, users.c.id == tokens.c.user_id)
        .where(tokens.c.expires_at.is_(None))
    ).all()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for token_id, role in rows:
        expires = now + dt.timedelta(days=TOKEN_MAX_DAYS.get(role, 30))
        conn.execute(sa.update(tokens).where(tokens.c.id == token_id).values(expires_at=expires))


def upgrade() -> None:
    """Add the hosts' columns; user names unique per organisation; every token expires."""
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reenroll_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_report", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_address", sa.String(length=64), nullable=True))
    # SQLite rebuilds the users table to change its constraint; with foreign keys on, dropping
    # the old table deletes its rows first and so every API token (ON DELETE CASCADE), and the
    # pragma cannot be turned off inside the upgrade's transaction: keep the tokens and put
    # back those the rebuild deleted.
    conn = op.get_bind()
    tokens = sa.table(
        "api_tokens",
        *(
            sa.column(c)
            for c in ("id", "user_id", "lookup", "label", "created_at", "expires_at", "revoked_at")
        ),
    )
    kept = [dict(r) for r in conn.execute(sa.select(tokens)).mappings()]
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_name", type_="unique")
        batch_op.create_unique_constraint("uq_users_org_id_name", ["org_id", "name"])
    present = set(conn.execute(sa.select(tokens.c.id)).scalars())
    lost = [r for r in kept if r["id"] not in present]
    if lost:
        conn.execute(sa.insert(tokens), lost)
    _expire_endless_tokens()


def downgrade() -> None:
    """Drop the hosts' columns; user names unique across the server again."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_org_id_name", type_="unique")
        batch_op.create_unique_constraint("uq_users_name", ["name"])
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        for column in reversed(HOST_COLUMNS):
            batch_op.drop_column(column)
