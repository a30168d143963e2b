"""Normalisation: the spellings a fleet really has compare equal to the catalog's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evict.model.normalize import normalize, normalize_many


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kaspersky Anti-Virus 2012", "kaspersky anti-virus"),
        ("KASPERSKY ANTI-VIRUS", "kaspersky anti-virus"),
        ("Kaspersky Anti\u2011Virus 21.3 (x64)", "kaspersky anti-virus"),
        (
            "Kaspersky Endpoint Security 10 SP2 for Windows",
            "kaspersky endpoint security for windows",
        ),
        ("Kaspersky Security 10.1.1 for Windows Server", "kaspersky security for windows server"),
        ("Антивирус Касперского 2011", "антивирус касперского"),
        (
            "\uff2b\uff41\uff53\uff50\uff45\uff52\uff53\uff4b\uff59\u2122 Total Security",
            "kaspersky total security",
        ),
        ("  Kaspersky   Internet\tSecurity  ", "kaspersky internet security"),
        ("7-Zip 19.00 (x64 edition)", "7-zip (edition)"),
    ],
)
def test_names(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_publisher_punctuation() -> None:
    assert normalize('AO "Kaspersky Lab", Inc.', "publisher") == "ao kaspersky lab inc"


def test_paths_fold_separators_and_case() -> None:
    assert normalize(r"C:\Program Files (x86)\\Kaspersky Lab\\", "path") == (
        "c:/program files (x86)/kaspersky lab/"
    )


@given(st.lists(st.text(max_size=40), max_size=30), st.sampled_from(["name", "publisher", "path"]))
def test_column_and_single_agree(values: list[str], field: str) -> None:
    """The batched path gives each value exactly what normalising it alone gives."""
    assert normalize_many(values, field) == [normalize(v, field) for v in values]
