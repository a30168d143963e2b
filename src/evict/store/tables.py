"""The database schema as SQLAlchemy 2 declarative models.

Shape, for a fleet of a million hosts:

- ``software`` holds each distinct software identity once (kind, name, publisher, identifiers),
  keyed by a hash of :func:`evict.matching.engine.distinct_key`; ``host_software`` links hosts
  to it with the version and source seen on that host.
- ``software_match`` keeps the matcher's hits per software row and catalog version, so a new
  catalog means re-matching tens of thousands of rows, not hundreds of millions.
- ``host_states`` is the lifecycle per host and directive; ``hosts.dirty`` (a partial index)
  queues hosts for the worker.
- ``audit_events`` is the append-only hash chain, ``audit_head`` its head (one row, locked while
  appending so concurrent servers extend the chain one at a time).

Timestamps are stored as naive UTC and read back as aware UTC (:class:`UTCDateTime`); the audit
log keeps its own time as text so that it hashes the same on every backend. The migrations under
``store/migrations`` create exactly this schema (a test compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names, fixed so that migrations can refer to them on both backends."""

BigID = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key that is still SQLite's auto-incrementing ``INTEGER PRIMARY KEY``."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Convert an aware datetime to naive UTC (naive values are taken as UTC already)."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to what the database returns."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """The declarative base; its metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class Org(Base):
    """An organisation (an agency)."""

    __tablename__ = "orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    freshness_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    """How old a host's last inventory may be before the host is ``stale``, not ``clean``."""


class OrgUnit(Base):
    """An org unit (a bureau, an office) with its enrolment secret (SHA-256 of it)."""

    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class User(Base):
    """A user; ``password_hash`` is argon2id, ``org_unit_id`` restricts what they see."""

    __tablename__ = "users"
    # Unique per organisation (migration 0011): a name taken elsewhere looks free.
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """An API token, stored as the SHA-256 of the token (see :mod:`evict.store.secrets`)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Host(Base):
    """An enrolled host and the summary of its latest inventory."""

    __tablename__ = "hosts"
    __table_args__ = (
        UniqueConstraint("org_id", "identifier"),
        Index("ix_hosts_org_id_org_unit_id_id", "org_id", "org_unit_id", "id"),
        Index("ix_hosts_org_id_id", "org_id", "id"),
        Index("ix_hosts_org_id_last_seen", "org_id", "last_seen"),
        Index("ix_hosts_org_id_hostname", "org_id", "hostname"),
        Index("ix_hosts_org_id_org_unit_id_hostname", "org_id", "org_unit_id", "hostname"),
        Index("ix_hosts_org_id_platform", "org_id", "platform"),
        # Substring search (ILIKE '%x%'): trigram GIN indexes on PostgreSQL (migration 0012).
        Index(
            "ix_hosts_hostname_trgm",
            "hostname",
            postgresql_using="gin",
            postgresql_ops={"hostname": "gin_trgm_ops"},
        ),
        Index(
            "ix_hosts_identifier_trgm",
            "identifier",
            postgresql_using="gin",
            postgresql_ops={"identifier": "gin_trgm_ops"},
        ),
        Index(
            "ix_hosts_dirty",
            "id",
            postgresql_where=text("dirty"),
            sqlite_where=text("dirty = 1"),
        ),
    )
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    platform: Mapped[str] = mapped_column(String(16), default="unknown")
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    digest: Mapped[str] = mapped_column(String(64), default="")
    last_checkin: Mapped[str] = mapped_column(String(64), default="")
    observations: Mapped[int] = mapped_column(Integer, default=0)
    kinds: Mapped[str] = mapped_column(String(300), default="", server_default="")
    """The observation kinds of the latest inventory, sorted and comma-separated."""
    sources: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    """The source families of the latest inventory's links (``["osquery", "registry"]``):
    what a report's methodology counts per org unit, without reading every link."""
    inventory_version: Mapped[int] = mapped_column(Integer, default=0)
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    reenroll_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """An admin's one-time permission to enrol this host again, valid until then."""
    held_report: Mapped[str | None] = mapped_column(String(64))
    """An inventory that dropped every observation at once, held for an admin's review."""
    held_digest: Mapped[str | None] = mapped_column(String(64))
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    held_address: Mapped[str | None] = mapped_column(String(64))
    """The address the held inventory came from."""


