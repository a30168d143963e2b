"""The directive lifecycle of one host: a pure state machine driven by evidence and operators.

Per host and directive a host is in one :class:`State`::

    identified -> planned -> removing -> removed -> replaced -> verified
    clean    (nothing covered was found: a negative attestation)
    incomplete (nothing covered was found, but the inventory cannot conclude: not clean)
    stale    (nothing covered was found, but the last inventory is older than the
              organisation's freshness limit: not clean)
    waived   (an exception for this one host, with justification, approver and expiry)
    needs_determination (only software whose coverage is a question of scope was found)

Evidence moves a host on its own (:func:`observe`): a first inventory makes it ``identified`` or
``clean``; a later inventory without the product makes it ``removed``; an approved protection
product present makes it ``replaced``; a further check-in that still shows both makes it
``verified`` (when the organisation requires days of silence, only once the host has been that long
without vendor traffic in the network logs); a covered product appearing again, or vendor traffic
from a host after its removal (:func:`reopen_on_traffic`), makes it ``identified`` again. ``clean``
is given only on an inventory complete enough to conclude (:mod:`evict.compliance.coverage`) and
fresh; otherwise a host with nothing found is ``incomplete`` or ``stale``, and an inventory that
cannot conclude never moves a host on (it cannot show a product removed). A host whose only
findings raise a question of scope the organisation has not determined yet is
``needs_determination`` (never ``clean``); the determination moves it to ``identified``
(covered) or ``clean`` (not covered, nothing else found). Operators drive the rest
(:func:`transition`: ``planned``, ``removing``; :func:`waive`). A waiver names exactly one host;
when it expires the host returns to the state the waiver interrupted.

Nothing here reads a clock or a database: callers pass ``now`` and the evidence in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evict.errors import EvictError
from evict.model.states import (
    EVIDENCE_STATES,
    GONE,
    OPEN_STATES,
    UNCONCLUDED_STATES,
    HostState,
    State,
)

OPERATOR_MOVES: dict[State, frozenset[State]] = {
    State.IDENTIFIED: frozenset({State.PLANNED, State.REMOVING}),
    State.PLANNED: frozenset({State.REMOVING, State.IDENTIFIED}),
    State.REMOVING: frozenset({State.PLANNED, State.IDENTIFIED}),
}
"""The moves an operator may make by hand, from each state."""


class LifecycleError(EvictError):
    """Base error of the lifecycle: a move the rules do not allow."""


class TransitionError(LifecycleError):
    """An operator transition that is not allowed from the host's current state."""


class WaiverError(LifecycleError):
    """A waiver that cannot be granted (no justification, already expired, no single host...)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """What one evaluated inventory says about one host and one directive."""

    products: frozenset[str]
    """Covered products present (empty when none)."""
    protected: bool
    """Whether an approved protection product is present."""
    checkin: str
    """The check-in (report id) this evidence comes from."""
    complete: bool = True
    """Whether the inventory shows enough of the host to conclude for the directive
    (:func:`evict.compliance.coverage.concludes`)."""
    fresh: bool = True
    """Whether the inventory is within the organisation's freshness limit."""
    questioned: frozenset[str] = frozenset()
    """Products present whose coverage is a question of scope not yet determined."""
    determined_out: frozenset[str] = frozenset()
    """Products present that the organisation determined not covered."""
    silent: bool = True
    """Whether the host has been without vendor traffic for the days the organisation requires
    before ``verified`` (always True when it requires none)."""


@dataclass(frozen=True, slots=True)
class Waiver:
    """An exception for exactly one host and one directive, until ``expires``."""

    host: str
    directive: str
    justification: str
    approver: str
    expires: dt.date
    grounds: str = ""
    """The grounds it is granted on, one of the directive's ``exception_grounds`` (OMB M-23-13:
    ``law-enforcement``, ``national-security``, ``security-research``)."""

    def check(self, today: dt.date, *, allowed_grounds: Sequence[str] = ()) -> None:
        """Raise :class:`WaiverError` unless this waiver may be granted on ``today``.

        :param allowed_grounds: the directive's ``exception_grounds``; when there are some, the
            waiver must name one of them.
        """
        host = self.host.strip()
        if not host or any(c in host for c in "*?,") or host.lower() in {"all", "any"}:
            raise WaiverError(
                f"a waiver names exactly one host, not {self.host!r} (no blanket waivers)"
            )
        if not self.justification.strip():
            raise WaiverError("a waiver needs a justification")
        if not self.approver.strip():
            raise WaiverError("a waiver needs an approver")
        if self.expires <= today:
            raise WaiverError(f"the expiry date {self.expires.isoformat()} is not in the future")
        if allowed_grounds and self.grounds not in allowed_grounds:
            said = f"{self.grounds!r} is not one" if self.grounds else "none were given"
            raise WaiverError(
                f"{self.directive} allows exceptions only on the grounds of "
                f"{', '.join(allowed_grounds)}; {said}"
            )
        if self.grounds and not allowed_grounds:
            raise WaiverError(f"{self.directive} lists no exception grounds to choose from")


