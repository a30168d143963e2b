"""Detection quality, measured apart on records the rules were not written from.

The corpus (bench/detection/corpus.csv, written by make_corpus.py) holds Kaspersky, TikTok and
DeepSeek identifiers of every kind and look-alikes, each with the document it was taken from
(``key``). A record is *in-sample* when some catalog rule, exclusion or product cites that
document (the rules may have been written from it), *held-out* when none does. Variations made
up for the bench (upper case, localised builds, renamed files) are *derived*; negatives that
name no document are *general*, and the Windows Package Manager catalogue's 14,586 real names
are added as general negatives. Recall, precision and false positives are reported per group,
per observation kind and per directive, with the held-out misses listed; beside them, a naive
baseline (case-insensitive "kaspersky"/"tiktok"/"deepseek" in name or publisher).

Run it with ``make bench`` (or ``.venv/bin/python bench/run.py detection``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from evict.catalog.interface import Catalog
from evict.matching.cache import load_matcher
from evict.matching.engine import Matcher
from evict.model.observations import HostID, Kind, Observation

HERE = Path(__file__).parent
GROUPS = ("in-sample", "held-out", "derived", "general")


class Record:
    """One corpus record: an observation, the vendor expected (or ""), its source and group."""

    __slots__ = ("expected", "group", "key", "observation", "product", "source")

    def __init__(
        self, observation: Observation, expected: str, source: str, key: str, product: str = ""
    ) -> None:
        self.observation = observation
        self.expected = expected
        self.source = source
        self.key = key
        self.product = product
        self.group = ""


def corpus() -> list[Record]:
    """The labelled records, then the winget catalogue's names as general negatives."""
    rows: list[Record] = []
    with (HERE / "detection" / "corpus.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            obs = Observation.make(
                Kind(r["kind"]), r["name"], publisher=r["publisher"],
                identifiers=json.loads(r["identifiers"]), source="corpus",
            )  # fmt: skip
            rows.append(Record(obs, r["label"], r["source"], r["key"], r["product"]))
    path = Path(str(resources.files("evict.sample_data") / "winget-index.csv"))
    with path.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            publisher = r["PackageId"].split(".")[0]
            obs = Observation.make(Kind.PROGRAM, r["Name"], publisher=publisher)
            rows.append(Record(obs, "", "winget-index.csv", "general"))
    return rows


def cited_text(catalog: Catalog) -> str:
    """Everything the catalog cites: rule, exclusion and product sources, lower-cased."""
    parts = [r.source for p in catalog.products for r in p.rules]
    parts += [x.rule.source for x in catalog.exclusions]
    parts += [f"{s.title} {s.url}" for p in catalog.products for s in p.sources]
    parts += [f"{s.title} {s.url}" for v in catalog.vendors for s in v.sources]
    return "\n".join(parts).lower()


def group_of(record: Record, cited: str) -> str:
    """in-sample, held-out, derived or general (see the module docstring)."""
    if record.key in ("derived", "general"):
        return record.key
    return "in-sample" if record.key.lower() in cited else "held-out"


def naive(obs: Observation) -> str:
    """The baseline: a substring of the vendor's name in name or publisher."""
    text = f"{obs.name} {obs.publisher}".lower()
    for needle, vendor in (("kaspersky", "kaspersky"), ("tiktok", "bytedance"),
                           ("deepseek", "deepseek")):  # fmt: skip
        if needle in text:
            return vendor
    return ""


def score(pairs: list[tuple[str, str, str]]) -> dict[str, dict[str, float]]:
    """Per key: records, positives, recall, precision, false positives, from (key, expected,
    predicted) triples; "all" sums every key."""
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, expected, predicted in pairs:
        by_key[key].append((expected, predicted))
        by_key["all"].append((expected, predicted))
    out = {}
    for key, items in sorted(by_key.items()):
        positives = sum(1 for e, _ in items if e)
        tp = sum(1 for e, p in items if e and p == e)
        fp = sum(1 for e, p in items if p and p != e)
        predicted = sum(1 for _, p in items if p)
        out[key] = {
            "records": len(items),
            "positives": positives,
            "recall": round(tp / positives, 4) if positives else None,
            "precision": round(tp / predicted, 4) if predicted else None,
            "false_positives": fp,
        }
    return out


