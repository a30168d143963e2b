"""Findings that raise a question of scope: what the question products match, under which
directive, and how ``evict scan`` reports them (``needs determination``, never clean)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.cli import main
from evict.matching.engine import Matcher
from evict.matching.interface import Finding
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform

ASSETS = Path(__file__).parents[1] / "assets"
CI_SBOM = ASSETS / "cyclonedx" / "android-field-app-ci.cdx.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> Matcher:
    return Matcher(catalog)


def findings(matcher: Matcher, *observations: Observation) -> list[Finding]:
    host = HostInventory(
        HostID("h1"), "h1", Platform.WINDOWS, dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        tuple(observations),
    )  # fmt: skip
    return matcher.match_hosts([host])[HostID("h1")]


def asked(found: list[Finding]) -> set[tuple[str, str, str | None]]:
    return {(f.directive, f.product, f.question) for f in found}


def obs(kind: Kind, name: str, publisher: str = "", **ids: str) -> Observation:
    return Observation.make(kind, name, publisher=publisher, identifiers=ids, source="test")


KASPRESSO_QUESTION = ("ndaa-fy18-1634", "kaspersky-open-source", "kaspersky-open-source-ndaa")
BYTEDANCE = "bytedance-other-apps-m-23-13"
DEEPSEEK = "deepseek-local-and-clients"
STATE_BANS = ("tx-2025-deepseek", "va-eo-46-deepseek", "ny-its-2025-deepseek")


@pytest.mark.parametrize(
    "observation",
    [
        obs(
            Kind.SBOM_COMPONENT, "kaspresso", "AO Kaspersky Lab",
            purl="pkg:maven/com.kaspersky.android-components/kaspresso@1.5.3",
        ),
        obs(Kind.APP, "Kaspresso sample", "Kaspersky", package_id="com.kaspersky.kaspresso.sample"),
        obs(Kind.SBOM_COMPONENT, "kautomator", "Kaspersky Lab"),
        obs(Kind.SBOM_COMPONENT, "TinyCheck", purl="pkg:github/kasperskylab/tinycheck@0.3"),
    ],
    ids=["kaspresso-purl", "kaspresso-apk", "kautomator", "tinycheck"],
)  # fmt: skip
def test_kaspersky_open_source_raises_the_ndaa_question_only(
    matcher: Matcher, observation: Observation
) -> None:
    assert asked(findings(matcher, observation)) == {KASPRESSO_QUESTION}


def test_bytedance_apps_other_than_tiktok_raise_the_m_23_13_question(matcher: Matcher) -> None:
    capcut = obs(Kind.PROGRAM, "CapCut", "Bytedance Pte. Ltd.", package_id="ByteDance.CapCut")
    lark = obs(Kind.PROGRAM, "Lark", "ByteDance", package_id="ByteDance.Lark")
    lemon8 = obs(Kind.APP, "Lemon8", package_id="com.bd.nproject")
    assert asked(findings(matcher, capcut)) == {("omb-m-23-13", "bytedance-other-apps", BYTEDANCE)}
    assert asked(findings(matcher, lark)) == {("omb-m-23-13", "bytedance-other-apps", BYTEDANCE)}
    # Lemon8 is named by the Texas list (plainly covered there) and asked about under M-23-13
    assert asked(findings(matcher, lemon8)) == {
        ("omb-m-23-13", "lemon8", BYTEDANCE),
        ("tx-2025-deepseek", "lemon8", None),
    }


def test_tiktok_itself_stays_plainly_covered(matcher: Matcher) -> None:
    store_app = obs(Kind.PACKAGE, "TikTok", package_id="BytedancePte.Ltd.TikTok_6yccndn6064se")
    assert asked(findings(matcher, store_app)) == {("omb-m-23-13", "tiktok", None)}


@pytest.mark.parametrize(
    ("observation", "product"),
    [
        (obs(Kind.PACKAGE, "deepseek-r1"), "deepseek-open-weights"),
        (obs(Kind.PACKAGE, "deepseek-coder-v2:16b"), "deepseek-open-weights"),
        (
            obs(Kind.SBOM_COMPONENT, "DeepSeek-R1-Distill-Qwen-7B",
                purl="pkg:huggingface/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B@916b56a"),
            "deepseek-open-weights",
        ),
        (
            obs(Kind.PROGRAM, "DeepSeek Desktop", package_id="Buktal.DeepSeekDesktop"),
            "deepseek-api-clients",
        ),
        (
            obs(Kind.PACKAGE, "DeepSeek TUI", package_id="HunterBown.DeepSeek-TUI"),
            "deepseek-api-clients",
        ),
    ],
    ids=["ollama-r1", "ollama-coder-tag", "huggingface", "desktop-client", "tui-client"],
)  # fmt: skip
def test_local_deepseek_models_and_clients_raise_the_state_ban_question(
    matcher: Matcher, observation: Observation, product: str
) -> None:
    assert asked(findings(matcher, observation)) == {(d, product, DEEPSEEK) for d in STATE_BANS}


@pytest.mark.parametrize(
    "observation",
    [
        obs(Kind.PACKAGE, "deepseek-chat-history-viewer"),
        obs(Kind.PACKAGE, "ollama"),
        obs(Kind.PROGRAM, "Bytedance Unrelated", package_id="Bytedancex.Tool"),
        obs(Kind.SBOM_COMPONENT, "uif", purl="pkg:npm/uif@2.0.0"),
    ],
    ids=["deepseek-word", "ollama", "bytedance-lookalike-namespace", "npm-uif"],
)
def test_look_alikes_raise_no_question(matcher: Matcher, observation: Observation) -> None:
    assert findings(matcher, observation) == []


def test_an_app_in_the_vendors_own_namespace_is_covered_not_a_question(matcher: Matcher) -> None:
    """``com.kaspersky.*`` is Kaspersky's own reverse-DNS namespace (catalog registries): an app
    there is plainly Kaspersky software, not a question of scope."""
    found = findings(matcher, obs(Kind.APP, "Some app", package_id="com.kaspersky.someapp"))
    assert found and all(f.question is None for f in found)


def test_the_deepseek_app_itself_stays_plainly_covered(matcher: Matcher) -> None:
    app = obs(Kind.APP, "DeepSeek - AI Assistant", package_id="com.deepseek.chat")
    assert asked(findings(matcher, app)) == {(d, "deepseek", None) for d in STATE_BANS}


def test_scan_reports_a_question_finding_as_needing_a_determination(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CI build's SBOM lists Kaspresso: the app is neither clean nor identified."""
    code = main(
        ["scan", "--from", "cyclonedx", str(CI_SBOM), "--format", "json", "--today", "2026-11-01"]
    )
    assert code == 1, "not clean"
    document = json.loads(capsys.readouterr().out)
    (host,) = document["hosts"]
    (finding,) = host["findings"]
    assert finding["directive"] == "ndaa-fy18-1634"
    assert finding["product"] == "kaspersky-open-source"
    assert finding["determination"] == {"question": "kaspersky-open-source-ndaa", "state": "needed"}
    assert {e["name"] for e in finding["evidence"]} == {"kaspresso", "kautomator"}
    # the contract's other fields are all there, unchanged
    assert set(finding) == {
        "directive", "vendor", "product", "product_name", "confidence", "embedded",
        "milestone", "evidence", "determination",
    }  # fmt: skip