def _products(found: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(found))


def _to(
    current: HostState, state: State, now: dt.datetime, reason: str, **changes: Any
) -> HostState:
    return dataclasses.replace(current, state=state, since=now, reason=reason, **changes)


def observe(
    current: HostState | None,
    seen: Observed,
    *,
    now: dt.datetime,
    waiver_active: bool = False,
) -> HostState:
    """Apply one inventory's evidence to a host's state; return the new (or the same) state.

    :param current: the host's state for this directive, or None before its first evaluation.
    :param seen: the covered products and protection the inventory shows.
    :param now: the time the change is recorded at.
    :param waiver_active: whether the host holds an unexpired waiver for this directive; a
        ``waived`` host without one returns to the state the waiver interrupted.

    An unchanged standing returns ``current`` itself, so callers can tell a change by identity.
    """
    found = _products(seen.products)
    asked = _products(seen.questioned)
    if not found and not asked and not (seen.complete and seen.fresh):
        return _unconcluded(current, seen, now=now)
    if current is None:
        if found:
            return HostState(State.IDENTIFIED, now, found, "covered product found", seen.checkin)
        if asked:
            return HostState(State.NEEDS_DETERMINATION, now, asked, _ASKED_REASON, seen.checkin)
        return HostState(State.CLEAN, now, (), "no covered product found", seen.checkin)
    state = current.state
    if not found:
        settled = _settle_question(current, seen, asked, now)
        if settled is not None:
            return settled
    if not found and state in UNCONCLUDED_STATES:
        reason = "no covered product found in a complete, fresh inventory"
        return _to(current, State.CLEAN, now, reason, checkin=seen.checkin)
    if state is State.NEEDS_DETERMINATION:
        # Only covered products lead on from here (they exist: found is not empty).
        return _to(
            current,
            State.IDENTIFIED,
            now,
            "covered product found",
            products=found,
            checkin=seen.checkin,
        )
    if found:
        if state is State.WAIVED:
            if not waiver_active:
                back = current.prior or State.IDENTIFIED
                return _to(current, back, now, "waiver expired", products=found, prior=None)
        elif state not in OPEN_STATES:
            reason = (
                "covered product found again"
                if state is not State.CLEAN and state not in UNCONCLUDED_STATES
                else ("covered product found")
            )
            return _to(current, State.IDENTIFIED, now, reason, products=found, checkin=seen.checkin)
        if found != current.products:
            return dataclasses.replace(current, products=found)
        return current
    if state is State.CLEAN or state is State.VERIFIED:
        return current
    if state in OPEN_STATES or state is State.WAIVED:
        removed = _to(
            current,
            State.REMOVED,
            now,
            "covered product no longer present",
            checkin=seen.checkin,
            prior=None,
        )
        if seen.protected:
            return _to(removed, State.REPLACED, now, "covered product removed; protection present")
        return removed
    if state is State.REMOVED:
        if seen.protected:
            return _to(
                current,
                State.REPLACED,
                now,
                "approved protection product present",
                checkin=seen.checkin,
            )
        return current
    if state is State.REPLACED:
        if not seen.protected:
            return _to(
                current,
                State.REMOVED,
                now,
                "approved protection product no longer present",
                checkin=seen.checkin,
            )
        if seen.checkin != current.checkin and seen.silent:
            return _to(
                current,
                State.VERIFIED,
                now,
                "a later check-in confirmed removal and replacement",
                checkin=seen.checkin,
            )
        return current
    raise AssertionError(f"unhandled state {state!r}")  # pragma: no cover


def reopen_on_traffic(
    current: HostState | None,
    *,
    last_traffic: dt.datetime,
    products: Iterable[str],
    evidence: str,
    now: dt.datetime,
) -> HostState | None:
    """A host's state after vendor traffic from it was seen; None when the traffic changes nothing.

    Traffic (blocked or not: a blocked attempt still shows the software is there) seen after a
    host entered ``removed``, ``replaced`` or ``verified`` reopens it: back to ``identified``,
    with ``evidence`` (names, address, times) in the reason.
    """
    if current is None or current.state not in GONE or last_traffic <= current.since:
        return None
    found = _products(set(products) | set(current.products))
    return _to(
        current,
        State.IDENTIFIED,
        now,
        f"vendor traffic after removal: {evidence}",
        products=found,
        prior=None,
    )


