"""Which of a directive's reports exist and which is due, and building one: one builder per
report kind, from :mod:`evict.report.directives.bod_17_01`, ``omb_m_23_13``, ``far`` and
``hosts``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from evict.catalog.interface import Directive
from evict.compliance.milestones import current_milestone
from evict.report.directives.bod_17_01 import day30, day60, status
from evict.report.directives.common import ReportInputs, host_summary
from evict.report.directives.far import far_followup, far_initial
from evict.report.directives.hosts import hosts
from evict.report.directives.omb_m_23_13 import exceptions
from evict.report.fleet import (
    stream_json,
)
from evict.report.fleet import to_csv as fleet_csv
from evict.report.interface import (
    CATALOG_REPORTS,
    EVERY_DIRECTIVE,
    Document,
    Format,
    ReportKind,
    ReportNotAskedError,
)
from evict.report.render import render

# -- which report, and when -----------------------------------------------------------------------


def available(directive: Directive) -> tuple[ReportKind, ...]:
    """The reports ``directive`` has: those its milestones ask for, then hosts and exceptions."""
    asked = [
        CATALOG_REPORTS[m.report]
        for m in directive.milestones
        if m.report and m.report in CATALOG_REPORTS
    ]
    return tuple(dict.fromkeys([*asked, *sorted(EVERY_DIRECTIVE)]))


def default_kind(
    directive: Directive, *, today: dt.date, start: dt.date | None = None
) -> ReportKind:
    """The report due now: the current milestone's; else the next one that asks for a report;
    else the last one that did; else the hosts report."""
    status = current_milestone(directive, today=today, start=start)
    if status.milestone.report in CATALOG_REPORTS:
        return CATALOG_REPORTS[status.milestone.report]
    dated = sorted(
        ((m.first_due(start or directive.start), m) for m in directive.milestones),
        key=lambda pair: pair[0],
    )
    asking = [(due, m) for due, m in dated if m.report in CATALOG_REPORTS]
    ahead = [m for due, m in asking if due >= today]
    if ahead:
        return CATALOG_REPORTS[ahead[0].report]
    if asking:
        return CATALOG_REPORTS[asking[-1][1].report]
    return ReportKind.HOSTS


def build(kind: ReportKind, inputs: ReportInputs) -> Document:
    """Build the report ``kind``; raise :class:`ReportNotAskedError` if the directive has none."""
    if kind not in available(inputs.directive):
        names = ", ".join(k.value for k in available(inputs.directive))
        raise ReportNotAskedError(
            f"{inputs.directive.id} asks for no {kind.value} report (its reports: {names})"
        )
    return BUILDERS[kind](inputs)


def render_report(kind: ReportKind, fmt: Format, inputs: ReportInputs) -> bytes:
    """Build the report ``kind`` and render it in ``fmt``.

    The hosts report's CSV and JSON are the fleet report's own (:mod:`evict.report.fleet`: one
    line per host, the contract scripts rely on); every other rendering is the document's.
    """
    if kind is ReportKind.HOSTS and fmt is Format.CSV:
        return "".join(fleet_csv(inputs.lines)).encode()
    if kind is ReportKind.HOSTS and fmt is Format.JSON:
        summary = host_summary(inputs)
        return "".join(
            stream_json(
                inputs.lines,
                summary,
                inputs.directive,
                today=inputs.today,
                generated_at=inputs.generated_at,
            )
        ).encode()
    return render(build(kind, inputs), fmt)


BUILDERS: dict[ReportKind, Callable[[ReportInputs], Document]] = {
    ReportKind.HOSTS: hosts,
    ReportKind.DAY30: day30,
    ReportKind.DAY60: day60,
    ReportKind.STATUS: status,
    ReportKind.EXCEPTIONS: exceptions,
    ReportKind.FAR_INITIAL: far_initial,
    ReportKind.FAR_FOLLOWUP: far_followup,
}
"""One builder per report kind."""
