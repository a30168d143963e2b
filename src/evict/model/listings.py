"""What listings hand out: hosts as the dashboard lists them, vendor traffic and
unmanaged devices from network logs, and report jobs. Frozen values, no I/O."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class HostSort(enum.StrEnum):
    """The orders a host listing can be read in."""

    NAME = "name"
    """Hostname A to Z."""
    LAST_SEEN = "last_seen"
    """Longest silent first (never seen before all)."""
    RECENT = "-last_seen"
    """Most recently seen first."""
    STATE = "state"
    """Most urgent state first (identified, planned, removing, waived, ... clean, pending)."""
    NAME_DESC = "-name"
    """Hostname Z to A."""
    STATE_DESC = "-state"
    """Least urgent state first (the state order reversed)."""
    DUE = "due"
    """The work queue's order: hosts with a covered product open (whose milestone is due, or
    overdue) first, then every other host; within each, the state order. All open hosts of an
    organisation share one milestone for a directive (:func:`evict.report.fleet.host_milestone`
    depends on the state and the organisation's clock only), so this is overdue first, then by
    due date."""
    DUE_DESC = "-due"
    """The work queue's order reversed."""


@dataclass(frozen=True, slots=True)
class HostFilter:
    """What a host listing is narrowed to; every field is optional."""

    unit_id: int | None = None
    directive: str | None = None
    """The directive whose state ``states`` filters on (and the listing shows)."""
    states: frozenset[str] = frozenset()
    """With ``directive``: only hosts in one of these states (``pending`` included)."""
    product: str | None = None
    """Only hosts whose current inventory matched this catalog product."""
    catalog_version: str | None = None
    """The catalog version whose match results ``product`` is read from."""
    platform: str | None = None
    name: str | None = None
    """Text found anywhere in the hostname or the identifier (case-insensitive)."""
    seen_before: dt.datetime | None = None
    """Only hosts last seen before this time, or never."""


@dataclass(frozen=True, slots=True)
class HostListRow:
    """One host of a listing, with its standing against the listing's directive."""

    id: int
    identifier: str
    hostname: str
    platform: str
    org_unit: str
    last_seen: dt.datetime | None
    state: str = ""
    """The state for the listing's directive (``pending`` when not evaluated; empty without one)."""
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostPage:
    """One page of a listing and the cursor of the next (None on the last page)."""

    rows: tuple[HostListRow, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Traffic:
    """Vendor traffic of one client for one product, as network logs showed it."""

    product: str
    address: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int
    blocked: int = 0
    """Requests refused by a block list (the block works; the software is still there)."""
    names: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()

    @property
    def only_blocked(self) -> bool:
        """Whether every request seen was refused by a block list."""
        return self.blocked >= self.count > 0

    def merge(self, other: Traffic) -> Traffic:
        """This traffic and ``other`` (same product) together."""
        return Traffic(
            self.product,
            other.address if other.last_seen >= self.last_seen else self.address,
            min(self.first_seen, other.first_seen),
            max(self.last_seen, other.last_seen),
            self.count + other.count,
            self.blocked + other.blocked,
            _kept(self.names, other.names),
            _kept(self.lines, other.lines),
        )


@dataclass(frozen=True, slots=True)
class HostTraffic:
    """Traffic credited to one enrolled host."""

    host_id: int
    traffic: Traffic


@dataclass(frozen=True, slots=True)
class UnmanagedDevice:
    """A client address in network logs that no enrolled host held at the time."""

    address: str
    hostname: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int
    blocked: int
    names: tuple[str, ...]
    products: tuple[str, ...]
    sources: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()
    """Enrolled hosts that each held the address during the traffic (so none is credited)."""

    @property
    def only_blocked(self) -> bool:
        """Whether every request seen was refused by a block list."""
        return self.blocked >= self.count > 0


@dataclass
class DeviceUpdate:
    """What one upload says about an unmanaged device (merged into its stored row)."""

    address: str
    hostname: str
    traffic: list[Traffic] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    ambiguous: tuple[str, ...] = ()


QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
"""A job's statuses, in the order it goes through them (``failed`` may end any)."""


UNFINISHED = (QUEUED, RUNNING)
"""Statuses of a job that has not ended."""


@dataclass(frozen=True, slots=True)
class ReportJob:
    """A report generated (or being generated) in the background."""

    id: int
    org_id: int
    unit_id: int | None
    directive: str
    kind: str
    """A report kind (``day30``, ``hosts``...) or ``evidence`` for the bundle."""
    format: str
    status: str
    phase: str
    progress: int
    requested_by: str
    requested_at: dt.datetime
    finished_at: dt.datetime | None
    file: str
    size: int | None
    sha256: str
    error: str

    @property
    def finished(self) -> bool:
        """Whether the job has ended, done or failed."""
        return self.status not in UNFINISHED


KEPT = 10
"""Names and log lines kept per row."""


def _kept(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*a, *b]))[:KEPT]
