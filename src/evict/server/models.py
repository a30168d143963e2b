"""Request and response bodies of the API (pydantic, at the edge only).

Handlers convert between these and the store's frozen values; nothing below the routers sees a
pydantic model. Field descriptions become the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evict.agent.wire import DIGEST
from evict.model.records import Role
from evict.model.states import State


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    """The body of every error response."""

    status: int
    type: str
    message: str


class ErrorResponse(_Model):
    """``{"error": {...}}``."""

    error: ErrorBody


# -- agent ------------------------------------------------------------------------------------


class EnrollRequest(_Model):
    """Enrol a host with an org unit's enrolment secret."""

    secret: str = Field(description="The org unit's enrolment secret.", max_length=200)
    host: str = Field(description="The host's stable identifier.", max_length=255)
    hostname: str = Field("", max_length=255)
    platform: str = Field("unknown", description="linux, windows, macos, android, ios, unknown.")
    credential: str | None = Field(
        None,
        max_length=200,
        description="The host's current credential, when enrolling an enrolled host again: "
        "without it (or an admin's permission) a host seen recently cannot be enrolled again.",
    )


class EnrollResponse(_Model):
    """The host's credential: keep it (the agent stores it in its spool directory)."""

    host: str
    credential: str = Field(description="Bearer credential for this host's inventory reports.")
    org: str
    org_unit: str


class DigestRequest(_Model):
    """Ask whether the server already holds the inventory with this digest."""

    report_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    digest: str = Field(pattern=DIGEST.pattern, description="See evict.agent.wire.")
    addresses: list[str] | None = Field(
        default=None,
        max_length=256,
        description="The host's interface addresses (kept only when they change).",
    )


class DigestResponse(_Model):
    """``unchanged``: check-in recorded, nothing more to send; ``send``: send the full report."""

    status: Literal["unchanged", "send"]
    report_id: str


class HostPart(_Model):
    """The host a report describes."""

    id: str
    hostname: str = ""
    platform: str = "unknown"


class ObservationModel(BaseModel):
    """One observation (see ``Observation.to_json``)."""

    kind: str
    name: str
    version: str = ""
    publisher: str = ""
    identifiers: dict[str, str] = {}
    source: str = ""


class InventoryBody(BaseModel):
    """A full inventory report (sent gzip-compressed with ``Content-Encoding: gzip``)."""

    report_id: str = Field(description="Unique per report; a resend gets the same answer.")
    host: HostPart
    collected_at: dt.datetime | None = None
    digest: str = ""
    source: str = ""
    evict_version: str = ""
    observations: list[ObservationModel]


class IngestResponse(_Model):
    """The acknowledgement of a report."""

    report_id: str
    host: str
    status: Literal["stored", "unchanged", "held"] = Field(
        description="held: the report would drop every observation of the host at once; it "
        "waits for an admin's review and the host keeps its stored inventory."
    )
    observations: int
    software: int
    received_at: dt.datetime


# -- hosts ------------------------------------------------------------------------------------


class CoverageModel(_Model):
    """What the host's latest inventory showed, and whether that is enough to conclude."""

    kinds: list[str] = Field(description="The observation kinds seen.")
    complete: bool = Field(description="Whether they meet the platform's requirements.")
    missing: list[str] = Field(description="Requirements not met (kinds joined by |).")


class HostMilestoneModel(_Model):
    """The milestone a host has not yet met for one directive (as the fleet report has it)."""

    milestone: str
    due: dt.date
    days_left: int
    overdue: bool


class HostSummary(_Model):
    """A host in a listing."""

    host: str = Field(description="The host identifier.")
    hostname: str
    platform: str
    org_unit: str
    last_seen: dt.datetime | None
    observations: int
    states: dict[str, str] = Field(description="Lifecycle state per directive.")
    milestones: dict[str, HostMilestoneModel] = Field(
        default_factory=dict, description="Per directive: the milestone not yet met."
    )
    coverage: CoverageModel | None = None


class HostPage(_Model):
    """One page of hosts; pass ``next_after`` as ``after`` for the next page."""

    hosts: list[HostSummary]
    next_after: int | None


class EvidenceModel(_Model):
    """Why a finding was made."""

    kind: str
    name: str
    version: str = ""
    publisher: str = ""
    identifiers: dict[str, str] = {}
    source: str = ""
    rule: str
    field: str


