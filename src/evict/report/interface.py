"""What a directive's report is: a document of sections, each with the directive's own fields.

Builders (:mod:`evict.report.directives`) turn fleet data into a :class:`Document`; one document
renders to JSON and CSV (here), HTML (:mod:`evict.report.render_html`) and PDF
(:mod:`evict.report.render_pdf`), so every format carries the same fields and the same numbers;
:func:`evict.report.render.render` picks the renderer by format. The renderers import this
module, never the other way round.

A :class:`Field` whose value the organisation has not given (a point of contact, costs) keeps
``None`` and renders as ``NOT PROVIDED — required by ...``: a report shows what is missing, it
never leaves a required element out.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
from dataclasses import dataclass

from evict.errors import EvictError, InputError
from evict.report.cells import safe_cell

NOT_PROVIDED = "NOT PROVIDED"
"""How a value the organisation has not given is shown."""


class ReportKind(enum.StrEnum):
    """The reports evict writes; each but ``hosts`` and ``exceptions`` belongs to a milestone."""

    HOSTS = "hosts"
    """One line per host with its state and the directive's clock (the fleet report)."""
    DAY30 = "day30"
    """BOD 17-01 §1: products found (or none), endpoints per product, methodologies."""
    DAY60 = "day60"
    """BOD 17-01 §2: the plan of action, elements a to n."""
    STATUS = "status"
    """BOD 17-01 §3: progress every 30 days after day 90."""
    EXCEPTIONS = "exceptions"
    """Every waiver, as OMB M-23-13 asks agencies to document each exception."""
    FAR_INITIAL = "far-initial"
    """FAR 52.204-23(c)(2)(i): the contractor's report within 3 business days."""
    FAR_FOLLOWUP = "far-followup"
    """FAR 52.204-23(c)(2)(ii): the follow-up within 10 business days."""


CATALOG_REPORTS: dict[str, ReportKind] = {
    "bod-17-01-day30": ReportKind.DAY30,
    "bod-17-01-day60": ReportKind.DAY60,
    "bod-17-01-status": ReportKind.STATUS,
    "omb-m-23-13-exceptions": ReportKind.EXCEPTIONS,
    "far-52-204-23-initial": ReportKind.FAR_INITIAL,
    "far-52-204-23-followup": ReportKind.FAR_FOLLOWUP,
}
"""The catalog's milestone ``report`` keys, and the report each one asks for."""

EVERY_DIRECTIVE: frozenset[ReportKind] = frozenset({ReportKind.HOSTS, ReportKind.EXCEPTIONS})
"""Reports any directive has: its hosts, and its waivers."""


class Format(enum.StrEnum):
    """The formats a document renders to."""

    CSV = "csv"
    JSON = "json"
    HTML = "html"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        """The HTTP media type of this format."""
        return {
            "csv": "text/csv; charset=utf-8",
            "json": "application/json",
            "html": "text/html; charset=utf-8",
            "pdf": "application/pdf",
        }[self.value]


class ReportError(EvictError):
    """Base error of the reports."""


class ReportNotAskedError(ReportError):
    """A report the directive does not ask for (a FAR report of BOD 17-01, say)."""


class BlanketExceptionError(ReportError):
    """A waiver that does not name exactly one host: M-23-13 forbids blanket exceptions."""


class ProfileError(InputError, ReportError):
    """An organisation profile that cannot be read; names the file and the key or line."""


Value = str | int | None
"""A cell or field value: text, a count, or None when the organisation has not given it."""


@dataclass(frozen=True, slots=True)
class Field:
    """One element a directive asks for, under the directive's own name."""

    name: str
    value: Value
    """None when the organisation has not provided it."""
    required_by: str = ""
    """Where the directive asks for it (``BOD 17-01 §2.b``), shown when the value is missing."""

    def text(self) -> str:
        """The value as shown in every format."""
        if self.value is None:
            return missing(self.required_by)
        return str(self.value)


def missing(required_by: str) -> str:
    """The text shown for a value not provided."""
    return f"{NOT_PROVIDED} — required by {required_by}" if required_by else NOT_PROVIDED


