"""Hypothesis strategies that turn a valid sample into structured-but-wrong input.

Each mutation keeps most of the sample intact, so the parser gets past its first checks and the
damage lands deep inside: bytes flipped, integers in binary headers set to extreme values, lines
deleted or repeated, a JSON value of the wrong type, a huge string, nesting far deeper than any
real file, an XML document type with entities, a CSV cell with a formula or an open quote.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from tests.fuzz.fuzzkit import Target

CI_MAX_EXAMPLES = 60
"""The most examples any fuzz test draws under the ``ci`` profile (see ``conftest.py``)."""

FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    # Explaining a failure re-runs it under a line tracer: a parser's loop over a mebibyte of
    # input would then take minutes. The failing input and its traceback are enough.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
    "print_blob": True,
}
"""What both profiles share: no deadline (a parser may take a while on a huge input; the
per-test timeout catches hangs), no health check about large or slow examples, no explain
phase."""


def profile_name() -> str:
    """``ci`` when ``HYPOTHESIS_PROFILE=ci`` or ``CI=true``, else ``fuzz`` (or the one named)."""
    named = os.environ.get("HYPOTHESIS_PROFILE")
    if named:
        return named
    return "ci" if os.environ.get("CI", "").lower() == "true" else "fuzz"


def fuzz_settings(examples: int) -> settings:
    """Settings for one fuzz test drawing ``examples`` (capped under the ``ci`` profile)."""
    profile = settings.get_profile(profile_name())
    return settings(profile, max_examples=min(examples, profile.max_examples))


HUGE = 1 << 20
"""Length of the huge strings spliced in: far past any real field, small enough to stay fast."""

DEEP = 100_000
"""Nesting depth of the deeply nested values spliced in: past Python's recursion limit."""

T = TypeVar("T")


class Draw(Protocol):
    """Hypothesis's ``draw``: a value from a strategy."""

    def __call__(self, strategy: st.SearchStrategy[T], /) -> T: ...


Mutation = Callable[[Draw, bytes], bytes]


def prefix_offsets(size: int, budget: int) -> list[int]:
    """Offsets to cut a sample of ``size`` bytes at: every one, or ``budget`` spread evenly.

    When the sample is too large to cut everywhere, a quarter of the budget (up to 64 offsets
    at each end) goes to the start and the end, where headers and the final record are, and
    where parsers are most often surprised.
    """
    if size <= budget:
        return list(range(size))
    edge = min(64, budget // 8)
    step = size / (budget - 2 * edge)
    spread = {int(i * step) for i in range(budget - 2 * edge)}
    return sorted(spread | set(range(edge)) | set(range(size - edge, size)))


# --- mutations of any bytes -----------------------------------------------------------------------


def flip_bytes(draw: Draw, data: bytes) -> bytes:
    """Change one to eight bytes to other values."""
    if not data:
        return bytes([draw(st.integers(0, 255))])
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(out) - 1))
        out[at] ^= draw(st.integers(1, 255))
    return bytes(out)


_EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def extreme_integer(draw: Draw, data: bytes) -> bytes:
    """Overwrite a 1, 2, 4 or 8-byte field at some offset with an extreme value, in either order.

    Headers of hives, PE and Mach-O files, rpm headers and tar members are counts, sizes and
    offsets: this is the mutation that makes them point past the end or ask for gigabytes.
    """
    if not data:
        return data
    width = draw(st.sampled_from((1, 2, 4, 8)))
    value = draw(st.sampled_from(_EXTREMES)) & ((1 << (8 * width)) - 1)
    if width == 8 and draw(st.booleans()):
        value = 0xFFFFFFFFFFFFFFFF
    order = draw(st.sampled_from("<>"))
    code = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    at = draw(st.integers(0, max(0, len(data) - width)))
    if draw(st.booleans()):
        at -= at % width  # real fields are aligned
    field = struct.pack(order + code, value)
    return data[:at] + field + data[at + width :]


def splice_huge(draw: Draw, data: bytes) -> bytes:
    """Insert a run of about a mebibyte of one character somewhere."""
    at = draw(st.integers(0, len(data)))
    char = draw(st.sampled_from((b"A", b"\x00", b"9", b"\xff", b"[", b"<", b'"', b"\n", b",")))
    return data[:at] + char * HUGE + data[at:]


def cut(draw: Draw, data: bytes) -> bytes:
    """Cut off the end at some offset."""
    return data[: draw(st.integers(0, len(data)))]