def test_scan_summary_and_csv_count_it_apart_from_affected_and_clean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from evict.report.scan import summarize

    main(["scan", "--from", "cyclonedx", str(CI_SBOM), "--format", "json", "--today", "2026-11-01"])
    summary = summarize(json.loads(capsys.readouterr().out))["directives"]["ndaa-fy18-1634"]
    assert (summary["affected_hosts"], summary["needs_determination_hosts"]) == (0, 1)
    assert summary["clean_hosts"] == 0
    main(["scan", "--from", "cyclonedx", str(CI_SBOM), "--format", "csv", "--today", "2026-11-01"])
    header, row = capsys.readouterr().out.splitlines()
    assert header.endswith(",determination")
    assert row.endswith(",needed (kaspersky-open-source-ndaa)")


def test_scan_table_says_needs_determination(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from rich.console import Console

    from evict.report.scan import render_table

    main(["scan", "--from", "cyclonedx", str(CI_SBOM), "--format", "json", "--today", "2026-11-01"])
    document = json.loads(capsys.readouterr().out)
    buffer = io.StringIO()
    render_table(document, console=Console(file=buffer, width=300))
    out = buffer.getvalue()
    assert "needs determination (kaspersky-open-source-ndaa)" in out
    assert "Needs determination" in out
    assert "No covered software found" not in out


def test_no_removal_is_planned_for_software_whose_coverage_is_undetermined(
    matcher: Matcher,
) -> None:
    from evict.remediation.planner import plan_inventory
    from evict.remediation.policy import Policy

    capcut = obs(Kind.PROGRAM, "CapCut", "Bytedance Pte. Ltd.", package_id="ByteDance.CapCut")
    tiktok = obs(Kind.PACKAGE, "TikTok", package_id="BytedancePte.Ltd.TikTok_6yccndn6064se")
    host = HostInventory(
        HostID("h1"), "h1", Platform.WINDOWS, dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        (capcut, tiktok),
    )  # fmt: skip
    plan = plan_inventory(host, matcher, policy=Policy(), today=dt.date(2026, 11, 1))
    assert plan.products == ("tiktok",)
