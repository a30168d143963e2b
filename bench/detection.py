"""Detection quality: recall and precision per observation kind, evict against a naive baseline.

The corpus (bench/detection/corpus.csv, written by make_corpus.py with a source per record)
holds Kaspersky, TikTok and DeepSeek identifiers of every kind and look-alikes from other
vendors; the Windows Package Manager catalogue's 14,586 real names are added as negatives. The
baseline is what a spreadsheet filter does: case-insensitive "kaspersky" in name or publisher
(plus "tiktok"/"deepseek" for those vendors).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from evict.inventory.interface import Kind, Observation
from evict.matching.cache import load_matcher

HERE = Path(__file__).parent


def corpus() -> list[tuple[Observation, str]]:
    """(observation, expected vendor or "") pairs."""
    rows: list[tuple[Observation, str]] = []
    with (HERE / "detection" / "corpus.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            obs = Observation.make(
                Kind(r["kind"]), r["name"], publisher=r["publisher"],
                identifiers=json.loads(r["identifiers"]), source="corpus",
            )  # fmt: skip
            rows.append((obs, r["label"]))
    path = Path(str(resources.files("evict.sample_data") / "winget-index.csv"))
    with path.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            publisher = r["PackageId"].split(".")[0]
            rows.append((Observation.make(Kind.PROGRAM, r["Name"], publisher=publisher), ""))
    return rows


def naive(obs: Observation) -> str:
    """The baseline: a substring of the vendor's name in name or publisher."""
    text = f"{obs.name} {obs.publisher}".lower()
    for needle, vendor in (("kaspersky", "kaspersky"), ("tiktok", "bytedance"),
                           ("deepseek", "deepseek")):  # fmt: skip
        if needle in text:
            return vendor
    return ""


def score(pairs: list[tuple[str, str, str]]) -> dict[str, dict[str, float]]:
    """Per kind: recall, precision, false positives, from (kind, expected, predicted)."""
    by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for kind, expected, predicted in pairs:
        by_kind[kind].append((expected, predicted))
        by_kind["all"].append((expected, predicted))
    out = {}
    for kind, items in sorted(by_kind.items()):
        positives = sum(1 for e, _ in items if e)
        tp = sum(1 for e, p in items if e and p == e)
        fp = sum(1 for e, p in items if p and p != e)
        predicted = sum(1 for _, p in items if p)
        out[kind] = {
            "positives": positives,
            "recall": tp / positives if positives else 1.0,
            "precision": (tp / predicted) if predicted else 1.0,
            "false_positives": fp,
        }
    return out


def run(full: bool) -> dict[str, Any]:
    """Score evict and the baseline on the corpus."""
    matcher = load_matcher()
    rows = corpus()
    hits = matcher.match_distinct([o for o, _ in rows])
    vendor_of = {p.id: p.vendor for p in matcher.catalog.products}
    # Only covered vendors count: an approved protection product (Defender, ClamAV) is matched
    # too, for replacement checks, but it is not a finding.
    covered = {v for d in matcher.catalog.directives for v in d.vendors}
    evict_pairs, naive_pairs, misses, wrong = [], [], [], []
    for (obs, expected), h in zip(rows, hits, strict=True):
        vendors = [vendor_of[x.product] for x in h if vendor_of[x.product] in covered]
        got = vendors[0] if vendors else ""
        evict_pairs.append((obs.kind.value, expected, got))
        naive_pairs.append((obs.kind.value, expected, naive(obs)))
        if expected and got != expected:
            misses.append(f"{obs.kind.value} {obs.name!r} {dict(obs.identifiers)}")
        if got and got != expected:
            wrong.append(f"{obs.kind.value} {obs.name!r} -> {got} ({[x.rule for x in h]})")
    ours, base = score(evict_pairs), score(naive_pairs)
    table = []
    for kind in ours:
        if kind == "all":
            continue
        o, b = ours[kind], base[kind]
        table.append(
            (f"detection {kind} (n+={o['positives']}): recall evict / naive",
             f"{o['recall']:.2f} / {b['recall']:.2f}",
             f"fp {o['false_positives']} / {b['false_positives']}")
        )  # fmt: skip
    o, b = ours["all"], base["all"]
    table.append(("detection ALL: recall evict / naive", f"{o['recall']:.3f} / {b['recall']:.3f}",
                  ">= 0.98"))  # fmt: skip
    table.append(("detection ALL: precision evict / naive",
                  f"{o['precision']:.3f} / {b['precision']:.3f}", "no false positive"))  # fmt: skip
    table.append(("detection ALL: false positives evict / naive",
                  f"{o['false_positives']} / {b['false_positives']}", "0"))  # fmt: skip
    return {
        "records": len(rows),
        "evict": ours,
        "naive": base,
        "missed": misses,
        "false_positives": wrong,
        "table": table,
    }
