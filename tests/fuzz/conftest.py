"""Fuzzing fixtures: the Hypothesis profiles, a scratch folder per target, a time limit per test.

Two profiles are registered. ``fuzz`` (the default) draws new examples on every run and keeps
failing ones in the example database so they are tried first next time. ``ci`` derandomizes
(a fixed seed: the same examples on every run, so a failure reproduces) and caps every test at
:data:`CI_MAX_EXAMPLES`. ``ci`` is used when ``CI=true``, or when ``HYPOTHESIS_PROFILE=ci``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from tests.fuzz.mutators import CI_MAX_EXAMPLES, FUZZ_SETTINGS, profile_name

TEST_TIMEOUT = 30
"""Seconds one fuzz test may take: a parser that hangs on an input fails the test, not CI."""

settings.register_profile("fuzz", max_examples=10_000, **FUZZ_SETTINGS)  # each test sets its count
settings.register_profile(
    "ci", max_examples=CI_MAX_EXAMPLES, derandomize=True, database=None, **FUZZ_SETTINGS
)

if profile_name() == "ci":
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every fuzz test a hard time limit (pytest-timeout)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole session, holding a scratch folder per target."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="session")
def scratch(scratch_root: Path) -> Callable[[str], Path]:
    """``scratch(name)``: the scratch folder of target ``name`` (prepared on first use)."""

    def folder(name: str) -> Path:
        return scratch_root / name

    return folder