def _unconcluded(current: HostState | None, seen: Observed, *, now: dt.datetime) -> HostState:
    """Nothing covered found in an inventory that cannot conclude (incomplete) or is too old.

    A host never found with a covered product (or whose question of scope was answered "not
    covered") becomes ``stale`` or ``incomplete`` (a stale inventory is named first: a fresh one
    is what to get); any other host keeps its state, since such an inventory can show neither a
    removal nor a replacement.
    """
    # A host waiting for a determination has nothing covered either once it is answered "not
    # covered": like a clean one, it becomes incomplete or stale rather than keeping its state.
    movable = {State.CLEAN, State.NEEDS_DETERMINATION, *UNCONCLUDED_STATES}
    if current is not None and current.state not in movable:
        return current
    if not seen.fresh:
        state, reason = State.STALE, "last inventory older than the freshness limit"
    else:
        state, reason = State.INCOMPLETE, "inventory incomplete: cannot conclude"
    if current is None:
        return HostState(state, now, (), reason, seen.checkin)
    if current.state is state:
        return current
    return _to(current, state, now, reason, checkin=seen.checkin)


_ASKED_REASON = "found software whose coverage needs the organisation's determination"


def _settle_question(
    current: HostState, seen: Observed, asked: tuple[str, ...], now: dt.datetime
) -> HostState | None:
    """The state when no covered product is present, as far as questions of scope decide it;
    None leaves it to the ordinary rules.

    - Undetermined software present: a clean host, or one whose open products are all still
      present but now undetermined (a determination revoked), needs a determination.
    - Nothing undetermined: a host that needed one is clean, and an open host whose products are
      all still present but determined not covered is clean (nothing was removed).
    """
    state = current.state
    if asked:
        unconcluded = state is State.CLEAN or state in UNCONCLUDED_STATES
        if unconcluded or (state in OPEN_STATES and set(current.products) <= set(asked)):
            return _to(
                current,
                State.NEEDS_DETERMINATION,
                now,
                _ASKED_REASON,
                products=asked,
                checkin=seen.checkin,
            )
        if state is State.NEEDS_DETERMINATION:
            if asked != current.products:
                return dataclasses.replace(current, products=asked)
            return current
        return None
    if state is State.NEEDS_DETERMINATION:
        reason = (
            "determined not covered; nothing else found"
            if set(current.products) & seen.determined_out
            else "no covered product found"
        )
        return _to(current, State.CLEAN, now, reason, products=(), checkin=seen.checkin)
    if state in OPEN_STATES and current.products and set(current.products) <= seen.determined_out:
        return _to(
            current,
            State.CLEAN,
            now,
            "determined not covered; nothing else found",
            products=(),
            checkin=seen.checkin,
        )
    return None


def transition(
    current: HostState | None, to: State, *, now: dt.datetime, reason: str = ""
) -> HostState:
    """Apply an operator's move (``planned``, ``removing``, back to ``identified``).

    Raise :class:`TransitionError` when the move is not allowed from the current state, saying
    what would allow it.
    """
    if current is None:
        raise TransitionError("this host has no inventory evaluated for the directive yet")
    if to is State.WAIVED:
        raise TransitionError("a host is waived with a waiver (justification, approver, expiry)")
    if to in EVIDENCE_STATES:
        raise TransitionError(
            f"{to.value} is set by evidence, not by hand: push an inventory that shows it"
        )
    allowed = OPERATOR_MOVES.get(current.state, frozenset())
    if to not in allowed:
        if not allowed:
            raise TransitionError(
                f"cannot move from {current.state.value} to {to.value}: "
                f"no covered product is open on this host"
            )
        raise TransitionError(
            f"cannot move from {current.state.value} to {to.value}; allowed: "
            + ", ".join(sorted(s.value for s in allowed))
        )
    return _to(current, to, now, reason or f"set to {to.value} by an operator")


def waive(
    current: HostState | None,
    waiver: Waiver,
    *,
    today: dt.date,
    now: dt.datetime,
    allowed_grounds: Sequence[str] = (),
) -> HostState:
    """Put a host under ``waiver``; raise :class:`WaiverError` when it cannot be granted.

    Only a host with a covered product open (or already waived, to renew) can be waived;
    ``allowed_grounds`` are the directive's exception grounds (see :meth:`Waiver.check`).
    """
    waiver.check(today, allowed_grounds=allowed_grounds)
    if current is None or (current.state not in OPEN_STATES and current.state is not State.WAIVED):
        state = "not evaluated" if current is None else current.state.value
        raise WaiverError(f"nothing to waive: the host is {state} for {waiver.directive}")
    prior = current.prior if current.state is State.WAIVED else current.state
    reason = f"waived until {waiver.expires.isoformat()}, approved by {waiver.approver}"
    return _to(current, State.WAIVED, now, reason, prior=prior)