def cut_and_repeat(draw: Draw, data: bytes) -> bytes:
    """Repeat a slice of the sample in place (a record written twice, a header seen again)."""
    if not data:
        return data
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 4096)))
    return data[:end] + data[start:end] * draw(st.integers(1, 4)) + data[end:]


# --- mutations of lines ---------------------------------------------------------------------------


def edit_lines(draw: Draw, data: bytes) -> bytes:
    """Delete, duplicate, swap or shuffle lines, or join two (a lost line break)."""
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    op = draw(st.sampled_from(("delete", "duplicate", "swap", "join", "blank", "indent", "crlf")))
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "join":
        lines[i] = lines[i].rstrip(b"\r\n")
    elif op == "blank":
        lines.insert(i, b"\n")
    elif op == "indent":
        lines[i] = b" " + lines[i]
    else:
        lines[i] = lines[i].rstrip(b"\r\n") + b"\r"
    return b"".join(lines)


def garble_line(draw: Draw, data: bytes) -> bytes:
    """Replace one line with text of a similar alphabet: separators, quotes, stray keys."""
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    text = draw(st.text(alphabet=":=,;\t\"'[]{}<>/\\@-+ #abcXYZ019\u00e9\u202e\x00", max_size=80))
    lines[i] = text.encode("utf-8") + b"\n"
    return b"".join(lines)


# --- mutations of JSON ----------------------------------------------------------------------------


def _deep(opening: str, closing: str) -> str:
    return opening * DEEP + closing * DEEP


_WRONG_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    2**63,
    1.5e308,
    "",
    "x" * 300,
    [],
    {},
    [None],
    {"": None},
    ["a", 1, None, {}],
    "=cmd|' /C calc'!A0",
    "\u0000\ufeff\u202e",
    "\ud800 lone surrogate",
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (keys and indexes), the root first."""
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*here, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value[:50]):
            found.extend(_paths(child, (*here, index)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


_PLACEHOLDER = "\u2603fuzz-placeholder\u2603"


def _edit_json_value(draw: Draw, document: Any) -> str:
    """One edit of a parsed JSON document, returned as JSON text."""
    paths = _paths(document)
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(("wrong-type", "delete", "duplicate", "huge", "deep", "number")))
    if op == "delete" and path:
        parent_path, key = path[:-1], path[-1]
        parent = document
        for step in parent_path:
            parent = parent[step]
        trimmed: Any
        if isinstance(parent, dict):
            trimmed = {k: v for k, v in parent.items() if k != key}
        else:
            trimmed = [v for i, v in enumerate(parent) if i != key]
        return json.dumps(_replace(document, parent_path, trimmed))
    if op == "duplicate" and path:
        parent_path, key = path[:-1], path[-1]
        parent = document
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, list):
            grown = [*parent[: key + 1], parent[key], *parent[key + 1 :]]
            return json.dumps(_replace(document, parent_path, grown))
        # a key given twice: JSON allows it, parsers keep the last
        text = json.dumps(_replace(document, path, _PLACEHOLDER))
        pair = f"{json.dumps(key)}: {json.dumps(_PLACEHOLDER)}"
        duplicate = f"{json.dumps(key)}: {json.dumps(parent[key])}"
        return text.replace(pair, f"{duplicate}, {pair}", 1).replace(
            json.dumps(_PLACEHOLDER), json.dumps(draw(st.sampled_from(_WRONG_VALUES)))
        )
    if op == "huge":
        return json.dumps(_replace(document, path, "K" * HUGE))
    if op == "deep":
        text = json.dumps(_replace(document, path, _PLACEHOLDER))
        nested = _deep("[", "]") if draw(st.booleans()) else '{"a":' * DEEP + "null" + "}" * DEEP
        return text.replace(json.dumps(_PLACEHOLDER), nested, 1)
    if op == "number":
        text = json.dumps(_replace(document, path, _PLACEHOLDER))
        number = draw(st.sampled_from(("1" * 5000, "1e99999", "-0", "1.0e-400", "NaN", "Infinity")))
        return text.replace(json.dumps(_PLACEHOLDER), number, 1)
    return json.dumps(_replace(document, path, draw(st.sampled_from(_WRONG_VALUES))))


def edit_json(draw: Draw, data: bytes) -> bytes:
    """Give one value of a JSON document the wrong type, delete or repeat it, or blow it up."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # damaged by an earlier mutation already
        return flip_bytes(draw, data)
    return _edit_json_value(draw, document).encode("utf-8")