def _without_generated(catalog: Catalog) -> Catalog:
    """The catalog without the rules ``make catalog`` generated (ids ``gen-*``)."""
    products = []
    for p in catalog.products:
        rules = tuple(r for r in p.rules if not r.id.startswith("gen-"))
        if rules:
            products.append(dataclasses.replace(p, rules=rules))
    return dataclasses.replace(catalog, products=tuple(products))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(full: bool) -> dict[str, Any]:
    """Score evict and the baseline on the corpus, per group, kind and directive."""
    matcher = load_matcher()
    catalog = matcher.catalog
    rows = corpus()
    cited = cited_text(catalog)
    for r in rows:
        r.group = group_of(r, cited)
    hits = matcher.match_distinct([r.observation for r in rows])
    vendor_of = {p.id: p.vendor for p in catalog.products}
    # Only covered vendors count: an approved protection product (Defender, ClamAV) is matched
    # too, for replacement checks, but it is not a finding.
    covered = {v for d in catalog.directives for v in d.vendors}
    # A product that exists only to raise a question of scope (Kaspresso, Lemon8, DeepSeek's
    # open weights) is not a detection of a covered product: the organisation decides it.
    asked = {p for q in catalog.questions for p in q.products}
    by_kind: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    by_kind_naive: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    by_directive: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    misses: dict[str, list[str]] = defaultdict(list)
    wrong: dict[str, list[str]] = defaultdict(list)
    for r, h in zip(rows, hits, strict=True):
        obs = r.observation
        vendors = [
            vendor_of[x.product]
            for x in h
            if vendor_of[x.product] in covered and x.product not in asked
        ]
        got = vendors[0] if vendors else ""
        by_kind[r.group].append((obs.kind.value, r.expected, got))
        by_kind_naive[r.group].append((obs.kind.value, r.expected, naive(obs)))
        # Per directive: is the record expected under it, and did evict find it under it?
        embedded = obs.kind is Kind.SBOM_COMPONENT
        found = {
            f.directive
            for f in matcher.findings(HostID("bench"), [(obs, h)])
            if not f.needs_determination
        }
        for d in catalog.directives:
            expected = (
                r.expected in d.vendors
                and (d.embedded or not embedded)
                and r.product not in d.excluded_products
            )
            by_directive[r.group].append(
                (d.id, r.expected if expected else "", r.expected if d.id in found else "")
            )
        described = f"{obs.kind.value} {obs.name!r} {dict(obs.identifiers)} [{r.key}]"
        if r.expected and got != r.expected:
            misses[r.group].append(described)
        if got and got != r.expected:
            wrong[r.group].append(f"{described} -> {got} ({[x.rule for x in h]})")
    groups = {
        g: {
            "kinds": score(by_kind[g]),
            "directives": score(by_directive[g]),
            "naive": score(by_kind_naive[g]),
            "sources": sorted({r.key for r in rows if r.group == g} - {"general", "derived"}),
            "missed": misses[g],
            "false_positives": wrong[g],
        }
        for g in GROUPS
    }
    table = []
    for g in ("in-sample", "held-out"):
        k = groups[g]["kinds"]
        for kind, s in k.items():
            if kind == "all" or not s["positives"]:
                continue
            table.append(
                (f"detection {g} {kind} (n+={s['positives']}): recall / fp",
                 f"{_fmt(s['recall'])} / {s['false_positives']}", "")
            )  # fmt: skip
        a, n = k["all"], groups[g]["naive"]["all"]
        size = f"n+={a['positives']}, n={a['records']}"
        table.append((f"detection {g} ALL ({size}): recall evict / naive",
                      f"{_fmt(a['recall'])} / {_fmt(n['recall'])}", ""))  # fmt: skip
        precision = f"{_fmt(a['precision'])} / {_fmt(n['precision'])}"
        table.append((f"detection {g} ALL: precision evict / naive", precision,
                      "no false positive"))  # fmt: skip
        for d, s in groups[g]["directives"].items():
            if d != "all" and s["positives"]:
                table.append((f"detection {g} {d} (n+={s['positives']}): recall / fp",
                              f"{_fmt(s['recall'])} / {s['false_positives']}", ""))  # fmt: skip
    # The same held-out records against the hand-written rules alone (generated rules removed):
    # what the registries add.
    hand = _without_generated(catalog)
    held = [r for r in rows if r.group == "held-out"]
    hand_hits = Matcher(hand).match_distinct([r.observation for r in held])
    hand_vendor = {p.id: p.vendor for p in hand.products}
    hand_pairs = []
    for r, h in zip(held, hand_hits, strict=True):
        vendors = [
            hand_vendor[x.product]
            for x in h
            if hand_vendor[x.product] in covered and x.product not in asked
        ]
        hand_pairs.append((r.observation.kind.value, r.expected, vendors[0] if vendors else ""))
    hand_score = score(hand_pairs)
    groups["held-out"]["hand_written_only"] = hand_score
    table.append(("detection held-out ALL: recall with generated rules / hand-written only",
                  f"{_fmt(groups['held-out']['kinds']['all']['recall'])} / "
                  f"{_fmt(hand_score['all']['recall'])}", ""))  # fmt: skip
    gen = groups["general"]["kinds"]["all"]
    table.append(("detection general negatives (winget + vendors): false positives",
                  f"{gen['false_positives']} of {gen['records']}", "0"))  # fmt: skip
    return {
        "records": len(rows),
        "groups": groups,
        "table": table,
    }


if __name__ == "__main__":  # pragma: no cover
    result = run(full=False)
    for metric, value, target in result["table"]:
        print(f"{metric:<80} {value:>14} {target}")
    for g in ("in-sample", "held-out"):
        print(f"\n{g} misses:")
        for m in result["groups"][g]["missed"]:
            print("  ", m)
        print(f"{g} false positives:", result["groups"][g]["false_positives"])