class Software(Base):
    """One distinct software identity; ``identifiers`` is canonical JSON."""

    __tablename__ = "software"
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str] = mapped_column(Text, default="")
    identifiers: Mapped[str] = mapped_column(Text, default="{}")


class HostSoftware(Base):
    """A host has a software identity, in a version, as a source reported it.

    No foreign keys (migration 0002): they were most of the cost of writing links, and the
    store, the only writer, links a host only to software ids it has just read or created and
    never deletes hosts or software.
    """

    __tablename__ = "host_software"
    __table_args__ = (
        # host_id too: a product's hosts are read from the index alone (migration 0006).
        Index("ix_host_software_software_id_host_id", "software_id", "host_id"),
    )
    host_id: Mapped[int] = mapped_column(BigID, primary_key=True)
    software_id: Mapped[int] = mapped_column(BigID, primary_key=True)
    version: Mapped[str] = mapped_column(String(200), primary_key=True, default="")
    source: Mapped[str] = mapped_column(String(100), primary_key=True, default="")


class SoftwareMatch(Base):
    """The matcher's hits (JSON) for one software row under one catalog version."""

    __tablename__ = "software_match"
    __table_args__ = (
        Index("ix_software_match_matched", "catalog_version", "software_id", "matched"),
    )
    software_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("software.id", ondelete="CASCADE"), primary_key=True
    )
    catalog_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    hits: Mapped[str] = mapped_column(Text, default="[]")


UNSETTLED = "state NOT IN ('clean', 'verified')"
"""States a catalog change beyond the rules may move (see ``Store.prepare_catalog``): a few
percent of a fleet, indexed on their own so they are found without reading every state."""


class HostStateRow(Base):
    """A host's lifecycle state for one directive."""

    __tablename__ = "host_states"
    __table_args__ = (
        Index(
            "ix_host_states_org_id_directive_state_host_id",
            "org_id",
            "directive",
            "state",
            "host_id",
        ),
        Index(
            "ix_host_states_unsettled",
            "host_id",
            postgresql_where=text(UNSETTLED),
            sqlite_where=text(UNSETTLED),
        ),
    )
    host_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    directive: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    """Widened from 16 by migration 0010 (``needs_determination`` is 19 characters)."""
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    products: Mapped[str] = mapped_column(Text, default="[]")
    reason: Mapped[str] = mapped_column(Text, default="")
    checkin: Mapped[str] = mapped_column(String(64), default="")
    prior: Mapped[str | None] = mapped_column(String(32))