class FindingModel(_Model):
    """A covered product on the host, for one directive."""

    directive: str
    product: str
    product_name: str
    vendor: str
    confidence: str
    embedded: bool
    evidence: list[EvidenceModel]
    determination: dict[str, str] | None = Field(
        default=None,
        description="For a finding that raises a question of scope: the question and its "
        "state (needed, or covered once the organisation determined so).",
    )


class StateModel(_Model):
    """A host's state for one directive."""

    state: str
    since: dt.datetime
    products: list[str]
    reason: str
    prior: str | None = None


class TimelineEntry(_Model):
    """One audit event about the host."""

    seq: int
    at: str
    actor: str
    action: str
    payload: dict[str, object]


class HeldModel(_Model):
    """An inventory held for review: it would have dropped every observation of the host."""

    report_id: str
    received_at: dt.datetime
    address: str = Field(description="The client address it came from.")


class ReenrollAllowed(_Model):
    """An admin's one-time permission for a host to enrol again."""

    host: str
    until: dt.datetime


class HeldDecision(_Model):
    """An admin's decision on a held inventory."""

    decision: Literal["accept", "reject"] = Field(
        description="accept: the host's inventory becomes empty (its findings become removed); "
        "reject: the held inventory is discarded and the host keeps its stored one."
    )


class HeldDecided(_Model):
    """What was decided."""

    host: str
    decision: Literal["accept", "reject"]


class HostDetail(_Model):
    """A host with its findings (and their evidence), states and timeline."""

    host: str
    hostname: str
    platform: str
    org_unit: str
    enrolled_at: dt.datetime | None
    last_seen: dt.datetime | None
    collected_at: dt.datetime | None
    observations: int
    protected: bool = Field(description="Whether an approved protection product is present.")
    held: HeldModel | None = Field(
        None, description="An inventory held for an admin's review (state unchanged meanwhile)."
    )
    reenroll_until: dt.datetime | None = Field(
        None, description="Until when an admin allowed the host to enrol again, once."
    )
    states: dict[str, StateModel]
    milestones: dict[str, HostMilestoneModel] = Field(
        default_factory=dict, description="Per directive: the milestone not yet met."
    )
    coverage: CoverageModel | None = None
    findings: list[FindingModel]
    timeline: list[TimelineEntry]


class StateRequest(_Model):
    """An operator's move."""

    directive: str
    to: State
    reason: str = Field("", max_length=2000)


class StateChangeResponse(_Model):
    """The move as recorded."""

    host: str
    directive: str
    from_state: str | None
    to: str
    reason: str
    since: dt.datetime


# -- waivers ----------------------------------------------------------------------------------


class WaiverRequest(_Model):
    """A waiver for exactly one host and one directive."""

    host: str = Field(description="One host identifier: there are no blanket waivers.")
    directive: str
    justification: str = Field(min_length=1, max_length=5000)
    grounds: str = Field(
        default="",
        max_length=64,
        description="The grounds, one of the directive's exception_grounds when it lists some "
        "(OMB M-23-13: law-enforcement, national-security, security-research); else empty.",
    )
    approver: str = Field(min_length=1, max_length=200)
    expires: dt.date


class WaiverRevokeRequest(_Model):
    """Why a waiver ends early."""

    reason: str = Field(min_length=1, max_length=5000)


class WaiverRenewRequest(_Model):
    """A waiver's renewal: a later end, and the justification and approval for it."""

    justification: str = Field(min_length=1, max_length=5000)
    approver: str = Field(min_length=1, max_length=200)
    expires: dt.date


class WaiverModel(_Model):
    """A waiver as stored."""

    id: int
    host: str
    directive: str
    justification: str
    grounds: str
    approver: str
    expires: dt.date
    created_at: dt.datetime
    created_by: str
    revoked: bool


# -- determinations of questions of scope --------------------------------------------------------


class DeterminationRequest(_Model):
    """An organisation's answer to one of the catalog's questions of scope."""

    question: str = Field(max_length=64, description="A question id (GET /api/v1/questions).")
    answer: Literal["covered", "not-covered"]
    reasoning: str = Field(
        min_length=1,
        max_length=10000,
        description="The citation and reasoning the answer rests on (required).",
    )
    decided_by: str = Field(min_length=1, max_length=200, description="Who made it.")
    decided_on: dt.date | None = Field(default=None, description="The day (default: today).")


