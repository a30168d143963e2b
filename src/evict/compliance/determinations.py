"""An organisation's determinations of the catalog's questions of scope, and what they do.

A finding that raises a question (:class:`evict.catalog.interface.Question`) needs a
determination: until the organisation records one, the host is ``needs_determination`` for that
directive, never ``clean`` and never ``identified`` on evict's own reading. A determination is
recorded once per question and applies fleet-wide: ``covered`` turns the question's findings
into ordinary ones (the host is identified, planned, cleared); ``not-covered`` drops them (a host
with nothing else found is clean). Either answer names who decided, when, and the citation or
reasoning it rests on; revoking it makes the findings need a determination again.

Nothing here reads a clock or a database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evict.catalog.interface import Catalog, CatalogLookupError
from evict.errors import EvictError
from evict.matching.interface import Finding


class Answer(enum.StrEnum):
    """An organisation's answer to a question of scope."""

    COVERED = "covered"
    """The software falls under the directive: its findings are identified."""
    NOT_COVERED = "not-covered"
    """The software is outside the directive: its findings are dropped."""


class DeterminationError(EvictError):
    """A determination that cannot be recorded (unknown question, no reasoning, no decider)."""


MAX_REASONING = 10_000
"""The longest citation or reasoning kept, in characters."""


@dataclass(frozen=True, slots=True)
class Determination:
    """One organisation's answer to one question of scope."""

    question: str
    answer: Answer
    reasoning: str
    """The citation and reasoning the answer rests on (free text, required)."""
    decided_by: str
    """Who made the determination (a person or office; the recording user is audited apart)."""
    decided_on: dt.date
    """The day it was made."""
    id: int = 0
    recorded_by: str = ""
    """The user who recorded it."""
    recorded_at: dt.datetime | None = None
    revoked: bool = False

    def check(self, catalog: Catalog, *, today: dt.date) -> None:
        """Raise :class:`DeterminationError` unless this determination may be recorded."""
        try:
            catalog.question(self.question)
        except CatalogLookupError as e:
            known = ", ".join(q.id for q in catalog.questions) or "none"
            raise DeterminationError(f"{e}; questions: {known}") from e
        if not self.reasoning.strip():
            raise DeterminationError(
                "a determination needs its citation or reasoning (what it rests on)"
            )
        if len(self.reasoning) > MAX_REASONING:
            raise DeterminationError(
                f"the reasoning is longer than {MAX_REASONING} characters; cite the document"
            )
        if not self.decided_by.strip():
            raise DeterminationError("a determination needs who made it (decided by)")
        if self.decided_on > today:
            raise DeterminationError(
                f"the decision date {self.decided_on.isoformat()} is in the future"
            )

    def to_json(self) -> dict[str, object]:
        """Render for the API, reports and the evidence bundle."""
        out: dict[str, object] = {
            "id": self.id,
            "question": self.question,
            "answer": self.answer.value,
            "reasoning": self.reasoning,
            "decided_by": self.decided_by,
            "decided_on": self.decided_on.isoformat(),
            "recorded_by": self.recorded_by,
            "revoked": self.revoked,
        }
        if self.recorded_at is not None:
            out["recorded_at"] = self.recorded_at.isoformat()
        return out


def determination_from_json(data: Mapping[str, object]) -> Determination:
    """Read one determination as :meth:`Determination.to_json` writes it (the items of
    ``evict determination list --format json``); :class:`DeterminationError` if it is not one."""

    def text(key: str, *, required: bool = True) -> str:
        value = data.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise DeterminationError(f"a determination needs {key!r} as text")
        return value

    try:
        decided_on = dt.date.fromisoformat(text("decided_on"))
    except ValueError as e:
        raise DeterminationError(f"decided_on {data.get('decided_on')!r} is not a date") from e
    ident = data.get("id", 0)
    revoked = data.get("revoked", False)
    if not isinstance(ident, int) or isinstance(ident, bool) or not isinstance(revoked, bool):
        raise DeterminationError("a determination's 'id' is a number and 'revoked' true or false")
    return Determination(
        question=text("question"),
        answer=parse_answer(text("answer")),
        reasoning=text("reasoning", required=False),
        decided_by=text("decided_by", required=False),
        decided_on=decided_on,
        id=ident,
        recorded_by=text("recorded_by", required=False),
        revoked=revoked,
    )


def load_determinations(
    document: object, catalog: Catalog, *, today: dt.date
) -> dict[str, Determination]:
    """The determinations in force in an exported list, by question id.

    :param document: the parsed JSON of ``evict determination list --format json``: a list of
        determinations. Revoked ones are skipped; each other one is checked as recording it
        would be (a known question, its reasoning, who decided, no date in the future), and a
        question may be answered only once.
    """
    if not isinstance(document, list):
        raise DeterminationError(
            "expected a JSON list of determinations (evict determination list --format json)"
        )
    out: dict[str, Determination] = {}
    for i, item in enumerate(document):
        if not isinstance(item, dict):
            raise DeterminationError(f"item {i}: expected a determination (a JSON object)")
        try:
            d = determination_from_json(item)
            if d.revoked:
                continue
            d.check(catalog, today=today)
        except DeterminationError as e:
            raise DeterminationError(f"item {i}: {e}") from e
        if d.question in out:
            raise DeterminationError(f"item {i}: {d.question} is answered twice")
        out[d.question] = d
    return out


def parse_answer(value: str) -> Answer:
    """Read an answer as a user types it (``covered``, ``not-covered``, ``not_covered``)."""
    text = value.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return Answer(text)
    except ValueError as e:
        raise DeterminationError(
            f"answer {value!r}: one of {', '.join(a.value for a in Answer)}"
        ) from e


def apply_determinations(
    findings: Iterable[Finding], determinations: Mapping[str, Determination]
) -> list[Finding]:
    """The findings as the organisation's determinations leave them.

    :param determinations: the organisation's active determinations, by question id.

    A finding whose question was determined ``covered`` is kept and marked so (an ordinary,
    identified finding from then on); one determined ``not-covered`` is dropped; one without a
    determination is kept as it is, needing one.
    """
    out: list[Finding] = []
    for f in findings:
        if f.question is None:
            out.append(f)
            continue
        d = determinations.get(f.question)
        if d is None or d.revoked:
            out.append(f)
        elif d.answer is Answer.COVERED:
            out.append(dataclasses.replace(f, determination=Answer.COVERED.value))
    return out


def determination_state(finding: Finding) -> dict[str, str] | None:
    """The ``determination`` field of a finding in the scan contract, or None without a question."""
    if finding.question is None:
        return None
    return {
        "question": finding.question,
        "state": "covered" if finding.determination == Answer.COVERED else "needed",
    }


def question_products(catalog: Catalog, question_id: str) -> frozenset[str]:
    """Every product a question can apply to (named, or of a named vendor): the hosts that
    carry one are the ones a determination of it can move."""
    q = catalog.question(question_id)
    return frozenset(p.id for p in catalog.products if p.id in q.products or p.vendor in q.vendors)
