"""Text from hosts, made safe to show: one rule for every text output evict writes.

Host, product, file and service names come from the hosts themselves, and an enrolled host may be
hostile. Shown raw, some characters change what a reader sees rather than what is there: bidi
controls (U+202E turns ``exe.txt`` into ``txt.exe`` on screen), C0 and C1 controls (terminal
escape sequences, a carriage return that overwrites a line, NUL), Unicode line and paragraph
separators (a new line to YAML and to some editors), and lone surrogates (no UTF-8 form at all).

:func:`neutralise` replaces each of them with a visible ``<U+XXXX>``, so a report, a CSV cell,
a terminal table or a comment in a plan shows that the character was there without acting on
it. :func:`json_dumps` keeps data exact instead: JSON writes them as ``\\uXXXX`` escapes, which
decode to the same string. The CSV, HTML, PDF, terminal and plan renderers all use these two;
:func:`one_line` also folds white space, for comments, labels and messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""The Unicode bidirectional formatting characters (Unicode Standard Annex #9, table 4)."""

_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and line feed, DEL, C1 (NEL included)
    + BIDI
    + "\u2028\u2029"  # line and paragraph separators
    + "\ufeff"  # zero width no-break space (a byte order mark in mid-text)
    + "\ud800-\udfff"  # lone surrogates
)
UNSAFE = re.compile(f"[{_UNSAFE}]")
"""One character :func:`neutralise` replaces (tab and line feed are kept)."""
_UNSAFE_LINE = re.compile(f"[\t\n{_UNSAFE}]")


def _visible(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def neutralise(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control, bidi, separator and surrogate character shown as ``<U+XXXX>``.

    Tab and line feed are kept, unless ``one_line``: then they become spaces too, so the text
    cannot leave a comment, a log line or a table cell.
    """
    if one_line:
        text = _UNSAFE_LINE.sub(lambda m: " " if m.group() in "\t\n" else _visible(m), text)
        return text
    return UNSAFE.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` on one line, for comments, labels and messages: runs of white space (line breaks
    of every kind included) become one space, and control and bidi characters are shown as
    ``<U+XXXX>`` (:func:`evict.neutral.neutralise`)."""
    return neutralise(" ".join(text.split()), one_line=True)


def is_clean(text: str) -> bool:
    """Whether :func:`neutralise` leaves ``text`` as it is."""
    return UNSAFE.search(text) is None


def finalize_html(value: object) -> object:
    """A Jinja ``finalize`` for autoescaped HTML: text is neutralised before it is escaped;
    markup a filter built (already escaped) gets the same ``<U+XXXX>``, written as entities."""
    from markupsafe import Markup  # a Jinja dependency: loaded only where pages are rendered

    if isinstance(value, Markup):
        return Markup(UNSAFE.sub(lambda m: f"&lt;U+{ord(m.group()):04X}&gt;", value))
    if isinstance(value, str):
        return neutralise(value)
    return value


def json_dumps(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as JSON (non-ASCII text kept readable), the characters :func:`neutralise` would
    replace written as ``\\uXXXX`` escapes: the data stays exact and shows nothing raw."""
    return escape_unsafe(json.dumps(value, indent=indent, ensure_ascii=False))


def escape_unsafe(text: str) -> str:
    """JSON ``text`` with the characters :func:`neutralise` would replace written as
    ``\\uXXXX`` escapes (what :func:`json_dumps` does to the JSON it writes)."""
    # Outside strings JSON has only ASCII punctuation and whitespace, so every match is inside a
    # string, where the escape means the same character.
    return UNSAFE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