def edit_json_lines(draw: Draw, data: bytes) -> bytes:
    """:func:`edit_json` on one line of a JSON-lines file."""
    lines = data.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return data
    i = draw(st.sampled_from(candidates))
    lines[i] = edit_json(draw, lines[i].rstrip(b"\r\n")) + b"\n"
    return b"".join(lines)


# --- mutations of XML -----------------------------------------------------------------------------

_DOCTYPES: tuple[bytes, ...] = (
    b'<!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
    b'"http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
)


_ENCODINGS = (b"UTF-7", b"UTF-9", b"UTF-16", b"UTF-32", b"cp037", b"x-unknown", b"")
"""Encodings an XML declaration may name that expat cannot read, or that lie about the bytes."""


def edit_xml(draw: Draw, data: bytes) -> bytes:
    """Declare another encoding, add a document type with entities, nest elements far too deep,
    or break the markup."""
    ops = ("doctype", "entity-use", "deep", "attribute", "cdata", "tag", "encoding")
    op = draw(st.sampled_from(ops))
    head_end = data.find(b"?>") + 2 if data.startswith(b"<?xml") else 0
    if op == "encoding":
        encoding = draw(st.sampled_from(_ENCODINGS))
        return b'<?xml version="1.0" encoding="' + encoding + b'"?>' + data[head_end:]
    if op == "doctype":
        doctype = draw(st.sampled_from(_DOCTYPES))
        return data[:head_end] + b"\n" + doctype + data[head_end:]
    if op == "entity-use":
        doctype = draw(st.sampled_from(_DOCTYPES[:2]))
        at = data.find(b"</", head_end)
        use = b"&d;" if b"ENTITY d" in doctype else b"&xxe;"
        body = data[:at] + use + data[at:] if at > 0 else data + use
        return body[:head_end] + b"\n" + doctype + body[head_end:]
    if op == "deep":
        at = data.rfind(b"</")
        depth = draw(st.sampled_from((200, 5000, DEEP)))
        nested = b"<a>" * depth + b"</a>" * depth
        return data[:at] + nested + data[at:] if at > 0 else nested
    if op == "attribute":
        at = data.find(b">", head_end)
        return data[:at] + b' huge="' + b"A" * HUGE + b'"' + data[at:] if at > 0 else data
    if op == "cdata":
        at = data.find(b"</", head_end)
        return data[:at] + b"<![CDATA[]]>]]>&#0;&#xD800;" + data[at:] if at > 0 else data
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    lines[i] = lines[i].replace(b"</", b"<", 1).replace(b"<", b"</", 1)
    return b"".join(lines)


# --- mutations of CSV -----------------------------------------------------------------------------

_CELLS = (
    b'"',
    b'"unclosed',
    b'"a""b"',
    b"=cmd|' /C calc'!A0",
    b"@SUM(1+1)",
    b"a,b,c,d,e,f,g,h",
    b'"line\nbreak"',
    b"\xff\xfe",
    b"\x00",
    b"",
)


def edit_csv(draw: Draw, data: bytes) -> bytes:
    """Replace a cell with an open quote, a formula, extra separators or a line break."""
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    separator = next((s for s in (b"\t", b";", b",") if s in line), b",")
    cells = line.rstrip(b"\r\n").split(separator)
    j = draw(st.integers(0, len(cells) - 1))
    cells[j] = draw(st.sampled_from(_CELLS))
    if draw(st.booleans()):
        cells.append(b"extra")
    lines[i] = separator.join(cells) + b"\n"
    return b"".join(lines)


# --- by shape -------------------------------------------------------------------------------------

_BASE: tuple[Mutation, ...] = (flip_bytes, cut, cut_and_repeat, splice_huge)
MUTATIONS: dict[str, tuple[Mutation, ...]] = {
    "binary": (*_BASE, extreme_integer, extreme_integer, extreme_integer),
    "text": (*_BASE, edit_lines, edit_lines, garble_line),
    "csv": (*_BASE, edit_lines, garble_line, edit_csv, edit_csv),
    "json": (*_BASE, edit_json, edit_json, edit_json, edit_lines),
    "jsonl": (*_BASE, edit_json_lines, edit_json_lines, edit_lines, garble_line),
    "xml": (*_BASE, edit_xml, edit_xml, edit_lines, garble_line),
}
"""The mutations used on each shape of input, repeated where they should be picked more often."""


@st.composite
def structured(draw: Draw, target: Target) -> bytes:
    """A seed of ``target`` with one to three mutations fitting its shape applied in turn."""
    data: bytes = draw(st.sampled_from(target.seed_bytes()))
    mutations = MUTATIONS[target.shape]
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from(mutations))
        data = mutation(draw, data)
    return data
