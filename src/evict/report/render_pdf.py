"""Render a report document as PDF: WeasyPrint lays out the same HTML page, offline.

The page is self-contained; WeasyPrint is still given a URL fetcher that refuses every scheme but
``data:``, so nothing in a report (a hostname, a product name, a profile's text) can make the
renderer reach the network or read a local file.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from evict._util import release_memory
from evict.report.interface import Document, ReportError
from evict.report.render_html import render_html


class RenderError(ReportError):
    """The PDF renderer failed; wraps WeasyPrint's error."""


class FetchRefused(ReportError):
    """A resource the PDF renderer was asked to load: reports load nothing."""


def check_url(url: str) -> None:
    """Raise :class:`FetchRefused` unless ``url`` is a ``data:`` URL."""
    if not url.startswith("data:"):
        raise FetchRefused(f"a report loads nothing from outside itself: refused {url[:200]!r}")


def refusing_fetcher() -> Any:
    """A WeasyPrint URL fetcher for ``data:`` URLs only; http, https, file and the rest are
    refused (WeasyPrint then renders without the resource)."""
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    class RefusingFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            check_url(url)
            return super().fetch(url, headers)

    return RefusingFetcher(allowed_protocols={"data"}, allow_redirects=False)


def render_pdf(document: Document) -> bytes:
    """Render ``document`` as PDF bytes (the HTML rendering, laid out by WeasyPrint)."""
    return html_to_pdf(render_html(document, pdf=True))


@cache
def _fonts() -> Any:
    """One font configuration for every PDF of the process: WeasyPrint otherwise builds a new
    one (its font maps, its caches) for each document, and an evidence bundle lays out
    several."""
    from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

    return FontConfiguration()


def html_to_pdf(html: str) -> bytes:
    """Lay out an HTML page as PDF; :func:`refusing_fetcher` is its only way to load anything."""
    import weasyprint  # type: ignore[import-untyped]

    try:
        pdf = weasyprint.HTML(string=html, url_fetcher=refusing_fetcher(), base_url=None).write_pdf(
            font_config=_fonts()
        )
    except (ValueError, OSError, RuntimeError) as e:
        raise RenderError(f"the PDF could not be rendered: {e}") from e
    finally:
        release_memory()
    assert isinstance(pdf, bytes)
    return pdf
