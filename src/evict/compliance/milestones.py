"""A directive's clock: which milestone is next, when it is due, and how many days are left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from evict.catalog.interface import Directive, Milestone


@dataclass(frozen=True, slots=True)
class MilestoneStatus:
    """The milestone that matters today for a directive, with its due date."""

    milestone: Milestone
    due: dt.date
    days_left: int
    """Negative when the last milestone has passed and nothing recurs: overdue by that much."""
    occurrence: int = 1
    """For a recurring milestone, which occurrence (the 3rd status report, ...)."""

    @property
    def overdue(self) -> bool:
        """Whether the due date has passed."""
        return self.days_left < 0

    def to_json(self) -> dict[str, object]:
        """Render as the ``milestone`` object of the scan contract."""
        name = self.milestone.name
        if self.milestone.repeat_days and self.occurrence > 1:
            name = f"{name} (#{self.occurrence})"
        return {"name": name, "due": self.due.isoformat(), "days_left": self.days_left}


def schedule(directive: Directive, start: dt.date | None = None) -> list[tuple[Milestone, dt.date]]:
    """Every milestone with its first due date, in date order, for a clock starting at ``start``."""
    begin = start or directive.start
    return sorted(((m, m.first_due(begin)) for m in directive.milestones), key=lambda pair: pair[1])


def current_milestone(
    directive: Directive, *, today: dt.date, start: dt.date | None = None
) -> MilestoneStatus:
    """The next milestone due on or after ``today``; else the last one, overdue.

    ``start`` is an organisation's own clock (it adopted the directive late); by default the
    directive's own start date. Recurring milestones (``repeat_days``) roll forward to their next
    occurrence, so a directive in its reporting phase always has a next date.
    """
    upcoming: list[MilestoneStatus] = []
    last: MilestoneStatus | None = None
    for milestone, first in schedule(directive, start):
        due, occurrence = first, 1
        if milestone.repeat_days and first < today:
            periods = -(-(today - first).days // milestone.repeat_days)
            due = first + dt.timedelta(days=periods * milestone.repeat_days)
            occurrence = periods + 1
        status = MilestoneStatus(milestone, due, (due - today).days, occurrence)
        if due >= today:
            upcoming.append(status)
        if last is None or due >= last.due:
            last = status
    if upcoming:
        return min(upcoming, key=lambda s: s.due)
    assert last is not None, "a directive has at least one milestone (schema)"
    return last


def last_deadline_passed(
    directive: Directive, *, today: dt.date, start: dt.date | None = None
) -> Milestone | None:
    """The latest one-off milestone already past on ``today``, if any.

    A host still carrying a covered product after such a date is overdue, even while a
    recurring milestone (BOD 17-01's status report every 30 days) keeps the next date ahead.
    """
    passed = [
        (m, due) for m, due in schedule(directive, start) if not m.repeat_days and due < today
    ]
    return max(passed, key=lambda pair: pair[1])[0] if passed else None
