"""The matcher over the shipped catalog, shared by the Windows source tests."""

from __future__ import annotations

import pytest

from evict.catalog.loader import load_catalog
from evict.matching.engine import Matcher


@pytest.fixture(scope="session")
def catalog_matcher() -> Matcher:
    """The matcher over the shipped catalog, compiled once."""
    return Matcher(load_catalog())
