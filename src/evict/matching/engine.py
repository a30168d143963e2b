"""The matcher: the catalog compiled into indexes, run over distinct observations.

Compilation builds, per observation field, a dict from normalised value to rules (``equals``
rules), and one Aho-Corasick automaton (ahocorasick-rs, over UTF-8 bytes) holding a key token of
every rule: the value itself for an identifier, the most distinctive word of a name or anchor.
Matching works a column at a time: all names of a batch are joined, lightly normalised (case
folding, NFKC) in one pass and scanned by the automaton as one text; only the few values where
a key token occurs are fully normalised and checked against the exact index or the rule's
regular expression. Nothing here reads a file or a clock.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import ahocorasick_rs

from evict._util import canonical_json
from evict.catalog.interface import (
    Catalog,
    Confidence,
    Directive,
    Exclusion,
    Product,
    ProductID,
    Rule,
    RuleID,
    VendorID,
)
from evict.matching.domains import DomainIndex
from evict.matching.interface import Evidence, Finding, Hit
from evict.model.normalize import key_token, light_normalize, normalize_many, word_frequency
from evict.model.observations import HostID, HostInventory, Kind, Observation

_NAME = operator.attrgetter("name")
_PUBLISHER = operator.attrgetter("publisher")
_IDENTIFIERS = operator.attrgetter("identifiers")

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


def _software_word_frequency() -> dict[str, int]:
    """Word counts over 14,586 real Windows package names (the winget catalogue, shipped)."""
    path = Path(str(resources.files("evict.sample_data") / "winget-index.csv"))
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            names = [row["Name"] for row in csv.DictReader(f)]
    except (OSError, KeyError):
        return {}
    return word_frequency(names)


def distinct_key(observation: Observation) -> _DistinctKey:
    """What matching depends on: two observations with the same key get the same hits."""
    o = observation
    return (o.kind, o.name, o.publisher, o.identifiers)


def software_key(observation: Observation) -> str:
    """The key of an observation's distinct software identity (hex SHA-256 of
    :func:`distinct_key` as canonical JSON): the store's ``software.key``."""
    kind, name, publisher, identifiers = distinct_key(observation)
    line = canonical_json([kind.value, name, publisher, [list(p) for p in identifiers]])
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