class WaiverRow(Base):
    """A waiver for one host and one directive."""

    __tablename__ = "waivers"
    __table_args__ = (Index("ix_waivers_host_id_directive", "host_id", "directive"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(BigID, ForeignKey("hosts.id", ondelete="CASCADE"))
    directive: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    grounds: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """The exception's grounds (OMB M-23-13's three), empty where the directive lists none."""
    approver: Mapped[str] = mapped_column(String(200))
    expires: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class DeterminationRow(Base):
    """An organisation's determination of one of the catalog's questions of scope.

    At most one unrevoked row per organisation and question (the store revokes the previous one
    when a new one is recorded); revoked rows are kept for the record.
    """

    __tablename__ = "determinations"
    __table_args__ = (Index("ix_determinations_org_id_question", "org_id", "question"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(16))
    reasoning: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(255))


class Adoption(Base):
    """An organisation's own start date for a directive."""

    __tablename__ = "adoptions"
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)
    directive: Mapped[str] = mapped_column(String(64), primary_key=True)
    start: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ReportRow(Base):
    """A stored inventory report, by its id: a resend finds it and gets the same answer."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_received_at", "received_at"),)
    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("hosts.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    observations: Mapped[int] = mapped_column(Integer)
    software: Mapped[int] = mapped_column(Integer)


class ReportJobRow(Base):
    """A report or evidence bundle generated in the background for an organisation."""

    __tablename__ = "report_jobs"
    __table_args__ = (Index("ix_report_jobs_org_id_id", "org_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    """The org unit the report is limited to, or none for the whole organisation."""
    directive: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    """A :class:`evict.report.interface.ReportKind` value, or ``evidence`` for the bundle."""
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    """``queued``, ``running``, ``done`` or ``failed``."""
    phase: Mapped[str] = mapped_column(String(200), default="", server_default="")
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Per cent done, by the job's phases."""
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    file: Mapped[str] = mapped_column(String(255), default="", server_default="")
    """The output's file name in the server's reports directory."""
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")


class NotifyChannelRow(Base):
    """Where an organisation's notifications go (e-mail, webhook, syslog), and which of them."""

    __tablename__ = "notify_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    events: Mapped[str] = mapped_column(String(200))
    """Comma-separated :class:`evict.notify.interface.Event` values."""
    days_before: Mapped[int] = mapped_column(Integer)
    options: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    """JSON: SMTP server and sender, webhook secret and style, syslog transport."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class NotifySentRow(Base):
    """A notification key delivered on a channel: never delivered there again."""

    __tablename__ = "notify_sent"
    __table_args__ = (UniqueConstraint("channel_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notify_channels.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AuditEventRow(Base):
    """One event of the hash-chained audit log (append only)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_id_subject_seq", "org_id", "subject", "seq"),)
    seq: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain head: the last event's sequence number and hash (a single row, id 1)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class Meta(Base):
    """Small server-wide facts, e.g. the catalog version hosts were last evaluated with."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class HostAddressRow(Base):
    """An address an enrolled host reported on its interfaces, from when until when (network
    evidence is joined on it). Written only when a host's addresses change: ``current`` while
    its latest report still shows the address; once gone, ``last_seen`` is the last check-in
    that still showed it (see :mod:`evict.store.network`)."""

    __tablename__ = "host_addresses"
    __table_args__ = (Index("ix_host_addresses_address", "address"),)
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    host_id: Mapped[int] = mapped_column(
        BigID, ForeignKey("hosts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    current: Mapped[bool] = mapped_column(Boolean, default=True)


class HostTrafficRow(Base):
    """Vendor traffic credited to an enrolled host from network logs, per product."""

    __tablename__ = "host_traffic"
    __table_args__ = (UniqueConstraint("host_id", "product"),)
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    host_id: Mapped[int] = mapped_column(BigID, ForeignKey("hosts.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(BigInteger)
    blocked: Mapped[int] = mapped_column(BigInteger, default=0)
    names: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the names asked for (a few)."""
    lines: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of evidence log lines (a few)."""


class NetworkDeviceRow(Base):
    """An unmanaged device: a client address in network logs that no enrolled host held."""

    __tablename__ = "network_devices"
    __table_args__ = (UniqueConstraint("org_id", "address"),)
    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(BigInteger)
    blocked: Mapped[int] = mapped_column(BigInteger, default=0)
    names: Mapped[str] = mapped_column(Text, default="[]")
    products: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated catalog product ids."""
    sources: Mapped[str] = mapped_column(String(200), default="")
    """Comma-separated log kinds (``zeek``, ``squid``...)."""
    ambiguous: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated enrolled hosts that shared the address at the time, if any."""


class NetworkSettingRow(Base):
    """An organisation's network-evidence settings."""

    __tablename__ = "network_settings"
    org_id: Mapped[int] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    silence_days: Mapped[int] = mapped_column(Integer, default=0)
    """Days without vendor traffic ``verified`` requires after a removal (0: not required)."""
