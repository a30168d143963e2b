"""The directive lifecycle: evidence moves hosts, operators move the rest, waivers expire."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evict.compliance.lifecycle import (
    Observed,
    TransitionError,
    Waiver,
    WaiverError,
    observe,
    transition,
    waive,
)
from evict.model.states import HostState, State

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)
T2 = T0 + dt.timedelta(days=2)
KES = frozenset({"kaspersky-endpoint-security"})


def seen(products: frozenset[str] = frozenset(), *, protected: bool = False, checkin: str = "r1"):
    return Observed(products, protected, checkin)


def identified() -> HostState:
    return observe(None, seen(KES), now=T0)


def test_a_first_inventory_identifies_or_attests_clean() -> None:
    assert identified().state is State.IDENTIFIED
    assert identified().products == ("kaspersky-endpoint-security",)
    clean = observe(None, seen(), now=T0)
    assert clean.state is State.CLEAN
    assert clean.reason == "no covered product found"


def test_a_later_inventory_without_the_product_means_removed() -> None:
    removed = observe(identified(), seen(checkin="r2"), now=T1)
    assert removed.state is State.REMOVED
    assert removed.since == T1
    assert removed.products == ("kaspersky-endpoint-security",), "what was removed stays visible"


def test_protection_present_means_replaced_and_a_later_checkin_verifies() -> None:
    removed = observe(identified(), seen(checkin="r2"), now=T1)
    replaced = observe(removed, seen(protected=True, checkin="r3"), now=T1)
    assert replaced.state is State.REPLACED
    again = observe(replaced, seen(protected=True, checkin="r3"), now=T1)
    assert again is replaced, "the same check-in does not confirm itself"
    verified = observe(replaced, seen(protected=True, checkin="r4"), now=T2)
    assert verified.state is State.VERIFIED


def test_removal_with_protection_already_present_goes_straight_to_replaced() -> None:
    state = observe(identified(), seen(protected=True, checkin="r2"), now=T1)
    assert state.state is State.REPLACED
    assert observe(state, seen(protected=True, checkin="r3"), now=T2).state is State.VERIFIED


def test_losing_protection_before_verification_falls_back_to_removed() -> None:
    replaced = observe(identified(), seen(protected=True, checkin="r2"), now=T1)
    assert observe(replaced, seen(checkin="r3"), now=T2).state is State.REMOVED


@pytest.mark.parametrize("start", ["removed", "verified", "clean"])
def test_a_product_reappearing_identifies_the_host_again(start: str) -> None:
    state = HostState(State(start), T0, checkin="r1")
    again = observe(state, seen(KES, checkin="r9"), now=T2)
    assert again.state is State.IDENTIFIED
    assert again.products == tuple(KES)


def test_an_unchanged_standing_returns_the_same_state_object() -> None:
    state = identified()
    assert observe(state, seen(KES, checkin="r2"), now=T1) is state
    clean = observe(None, seen(), now=T0)
    assert observe(clean, seen(checkin="r2"), now=T1) is clean


def test_operators_plan_and_begin_removal() -> None:
    planned = transition(identified(), State.PLANNED, now=T1, reason="ticket 42")
    assert (planned.state, planned.reason) == (State.PLANNED, "ticket 42")
    removing = transition(planned, State.REMOVING, now=T2)
    assert removing.state is State.REMOVING
    assert observe(removing, seen(KES, checkin="r2"), now=T2) is removing


@pytest.mark.parametrize("target", [State.REMOVED, State.REPLACED, State.VERIFIED, State.CLEAN])
def test_operators_cannot_claim_what_only_evidence_shows(target: State) -> None:
    with pytest.raises(TransitionError, match="set by evidence"):
        transition(identified(), target, now=T1)


def test_nothing_to_plan_on_a_clean_host() -> None:
    with pytest.raises(TransitionError, match="no covered product is open"):
        transition(observe(None, seen(), now=T0), State.PLANNED, now=T1)


def test_a_host_never_evaluated_cannot_be_moved() -> None:
    with pytest.raises(TransitionError, match="no inventory"):
        transition(None, State.PLANNED, now=T1)


def test_waived_is_not_a_plain_transition() -> None:
    with pytest.raises(TransitionError, match="waiver"):
        transition(identified(), State.WAIVED, now=T1)


def waiver(host: str = "hq-fin-ws-0142", expires: dt.date = dt.date(2026, 3, 1)) -> Waiver:
    return Waiver(host, "bod-17-01", "air-gapped lab instrument", "CISO J. Doe", expires)


def test_a_waiver_expires_back_to_the_state_it_interrupted() -> None:
    planned = transition(identified(), State.PLANNED, now=T0)
    waived = waive(planned, waiver(), today=T1.date(), now=T1)
    assert (waived.state, waived.prior) == (State.WAIVED, State.PLANNED)
    held = observe(waived, seen(KES, checkin="r2"), now=T2, waiver_active=True)
    assert held is waived
    lapsed = observe(waived, seen(KES, checkin="r3"), now=T2, waiver_active=False)
    assert (lapsed.state, lapsed.reason, lapsed.prior) == (State.PLANNED, "waiver expired", None)


def test_a_waived_host_whose_product_is_gone_is_removed() -> None:
    waived = waive(identified(), waiver(), today=T1.date(), now=T1)
    assert observe(waived, seen(checkin="r2"), now=T2, waiver_active=True).state is State.REMOVED


@pytest.mark.parametrize("host", ["*", "all", "", "hq-*", "a,b"])
def test_no_blanket_waivers(host: str) -> None:
    with pytest.raises(WaiverError, match="exactly one host"):
        waive(identified(), waiver(host=host), today=T1.date(), now=T1)


def test_a_waiver_needs_a_future_expiry_justification_and_approver() -> None:
    with pytest.raises(WaiverError, match="not in the future"):
        waiver(expires=T1.date()).check(T1.date())
    with pytest.raises(WaiverError, match="justification"):
        Waiver("h", "bod-17-01", " ", "CISO", dt.date(2027, 1, 1)).check(T1.date())
    with pytest.raises(WaiverError, match="approver"):
        Waiver("h", "bod-17-01", "why", "", dt.date(2027, 1, 1)).check(T1.date())


def test_a_directive_with_exception_grounds_needs_one_of_them() -> None:
    m23 = ("law-enforcement", "national-security", "security-research")
    granted = Waiver("p1", "omb-m-23-13", "open investigation", "DepSec", dt.date(2027, 1, 1),
                     "law-enforcement")  # fmt: skip
    granted.check(T1.date(), allowed_grounds=m23)
    for grounds, said in (("", "none were given"), ("convenience", "'convenience' is not one")):
        bad = dataclasses.replace(granted, grounds=grounds)
        with pytest.raises(WaiverError, match=f"only on the grounds of .*; {said}"):
            bad.check(T1.date(), allowed_grounds=m23)
        with pytest.raises(WaiverError, match="only on the grounds"):
            waive(identified(), bad, today=T1.date(), now=T1, allowed_grounds=m23)
    # A directive listing no grounds takes none.
    with pytest.raises(WaiverError, match="lists no exception grounds"):
        dataclasses.replace(granted, directive="bod-17-01").check(T1.date())


def test_a_clean_host_has_nothing_to_waive() -> None:
    with pytest.raises(WaiverError, match="nothing to waive"):
        waive(observe(None, seen(), now=T0), waiver(), today=T1.date(), now=T1)


def test_renewing_a_waiver_keeps_the_interrupted_state() -> None:
    planned = transition(identified(), State.PLANNED, now=T0)
    waived = waive(planned, waiver(), today=T1.date(), now=T1)
    renewed = waive(waived, waiver(expires=dt.date(2026, 6, 1)), today=T2.date(), now=T2)
    assert renewed.prior is State.PLANNED


def unsure(
    products: frozenset[str] = frozenset(), *, complete: bool = True, fresh: bool = True
) -> Observed:
    return Observed(products, False, "r9", complete=complete, fresh=fresh)


def test_nothing_found_in_an_incomplete_inventory_is_not_clean() -> None:
    first = observe(None, unsure(complete=False), now=T0)
    assert first.state is State.INCOMPLETE
    clean = observe(None, seen(), now=T0)
    assert observe(clean, unsure(complete=False), now=T1).state is State.INCOMPLETE
    # a complete inventory later concludes
    assert observe(first, unsure(), now=T1).state is State.CLEAN
    # and a finding in an incomplete one still counts
    assert observe(first, unsure(KES, complete=False), now=T1).state is State.IDENTIFIED


def test_an_old_inventory_makes_a_clean_host_stale_until_a_fresh_one() -> None:
    clean = observe(None, seen(), now=T0)
    stale = observe(clean, unsure(fresh=False), now=T2)
    assert stale.state is State.STALE and "freshness" in stale.reason
    assert observe(stale, unsure(fresh=False), now=T2) is stale
    assert observe(stale, unsure(), now=T2).state is State.CLEAN
    assert observe(None, unsure(complete=False, fresh=False), now=T0).state is State.STALE


def test_an_incomplete_inventory_cannot_show_a_removal() -> None:
    host = identified()
    assert observe(host, unsure(complete=False), now=T1) is host
    removed = observe(host, seen(), now=T1)
    assert removed.state is State.REMOVED
    assert observe(removed, unsure(complete=False), now=T2) is removed


@pytest.mark.parametrize("to", [State.INCOMPLETE, State.STALE])
def test_an_operator_cannot_claim_incomplete_or_stale(to: State) -> None:
    with pytest.raises(TransitionError, match="set by evidence"):
        transition(identified(), to, now=T1)


@pytest.mark.parametrize("state", [State.REMOVED, State.REPLACED, State.VERIFIED])
def test_vendor_traffic_after_removal_reopens_the_host(state: State) -> None:
    from evict.compliance.lifecycle import reopen_on_traffic

    gone = HostState(state, T1, ("kaspersky-endpoint-security",), "removed", "r2")
    before = reopen_on_traffic(
        gone, last_traffic=T0, products=["kaspersky-software"], evidence="x", now=T2
    )
    assert before is None, "traffic from before the removal says nothing new"
    after = reopen_on_traffic(
        gone, last_traffic=T2, products=["kaspersky-software"], evidence="ksn from 10.0.0.5", now=T2
    )
    assert after is not None and after.state is State.IDENTIFIED and after.since == T2
    assert after.products == ("kaspersky-endpoint-security", "kaspersky-software")
    assert "ksn from 10.0.0.5" in after.reason


@pytest.mark.parametrize("state", [State.IDENTIFIED, State.CLEAN, State.WAIVED, State.STALE])
def test_traffic_does_not_move_a_host_that_was_not_removed(state: State) -> None:
    from evict.compliance.lifecycle import reopen_on_traffic

    current = HostState(state, T0, (), "", "r1")
    assert reopen_on_traffic(current, last_traffic=T2, products=["p"], evidence="", now=T2) is None


def test_replaced_waits_for_silence_before_verified() -> None:
    replaced = HostState(State.REPLACED, T0, ("kes",), "replaced", "r1")
    loud = dataclasses.replace(seen(protected=True, checkin="r2"), silent=False)
    assert observe(replaced, loud, now=T1) is replaced
    quiet = seen(protected=True, checkin="r2")
    assert observe(replaced, quiet, now=T1).state is State.VERIFIED
