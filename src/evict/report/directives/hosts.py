"""The fleet report as a document: counts by state and org unit, and a bounded sample of the
hosts (the hosts report's CSV, JSON and JSON Lines list every one)."""

from __future__ import annotations

from evict.report.directives.common import (
    ReportInputs,
    _counts,
    _document,
    _sample,
    _sampled,
    _state_table,
    determinations_section,
)
from evict.report.fleet import (
    CSV_COLUMNS,
    host_milestone,
)
from evict.report.interface import (
    Document,
    Field,
    ReportKind,
    Section,
    Table,
)

# -- the fleet report as a document ---------------------------------------------------------------


def hosts(inputs: ReportInputs) -> Document:
    """The fleet report: counts by state and org unit, then one line per host."""
    counts = _counts(inputs)
    late = {
        state: host_milestone(
            inputs.directive, state, today=inputs.today, start=inputs.start
        ).overdue
        for state in counts.states()
    }
    overdue = sum(g.hosts for g in counts.groups if late[g.state])
    shown = _sample(inputs, None)
    rows = tuple(tuple(line.csv_cells()) for line in shown)
    return _document(
        inputs,
        ReportKind.HOSTS,
        f"{inputs.directive.id}: every host's state",
        "",
        [
            Section(
                "summary",
                "Endpoints by state and org unit",
                fields=(Field("Endpoints", counts.hosts()), Field("Overdue", overdue)),
                tables=(_state_table(inputs, "states", "Endpoints by state and org unit"),),
            ),
            Section(
                "hosts",
                "One line per host",
                statements=_sampled(len(shown), counts.hosts(), "host"),
                tables=(Table("hosts", "Hosts", CSV_COLUMNS, rows),),
            ),
            determinations_section(inputs),
        ],
    )
