"""A directive's clock: the next milestone, recurring reports, an organisation's own start."""

from __future__ import annotations

import datetime as dt

from evict.catalog.interface import Directive, DirectiveID, Milestone, VendorID
from evict.compliance.milestones import current_milestone

D = dt.date
BOD = Directive(
    DirectiveID("bod"), "bod", "DHS", D(2017, 9, 13), D(2017, 9, 13), (VendorID("k"),), False,
    "agencies", "",
    (
        Milestone("identify", "Identify and report (day 30)", "identify", offset_days=30),
        Milestone("plan", "Plan (day 60)", "plan", offset_days=60),
        Milestone("remove", "Begin removal (day 90)", "remove", offset_days=90),
        Milestone("status", "Status report", "report", offset_days=120, repeat_days=30),
    ),
)  # fmt: skip
ONE_OFF = Directive(
    DirectiveID("fixed"), "f", "BIS", D(2024, 6, 24), D(2024, 6, 24), (VendorID("k"),), True,
    "all", "",
    (
        Milestone("a", "No new agreements", "x", date=D(2024, 7, 20)),
        Milestone("b", "No updates", "x", date=D(2024, 9, 29)),
    ),
)  # fmt: skip


def test_day_30_is_next_at_the_start() -> None:
    status = current_milestone(BOD, today=D(2017, 9, 20))
    assert status.milestone.id == "identify"
    assert status.due == D(2017, 10, 13)
    assert status.days_left == 23


def test_due_today_counts_as_upcoming() -> None:
    status = current_milestone(BOD, today=D(2017, 11, 12))
    assert (status.milestone.id, status.days_left) == ("plan", 0)


def test_recurring_status_report_rolls_forward() -> None:
    status = current_milestone(BOD, today=D(2026, 11, 27))
    assert status.milestone.id == "status"
    assert 0 <= status.days_left < 30
    assert (status.due - D(2018, 1, 11)).days % 30 == 0
    assert status.to_json()["name"].startswith("Status report (#")


def test_fixed_dates_all_past_is_overdue() -> None:
    status = current_milestone(ONE_OFF, today=D(2026, 11, 27))
    assert status.milestone.id == "b"
    assert status.overdue and status.days_left == -(D(2026, 11, 27) - D(2024, 9, 29)).days


def test_an_organisation_adopting_late_gets_its_own_clock() -> None:
    status = current_milestone(BOD, today=D(2026, 11, 20), start=D(2026, 11, 1))
    assert (status.milestone.id, status.due, status.days_left) == ("identify", D(2026, 12, 1), 11)


def test_open_hosts_are_late_once_a_one_off_deadline_has_passed() -> None:
    from evict.compliance.milestones import last_deadline_passed
    from evict.report.fleet import summarise_counts

    assert last_deadline_passed(BOD, today=D(2017, 10, 1)) is None
    assert last_deadline_passed(BOD, today=D(2026, 11, 27)).id == "remove"
    counts = [("HQ", "identified", 3), ("HQ", "clean", 10), ("Field", "verified", 2)]
    summary = summarise_counts(counts, BOD, today=D(2026, 11, 27))
    assert summary.days_left >= 0, "the recurring status report is still ahead"
    assert summary.overdue == 3 and summary.overdue_units == ("HQ",)
    early = summarise_counts(counts, BOD, today=D(2017, 9, 20))
    assert early.overdue == 0
