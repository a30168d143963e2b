"""The fleet report of one directive: one line per host, with its state and the directive's clock.

Pure: the rows come from the store (or the API), ``today`` from the caller. The CSV and JSON
renderings here are what ``evict report DIRECTIVE --format csv|json`` prints and what
``/api/v1/reports/{directive}.csv|json`` serves; other renderings (HTML, PDF, the directive's own
report documents) build on :func:`report_lines` and :func:`summarise` so the numbers agree.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from evict.catalog.interface import Directive
from evict.compliance.milestones import current_milestone, last_deadline_passed
from evict.model.records import FleetRow
from evict.model.states import OPEN_STATES
from evict.neutral import escape_unsafe, json_dumps
from evict.report.cells import safe_cell

CSV_COLUMNS: tuple[str, ...] = (
    "host",
    "hostname",
    "org_unit",
    "platform",
    "directive",
    "state",
    "products",
    "milestone",
    "due",
    "days_left",
    "overdue",
    "since",
    "last_seen",
)
"""The CSV header, in order. ``host`` and ``state`` are the contract scripts rely on."""


@dataclass(frozen=True, slots=True)
class ReportLine:
    """A :class:`FleetRow` with the directive's clock applied for ``today``."""

    row: FleetRow
    directive: str
    milestone: str
    due: dt.date
    days_left: int
    overdue: bool
    """A covered product is still open on the host and the milestone has passed."""

    def to_json(self) -> dict[str, object]:
        """Render as one object of the JSON report (the same fields as a CSV line)."""
        r = self.row
        return {
            "host": r.host,
            "hostname": r.hostname,
            "org": r.org,
            "org_unit": r.org_unit,
            "platform": r.platform,
            "directive": self.directive,
            "state": r.state,
            "products": list(r.products),
            "milestone": self.milestone,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
            "overdue": self.overdue,
            "since": r.since.isoformat() if r.since else None,
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
        }

    def csv_cells(self) -> list[str]:
        """The cells of one CSV line, in :data:`CSV_COLUMNS` order (the fields of
        :meth:`to_json`: lists joined with ``;``, booleans ``yes``/``no``, None empty)."""
        r = self.row
        return [
            r.host,
            r.hostname,
            r.org_unit,
            r.platform,
            self.directive,
            r.state,
            ";".join(r.products),
            self.milestone,
            self.due.isoformat(),
            str(self.days_left),
            "yes" if self.overdue else "no",
            r.since.isoformat() if r.since else "",
            r.last_seen.isoformat() if r.last_seen else "",
        ]


_OPEN = frozenset(s.value for s in OPEN_STATES)


def is_open(state: str) -> bool:
    """Whether a covered product is still present and work is due in ``state``."""
    return state in _OPEN


@dataclass(frozen=True, slots=True)
class HostMilestone:
    """The milestone one host has not yet met for a directive, on its organisation's clock."""

    name: str
    due: dt.date
    days_left: int
    """Negative once ``due`` has passed."""
    overdue: bool
    """A covered product is still open on the host and a deadline it had to meet has passed."""


def host_milestone(
    directive: Directive, state: str, *, today: dt.date, start: dt.date | None = None
) -> HostMilestone:
    """The one rule for a host's milestone: the report rows and the summaries both count it.

    A host with a covered product open (``identified``, ``planned``, ``removing``) that has let a
    one-off milestone pass has not met it: that milestone, its due date and the (negative) days
    left, overdue — even while a recurring milestone (BOD 17-01's status report every 30 days)
    keeps the directive's next date ahead. Any other host is shown the directive's current
    milestone, not overdue: nothing covered is open on it.
    """
    status = current_milestone(directive, today=today, start=start)
    if is_open(state):
        passed = last_deadline_passed(directive, today=today, start=start)
        if passed is not None:
            due = passed.first_due(start or directive.start)
            return HostMilestone(passed.name, due, (due - today).days, True)
    name = str(status.to_json()["name"])
    return HostMilestone(name, status.due, status.days_left, is_open(state) and status.overdue)


def report_lines(
    rows: Iterable[FleetRow], directive: Directive, *, today: dt.date
) -> Iterator[ReportLine]:
    """Apply the directive's clock (each organisation's own start date) to each row."""
    clocks: dict[tuple[dt.date | None, bool], HostMilestone] = {}
    for row in rows:
        key = (row.start, is_open(row.state))
        clock = clocks.get(key)
        if clock is None:
            clock = clocks[key] = host_milestone(directive, row.state, today=today, start=row.start)
        yield ReportLine(row, directive.id, clock.name, clock.due, clock.days_left, clock.overdue)


