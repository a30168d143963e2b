"""The matcher: the catalog compiled into indexes, run over distinct observations.

Compilation builds, per observation field, a dict from normalised value to rules (``equals``
rules) and one Aho-Corasick automaton holding every pattern rule's literal anchor. Matching works
a column at a time: all names of a batch are normalised in one pass, looked up in the dict, and
scanned by the automaton as one text; the regular expression of a pattern rule runs only on the
few values where its anchor occurs. Nothing here reads a file or a clock.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from evict.catalog.interface import Catalog, Directive, Product, ProductID, Rule, VendorID
from evict.inventory.interface import HostID, HostInventory, Kind, Observation
from evict.matching.interface import Evidence, Finding, Hit
from evict.matching.normalize import key_token, light_normalize, normalize_many

_CHUNK = 2048
"""Values per automaton pass: small enough that locating a hit's line is cheap."""

_DistinctKey = tuple[Kind, str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    product: ProductID | None
    """None for an exclusion rule."""
    exclusion: int
    """Index into the exclusions, or -1 for a product rule."""
    kinds: frozenset[str]
    regex: re.Pattern[str] | None


def distinct_key(observation: Observation) -> _DistinctKey:
    """What matching depends on: two observations with the same key get the same hits."""
    o = observation
    return (o.kind, o.name, o.publisher, o.identifiers)


class Matcher:
    """A catalog compiled for matching. Build once; call :meth:`match_distinct` many times."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._products = {p.id: p for p in catalog.products}
        self._compiled: list[_Compiled] = []
        self._exact: dict[str, dict[str, list[int]]] = defaultdict(dict)
        self._automaton = ahocorasick.Automaton()
        words: dict[str, list[tuple[str, int]]] = defaultdict(list)

        def add(rule: Rule, product: ProductID | None, exclusion: int) -> None:
            index = len(self._compiled)
            regex = re.compile(rule.pattern) if rule.pattern else None
            self._compiled.append(_Compiled(rule, product, exclusion, frozenset(rule.kinds), regex))
            for value in rule.equals:
                self._exact[rule.field].setdefault(value, []).append(index)
                words[key_token(value)].append((rule.field, index))
            if rule.anchor:
                words[key_token(rule.anchor)].append((rule.field, index))

        for product in catalog.products:
            for rule in product.rules:
                add(rule, product.id, -1)
        for i, exclusion in enumerate(catalog.exclusions):
            add(exclusion.rule, None, i)
        for word, payload in words.items():
            self._automaton.add_word(word, tuple(dict.fromkeys(payload)))
        if words:
            self._automaton.make_automaton()
        self._fields = sorted({f for p in words.values() for f, _ in p})
        self._ident_fields = frozenset(self._fields) - {"name", "publisher"}
        self._generic = {p.id for p in catalog.products if p.generic}
        self._vendor_of = {p.id: p.vendor for p in catalog.products}

    @property
    def rule_count(self) -> int:
        """How many rules (product rules and exclusions) were compiled."""
        return len(self._compiled)

    def match_distinct(self, observations: Sequence[Observation]) -> list[tuple[Hit, ...]]:
        """Match each observation once; the result lines up with ``observations``.

        Callers should pass distinct observations (see :func:`distinct_key`); duplicates cost
        time but not correctness.
        """
        fired: dict[int, set[int]] = {}
        columns: dict[str, tuple[list[int] | None, list[str]]] = {}
        if "name" in self._fields:
            columns["name"] = (None, [o.name for o in observations])
        if "publisher" in self._fields:
            columns["publisher"] = (None, [o.publisher for o in observations])
        if self._ident_fields:
            wanted = self._ident_fields
            by_key: dict[str, tuple[list[int], list[str]]] = {}
            for i, o in enumerate(observations):
                for key, value in o.identifiers:
                    if key in wanted:
                        entry = by_key.get(key)
                        if entry is None:
                            entry = by_key[key] = ([], [])
                        entry[0].append(i)
                        entry[1].append(value)
            columns.update(by_key)
        for field, (rows, values) in columns.items():
            self._match_column(field, rows, values, observations, fired)
        result: list[tuple[Hit, ...]] = [()] * len(observations)
        for row, indexes in fired.items():
            result[row] = self._resolve(indexes)
        return result

    def _match_column(
        self,
        field: str,
        rows: list[int] | None,
        values: list[str],
        observations: Sequence[Observation],
        fired: dict[int, set[int]],
    ) -> None:
        """Find candidates with the automaton over the whole column, then verify each one.

        The automaton looks for each rule's key token (its longest word) in a lightly
        normalised copy of the column: case-folded and, when needed, NFKC. Every word of a fully
        normalised value survives that light pass unchanged, so no match is missed; only the
        few candidate values are then fully normalised and checked against the exact index or
        the rule's regular expression.
        """
        if not values:
            return
        exact = self._exact.get(field, {})
        compiled = self._compiled
        automaton = self._automaton
        for offset in range(0, len(values), _CHUNK):
            chunk = values[offset : offset + _CHUNK]
            blob = "\n".join(chunk)
            if blob.count("\n") != len(chunk) - 1:
                blob = "\n".join(v.replace("\n", " ") for v in chunk)
            light = blob.casefold() if blob.isascii() else light_normalize(blob)
            full: dict[int, str] = {}
            for end, payload in automaton.iter(light):
                j = offset + light.count("\n", 0, end)
                for rule_field, index in payload:
                    if rule_field != field:
                        continue
                    row = j if rows is None else rows[j]
                    c = compiled[index]
                    if c.kinds and observations[row].kind.value not in c.kinds:
                        continue
                    value = full.get(j)
                    if value is None:
                        value = full[j] = normalize_many((values[j],), field)[0]
                    if c.regex is not None:
                        if not c.regex.search(value):
                            continue
                    elif index not in exact.get(value, ()):
                        continue
                    fired.setdefault(row, set()).add(index)

    def _resolve(self, indexes: set[int] | None) -> tuple[Hit, ...]:
        if not indexes:
            return ()
        compiled = self._compiled
        suppressed_vendors: set[VendorID] = set()
        suppressed_products: set[ProductID] = set()
        for index in indexes:
            c = compiled[index]
            if c.exclusion >= 0:
                x = self.catalog.exclusions[c.exclusion]
                suppressed_vendors.update(x.suppresses_vendors)
                suppressed_products.update(x.suppresses_products)
        hits = [
            Hit(c.product, c.rule.id, c.rule.field, c.rule.confidence)
            for c in sorted((compiled[i] for i in indexes), key=lambda c: -c.rule.confidence.rank)
            if c.product is not None
            and c.product not in suppressed_products
            and self._vendor_of[c.product] not in suppressed_vendors
        ]
        specific = {self._vendor_of[h.product] for h in hits if h.product not in self._generic}
        if specific:
            hits = [
                h
                for h in hits
                if h.product not in self._generic or self._vendor_of[h.product] not in specific
            ]
        return tuple(hits)

    def match_hosts(
        self,
        inventories: Iterable[HostInventory],
        *,
        directives: Sequence[Directive] | None = None,
    ) -> dict[HostID, list[Finding]]:
        """Match many hosts, each distinct observation once, and fan findings out per host."""
        inventories = list(inventories)
        index: dict[_DistinctKey, int] = {}
        distinct: list[Observation] = []
        per_host: list[list[int]] = []
        for inv in inventories:
            rows = []
            for o in inv.observations:
                key = distinct_key(o)
                i = index.get(key)
                if i is None:
                    i = index[key] = len(distinct)
                    distinct.append(o)
                rows.append(i)
            per_host.append(rows)
        hits = self.match_distinct(distinct)
        result: dict[HostID, list[Finding]] = {}
        for inv, rows in zip(inventories, per_host, strict=True):
            pairs = [(o, hits[i]) for o, i in zip(inv.observations, rows, strict=True) if hits[i]]
            result[inv.host] = self.findings(inv.host, pairs, directives=directives)
        return result

    def findings(
        self,
        host: HostID,
        matched: Iterable[tuple[Observation, Sequence[Hit]]],
        *,
        directives: Sequence[Directive] | None = None,
    ) -> list[Finding]:
        """Group hits on one host into findings, one per product and applicable directive."""
        evidence: dict[ProductID, list[Evidence]] = defaultdict(list)
        seen: set[tuple[ProductID, Observation]] = set()
        for observation, hits in matched:
            for h in hits:
                if (h.product, observation) in seen:
                    continue
                seen.add((h.product, observation))
                evidence[h.product].append(Evidence(observation, h.rule, h.field, h.confidence))
        wanted = None if directives is None else {d.id for d in directives}
        out: list[Finding] = []
        for product_id, items in evidence.items():
            product: Product = self._products[product_id]
            embedded = all(e.observation.kind is Kind.SBOM_COMPONENT for e in items)
            confidence = max((e.confidence for e in items), key=lambda c: c.rank)
            for d in self.catalog.directives_for(product, embedded=embedded):
                if wanted is not None and d.id not in wanted:
                    continue
                out.append(
                    Finding(
                        host=host,
                        directive=d.id,
                        vendor=product.vendor,
                        product=product.id,
                        product_name=product.name,
                        confidence=confidence,
                        embedded=embedded,
                        evidence=tuple(items),
                    )
                )
        out.sort(key=lambda f: (f.directive, f.product))
        return out
