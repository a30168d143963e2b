"""Where a host stands against a directive: every state, and every named set of states, once.

The lifecycle (:mod:`evict.compliance.lifecycle`) decides the moves; this module only names the
states and the groups that reports, the store and the interfaces count by. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class State(enum.StrEnum):
    """Where one host stands against one directive."""

    IDENTIFIED = "identified"
    """A covered product is present and nothing has been done yet."""
    PLANNED = "planned"
    """Removal and replacement are planned."""
    REMOVING = "removing"
    """Removal has begun."""
    REMOVED = "removed"
    """An inventory no longer shows the product."""
    REPLACED = "replaced"
    """The product is gone and an approved protection product is present."""
    VERIFIED = "verified"
    """A later check-in confirmed removal and replacement."""
    CLEAN = "clean"
    """Nothing covered was ever found: a negative attestation."""
    WAIVED = "waived"
    """An approved, expiring exception for this host."""
    INCOMPLETE = "incomplete"
    """Nothing covered was found, but the inventory does not show enough of the host to conclude
    (its platform's required observation kinds are missing): not clean."""
    STALE = "stale"
    """Nothing covered was found, but the last inventory is older than the organisation's
    freshness limit: not clean."""
    NEEDS_DETERMINATION = "needs_determination"
    """Software whose coverage is a question of scope is present and the organisation has not
    determined it yet: neither identified nor clean."""


OPEN_STATES = frozenset({State.IDENTIFIED, State.PLANNED, State.REMOVING})
"""States in which a covered product is present and work is due (a milestone can be missed)."""

EVIDENCE_STATES = frozenset(
    {
        State.REMOVED,
        State.REPLACED,
        State.VERIFIED,
        State.CLEAN,
        State.INCOMPLETE,
        State.STALE,
        State.NEEDS_DETERMINATION,
    }
)
"""States only an inventory (or its age) can set; an operator cannot claim them."""

UNCONCLUDED_STATES = frozenset({State.INCOMPLETE, State.STALE})
"""States of a host with nothing found on which "none found" cannot be said: never clean."""


@dataclass(frozen=True, slots=True)
class HostState:
    """One host's standing against one directive, with what put it there."""

    state: State
    since: dt.datetime
    """When the host entered this state."""
    products: tuple[str, ...] = ()
    """Covered products found (for removed and later states: the ones that were removed)."""
    reason: str = ""
    """Why the last change happened, in words for a timeline."""
    checkin: str = ""
    """The check-in (report id) whose evidence set this state; ``verified`` needs a later one."""
    prior: State | None = None
    """For ``waived``: the state the waiver interrupted, restored when it expires."""

    def to_json(self) -> dict[str, object]:
        """Render for the API."""
        out: dict[str, object] = {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "products": list(self.products),
            "reason": self.reason,
        }
        if self.prior is not None:
            out["prior"] = self.prior.value
        return out


PENDING = "pending"
"""The state shown for a host enrolled but not evaluated yet (no inventory, or not matched)."""

ALL_STATES: tuple[str, ...] = (*(s.value for s in State), PENDING)
"""Every value a host's ``state`` column can take."""

PRESENT: frozenset[str] = frozenset({*(s.value for s in OPEN_STATES), State.WAIVED.value})
"""States in which a covered product is on the host (a waiver leaves it there)."""

GONE: frozenset[str] = frozenset({State.REMOVED.value, State.REPLACED.value, State.VERIFIED.value})
"""States in which a covered product was found and has been removed."""

NOT_BEGUN: frozenset[str] = frozenset({State.IDENTIFIED.value, State.PLANNED.value})
"""Open states in which removal has not begun."""

UNCONCLUDED: frozenset[str] = frozenset(s.value for s in UNCONCLUDED_STATES)
"""The values of :data:`UNCONCLUDED_STATES`: a host whose inventory was read but cannot back
"none found" (incomplete, stale)."""

STATE_ORDER: tuple[str, ...] = (
    State.IDENTIFIED.value,
    State.PLANNED.value,
    State.REMOVING.value,
    State.WAIVED.value,
    State.NEEDS_DETERMINATION.value,
    State.INCOMPLETE.value,
    State.STALE.value,
    State.REMOVED.value,
    State.REPLACED.value,
    State.VERIFIED.value,
    State.CLEAN.value,
    PENDING,
)
"""Every state a host can show for a directive, most urgent first (the order of a state sort)."""

OPERATOR_CHOICES: tuple[str, ...] = (
    State.IDENTIFIED.value,
    State.PLANNED.value,
    State.REMOVING.value,
    State.REMOVED.value,
    State.REPLACED.value,
    State.VERIFIED.value,
    State.CLEAN.value,
    State.WAIVED.value,
)
"""The states an operator may name in a state change (the lifecycle refuses the moves its rules
do not allow, with the reason)."""
