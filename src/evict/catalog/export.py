"""The catalog as plain JSON-ready data, for ``evict catalog`` and the API."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from typing import Any

from evict.catalog.interface import Catalog, Question


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def catalog_json(catalog: Catalog) -> dict[str, Any]:
    """Directives, vendors, products (without rule bodies) and exclusions."""
    return {
        "version": catalog.version,
        "directives": [_plain(d) for d in catalog.directives],
        "vendors": [_plain(v) for v in catalog.vendors],
        "products": [
            {
                "id": p.id,
                "vendor": p.vendor,
                "name": p.name,
                "category": p.category,
                "platforms": list(p.platforms),
                "rules": len(p.rules),
                "sources": sorted({r.source for r in p.rules} | {s.title for s in p.sources}),
            }
            for p in catalog.products
        ],
        "exclusions": [
            {"id": x.id, "reason": x.reason, "source": x.rule.source} for x in catalog.exclusions
        ],
        "questions": [question_json(q) for q in catalog.questions],
    }


def question_json(question: Question) -> dict[str, Any]:
    """A question of scope in full: what it applies to, the question, and the cited text."""
    return {
        "id": question.id,
        "title": question.title,
        "directives": list(question.directives),
        "applies_to": {
            "products": list(question.products),
            "vendors": list(question.vendors),
            "embedded": question.embedded,
        },
        "question": question.question,
        "covered_means": question.covered_means,
        "not_covered_means": question.not_covered_means,
        "citations": [_plain(c) for c in question.citations],
        "note": question.note,
    }


def entry_json(catalog: Catalog, entry_id: str) -> dict[str, Any] | None:
    """One directive, vendor, product, exclusion or question in full (id case ignored), or
    None."""
    folded = entry_id.casefold()
    for exact in (True, False):
        for group, item in _entries(catalog):
            if item.id == entry_id if exact else item.id.casefold() == folded:
                body = question_json(item) if group == "question" else _plain(item)
                return {"type": group, **body}
    return None


def entry_ids(catalog: Catalog) -> list[str]:
    """Every id ``entry_json`` can show, for suggestions."""
    return [item.id for _, item in _entries(catalog)]


def _entries(catalog: Catalog) -> Iterator[tuple[str, Any]]:
    for group, items in (
        ("directive", catalog.directives),
        ("vendor", catalog.vendors),
        ("product", catalog.products),
        ("exclusion", catalog.exclusions),
        ("question", catalog.questions),
    ):
        for item in items:
            yield group, item
