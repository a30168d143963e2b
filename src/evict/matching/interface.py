"""What matching produces: findings, each with the evidence and the rule that fired."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evict.catalog.interface import (
    Confidence,
    DirectiveID,
    ProductID,
    QuestionID,
    RuleID,
    VendorID,
)
from evict.model.observations import HostID, Kind, Observation, identifiers_json


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule of one product firing on one (distinct) observation."""

    product: ProductID
    rule: RuleID
    field: str
    """The observation field the rule read."""
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a finding was made: the observation and the rule that recognised it."""

    observation: Observation
    rule: RuleID
    field: str
    confidence: Confidence

    def to_json(self) -> dict[str, object]:
        """Render as an ``evidence`` entry of the scan contract."""
        o = self.observation
        out: dict[str, object] = {
            "kind": o.kind.value,
            "name": o.name,
            "version": o.version,
            "source": o.source,
            "rule": self.rule,
        }
        if o.publisher:
            out["publisher"] = o.publisher
        if o.identifiers:
            out["identifiers"] = identifiers_json(o.identifiers)
        out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    """A covered product present on a host, as one directive sees it."""

    host: HostID
    directive: DirectiveID
    vendor: VendorID
    product: ProductID
    product_name: str
    confidence: Confidence
    embedded: bool
    """True when every piece of evidence is an SBOM component: code inside another product."""
    evidence: tuple[Evidence, ...]
    question: QuestionID | None = None
    """The catalog's question of scope this finding raises (see
    :class:`evict.catalog.interface.Question`): until the organisation's determination says
    covered, it is neither identified nor clean but needs a determination."""
    determination: str = ""
    """For a finding with a question: ``covered`` once the organisation determined so; empty
    while the determination is needed (a finding determined not covered is dropped)."""

    @property
    def needs_determination(self) -> bool:
        """Whether this finding waits for the organisation's determination of its question."""
        return self.question is not None and self.determination != "covered"

    @property
    def kinds(self) -> set[Kind]:
        """The observation kinds behind this finding."""
        return {e.observation.kind for e in self.evidence}


def hit_to_json(hit: Hit) -> dict[str, str]:
    """A hit as stored in ``software_match.hits``."""
    return {
        "product": hit.product,
        "rule": hit.rule,
        "field": hit.field,
        "confidence": hit.confidence.value,
    }


def hit_from_json(data: Mapping[str, str]) -> Hit:
    """Inverse of :func:`hit_to_json`."""
    return Hit(
        ProductID(data["product"]),
        RuleID(data["rule"]),
        data["field"],
        Confidence(data["confidence"]),
    )


MatchedSoftware = dict[int, tuple[Observation, tuple[Hit, ...]]]
"""Distinct software some rule fired on, by software id: its observation (version and source
left empty: they belong to each host's copy) and its hits."""


def linked_findings(
    links: Iterable[tuple[int, str, str]],
    matched: Mapping[int, tuple[Observation, tuple[Hit, ...]]],
) -> list[tuple[Observation, tuple[Hit, ...]]]:
    """One host's matched software as observations with their hits, rebuilt from its links
    (``(software id, version, source)``, as :meth:`evict.store.store.Store.host_links` gives
    them): what :meth:`evict.matching.engine.Matcher.findings` takes.

    The one place a host's findings are rebuilt from the store: the worker, the host's API
    detail, report inputs and fleet plans all call it.
    """
    out = []
    for sid, version, source in links:
        base, hits = matched[sid]
        observation = Observation(
            base.kind, base.name, version, base.publisher, base.identifiers, source
        )
        out.append((observation, hits))
    return out
