"""Render a report document as one self-contained HTML page (Jinja2, autoescaped).

Every value the page shows is neutralised before it is escaped (control and bidi characters a host
sent appear as ``<U+XXXX>``, :func:`evict.neutral.finalize_html`); the PDF is laid out from it.

The page carries its own stylesheet and loads nothing, so it reads the same offline, in a mail
attachment, and in the PDF WeasyPrint makes from it (:mod:`evict.report.render_pdf`). Tables
longer than :data:`MAX_ROWS` show their first rows and say how many the CSV and JSON hold: a
fleet's per-host listing would otherwise run to thousands of pages; every count is shown in full.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from evict import __version__
from evict.neutral import finalize_html
from evict.report.interface import NOT_PROVIDED, Document, Table, Value

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

MAX_ROWS = 1000
"""Rows of one table shown in HTML and PDF; the CSV and JSON hold them all."""


@cache
def _environment() -> jinja2.Environment:
    # Jinja: only when HTML is rendered
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evict.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize_html,
    )
    env.filters["cell"] = _cell
    env.filters["css_string"] = _css_string
    env.tests["missing"] = _is_missing
    return env


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return value


def _css_string(text: str) -> Markup:
    """Text for a CSS string in the page's stylesheet: anything but letters, digits and a few
    safe marks becomes a CSS escape (the space after one ends it), since a stylesheet decodes
    no HTML entities."""
    # only when HTML is rendered
    from markupsafe import Markup

    safe = " .-_,:()"
    return Markup("".join(c if c.isalnum() or c in safe else f"\\{ord(c):06x} " for c in text))


def _is_missing(text: object) -> bool:
    return isinstance(text, str) and text.startswith(NOT_PROVIDED)


def shown_rows(table: Table, *, pdf: bool = False) -> tuple[tuple[Value, ...], ...]:
    """The rows of ``table`` an HTML or PDF page shows (a PDF: none of a per-host table)."""
    if pdf and table.per_host:
        return ()
    return table.rows[:MAX_ROWS]


def render_html(document: Document, *, pdf: bool = False) -> str:
    """Render ``document`` as a complete HTML page (``pdf``: the page WeasyPrint lays out,
    which lists no host: each per-host table's rows are counted, not shown)."""
    template = _environment().get_template("report.html")
    return template.render(
        doc=document,
        header=document.header(),
        max_rows=MAX_ROWS,
        shown_rows=lambda t: shown_rows(t, pdf=pdf),
        pdf=pdf,
        version=__version__,
    )