CHUNK = 256
"""Host lines a streamed listing writes per chunk."""


def to_csv(lines: Iterable[ReportLine]) -> Iterator[str]:
    """Render report lines as CSV text, header first, then a chunk per :data:`CHUNK` lines
    (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    rest = iter(lines)
    while chunk := list(itertools.islice(rest, CHUNK)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_row(line) for line in chunk)
        yield buffer.getvalue()


_GENERATED = 8
"""The CSV cells from :data:`CSV_COLUMNS`'s ``due`` on are written by evict from dates,
numbers and booleans; those before it hold text from hosts and the store."""


def csv_row(line: ReportLine) -> list[str]:
    """One host's cells of the CSV listing, each made safe for a spreadsheet."""
    cells = line.csv_cells()
    return [safe_cell(c) for c in cells[:_GENERATED]] + cells[_GENERATED:]


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts for one directive: per state, per org unit and state, and overdue hosts."""

    directive: str
    hosts: int
    states: dict[str, int]
    units: dict[str, dict[str, int]]
    overdue: int
    overdue_units: tuple[str, ...]
    milestone: str
    due: dt.date | None
    days_left: int | None

    def to_json(self) -> dict[str, object]:
        """Render for the API and the JSON report."""
        return {
            "directive": self.directive,
            "hosts": self.hosts,
            "states": dict(self.states),
            "org_units": {unit: dict(counts) for unit, counts in self.units.items()},
            "overdue": self.overdue,
            "overdue_org_units": list(self.overdue_units),
            "milestone": self.milestone,
            "due": self.due.isoformat() if self.due else None,
            "days_left": self.days_left,
        }


def summarise_counts(
    counts: Iterable[tuple[str, str, int]],
    directive: Directive,
    *,
    today: dt.date,
    start: dt.date | None = None,
) -> Summary:
    """Summarise ``(org_unit, state, hosts)`` counts (the store computes them in SQL).

    ``start`` is the organisation's own clock (the directive's start date by default). A host is
    overdue when :func:`host_milestone` says so for its state — the same rule the report rows
    apply, so the summary's count is the rows' count; org units holding any are flagged.
    """
    status = current_milestone(directive, today=today, start=start)
    late: dict[bool, bool] = {}
    states: Counter[str] = Counter()
    units: dict[str, Counter[str]] = {}
    overdue = 0
    overdue_units: set[str] = set()
    for unit, state, n in counts:
        states[state] += n
        units.setdefault(unit, Counter())[state] += n
        opened = is_open(state)
        if opened not in late:
            late[opened] = host_milestone(directive, state, today=today, start=start).overdue
        if late[opened] and n:
            overdue += n
            overdue_units.add(unit)
    return Summary(
        directive=directive.id,
        hosts=sum(states.values()),
        states=dict(sorted(states.items())),
        units={u: dict(sorted(c.items())) for u, c in sorted(units.items())},
        overdue=overdue,
        overdue_units=tuple(sorted(overdue_units)),
        milestone=str(status.to_json()["name"]),
        due=status.due,
        days_left=status.days_left,
    )


def summarise(
    lines: Iterable[ReportLine],
    directive: Directive,
    *,
    today: dt.date,
    start: dt.date | None = None,
) -> Summary:
    """Count report lines per org unit and state, as :func:`summarise_counts` does; the overdue
    hosts are the lines marked ``overdue`` (each on its own organisation's clock).

    One pass, holding counts only: ``lines`` may be streamed from the store."""
    counts: Counter[tuple[str, str]] = Counter()
    late = 0
    late_units: set[str] = set()
    for li in lines:
        counts[(li.row.org_unit, li.row.state)] += 1
        if li.overdue:
            late += 1
            late_units.add(li.row.org_unit)
    summary = summarise_counts(
        ((unit, state, n) for (unit, state), n in counts.items()),
        directive,
        today=today,
        start=start,
    )
    return dataclasses.replace(summary, overdue=late, overdue_units=tuple(sorted(late_units)))


def report_json(
    lines: Iterable[ReportLine],
    directive: Directive,
    *,
    today: dt.date,
    generated_at: dt.datetime,
    start: dt.date | None = None,
) -> dict[str, object]:
    """The JSON report: the directive, a summary, and one object per host."""
    materialised = list(lines)
    summary = summarise(materialised, directive, today=today, start=start)
    return {
        "directive": {"id": directive.id, "title": directive.title},
        "generated_at": generated_at.isoformat(),
        "today": today.isoformat(),
        "summary": summary.to_json(),
        "hosts": [line.to_json() for line in materialised],
    }


def summarise_fleet(
    counts: Iterable[tuple[str, str, dt.date | None, int]],
    directive: Directive,
    *,
    today: dt.date,
    start: dt.date | None = None,
) -> Summary:
    """Summarise ``(org_unit, state, organisation's start, hosts)`` counts, as the store counts
    them in SQL (:meth:`~evict.store.store.Store.fleet_counts`), without reading a host.

    The same numbers as :func:`summarise` over the report lines: a host is overdue on its own
    organisation's clock (:func:`host_milestone` for its start and state), so the summary's
    overdue count is the rows' count. ``start`` sets the summary's own milestone line.
    """
    rows = list(counts)
    summary = summarise_counts(
        ((unit, state, n) for unit, state, _, n in rows), directive, today=today, start=start
    )
    late: dict[tuple[dt.date | None, bool], bool] = {}
    overdue = 0
    units: set[str] = set()
    for unit, state, begun, n in rows:
        key = (begun, is_open(state))
        if key not in late:
            late[key] = host_milestone(directive, state, today=today, start=begun).overdue
        if late[key] and n:
            overdue += n
            units.add(unit)
    return dataclasses.replace(summary, overdue=overdue, overdue_units=tuple(sorted(units)))


def _head(
    directive: Directive, summary: Summary, *, today: dt.date, generated_at: dt.datetime
) -> dict[str, object]:
    return {
        "directive": {"id": directive.id, "title": directive.title},
        "generated_at": generated_at.isoformat(),
        "today": today.isoformat(),
        "summary": summary.to_json(),
    }


def stream_json(
    lines: Iterable[ReportLine],
    summary: Summary,
    directive: Directive,
    *,
    today: dt.date,
    generated_at: dt.datetime,
) -> Iterator[str]:
    """The JSON report of :func:`report_json`, as text written a host at a time.

    ``summary`` is counted beforehand (:func:`summarise_fleet`, in SQL), so no host is held:
    the head (directive, times, summary) first, then the ``hosts`` array one object per chunk.
    The text is what :func:`evict.neutral.json_dumps` gives for :func:`report_json`'s dict:
    characters a terminal would act on are written as ``\\uXXXX`` escapes.
    """
    head = json_dumps(_head(directive, summary, today=today, generated_at=generated_at))
    yield head[: -len("\n}")] + ',\n  "hosts": ['
    first = True
    for line in lines:
        host = escape_unsafe(_json_object(line.to_json(), "    "))
        yield ("\n    " if first else ",\n    ") + host
        first = False
    yield "]\n}\n" if first else "\n  ]\n}\n"


def to_jsonl(lines: Iterable[ReportLine]) -> Iterator[str]:
    """JSON Lines: one host a line, the fields of :meth:`ReportLine.to_json` (no summary),
    escaped as :func:`evict.neutral.json_dumps` escapes."""
    for line in lines:
        yield jsonl_line(line)


def jsonl_line(line: ReportLine) -> str:
    """One host's line of the JSON Lines listing."""
    return escape_unsafe(_ONE_LINE.encode(line.to_json())) + "\n"


_ONE_LINE = json.JSONEncoder(ensure_ascii=False)
"""``json.dumps(value, ensure_ascii=False)``, made once (the C encoder)."""
_encode_text: Callable[[str], str] = json.encoder.encode_basestring
"""JSON string literal of a text, non-ASCII kept (the C encoder ``json.dumps`` uses)."""


def _json_value(value: object) -> str:
    if isinstance(value, str):
        return _encode_text(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def _json_object(data: Mapping[str, object], pad: str) -> str:
    """A host's object of a listing as ``json.dumps(data, indent=2, ensure_ascii=False)``
    writes it, every line after the first prefixed by ``pad`` (the object nested in the
    report's ``hosts`` array). Written from its flat fields (text, numbers, booleans, None,
    lists of text) without ``json.dumps``'s indenting encoder, which runs in Python (the JSON
    listing's largest cost)."""
    fields = []
    inner = pad + "  "
    for key, value in data.items():
        if isinstance(value, list):
            if value:
                items = ",\n".join(inner + "  " + _json_value(v) for v in value)
                text = "[\n" + items + "\n" + inner + "]"
            else:
                text = "[]"
        else:
            text = _json_value(value)
        fields.append(inner + _encode_text(key) + ": " + text)
    return "{\n" + ",\n".join(fields) + "\n" + pad + "}"
