"""Rendering a report: escaped HTML, a PDF renderer that loads nothing, long tables cut in HTML."""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import io
import json
import threading
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup

from evict.report.interface import (
    Document,
    Field,
    Format,
    ReportKind,
    Section,
    Table,
    to_csv,
)
from evict.report.render import render
from evict.report.render_html import MAX_ROWS, render_html
from evict.report.render_pdf import FetchRefused, html_to_pdf, refusing_fetcher

HOSTILE_HOST = '<script>alert("owned")</script>'
HOSTILE_ORG = 'Acme"; } body { display: none } x { content: "'


def document(rows: int = 2, organisation: str = "DHS") -> Document:
    return Document(
        kind=ReportKind.DAY30,
        title="A report",
        directive="bod-17-01",
        directive_title="Removal of Kaspersky-branded Products",
        authority="DHS",
        organisation=organisation,
        scope="all org units",
        today=dt.date(2026, 1, 30),
        generated_at=dt.datetime(2026, 1, 30, 12, tzinfo=dt.UTC),
        milestone="Identify and report (day 30)",
        due=dt.date(2026, 1, 31),
        catalog_version="sha256:0123456789abcdef",
        submit_to="FNR.BOD@hq.dhs.gov",
        sections=(
            Section(
                "2.b",
                "Point of contact",
                fields=(Field("Name", None, "BOD 17-01 §2.b"), Field("Endpoints", 3)),
                statements=("No <b>Kaspersky</b>-branded products were found.",),
                tables=(
                    Table(
                        "hosts",
                        "Hosts",
                        ("Host", "Products", "Endpoints"),
                        tuple(
                            (HOSTILE_HOST if n == 0 else f"ws-{n}", "=cmd|'/C calc'!A0", n)
                            for n in range(rows)
                        ),
                    ),
                ),
            ),
        ),
    )


def test_html_escapes_what_hosts_and_organisations_report() -> None:
    html = render_html(document(organisation=HOSTILE_ORG))
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None
    assert soup.find("b") is None
    cells = [td.get_text() for td in soup.select("table.data td")]
    assert HOSTILE_HOST in cells
    # the organisation reaches the stylesheet (the PDF's page footer) only as CSS escapes
    style = soup.find("style").get_text()
    assert "display: none" in style  # the escaped text is inert, still readable
    assert 'Acme"' not in style and "Acme\\000022 " in style


def test_a_missing_field_is_shown_as_not_provided_and_marked() -> None:
    soup = BeautifulSoup(render_html(document()), "html.parser")
    missing = soup.select("td.missing")
    assert [td.get_text() for td in missing] == ["NOT PROVIDED — required by BOD 17-01 §2.b"]


def test_csv_and_json_carry_every_fact_and_keep_formulas_inert() -> None:
    doc = document()
    lines = list(csv.DictReader(io.StringIO(to_csv(doc))))
    assert {"section": "2.b", "table": "", "row": "", "field": "Name"}.items() <= lines[11].items()
    products = [r["value"] for r in lines if r["field"] == "Products"]
    assert products == ["'=cmd|'/C calc'!A0"] * 2
    data = json.loads(render(doc, Format.JSON))
    (section,) = data["sections"]
    assert section["fields"][0] == {
        "name": "Name",
        "value": None,
        "provided": False,
        "required_by": "BOD 17-01 §2.b",
    }
    assert section["tables"][0]["rows"][1] == {
        "Host": "ws-1",
        "Products": "=cmd|'/C calc'!A0",
        "Endpoints": 1,
    }


def test_a_long_table_is_cut_in_html_and_says_where_the_rest_is() -> None:
    soup = BeautifulSoup(render_html(document(rows=MAX_ROWS + 5)), "html.parser")
    assert len(soup.select("table.data tbody tr")) == MAX_ROWS
    note = soup.select("p.note")[0].get_text()
    assert f"first {MAX_ROWS} of {MAX_ROWS + 5} rows" in note
    assert len(list(csv.DictReader(io.StringIO(to_csv(document(rows=MAX_ROWS + 5)))))) > MAX_ROWS


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/pixel.png",
        "https://example.com/style.css",
        "file:///etc/passwd",
        "ftp://example.com/x",
    ],
)
def test_the_pdf_renderer_fetches_nothing_but_data_urls(url: str) -> None:
    fetcher = refusing_fetcher()
    with pytest.raises(FetchRefused, match="refused"):
        fetcher(url)
    assert fetcher("data:text/plain,hello").read() == b"hello"


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_pdf_with_links_to_the_network_renders_without_touching_it(
    listener: tuple[str, list[str]],
) -> None:
    base, hits = listener
    html = (
        f'<html><head><link rel="stylesheet" href="{base}/style.css">'
        f'<style>@import url("{base}/import.css");'
        f" body {{ background: url({base}/bg.png) }}</style>"
        f'</head><body><p>report</p><img src="{base}/pixel.png">'
        '<img src="file:///etc/passwd"></body></html>'
    )
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert hits == []


def test_a_pdf_renders_from_the_document() -> None:
    pdf = render(document(organisation=HOSTILE_ORG), Format.PDF)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
