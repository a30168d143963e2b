"""The compiled matcher on a small catalog built in the test: indexes, anchors, exclusions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evict.catalog.interface import (
    Catalog,
    Confidence,
    Directive,
    DirectiveID,
    Exclusion,
    Milestone,
    Product,
    ProductID,
    Rule,
    RuleID,
    Vendor,
    VendorID,
)
from evict.matching.engine import Matcher
from evict.model.normalize import normalize
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform


def rule(rid: str, field: str, *, equals=(), pattern="", anchor="", kinds=(), conf="high") -> Rule:
    return Rule(
        RuleID(rid), field, tuple(kinds), tuple(normalize(v, field) for v in equals), pattern,
        anchor, Confidence(conf), "test",
    )  # fmt: skip


def directive(did: str, *, embedded: bool) -> Directive:
    return Directive(
        DirectiveID(did), did, "test", dt.date(2020, 1, 1), dt.date(2020, 1, 1),
        (VendorID("acme"),), embedded, "everyone", "", (Milestone("m", "m", "act", 30),),
    )  # fmt: skip


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    products = (
        Product(
            ProductID("acme-av"), VendorID("acme"), "Acme Antivirus", "av", ("windows",),
            (
                rule("av-name", "name", pattern=r"^acme anti-?virus\b", anchor="acme anti",
                     kinds=("program",)),
                rule("av-driver", "name", equals=("acmeflt.sys",), kinds=("driver",)),
                rule("av-cpe", "cpe", pattern=r"^cpe:2\.3:a:acme:antivirus",
                     anchor="cpe:2.3:a:acme:"),
            ),
        ),
        Product(
            ProductID("acme-any"), VendorID("acme"), "Acme software", "any", (),
            (rule("any-pub", "publisher", equals=("Acme Corp",), conf="medium"),),
            generic=True,
        ),
    )  # fmt: skip
    exclusions = (
        Exclusion(
            RuleID("acme-remover"),
            rule("remover", "name", equals=("Acme Removal Tool",)),
            "the vendor's own removal tool",
            suppresses_vendors=(VendorID("acme"),),
        ),
    )
    catalog = Catalog(
        "sha256:test",
        (directive("strict", embedded=False), directive("broad", embedded=True)),
        (Vendor(VendorID("acme"), "Acme"),),
        products,
        exclusions,
    )
    return Matcher(catalog)


def program(name: str, publisher: str = "") -> Observation:
    return Observation.make(Kind.PROGRAM, name, publisher=publisher, source="test")


def test_pattern_rule_fires_through_its_anchor(matcher: Matcher) -> None:
    hits = matcher.match_distinct([program("ACME Antivirus 2019 (x64)"), program("Notepad++")])
    assert [h.rule for h in hits[0]] == ["av-name"]
    assert hits[1] == ()


def test_kind_restriction(matcher: Matcher) -> None:
    as_driver = Observation.make(Kind.DRIVER, "Acme Antivirus")
    assert matcher.match_distinct([as_driver]) == [()]
    driver = Observation.make(Kind.DRIVER, "ACMEFLT.SYS")
    assert [h.rule for h in matcher.match_distinct([driver])[0]] == ["av-driver"]


def test_identifier_rules(matcher: Matcher) -> None:
    obs = Observation.make(
        Kind.SBOM_COMPONENT, "libscan", identifiers={Ident.CPE: "cpe:2.3:a:acme:antivirus_sdk:8"}
    )
    assert [h.rule for h in matcher.match_distinct([obs])[0]] == ["av-cpe"]


def test_generic_product_only_when_nothing_specific(matcher: Matcher) -> None:
    specific, generic = matcher.match_distinct(
        [program("Acme Antivirus", "Acme Corp"), program("Acme Updater", "Acme Corp")]
    )
    assert {h.product for h in specific} == {"acme-av"}
    assert {h.rule for h in specific} == {"av-name", "any-pub"}, "catch-all rule kept as evidence"
    assert {h.product for h in generic} == {"acme-any"}


def test_exclusion_suppresses_the_vendor(matcher: Matcher) -> None:
    assert matcher.match_distinct([program("Acme Removal Tool", "Acme Corp")]) == [()]


def test_hosts_share_distinct_observations_and_embedded_scope(matcher: Matcher) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    av = program("Acme Antivirus")
    sbom = Observation.make(
        Kind.SBOM_COMPONENT, "x", identifiers={Ident.CPE: "cpe:2.3:a:acme:antivirus:1"}
    )
    hosts = [
        HostInventory(HostID("a"), "a", Platform.WINDOWS, at, (av, program("Zoom"))),
        HostInventory(HostID("b"), "b", Platform.WINDOWS, at, (av,)),
        HostInventory(HostID("c"), "c", Platform.UNKNOWN, at, (sbom,)),
        HostInventory(HostID("d"), "d", Platform.LINUX, at, (program("Zoom"),)),
    ]
    found = matcher.match_hosts(hosts)
    assert {f.directive for f in found[HostID("a")]} == {"strict", "broad"}
    assert {f.directive for f in found[HostID("b")]} == {"strict", "broad"}
    embedded = found[HostID("c")]
    assert [f.directive for f in embedded] == ["broad"] and embedded[0].embedded
    assert found[HostID("d")] == []
    finding = found[HostID("a")][0]
    assert finding.evidence[0].observation == av and finding.evidence[0].rule == "av-name"


def test_many_observations_stay_aligned(matcher: Matcher) -> None:
    names = [f"Tool {i}" for i in range(5000)]
    names[1234] = "Acme Antivirus"
    names[4321] = "ACME ANTIVIRUS 2"
    hits = matcher.match_distinct([program(n) for n in names])
    assert [i for i, h in enumerate(hits) if h] == [1234, 4321]


def reference_rules(matcher: Matcher, obs: Observation) -> set[str]:
    """The obvious, slow matcher: every rule against every field, fully normalised."""
    fired = set()
    rules = [r for p in matcher.catalog.products for r in p.rules]
    rules += [x.rule for x in matcher.catalog.exclusions]
    for r in rules:
        if r.kinds and obs.kind.value not in r.kinds:
            continue
        if r.field == "name":
            raw = [obs.name]
        elif r.field == "publisher":
            raw = [obs.publisher]
        else:
            raw = [v for k, v in obs.identifiers if k == r.field]
        for value in raw:
            norm = normalize(value, r.field)
            if (r.equals and norm in r.equals) or (r.pattern and re.search(r.pattern, norm)):
                fired.add(r.id)
    return fired


WORDS = st.sampled_from(
    ["Acme", "ACME", "antivirus", "Anti-Virus", "anti\u2011virus", "2019", "(x64)", "Corp",
     "Removal", "Tool", "acmeflt.sys", "ＡＣＭＥ", "  ", "\t", "Zoom", "v1.2", "ß", "Updater"]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Kind.PROGRAM, Kind.DRIVER, Kind.SBOM_COMPONENT]),
            st.lists(WORDS, max_size=6).map(" ".join),
            st.lists(WORDS, max_size=3).map(" ".join),
        ),
        max_size=40,
    )
)
def test_fast_path_agrees_with_the_reference(matcher: Matcher, rows) -> None:
    observations = [
        Observation.make(kind, name, publisher=pub, identifiers={Ident.CPE: name.lower()})
        for kind, name, pub in rows
    ]
    for obs, hits in zip(observations, matcher.match_distinct(observations), strict=True):
        expected = reference_rules(matcher, obs)
        suppressed = "remover" in expected
        got = {h.rule for h in hits}
        if suppressed:
            assert got == set()
        else:
            assert got == expected
