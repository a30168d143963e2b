"""The one rule for host text in every text output: controls and bidi shown, JSON kept exact."""

from __future__ import annotations

import json

import pytest
from markupsafe import Markup

from evict.neutral import finalize_html, is_clean, json_dumps, neutralise


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Kaspersky\u202egpj.exe", "Kaspersky<U+202E>gpj.exe"),
        ("\u2066x\u2069\u200e\u061c", "<U+2066>x<U+2069><U+200E><U+061C>"),
        ("a\x00b", "a<U+0000>b"),
        ("a\x1b[31m", "a<U+001B>[31m"),
        ("a\x85b\x9bc\x7f", "a<U+0085>b<U+009B>c<U+007F>"),
        ("a\rb", "a<U+000D>b"),
        ("a\u2028b\u2029", "a<U+2028>b<U+2029>"),
        ("\ud800x", "<U+D800>x"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("Лаборатория Касперского ‘quoted’", "Лаборатория Касперского ‘quoted’"),
    ],
)
def test_controls_and_bidi_are_shown_not_obeyed(raw: str, shown: str) -> None:
    assert neutralise(raw) == shown
    assert is_clean(shown) and is_clean(raw) == (raw == shown)


def test_one_line_keeps_text_from_leaving_its_line() -> None:
    assert neutralise("a\tb\nc\rd", one_line=True) == "a b c<U+000D>d"


def test_json_keeps_the_data_exact_and_shows_nothing_raw() -> None:
    value = {"name": "K\u202e\x00\x85\u2028\ud800 ‘x’ Касперский"}
    text = json_dumps(value)
    assert not set(text) & set("\u202e\x00\x85\u2028\ud800")
    assert "Касперский" in text and "‘x’" in text
    assert json.loads(text) == value


def test_html_finalize_neutralises_text_and_markup() -> None:
    assert finalize_html("a\u202eb") == "a<U+202E>b"
    markup = finalize_html(Markup("<b>a\u202eb</b>"))
    assert isinstance(markup, Markup) and markup == "<b>a&lt;U+202E&gt;b</b>"
    assert finalize_html(3) == 3


def test_dashboard_and_report_pages_neutralise_every_value() -> None:
    from evict.report.render_html import _environment
    from evict.server.views.web import make_environment

    for env in (make_environment(), _environment()):
        page = env.from_string("<td>{{ name }}</td>").render(name="ws\u202egpj.exe<b>")
        assert page == "<td>ws&lt;U+202E&gt;gpj.exe&lt;b&gt;</td>"
