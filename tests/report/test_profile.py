"""The organisation profile: the documented example loads; bad files are refused, with the line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from evict.report.interface import ProfileError
from evict.report.profile import MAX_PROFILE_BYTES, Profile, load_profile, profile_from_data
from tests.report.reportkit import PROFILE, REPORT_ASSETS


def test_the_documented_example_profile_loads_with_every_key() -> None:
    profile = load_profile(PROFILE)
    assert profile.agency == "Department of Example Affairs"
    assert profile.poc.email == "jordan.example@example.gov"
    assert profile.mission_functions["CBP"].startswith("Port-of-entry")
    assert profile.vendor_agreements is not None and len(profile.vendor_agreements) == 1
    assert profile.vendor_agreements[0].ends == "2018-09-30"
    assert profile.costs.maintenance == "$18,000 per year"
    assert profile.exception_approvers == ("Agency Head", "Deputy CIO (designee)")
    assert profile.contracts is not None and profile.contracts[0].orders == (
        "70RSAT18F00000011",
        "70RSAT18F00000012",
    )
    assert profile.far.initial_reported == dt.date(2018, 10, 4)


def test_the_example_covers_every_key_the_docs_list() -> None:
    docs = (PROFILE.parents[1] / "reports.md").read_text()
    top = {line.split(":")[0] for line in PROFILE.read_text().splitlines() if line[:1].isalpha()}
    assert top == {f.name for f in Profile.__dataclass_fields__.values()}
    for key in top:
        assert f"`{key}" in docs, key


def test_an_empty_profile_is_no_profile() -> None:
    assert load_profile(REPORT_ASSETS / "profile-empty.yaml") == Profile()


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("profile-malformed.yaml", 4, "not valid YAML"),
        ("profile-unknown-key.yaml", 4, "poc.phone"),
        ("profile-wrong-type.yaml", 3, "contracts"),
        ("profile-alias-bomb.yaml", 2, "aliases are not allowed"),
        ("profile-top-level-list.yaml", 1, "the top level must be a mapping"),
        ("profile-python-tag.yaml", 1, "not valid YAML"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_file_and_line(
    name: str, line: int, words: str
) -> None:
    path = REPORT_ASSETS / name
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}"), message
    assert words in message


def test_a_profile_that_is_not_utf8_is_refused_with_the_byte() -> None:
    with pytest.raises(ProfileError, match=r"\(byte 9\): not UTF-8 text"):
        load_profile(REPORT_ASSETS / "profile-latin1.yaml")


def test_a_huge_profile_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(MAX_PROFILE_BYTES + 1)
    with pytest.raises(ProfileError, match="more than a profile may hold"):
        load_profile(huge)


def test_a_missing_profile_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot be read"):
        load_profile(tmp_path / "absent.yaml")


def test_profile_data_from_a_request_round_trips_and_is_checked() -> None:
    profile = load_profile(PROFILE)
    assert profile_from_data(profile.to_json()) == profile
    with pytest.raises(ProfileError, match=r"profile \(poc.fax\)"):
        profile_from_data({"poc": {"fax": "1"}})
    with pytest.raises(ProfileError, match="longer than"):
        profile_from_data({"agency": "x" * 30_000})
