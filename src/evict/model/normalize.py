"""Normalisation shared by the catalog and the matcher, so both sides compare alike.

Names lose case (Unicode case folding), compatibility forms (NFKC: full-width letters, ligatures),
trademark signs, architecture tags and version or year tokens: "Kaspersky Anti-Virus 2012",
"KASPERSKY ANTI-VIRUS", and "Kaspersky Anti‑Virus 21.3 (x64)" all become
``kaspersky anti-virus``. Cyrillic stays Cyrillic; localised names are catalog aliases.

:func:`normalize_many` does the same to a whole column at once: it joins the values with newlines
and runs each step over the joined text, so the per-value cost is a few C-level passes rather than
a chain of Python calls. That is what lets one core match a million distinct observations a second.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

_DASHES = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2212": "-", "\u00ae": " ", "\u2122": " ", "\u00a9": " ", "\t": " ",
    }
)  # fmt: skip
# Tokens that carry a version, a year, a build or an architecture rather than a product name.
_NAME_NOISE = re.compile(
    r"(?<![^ \n(\[])"
    r"(?:v?\d+(?:[._\-]\d+)*[a-z]?|(?:sp|mr|r|build|update)\d+[a-z]?"
    r"|x64|x86|amd64|arm64|(?:32|64)-?bit|\(x64\)|\(x86\)|\((?:32|64)-?bit\))"
    r"(?=$|[ \n)\]])",
    re.MULTILINE,
)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_BRACKET_SPACE = re.compile(r"(?<=[(\[]) +| +(?=[)\]])")
_PUBLISHER_PUNCT = re.compile(r"[\"',.]")
_SPACES = re.compile(r"[^\S\n]+")
_EDGES = re.compile(r"^ +| +$", re.MULTILINE)
_SLASHES = re.compile(r"/{2,}")


def normalize(value: str, field: str = "name") -> str:
    """Normalise one value of ``field`` (``name``, ``publisher`` or an identifier key)."""
    return normalize_many((value,), field)[0]


def normalize_many(values: Sequence[str], field: str = "name") -> list[str]:
    """Normalise a column of values of one field; the result lines up with ``values``."""
    if not values:
        return []
    blob = "\n".join(values)
    if "\n" in blob and blob.count("\n") != len(values) - 1:
        blob = "\n".join(v.replace("\n", " ") for v in values)
    if not blob.isascii():
        blob = unicodedata.normalize("NFKC", blob.translate(_DASHES))
    blob = blob.casefold().translate(_DASHES)
    if field == "name":
        blob = _NAME_NOISE.sub(" ", blob)
        blob = _EMPTY_BRACKETS.sub(" ", blob)
    elif field == "publisher":
        blob = _PUBLISHER_PUNCT.sub(" ", blob)
    elif field in ("path", "registry_key"):
        blob = _SLASHES.sub("/", blob.replace("\\", "/"))
    blob = _SPACES.sub(" ", blob)
    if field == "name":
        blob = _BRACKET_SPACE.sub("", blob)
    blob = _EDGES.sub("", blob)
    out = blob.split("\n")
    if len(out) != len(values):  # pragma: no cover - guarded above; kept as a hard invariant
        raise AssertionError("normalisation changed the number of values")
    return out


_WORD = re.compile(r"\w+")


_DASH_CHARS = "\u2010\u2011\u2012\u2013\u2014\u2212"
_COMMON_WORDS = frozenset(
    "free control assistant service services setup console uninstall uninstaller android agent "
    "security server windows linux mac macos for the and app apps com org net www update updater "
    "plus pro premium standard total internet cloud safe kids network web tool tools manager "
    "edition client desktop mobile lite".split()
)


def light_normalize(blob: str) -> str:
    """The cheap part of normalisation: dashes, NFKC and case folding, nothing that moves words.

    Every word (``\\w+``) of :func:`normalize`'s result, and every space-free identifier,
    appears unchanged in this one, which is what lets the matcher find candidates in the light
    form and verify only those.
    """
    for dash in _DASH_CHARS:
        if dash in blob:
            blob = blob.replace(dash, "-")
    return unicodedata.normalize("NFKC", blob).casefold()


def key_token(value: str, field: str = "name", frequency: Mapping[str, int] | None = None) -> str:
    """The literal the automaton looks for to find candidates for a rule value or anchor.

    A space-free identifier is its own key (``com.kms.free``, ``klif.sys``); otherwise the
    rarest word in real software names (``frequency``, word -> count), longest first on a tie,
    that is not a common one: ``kaspersky`` rather than ``security``, ``defender`` rather than
    ``microsoft``.
    """
    if " " not in value and field not in ("path", "registry_key", "publisher"):
        return value
    words: list[str] = _WORD.findall(value)
    if not words:
        return value
    distinctive = [w for w in words if w not in _COMMON_WORDS and not w.isdigit()] or words
    counts = frequency or {}
    return min(distinctive, key=lambda w: (counts.get(w, 0), -len(w)))


def word_frequency(names: Iterable[str]) -> dict[str, int]:
    """How often each word occurs in ``names`` (lightly normalised), to pick rare key tokens."""
    counts: dict[str, int] = {}
    for word in _WORD.findall(light_normalize("\n".join(names))):
        counts[word] = counts.get(word, 0) + 1
    return counts
