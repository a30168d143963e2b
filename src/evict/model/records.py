"""What the store hands out and the errors it raises.

The store returns these frozen values, never ORM objects, so that nothing outside
:mod:`evict.store` can touch a session or emit SQL by accident.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from evict.errors import EvictError
from evict.model.observations import Observation
from evict.model.states import HostState


class Role(enum.StrEnum):
    """What a user may do within their organisation."""

    ADMIN = "admin"
    """Everything: users, tokens, org units, plus what an operator does."""
    OPERATOR = "operator"
    """Drive the lifecycle (plan, begin removal, waive) and read everything."""
    AUDITOR = "auditor"
    """Read only."""


class StoreError(EvictError):
    """Base error of the store."""


class NotFoundError(StoreError):
    """A name or id that is not in the store (or not visible to the caller)."""


class ConflictError(StoreError):
    """A name that is already taken, or a change that lost a race with another one."""


class InvalidValueError(StoreError):
    """A value the store cannot accept (an empty name, a name too long)."""


class SchemaError(StoreError):
    """A database whose schema is missing or older than this version of evict expects."""


class DatabaseError(StoreError):
    """The database could not be reached or refused an operation; wraps the driver's error."""


class AuditHeadMissing(DatabaseError):
    """The audit chain's head row is gone: the database was changed outside evict."""

    def __init__(self) -> None:
        super().__init__(
            "the audit chain head (table audit_head, row id 1) is missing: the database was "
            "changed outside evict; no event can be appended until it is restored, and "
            "`evict audit verify --anchor FILE` checks the events against signed heads"
        )


@dataclass(frozen=True, slots=True)
class OrgInfo:
    """An organisation (an agency)."""

    id: int
    name: str
    created_at: dt.datetime
    freshness_days: int = 7
    """How old a host's last inventory may be before the host is ``stale``, not ``clean``."""


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """An org unit (a bureau, an office): hosts enrol into one with its enrolment secret."""

    id: int
    org_id: int
    name: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user of the server."""

    id: int
    org_id: int
    name: str
    role: Role
    org_unit_id: int | None = None
    """When set, the user sees only this org unit's hosts."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user authenticated by password or API token."""

    user_id: int
    name: str
    org_id: int
    role: Role
    org_unit_id: int | None = None

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log."""
        return f"user:{self.name}"

    @property
    def can_write(self) -> bool:
        """Whether this caller may change lifecycle states and waivers."""
        return self.role in (Role.ADMIN, Role.OPERATOR)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token's record (never the token itself)."""

    id: int
    user: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class HostInfo:
    """An enrolled host."""

    id: int
    org_id: int
    org_unit_id: int
    identifier: str
    """The host's own stable id (osquery ``hostIdentifier``, machine id, MDM device id)."""
    hostname: str
    platform: str
    org_unit: str = ""
    enrolled_at: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    collected_at: dt.datetime | None = None
    observations: int = 0
    digest: str = ""
    """The digest of the host's stored inventory (empty before the first one)."""
    last_checkin: str = ""
    """The report id of the latest check-in, full or unchanged."""
    kinds: tuple[str, ...] = ()
    """The observation kinds of the latest inventory (what its coverage is judged on)."""
    held: HeldInventory | None = None
    """An inventory held for review (it dropped every observation at once), if any."""
    reenroll_until: dt.datetime | None = None
    """Until when an admin allowed the host to enrol again (once), if they did."""


@dataclass(frozen=True, slots=True)
class HeldInventory:
    """An inventory kept aside for an admin: it would have cleared every observation of a host."""

    report_id: str
    digest: str
    received_at: dt.datetime
    address: str
    """The client address it came from."""


@dataclass(frozen=True, slots=True)
class InventoryReport:
    """One host's full inventory as the agent sent it."""

    report_id: str
    digest: str
    observations: Sequence[Observation]
    hostname: str = ""
    platform: str = ""
    collected_at: dt.datetime | None = None
    software_keys: Sequence[str] | None = None
    """Each observation's software key (:func:`evict.matching.engine.software_key`), when the
    decoder already knew them; the store computes what is missing."""


@dataclass(frozen=True, slots=True)
class BulkHost:
    """A host and its inventory for :meth:`evict.store.store.Store.bulk_load` (fleet imports)."""

    identifier: str
    hostname: str
    platform: str
    credential_hash: str
    """The lookup hash of the host's credential (:func:`evict.store.secrets.lookup_hash`)."""
    digest: str
    observations: Sequence[Observation]
    collected_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IngestAck:
    """The server's answer to one report; a resend of the same report id gets the same one."""

    report_id: str
    host: str
    status: str
    """``stored`` (a new inventory), or ``unchanged`` (the digest matched)."""
    observations: int
    software: int
    """Distinct software identities in the report."""
    received_at: dt.datetime

    def to_json(self) -> dict[str, object]:
        """Render for the API."""
        return {
            "report_id": self.report_id,
            "host": self.host,
            "status": self.status,
            "observations": self.observations,
            "software": self.software,
            "received_at": self.received_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DirtyHost:
    """A host the worker must evaluate, with the inventory version it is about to read."""

    id: int
    org_id: int
    inventory_version: int
    checkin: str
    platform: str = "unknown"
    kinds: tuple[str, ...] = ()
    """The observation kinds of the latest inventory."""
    last_seen: dt.datetime | None = None
    """When the latest inventory (or an unchanged check-in confirming it) arrived."""
    freshness_days: int = 7
    """The organisation's freshness limit."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One host's new state for one directive, as the worker or an operator decided it."""

    host_id: int
    directive: str
    old: HostState | None
    new: HostState


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host in a listing, with its state for the directive asked about (if any)."""

    id: int
    identifier: str
    hostname: str
    platform: str
    org_unit: str
    last_seen: dt.datetime | None
    observations: int
    states: tuple[tuple[str, str], ...] = ()
    """(directive, state) pairs."""
    kinds: tuple[str, ...] = ()
    """The observation kinds of the latest inventory."""


@dataclass(frozen=True, slots=True)
class WaiverInfo:
    """A waiver as stored."""

    id: int
    host: str
    directive: str
    justification: str
    approver: str
    expires: dt.date
    created_at: dt.datetime
    created_by: str
    revoked: bool = False
    grounds: str = ""
    host_id: int = 0
    hostname: str = ""
    org_unit: str = ""
    """The host's org unit (listings show it; the API's waiver object does not carry it)."""

    def to_json(self) -> dict[str, object]:
        """Render for the API."""
        return {
            "id": self.id,
            "host": self.host,
            "directive": self.directive,
            "justification": self.justification,
            "grounds": self.grounds,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One host's standing against one directive, as the store has it."""

    host: str
    """The host identifier (osquery ``hostIdentifier``, machine id, MDM device id)."""
    hostname: str
    org: str
    org_unit: str
    platform: str
    state: str
    """A :class:`~evict.model.states.State` value, or :data:`~evict.model.states.PENDING`."""
    products: tuple[str, ...] = ()
    since: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    start: dt.date | None = None
    """The organisation's own start date for the directive, when it adopted it late."""
