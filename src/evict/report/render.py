"""Render a report document in the format asked for: the one place that knows every renderer.

The document model (:mod:`evict.report.interface`) renders itself to JSON and CSV; HTML
(:mod:`evict.report.render_html`) and PDF (:mod:`evict.report.render_pdf`) are renderers of it.
The imports run one way: renderers import the model, this module imports the renderers.
"""

from __future__ import annotations

from evict._util import assert_never
from evict.neutral import json_dumps
from evict.report.interface import Document, Format, to_csv
from evict.report.render_html import render_html
from evict.report.render_pdf import render_pdf


def render(document: Document, fmt: Format) -> bytes:
    """Render a document in ``fmt`` (WeasyPrint is imported only when a PDF is asked for)."""
    if fmt is Format.JSON:
        return (json_dumps(document.to_json()) + "\n").encode()
    if fmt is Format.CSV:
        return to_csv(document).encode()
    if fmt is Format.HTML:
        return render_html(document).encode()
    if fmt is Format.PDF:
        return render_pdf(document)
    assert_never(fmt)
