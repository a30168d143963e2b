"""The replacement policy: what counts as protection, what makes a coverage gap, and policy
files read strictly (file and line on every mistake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evict.catalog.interface import ProductID
from evict.matching.engine import Matcher
from evict.remediation import Policy, PolicyError, coverage_gap, load_policy, protection_present
from tests.remediation.remedykit import REMEDIATION_ASSETS

POLICIES = REMEDIATION_ASSETS / "policy"
KES = ProductID("kaspersky-endpoint-security")
TIKTOK = ProductID("tiktok")
DEFENDER = ProductID("microsoft-defender")
CLAMAV = ProductID("clamav")


def test_default_policy_approves_every_protection_product(matcher: Matcher) -> None:
    approved = Policy().approved_ids(matcher.catalog)
    assert {DEFENDER, CLAMAV, "crowdstrike-falcon", "sentinelone"} <= approved
    assert KES not in approved


def test_a_host_losing_its_antivirus_without_replacement_is_a_gap(matcher: Matcher) -> None:
    catalog = matcher.catalog
    assert coverage_gap([KES], [KES], catalog, Policy())
    assert not coverage_gap([KES], [KES, DEFENDER], catalog, Policy())
    # Only approved products count: Defender is present, but the policy approves ClamAV alone.
    assert coverage_gap([KES], [KES, DEFENDER], catalog, Policy(approved=(CLAMAV,)))
    # Removing an app that protects nothing leaves protection as it was: no gap.
    assert not coverage_gap([TIKTOK], [TIKTOK], catalog, Policy())
    assert protection_present([KES, DEFENDER, CLAMAV], catalog, Policy()) == (CLAMAV, DEFENDER)


def test_policy_file_names_approved_and_installable_products(matcher: Matcher) -> None:
    policy = load_policy(POLICIES / "valid.yaml", matcher.catalog)
    assert policy.approved == (DEFENDER, CLAMAV, "crowdstrike-falcon")
    assert policy.install == (CLAMAV,)
    assert policy.override(install=["crowdstrike-falcon"]).install == ("crowdstrike-falcon",)
    assert policy.override(approved=["clamav"]).approved == (CLAMAV,)


def test_empty_policy_file_is_the_default(matcher: Matcher) -> None:
    assert load_policy(POLICIES / "empty.yaml", matcher.catalog) == Policy()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unknown-product.yaml", "'norton-antivirus' is not a protection product"),
        ("covered-product.yaml", "'kaspersky-endpoint-security' is not a protection product"),
        ("truncated.yaml", "truncated.yaml:3: not valid YAML"),
        ("misspelt-key.yaml", "unknown key 'approve'"),
        ("alias-bomb.yaml", "alias-bomb.yaml:2: YAML aliases are not allowed"),
        ("not-a-mapping.yaml", "not-a-mapping.yaml:1: the top level must be a mapping"),
    ],
)
def test_broken_policy_file_is_refused_with_file_and_place(
    matcher: Matcher, name: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as e:
        load_policy(POLICIES / name, matcher.catalog)
    assert expected in str(e.value)
    assert name in str(e.value)


def test_oversized_or_binary_policy_is_refused(matcher: Matcher, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"approved: []\n" + b"#" * (2 * 1024 * 1024))
    with pytest.raises(PolicyError, match="more than a policy may hold"):
        load_policy(huge, matcher.catalog)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"approved: [\xff\xfe]\n")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(binary, matcher.catalog)
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "missing.yaml", matcher.catalog)