@dataclass(frozen=True, slots=True)
class Table:
    """Rows under the directive's own column names; the first column identifies a row."""

    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    note: str = ""
    per_host: bool = False
    """One row per endpoint (a bounded sample): the PDF names no host, it says how many rows
    the JSON and CSV renderings hold (a document meant to be read counts; the per-host annex
    lists)."""


@dataclass(frozen=True, slots=True)
class Section:
    """One numbered element of a directive's report (``1.a``, ``2.j``, ``(c)(2)(i)``)."""

    id: str
    title: str
    """The directive's own wording of the element."""
    fields: tuple[Field, ...] = ()
    statements: tuple[str, ...] = ()
    """Sentences the report asserts (a negative attestation is one)."""
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """One report of one directive for one organisation (or one of its org units), as of a day."""

    kind: ReportKind
    title: str
    directive: str
    directive_title: str
    authority: str
    organisation: str
    scope: str
    """The org unit reported on, or ``all org units``."""
    today: dt.date
    generated_at: dt.datetime
    milestone: str
    due: dt.date | None
    catalog_version: str
    submit_to: str
    sections: tuple[Section, ...]

    def header(self) -> tuple[Field, ...]:
        """The facts every report opens with, as fields."""
        return (
            Field("Report", self.title),
            Field("Directive", f"{self.directive}: {self.directive_title}"),
            Field("Authority", self.authority),
            Field("Organisation", self.organisation),
            Field("Scope", self.scope),
            Field("As of", self.today.isoformat()),
            Field("Milestone", self.milestone),
            Field("Due", self.due.isoformat() if self.due else ""),
            Field("Submit to", self.submit_to),
            Field("Catalog version", self.catalog_version),
            Field("Generated at", self.generated_at.isoformat()),
        )

    def to_json(self) -> dict[str, object]:
        """Render as one JSON object: the header, then each section with its fields and tables."""
        return {
            "report": self.kind.value,
            "title": self.title,
            "directive": {
                "id": self.directive,
                "title": self.directive_title,
                "authority": self.authority,
            },
            "organisation": self.organisation,
            "scope": self.scope,
            "today": self.today.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "milestone": {
                "name": self.milestone,
                "due": self.due.isoformat() if self.due else None,
            },
            "submit_to": self.submit_to,
            "catalog_version": self.catalog_version,
            "sections": [
                {
                    "id": s.id,
                    "title": s.title,
                    "fields": [
                        {
                            "name": f.name,
                            "value": f.value,
                            "provided": f.value is not None,
                            **({"required_by": f.required_by} if f.value is None else {}),
                        }
                        for f in s.fields
                    ],
                    "statements": list(s.statements),
                    "tables": [
                        {
                            "id": t.id,
                            "title": t.title,
                            "note": t.note,
                            "rows": [dict(zip(t.columns, row, strict=True)) for row in t.rows],
                        }
                        for t in s.tables
                    ],
                }
                for s in self.sections
            ],
        }


CSV_COLUMNS: tuple[str, ...] = ("section", "table", "row", "field", "value")
"""The header of a document's CSV: one fact per line."""


def to_csv(document: Document) -> str:
    """Render as CSV, one fact per line: ``section, table, row, field, value``.

    Header facts come under section ``report``; a field under its section; a statement as the
    field ``statement``; each table cell under its table id, the row named by the table's first
    column. Every number of the HTML and PDF renderings is a line here.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in document.header():
        writer.writerow(("report", "", "", f.name, safe_cell(f.text())))
    for s in document.sections:
        for f in s.fields:
            writer.writerow((s.id, "", "", f.name, safe_cell(f.text())))
        for statement in s.statements:
            writer.writerow((s.id, "", "", "statement", safe_cell(statement)))
        for t in s.tables:
            for row in t.rows:
                key = "" if row[0] is None else str(row[0])
                for column, value in zip(t.columns[1:], row[1:], strict=True):
                    text = "" if value is None else str(value)
                    writer.writerow((s.id, t.id, safe_cell(key), column, safe_cell(text)))
    return buffer.getvalue()
