"""The detection bench splits its records by source and finds no false positive in any group.

The bench (bench/detection.py) is what docs/performance.md quotes; these checks keep its corpus
fresh, its held-out group real (records from sources no catalog rule cites) and its
no-false-positive figure true as the catalog grows."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parent.parent.parent / "bench"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load("bench_detection", BENCH / "detection.py")


@pytest.fixture(scope="module")
def result(bench: ModuleType) -> dict:
    return bench.run(full=False)


def test_corpus_is_what_make_corpus_writes() -> None:
    make = _load("bench_make_corpus", BENCH / "detection" / "make_corpus.py")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["kind", "name", "publisher", "identifiers", "label", "source", "key", "product"]
    )
    for kind, name, publisher, ids, label, source, key, product in make.ROWS:
        ids_json = json.dumps(ids, ensure_ascii=False)
        writer.writerow([kind, name, publisher, ids_json, label, source, key, product])
    assert (BENCH / "detection" / "corpus.csv").read_text(encoding="utf-8") == out.getvalue()


def test_held_out_records_come_from_sources_no_rule_cites(bench: ModuleType, result: dict) -> None:
    from evict.catalog.loader import load_catalog

    cited = bench.cited_text(load_catalog())
    held = result["groups"]["held-out"]
    assert held["kinds"]["all"]["positives"] >= 20
    assert held["sources"]
    for key in held["sources"]:
        assert key.lower() not in cited, key
    assert result["groups"]["in-sample"]["kinds"]["all"]["positives"] >= 100


def test_no_false_positive_in_any_group(result: dict) -> None:
    for name, group in result["groups"].items():
        assert group["false_positives"] == [], name
        assert group["kinds"]["all"]["false_positives"] == 0, name


def test_held_out_misses_are_listed_and_scored(result: dict) -> None:
    held = result["groups"]["held-out"]
    scored = held["kinds"]["all"]
    assert len(held["missed"]) == scored["positives"] - round(
        scored["recall"] * scored["positives"]
    )
    assert {"bod-17-01", "ndaa-fy18-1634"} <= set(held["directives"])
