"""Discontinue future use: every deny list built from the catalog, checked by the tool that
loads it (named-checkzone, apt-cache) or against the AppLocker policy shape."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest

from evict.matching.engine import Matcher
from evict.remediation.block import BlockError, BlockList, block_list, render_block
from tests.remediation.remedykit import need_tool

SERIAL = 2026112701
APPLOCKER_TYPES = {"Appx", "Dll", "Exe", "Msi", "Script"}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def kaspersky(matcher: Matcher) -> BlockList:
    return block_list(matcher.catalog, "bod-17-01")


@pytest.fixture(scope="module")
def tiktok(matcher: Matcher) -> BlockList:
    return block_list(matcher.catalog, "omb-m-23-13")


def test_kaspersky_block_list_has_signers_packages_and_endpoints(kaspersky: BlockList) -> None:
    assert "O=AO KASPERSKY LAB, L=MOSCOW, S=MOSCOW, C=RU" in {p.name for p in kaspersky.publishers}
    assert {"kesl*", "klnagent*", "ksc64"} <= set(kaspersky.packages)
    assert "kesl" not in kaspersky.packages, "names a glob already covers are not repeated"
    hosts = {e.host for e in kaspersky.endpoints}
    assert {"dc1.ksn.kaspersky-labs.com", "*.upd.kaspersky.com"} <= hosts
    assert not hosts & {"tiktok.com"}


@pytest.mark.parametrize("directive", ["bod-17-01", "omb-m-23-13"])
def test_rpz_zone_loads_with_named_checkzone(
    matcher: Matcher, tmp_path: Path, directive: str
) -> None:
    checkzone = need_tool("named-checkzone")
    zone = tmp_path / "evict.rpz"
    text = render_block(block_list(matcher.catalog, directive), "dns-rpz", serial=SERIAL)
    zone.write_text(text)
    done = subprocess.run(
        [checkzone, "rpz.evict.example", str(zone)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"loaded serial {SERIAL}" in done.stdout
    if directive == "omb-m-23-13":
        assert "tiktokv.com CNAME ." in text and "*.tiktokv.com CNAME ." in text


def test_rpz_blocks_each_domain_once_with_its_subdomains(kaspersky: BlockList) -> None:
    text = render_block(kaspersky, "dns-rpz", serial=SERIAL)
    assert "upd.kaspersky.com CNAME ." in text and "*.upd.kaspersky.com CNAME ." in text
    owners = [line.split()[0] for line in text.splitlines() if line.endswith("CNAME .")]
    assert len(owners) == len(set(owners))


def test_applocker_policy_has_the_policy_shape_and_denies_the_publisher(
    kaspersky: BlockList,
) -> None:
    root = ET.fromstring(render_block(kaspersky, "applocker").encode("utf-8"))
    assert root.tag == "AppLockerPolicy" and root.get("Version") == "1"
    collections = root.findall("RuleCollection")
    assert [c.get("Type") for c in collections] == ["Exe"]
    assert all(c.get("Type") in APPLOCKER_TYPES for c in collections)
    assert collections[0].get("EnforcementMode") == "Enabled"
    rules = list(collections[0])
    ids = [r.get("Id") for r in rules]
    assert len(ids) == len(set(ids)) and all(GUID.match(i or "") for i in ids)
    for rule in rules:
        assert rule.tag in {"FilePathRule", "FilePublisherRule"}
        assert {"Id", "Name", "Description", "UserOrGroupSid", "Action"} <= set(rule.attrib)
        assert rule.get("Action") in {"Allow", "Deny"}
        (conditions,) = rule.findall("Conditions")
        assert len(conditions) == 1
    allows = [r for r in rules if r.get("Action") == "Allow"]
    assert {r.find("Conditions/FilePathCondition").get("Path") for r in allows} == {
        "%PROGRAMFILES%\\*",
        "%WINDIR%\\*",
        "*",
    }, "Windows' default allow rules keep an enforced collection from blocking everything"
    denies = [r for r in rules if r.get("Action") == "Deny"]
    assert all(
        r.tag == "FilePublisherRule" and r.get("UserOrGroupSid") == "S-1-1-0" for r in denies
    )
    condition = denies[0].find("Conditions/FilePublisherCondition")
    assert condition.get("PublisherName") == "O=AO KASPERSKY LAB, L=MOSCOW, S=MOSCOW, C=RU"
    assert (condition.get("ProductName"), condition.get("BinaryName")) == ("*", "*")
    version = condition.find("BinaryVersionRange")
    assert (version.get("LowSection"), version.get("HighSection")) == ("*", "*")


def test_applocker_output_is_stable(kaspersky: BlockList) -> None:
    assert render_block(kaspersky, "applocker") == render_block(kaspersky, "applocker")


def test_apt_preferences_parse_and_pin_the_packages_away(
    kaspersky: BlockList, tmp_path: Path
) -> None:
    apt_cache = need_tool("apt-cache")
    prefs = tmp_path / "evict.pref"
    text = render_block(kaspersky, "apt-preferences")
    prefs.write_text(text)
    assert "Package: kav4* kes4lwks kesl* klnagent* ksc-web-console ksc64" in text
    assert "Pin: release *\nPin-Priority: -1\n" in text
    parts = tmp_path / "preferences.d"
    parts.mkdir()
    done = subprocess.run(
        [
            apt_cache,
            "-o",
            f"Dir::Etc::Preferences={prefs}",
            "-o",
            f"Dir::Etc::PreferencesParts={parts}",
            "policy",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert not re.search(r"^(E|W):", done.stderr, re.MULTILINE), done.stderr


def test_dnf_hosts_and_squid_lists(kaspersky: BlockList, tiktok: BlockList) -> None:
    dnf = render_block(kaspersky, "dnf")
    assert "excludepkgs=kav4*,kes4lwks,kesl*,klnagent*,ksc-web-console,ksc64\n" in dnf
    hosts = render_block(kaspersky, "hosts")
    assert "0.0.0.0 dc1.ksn.kaspersky-labs.com\n" in hosts
    assert "0.0.0.0 *." not in hosts and "# *.upd.kaspersky.com: a hosts file cannot" in hosts
    squid = render_block(tiktok, "squid")
    assert "acl evict_blocked dstdomain .tiktok.com\n" in squid
    assert squid.rstrip().endswith("http_access deny evict_blocked")
    assert "# The catalog names no RPM package" in render_block(tiktok, "dnf")


def test_unknown_format_and_directive_are_refused(matcher: Matcher, kaspersky: BlockList) -> None:
    with pytest.raises(BlockError, match="unknown block format"):
        render_block(kaspersky, "iptables")
    from evict.catalog.interface import CatalogLookupError

    with pytest.raises(CatalogLookupError):
        block_list(matcher.catalog, "bod-99-99")
