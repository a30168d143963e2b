"""Questions of scope in the lifecycle: software whose coverage is undetermined is never clean
and never silently identified; a determination settles it either way, and revoking it reopens."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evict.catalog.interface import Confidence, DirectiveID, ProductID, QuestionID, VendorID
from evict.catalog.loader import load_catalog
from evict.compliance.determinations import (
    Answer,
    Determination,
    DeterminationError,
    apply_determinations,
    determination_state,
    parse_answer,
    question_products,
)
from evict.compliance.lifecycle import Observed, TransitionError, observe, transition
from evict.matching.interface import Finding
from evict.model.observations import HostID
from evict.model.states import HostState, State

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)
T2 = T0 + dt.timedelta(days=2)
LEMON8 = frozenset({"lemon8"})
TIKTOK = frozenset({"tiktok"})
QUESTION = "bytedance-other-apps-m-23-13"


def seen(
    products: frozenset[str] = frozenset(),
    *,
    asked: frozenset[str] = frozenset(),
    out: frozenset[str] = frozenset(),
    checkin: str = "r1",
) -> Observed:
    return Observed(products, False, checkin, questioned=asked, determined_out=out)


def waiting() -> HostState:
    return observe(None, seen(asked=LEMON8), now=T0)


def test_undetermined_software_alone_needs_a_determination_not_clean() -> None:
    state = waiting()
    assert state.state is State.NEEDS_DETERMINATION
    assert state.products == ("lemon8",)
    assert "determination" in state.reason


def test_a_covered_product_beside_it_makes_the_host_identified() -> None:
    state = observe(None, seen(TIKTOK, asked=LEMON8), now=T0)
    assert state.state is State.IDENTIFIED
    assert state.products == ("tiktok",)


def test_determined_covered_moves_it_to_identified() -> None:
    state = observe(waiting(), seen(LEMON8, checkin="r2"), now=T1)
    assert state.state is State.IDENTIFIED
    assert state.products == ("lemon8",)


def test_determined_not_covered_moves_it_to_clean() -> None:
    state = observe(waiting(), seen(out=LEMON8, checkin="r2"), now=T1)
    assert state.state is State.CLEAN
    assert state.reason == "determined not covered; nothing else found"


def test_a_clean_host_that_gains_undetermined_software_is_no_longer_clean() -> None:
    clean = observe(None, seen(), now=T0)
    assert observe(clean, seen(asked=LEMON8), now=T1).state is State.NEEDS_DETERMINATION


def test_an_unchanged_standing_is_returned_as_it_is() -> None:
    state = waiting()
    assert observe(state, seen(asked=LEMON8, checkin="r2"), now=T1) is state


def test_a_determination_changed_from_covered_to_not_covered_clears_without_a_removal() -> None:
    identified = observe(waiting(), seen(LEMON8), now=T1)
    planned = transition(identified, State.PLANNED, now=T1)
    state = observe(planned, seen(out=LEMON8, checkin="r3"), now=T2)
    assert state.state is State.CLEAN, "nothing was removed: it is out of scope"


def test_a_revoked_determination_reopens_the_question_on_an_open_host() -> None:
    identified = observe(waiting(), seen(LEMON8), now=T1)
    state = observe(identified, seen(asked=LEMON8, checkin="r3"), now=T2)
    assert state.state is State.NEEDS_DETERMINATION


def test_software_gone_while_undetermined_leaves_the_host_clean() -> None:
    state = observe(waiting(), seen(checkin="r2"), now=T1)
    assert state.state is State.CLEAN
    assert state.reason == "no covered product found"


def test_a_host_whose_covered_product_was_removed_stays_removed() -> None:
    identified = observe(None, seen(TIKTOK), now=T0)
    state = observe(identified, seen(asked=LEMON8, checkin="r2"), now=T1)
    assert state.state is State.REMOVED, "TikTok left; Lemon8 does not undo that"


def test_an_operator_cannot_set_or_leave_needs_determination_by_hand() -> None:
    with pytest.raises(TransitionError, match="set by evidence"):
        transition(observe(None, seen(TIKTOK), now=T0), State.NEEDS_DETERMINATION, now=T1)
    with pytest.raises(TransitionError):
        transition(waiting(), State.PLANNED, now=T1)


def finding(question: str | None) -> Finding:
    return Finding(
        HostID("h1"),
        DirectiveID("omb-m-23-13"),
        VendorID("bytedance"),
        ProductID("lemon8"),
        "Lemon8",
        Confidence.MEDIUM,
        False,
        (),
        question=QuestionID(question) if question else None,
    )


def determination(answer: Answer, **changes: object) -> Determination:
    d = Determination(QUESTION, answer, "OGC memo 14", "General Counsel", T0.date())
    return dataclasses.replace(d, **changes)  # type: ignore[arg-type]


def test_determinations_keep_mark_or_drop_the_questions_findings() -> None:
    plain, asked = finding(None), finding(QUESTION)
    assert apply_determinations([plain, asked], {}) == [plain, asked]
    assert asked.needs_determination and not plain.needs_determination
    (kept, covered) = apply_determinations(
        [plain, asked], {QUESTION: determination(Answer.COVERED)}
    )
    assert kept is plain
    assert not covered.needs_determination
    assert determination_state(covered) == {"question": QUESTION, "state": "covered"}
    assert apply_determinations([plain, asked], {QUESTION: determination(Answer.NOT_COVERED)}) == [
        plain
    ]
    revoked = determination(Answer.NOT_COVERED, revoked=True)
    assert apply_determinations([asked], {QUESTION: revoked}) == [asked]
    assert determination_state(asked) == {"question": QUESTION, "state": "needed"}
    assert determination_state(plain) is None


def test_a_determination_needs_a_known_question_reasoning_and_a_decider() -> None:
    catalog = load_catalog()
    today = T0.date()
    determination(Answer.COVERED).check(catalog, today=today)
    with pytest.raises(DeterminationError, match="questions: kaspersky-open-source-ndaa"):
        determination(Answer.COVERED, question="nope").check(catalog, today=today)
    with pytest.raises(DeterminationError, match="citation or reasoning"):
        determination(Answer.COVERED, reasoning=" \n").check(catalog, today=today)
    with pytest.raises(DeterminationError, match="who made it"):
        determination(Answer.COVERED, decided_by="").check(catalog, today=today)
    with pytest.raises(DeterminationError, match="in the future"):
        determination(Answer.COVERED, decided_on=T2.date()).check(catalog, today=today)


def test_answers_are_read_as_people_type_them() -> None:
    assert parse_answer("Not covered") is Answer.NOT_COVERED
    assert parse_answer("not_covered") is Answer.NOT_COVERED
    assert parse_answer(" COVERED ") is Answer.COVERED
    with pytest.raises(DeterminationError, match="covered, not-covered"):
        parse_answer("maybe")


def test_a_vendor_wide_question_reaches_every_product_of_the_vendor() -> None:
    catalog = load_catalog()
    kaspersky = {p.id for p in catalog.products if p.vendor == "kaspersky"}
    assert question_products(catalog, "kaspersky-white-label-bod-17-01") == kaspersky
    assert question_products(catalog, QUESTION) == {"lemon8", "bytedance-other-apps"}


def test_an_exported_determination_reads_back_as_it_was_written() -> None:
    from evict.compliance.determinations import determination_from_json

    d = Determination(
        question="deepseek-local-and-clients",
        answer=Answer.NOT_COVERED,
        reasoning="EO 46 names the application",
        decided_by="Secretary of Administration",
        decided_on=dt.date(2025, 2, 20),
        id=7,
        recorded_by="cli:root",
        revoked=True,
    )
    assert determination_from_json(d.to_json()) == d


def test_an_exported_list_loads_the_answers_in_force_once_each() -> None:
    from evict.compliance.determinations import load_determinations

    catalog = load_catalog()
    base = {
        "answer": "covered",
        "reasoning": "memo",
        "decided_by": "Counsel",
        "decided_on": "2026-11-20",
    }
    items = [
        {**base, "question": "deepseek-local-and-clients"},
        {**base, "question": "kaspersky-open-source-ndaa", "revoked": True},
    ]
    got = load_determinations(items, catalog, today=dt.date(2026, 12, 5))
    assert set(got) == {"deepseek-local-and-clients"}
    with pytest.raises(DeterminationError, match="answered twice"):
        load_determinations(items[:1] * 2, catalog, today=dt.date(2026, 12, 5))
    with pytest.raises(DeterminationError, match="item 0: a determination needs 'decided_on'"):
        load_determinations([{"question": "x"}], catalog, today=dt.date(2026, 12, 5))
