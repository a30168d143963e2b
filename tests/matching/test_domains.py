"""Host names against network endpoints: label boundaries, wildcards, the Public Suffix List."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evict.catalog.interface import Catalog, NetworkEndpoint, ProductID
from evict.catalog.loader import load_catalog
from evict.matching.domains import (
    DomainIndex,
    is_public_suffix,
    normalize_name,
    registrable_domain,
)

KSN = NetworkEndpoint("dc1.ksn.kaspersky-labs.com", "KSN", "test")
ZONE = NetworkEndpoint("*.ksn.kaspersky-labs.com", "KSN zone", "test")
TIKTOK = NetworkEndpoint("tiktok.com", "web", "test")


def index(*pairs: tuple[str, NetworkEndpoint]) -> DomainIndex:
    return DomainIndex((ProductID(p), e) for p, e in pairs)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def catalog_index(catalog: Catalog) -> DomainIndex:
    return DomainIndex.from_catalog(catalog)


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("tiktok.com", True),
        ("www.tiktok.com", True),
        ("a.b.c.tiktok.com", True),
        ("WWW.TikTok.COM.", True),  # case and the root's trailing dot
        ("www.tiktok.com:443", True),  # a proxy's CONNECT host:port
        ("nottiktok.com", False),
        ("tiktok.com.example.net", False),
        ("tiktok.co", False),
        ("tiktok", False),
        ("com", False),
    ],
)
def test_a_plain_endpoint_is_itself_and_below_on_label_boundaries(name: str, matches: bool) -> None:
    assert bool(index(("tiktok", TIKTOK)).match(name)) is matches


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("x.ksn.kaspersky-labs.com", True),
        ("a.b.ksn.kaspersky-labs.com", True),
        ("ksn.kaspersky-labs.com", False),  # a wildcard is strictly below
        ("notksn.kaspersky-labs.com", False),
        ("kaspersky-labs.com", False),
    ],
)
def test_a_wildcard_endpoint_is_strictly_below(name: str, matches: bool) -> None:
    assert bool(index(("k", ZONE)).match(name)) is matches


def test_the_most_specific_endpoint_names_the_match() -> None:
    idx = index(("k", ZONE), ("k", KSN))
    (m,) = idx.match("dc1.ksn.kaspersky-labs.com")
    assert m.endpoint is KSN
    (m,) = idx.match("dc2.ksn.kaspersky-labs.com")
    assert m.endpoint is ZONE


def test_each_product_owning_the_name_is_reported_once() -> None:
    idx = index(("a", TIKTOK), ("b", NetworkEndpoint("*.tiktok.com", "x", "t")), ("a", KSN))
    assert [m.product for m in idx.match("www.tiktok.com")] == ["a", "b"]


@pytest.mark.parametrize("suffix", ["com", "co.uk", "github.io", "*.com", "*.co.uk"])
def test_an_endpoint_that_is_a_public_suffix_is_refused(suffix: str) -> None:
    idx = index(("x", NetworkEndpoint(suffix, "too broad", "test")))
    assert len(idx) == 0
    assert [reason for _, reason in idx.refused] == [
        f"{suffix.removeprefix('*.')} is a public suffix"
    ]
    assert idx.match("anything.co.uk" if "uk" in suffix else "anything.com") == ()


def test_registrable_domains_come_from_the_shipped_list() -> None:
    assert registrable_domain("x.ksn.kaspersky-labs.com") == "kaspersky-labs.com"
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("co.uk") is None
    assert is_public_suffix("github.io") and not is_public_suffix("kaspersky-labs.com")


def test_the_public_suffix_list_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from evict.matching import domains

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Public Suffix List was fetched")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    domains._psl.cache_clear()
    assert is_public_suffix("co.uk")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Example.COM.", "example.com"),
        ("example.com:8443", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("10.0.0.5", ""),
        ("[2001:db8::1]:443", ""),
        ("2001:db8::1", ""),
        ("localhost", ""),
        ("a..b.com", ""),
        ("-bad-.com", ""),
        ("x" * 64 + ".com", ""),
        ("<script>.com", ""),
        ("dc1.ksn.kaspersky-labs.com\u202e.x", ""),
    ],
)
def test_names_are_normalised_and_junk_refused(raw: str, name: str) -> None:
    assert normalize_name(raw) == name


def test_every_catalog_endpoint_is_indexed(catalog: Catalog, catalog_index: DomainIndex) -> None:
    assert catalog_index.refused == []
    hosts = {e.host for p in catalog.products for e in p.network}
    assert len(catalog_index) == len({(h.startswith("*."), h.removeprefix("*.")) for h in hosts})


def test_every_catalog_endpoint_is_cited_and_matches_itself(
    catalog: Catalog, catalog_index: DomainIndex
) -> None:
    for product in catalog.products:
        for e in product.network:
            assert len(e.source) >= 3 and len(e.purpose) >= 3
            probe = "probe." + e.host.removeprefix("*.")
            assert product.id in {m.product for m in catalog_index.match(probe)}, e.host


def test_no_catalog_decoy_matches(catalog: Catalog, catalog_index: DomainIndex) -> None:
    assert len(catalog.endpoint_decoys) >= 8
    for decoy in catalog.endpoint_decoys:
        assert catalog_index.match(decoy.name) == (), decoy.name


def test_catalog_endpoints_reach_the_deny_lists(catalog: Catalog) -> None:
    from evict.remediation.block import block_list, render_dns_rpz

    text = render_dns_rpz(block_list(catalog, "bod-17-01"), serial=2026120501)
    assert "ksn.kaspersky-labs.com CNAME ." in text
    assert "*.ksn.kaspersky-labs.com CNAME ." in text


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(LABEL, min_size=1, max_size=4),
    st.sampled_from([[], ["kaspersky-labs", "com"], ["kaspersky-labs", "com", "example"]]),
)
def test_a_match_is_always_a_label_suffix(prefix: list[str], tail: list[str]) -> None:
    endpoint = "kaspersky-labs.com"
    idx = index(("k", NetworkEndpoint(endpoint, "t", "t")))
    name = ".".join([*prefix, *tail])
    # the obvious rule: equal, or ends with "." + endpoint
    expected = name == endpoint or name.endswith("." + endpoint)
    glued = "".join(prefix) + endpoint  # no dot: never a match unless equal
    assert bool(idx.match(name)) is expected
    assert bool(idx.match(glued)) is (glued == endpoint)