class DeterminationModel(_Model):
    """A determination as stored."""

    id: int
    question: str
    answer: str
    reasoning: str
    decided_by: str
    decided_on: dt.date
    recorded_by: str
    recorded_at: dt.datetime | None = None
    revoked: bool


class CitationModel(_Model):
    """The directive text a question quotes."""

    directive: str
    quote: str
    source: dict[str, str]


class QuestionModel(_Model):
    """A question of scope, with the organisation's determination in force (if any)."""

    id: str
    title: str
    directives: list[str]
    applies_to: dict[str, Any]
    question: str
    covered_means: str
    not_covered_means: str
    citations: list[CitationModel]
    note: str
    determination: DeterminationModel | None = None


# -- directives -------------------------------------------------------------------------------


class MilestoneModel(_Model):
    """The milestone that matters today."""

    name: str
    due: dt.date
    days_left: int


class DirectiveModel(_Model):
    """A directive as the caller's organisation follows it."""

    id: str
    title: str
    authority: str
    start: dt.date = Field(
        description="The organisation's start date (adopted) or the directive's."
    )
    adopted: bool
    milestone: MilestoneModel


class SummaryModel(_Model):
    """Counts for a directive: per state, per org unit, and overdue hosts and org units."""

    directive: str
    hosts: int
    states: dict[str, int]
    org_units: dict[str, dict[str, int]]
    overdue: int
    overdue_org_units: list[str]
    milestone: str
    due: dt.date | None
    days_left: int | None


class AdoptRequest(_Model):
    """Adopt a directive on the organisation's own clock."""

    start: dt.date


# -- audit ------------------------------------------------------------------------------------


class AuditEventModel(_Model):
    """One event of the audit chain."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    org: int | None
    payload: dict[str, object]
    prev_hash: str
    hash: str


class AuditPage(_Model):
    """A page of events; pass ``next_after`` as ``after`` for the next."""

    events: list[AuditEventModel]
    next_after: int | None


class ChainHead(_Model):
    """The chain head."""

    seq: int
    hash: str


class BadEvent(_Model):
    """The first event that breaks the chain."""

    seq: int | None
    fault: str | None
    message: str


class VerifyResponse(_Model):
    """The result of recomputing the chain."""

    ok: bool
    events: int
    head: ChainHead
    first_bad: BadEvent | None = None


# -- organisations, users, tokens ----------------------------------------------------------------


class UnitModel(_Model):
    """An org unit."""

    id: int
    name: str


class OrgModel(_Model):
    """The caller's organisation."""

    id: int
    name: str
    org_units: list[UnitModel]


class UnitCreate(_Model):
    """A new org unit."""

    name: str = Field(min_length=1, max_length=200)


class UnitCreated(_Model):
    """The new org unit and its enrolment secret (shown once)."""

    id: int
    name: str
    enroll_secret: str


class UserCreate(_Model):
    """A new user of the caller's organisation."""

    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(
        None,
        max_length=1000,
        description="At least 15 characters and not a common or easily guessed one "
        "(NIST SP 800-63B-4); none for a token-only user.",
    )
    org_unit: str | None = Field(None, description="Restrict the user to one org unit.")


class UserModel(_Model):
    """A user."""

    id: int
    name: str
    role: Role
    org_unit_id: int | None


class TokenCreate(_Model):
    """A new API token."""

    user: str | None = Field(None, description="Whose token (admins only); yourself by default.")
    days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Lifetime in days, at most the user's role's maximum (by default admin "
        "90, operator 90, auditor 30: server settings); omitted, the shorter of 90 and that "
        "maximum. Every token expires: null is refused.",
    )
    label: str = Field("", max_length=200)


class TokenCreated(_Model):
    """The token, shown once."""

    id: int
    user: str
    token: str
    expires_at: dt.datetime | None


class TokenModel(_Model):
    """A token's record."""

    id: int
    user: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked: bool


class LoginRequest(_Model):
    """A user's name and password."""

    name: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    org: str | None = Field(
        None,
        max_length=200,
        description="Your organisation; needed only when another organisation has a user "
        "with your name and the same password.",
    )


class HealthResponse(_Model):
    """The server's state."""

    status: Literal["ok"]
    version: str
    catalog_version: str
    database: str
    worker: dict[str, object] | None
