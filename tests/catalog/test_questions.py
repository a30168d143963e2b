"""Questions of scope in the catalog: each quotes the directive text that leaves it open, and a
mistake in one is reported by file, line, entry and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evict.catalog.interface import Catalog, CatalogValidationError
from evict.catalog.loader import load_catalog
from evict.cli import main

QUESTIONS = Path(__file__).parent.parent / "assets" / "catalog" / "questions"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_the_builtin_questions_cover_the_unsettled_cases(catalog: Catalog) -> None:
    asked = {q.id: q for q in catalog.questions}
    assert set(asked) == {
        "kaspersky-open-source-ndaa",
        "bytedance-other-apps-m-23-13",
        "deepseek-local-and-clients",
        "kaspersky-white-label-bod-17-01",
        "kaspersky-oem-products-bod-17-01",
    }
    assert asked["kaspersky-oem-products-bod-17-01"].products == ("kaspersky-oem-products",)
    assert asked["bytedance-other-apps-m-23-13"].products == ("lemon8", "bytedance-other-apps")
    white_label = asked["kaspersky-white-label-bod-17-01"]
    assert (white_label.vendors, white_label.embedded) == (("kaspersky",), True)


def test_every_question_quotes_each_of_its_directives_with_a_source(catalog: Catalog) -> None:
    for q in catalog.questions:
        assert q.question.endswith("?"), q.id
        assert {c.directive for c in q.citations} == set(q.directives), q.id
        for c in q.citations:
            assert len(c.quote.split()) >= 8, (q.id, c.quote)
            assert c.source.title, q.id
        assert q.covered_means and q.not_covered_means, q.id


def test_products_that_only_raise_a_question_name_their_directives(catalog: Catalog) -> None:
    for pid in ("kaspersky-open-source", "bytedance-other-apps", "deepseek-open-weights"):
        product = catalog.product(pid)
        assert product.directives, pid
        assert any(pid in q.products for q in catalog.questions), pid


def test_an_organisations_own_question_is_loaded(tmp_path: Path) -> None:
    catalog = load_catalog([QUESTIONS / "valid-question.yaml"])
    q = catalog.question("tiktok-sdk-in-house-apps")
    assert q.embedded is True
    assert q.citations[0].source.url == "https://scribd.com/document/628516042"


BROKEN = [
    (
        "question-unknown-product.yaml",
        r"questions \(acme-scanner-question\) -> applies_to.products: unknown product "
        r"'acme-scanner'",
    ),
    (
        "question-cites-another-directive.yaml",
        r"questions \(tiktok-lite-question\) -> citations: 'bod-17-01' is not one of the "
        r"question's directives \(omb-m-23-13\)",
    ),
    (
        "question-without-citation.yaml",
        r":\d+: questions\[0\] \(tiktok-lite-question\) -> citations: List should have at least 1",
    ),
    (
        "question-applies-to-nothing.yaml",
        r":\d+: questions\[0\] \(tiktok-lite-question\) -> applies_to: Value error, a question "
        r"applies to some products or vendors",
    ),
    (
        "question-asked-twice.yaml",
        r"questions \(lemon8-again\): bytedance-other-apps-m-23-13 already asks about lemon8 "
        r"under omb-m-23-13",
    ),
    (
        "question-duplicate-id.yaml",
        r"question 'bytedance-other-apps-m-23-13' is defined twice",
    ),
    (
        "product-unknown-directive.yaml",
        r"products \(acme-kav-sdk\) -> directives: unknown directive 'bod-17-02'",
    ),
]


@pytest.mark.parametrize(("name", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_question_is_reported_with_file_and_entry(name: str, expected: str) -> None:
    with pytest.raises(CatalogValidationError) as e:
        load_catalog([QUESTIONS / name])
    message = str(e.value)
    assert name in message
    assert re.search(expected, message), message


def test_catalog_show_prints_a_question_with_its_cited_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["catalog", "show", "kaspersky-white-label-bod-17-01", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["type"] == "question"
    assert shown["directives"] == ["bod-17-01"]
    assert shown["applies_to"] == {"products": [], "vendors": ["kaspersky"], "embedded": True}
    assert any("does not address Kaspersky code embedded" in c["quote"] for c in shown["citations"])
    assert shown["citations"][0]["source"]["url"].startswith("https://")


def test_catalog_list_and_validate_count_the_questions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["questions"]) == 5
    assert main(["catalog", "validate"]) == 0
    assert "5 questions: valid" in capsys.readouterr().out
