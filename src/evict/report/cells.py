"""One rule for every CSV evict writes: no cell a spreadsheet would run as a formula.

Host, product and file names come from the hosts themselves, which may be hostile; a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` (OWASP's
advice on CSV injection). A plain number (``-12`` days left) is left as it is. Control, bidi and
separator characters are shown as ``<U+XXXX>`` first (:func:`evict.neutral.neutralise`), so a
cell cannot reverse the text a reader sees or hide a carriage return.
"""

from __future__ import annotations

import re

from evict.neutral import neutralise

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that a spreadsheet shows rather than runs."""
    text = "" if value is None else str(value)
    if not (text.isascii() and text.isprintable()):  # printable ASCII has nothing to neutralise
        text = neutralise(text)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