class Matcher:
    """A catalog compiled for matching. Build once; call :meth:`match_distinct` many times."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._products = {p.id: p for p in catalog.products}
        self._compiled: list[_Compiled] = []
        self._exact: dict[str, dict[str, list[int]]] = defaultdict(dict)
        words: dict[str, list[tuple[str, int]]] = defaultdict(list)
        frequency = _software_word_frequency()

        def add(rule: Rule, product: ProductID | None, exclusion: int) -> None:
            index = len(self._compiled)
            regex = re.compile(rule.pattern) if rule.pattern else None
            self._compiled.append(_Compiled(rule, product, exclusion, frozenset(rule.kinds), regex))
            for value in rule.equals:
                self._exact[rule.field].setdefault(value, []).append(index)
                words[key_token(value, rule.field, frequency)].append((rule.field, index))
            if rule.anchor:
                words[key_token(rule.anchor, rule.field, frequency)].append((rule.field, index))

        for product in catalog.products:
            for rule in product.rules:
                add(rule, product.id, -1)
        for i, exclusion in enumerate(catalog.exclusions):
            add(exclusion.rule, None, i)
        self._words = list(words)
        self._payloads = [tuple(dict.fromkeys(words[w])) for w in self._words]
        self._automaton = self._build_automaton()
        self._fields = sorted({f for p in words.values() for f, _ in p})
        self._ident_fields = frozenset(self._fields) - {"name", "publisher"}
        self._generic = {p.id for p in catalog.products if p.generic}
        self._vendor_of = {p.id: p.vendor for p in catalog.products}
        self.domains = DomainIndex.from_catalog(catalog)
        """The products' network endpoints, for observations of kind ``network``."""
        self._asked = frozenset(p for q in catalog.questions for p in q.products)
        """Products a scope question names: a look-alike rule does not set them aside (the
        exclusion's "not the covered product" is what the question asks)."""

    def _build_automaton(self) -> ahocorasick_rs.BytesAhoCorasick | None:
        if not self._words:
            return None
        return ahocorasick_rs.BytesAhoCorasick([w.encode("utf-8") for w in self._words])

    def __getstate__(self) -> dict[str, object]:
        """Pickle everything but the automaton, which is rebuilt (in milliseconds) on load."""
        state = dict(self.__dict__)
        state["_automaton"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore a pickled matcher and rebuild its automaton."""
        self.__dict__.update(state)
        self._automaton = self._build_automaton()

    @property
    def rule_count(self) -> int:
        """How many rules (product rules and exclusions) were compiled."""
        return len(self._compiled)

    def match_distinct(
        self,
        observations: Sequence[Observation],
        *,
        lookalikes: dict[int, tuple[Exclusion, ...]] | None = None,
    ) -> list[tuple[Hit, ...]]:
        """Match each observation once; the result lines up with ``observations``.

        Callers should pass distinct observations (see :func:`distinct_key`); duplicates cost
        time but not correctness. When ``lookalikes`` is given, it receives, by position, the
        exclusions (known look-alikes) that fired, so they can be reported apart.

        Observations of kind ``network`` (host names from network logs) are matched against
        the catalog's network endpoints only, on label boundaries (:mod:`evict.matching.domains`),
        never against name rules meant for installed software.
        """
        network = [i for i, o in enumerate(observations) if o.kind is Kind.NETWORK]
        if network:
            return self._match_with_network(observations, network, lookalikes)
        fired: dict[int, set[int]] = {}
        columns: dict[str, tuple[list[int] | None, list[str]]] = {}
        if "name" in self._fields:
            columns["name"] = (None, list(map(_NAME, observations)))
        if "publisher" in self._fields:
            columns["publisher"] = (None, list(map(_PUBLISHER, observations)))
        if self._ident_fields:
            wanted = self._ident_fields
            by_key: dict[str, tuple[list[int], list[str]]] = {}
            idents = list(map(_IDENTIFIERS, observations))
            for i in itertools.compress(range(len(idents)), idents):
                for key, value in idents[i]:
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
            result[row], excluded = self._resolve(indexes)
            if excluded and lookalikes is not None:
                lookalikes[row] = excluded
        return result

    def _match_with_network(
        self,
        observations: Sequence[Observation],
        network: list[int],
        lookalikes: dict[int, tuple[Exclusion, ...]] | None,
    ) -> list[tuple[Hit, ...]]:
        """:meth:`match_distinct` for a batch holding network observations (rows ``network``)."""
        result: list[tuple[Hit, ...]] = [()] * len(observations)
        wanted = set(network)
        others = [i for i in range(len(observations)) if i not in wanted]
        if others:
            excluded: dict[int, tuple[Exclusion, ...]] = {}
            hits = self.match_distinct([observations[i] for i in others], lookalikes=excluded)
            for j, i in enumerate(others):
                result[i] = hits[j]
            if lookalikes is not None:
                lookalikes.update({others[j]: x for j, x in excluded.items()})
        matched = self.domains.match_many(observations[i].name for i in network)
        for i in network:
            for m in matched.get(observations[i].name, ()):
                rule = RuleID(f"network:{m.endpoint.host}")
                result[i] += (Hit(m.product, rule, "name", Confidence.MEDIUM),)
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
        if not values or self._automaton is None:
            return
        scanned, deduplicated = values, False
        if field != "name":  # publishers, paths, ids repeat: scan each distinct value once
            unique = list(dict.fromkeys(values))
            if len(unique) * 4 < len(values) * 3:
                scanned, deduplicated = unique, True
        verified: dict[int, set[int]] = {}
        blob = "\n".join(scanned)
        if blob.count("\n") != len(scanned) - 1:
            blob = "\n".join(v.replace("\n", " ") for v in scanned)
        # ASCII case folding on UTF-8 bytes runs at memory speed and never touches multi-byte
        # sequences; values with other characters get the full light pass separately.
        data = blob.encode("utf-8", "surrogatepass").lower()
        self._scan(data, None, field, scanned, verified)
        if not blob.isascii():
            odd = list(
                itertools.compress(
                    range(len(scanned)), map(operator.not_, map(str.isascii, scanned))
                )
            )
            light = light_normalize("\n".join(scanned[i].replace("\n", " ") for i in odd))
            self._scan(light.encode("utf-8", "surrogatepass"), odd, field, scanned, verified)
        if not verified:
            return
        if deduplicated:
            by_value = {scanned[j]: indexes for j, indexes in verified.items()}
            targets = [(i, by_value[v]) for i, v in enumerate(values) if v in by_value]
        else:
            targets = list(verified.items())
        compiled = self._compiled
        for j, indexes in targets:
            row = j if rows is None else rows[j]
            kind = observations[row].kind
            for index in indexes:
                kinds = compiled[index].kinds
                if not kinds or kind in kinds:
                    fired.setdefault(row, set()).add(index)

    def _scan(
        self,
        data: bytes,
        lines: list[int] | None,
        field: str,
        values: list[str],
        verified: dict[int, set[int]],
    ) -> None:
        """Run the automaton over newline-separated ``data`` and verify each candidate value.

        ``lines`` maps a line of ``data`` to its index in ``values`` (identity when None).
        Rules whose value test passes are added to ``verified`` under that index.
        """
        assert self._automaton is not None
        hits = self._automaton.find_matches_as_indexes(data, overlapping=True)
        if not hits:
            return
        hits.sort(key=lambda hit: hit[1])
        exact = self._exact.get(field, {})
        compiled = self._compiled
        payloads = self._payloads
        full: dict[int, str] = {}
        line = position = 0
        for pattern, start, _ in hits:
            line += data.count(b"\n", position, start)
            position = start
            j = line if lines is None else lines[line]
            for rule_field, index in payloads[pattern]:
                if rule_field != field:
                    continue
                value = full.get(j)
                if value is None:
                    value = full[j] = normalize_many((values[j],), field)[0]
                regex = compiled[index].regex
                if regex is not None:
                    if not regex.search(value):
                        continue
                elif index not in exact.get(value, ()):
                    continue
                verified.setdefault(j, set()).add(index)

    def _resolve(self, indexes: set[int]) -> tuple[tuple[Hit, ...], tuple[Exclusion, ...]]:
        compiled = self._compiled
        excluded = tuple(
            self.catalog.exclusions[compiled[i].exclusion]
            for i in sorted(indexes)
            if compiled[i].exclusion >= 0
        )
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
            and (
                c.product in self._asked
                or (
                    c.product not in suppressed_products
                    and self._vendor_of[c.product] not in suppressed_vendors
                )
            )
        ]
        specific: dict[VendorID, list[ProductID]] = defaultdict(list)
        for h in hits:
            if (
                h.product not in self._generic
                and h.product not in specific[self._vendor_of[h.product]]
            ):
                specific[self._vendor_of[h.product]].append(h.product)
        if any(specific.values()):
            kept: list[Hit] = []
            for h in hits:
                products = specific.get(self._vendor_of[h.product])
                if h.product not in self._generic or not products:
                    kept.append(h)
                    continue
                # A catch-all rule (a publisher, a registry key) that fired on the same
                # observation still says something: it is evidence for the specific product.
                kept.extend(Hit(p, h.rule, h.field, h.confidence) for p in products)
            hits = kept
        return tuple(hits), excluded

    def match_hosts(
        self,
        inventories: Iterable[HostInventory],
        *,
        directives: Sequence[Directive] | None = None,
        lookalikes: dict[HostID, list[tuple[Observation, Exclusion]]] | None = None,
        present: dict[HostID, set[ProductID]] | None = None,
    ) -> dict[HostID, list[Finding]]:
        """Match many hosts, each distinct observation once, and fan findings out per host.

        When ``lookalikes`` is given, it receives per host the observations a known look-alike
        rule set aside (Kaspersky's own removal tool, a test framework), with the exclusion.
        When ``present`` is given, it receives per host every product recognised there, whether
        a directive covers it or not (approved protection products among them).
        """
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
        excluded: dict[int, tuple[Exclusion, ...]] = {}
        hits = self.match_distinct(distinct, lookalikes=excluded)
        result: dict[HostID, list[Finding]] = {}
        for inv, rows in zip(inventories, per_host, strict=True):
            pairs = [(o, hits[i]) for o, i in zip(inv.observations, rows, strict=True) if hits[i]]
            result[inv.host] = self.findings(inv.host, pairs, directives=directives)
            if present is not None:
                present.setdefault(inv.host, set()).update(
                    h.product for _, row in pairs for h in row
                )
            if lookalikes is not None and excluded:
                found = [
                    (o, x)
                    for o, i in zip(inv.observations, rows, strict=True)
                    for x in excluded.get(i, ())
                ]
                if found:
                    lookalikes.setdefault(inv.host, []).extend(found)
        return result

    def present_products(
        self, observations: Iterable[Observation]
    ) -> dict[ProductID, list[Evidence]]:
        """Every catalog product recognised among ``observations``, covered by a directive or
        not (an approved protection product, say), with the evidence for each."""
        index: dict[_DistinctKey, int] = {}
        distinct: list[Observation] = []
        for o in observations:
            if distinct_key(o) not in index:
                index[distinct_key(o)] = len(distinct)
                distinct.append(o)
        out: dict[ProductID, list[Evidence]] = {}
        for observation, hits in zip(distinct, self.match_distinct(distinct), strict=True):
            for h in hits:
                items = out.setdefault(h.product, [])
                if not any(e.observation == observation for e in items):
                    items.append(Evidence(observation, h.rule, h.field, h.confidence))
        return out

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
            for d, question in self.catalog.reach(product, embedded=embedded):
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
                        question=question.id if question is not None else None,
                    )
                )
        out.sort(key=lambda f: (f.directive, f.product))
        return out
