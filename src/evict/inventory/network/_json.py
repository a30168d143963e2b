"""JSON-lines helpers shared by the Zeek and Suricata readers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from evict.inventory.network._reader import LineError


def json_chunk_ok(chunk: bytes, start: int, stop: int, lines: int) -> bool:
    """Every line of ``chunk[start:stop]`` ends with ``}``: the cheap test that no line is cut
    short."""
    return chunk.count(b"}\n", start, stop) == lines


def json_check(line: bytes) -> str | None:
    """Why a JSON line is malformed at a glance (not an object, cut short), or None."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith(b"{"):
        return "not a JSON object"
    if not text.endswith(b"}"):
        return "JSON line cut short (no closing brace)"
    return None


def json_object(line: bytes) -> dict[str, Any] | None:
    """The JSON object of ``line``; None for a blank line; :class:`LineError` otherwise."""
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise LineError(f"invalid JSON: {e}") from e
    if not isinstance(value, dict):
        raise LineError("not a JSON object")
    return value


def timestamp(value: object) -> float | None:
    """A POSIX time from a number or an ISO 8601 string (``...+0000`` or ``...Z`` too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
            text = text[:-2] + ":" + text[-2:]
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None


def text(value: object) -> str:
    """A string field, or ``""`` when it is missing or not a string."""
    return value if isinstance(value, str) else ""
