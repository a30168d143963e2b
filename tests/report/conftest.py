"""Fixtures of the report tests: the catalog, its matcher, and the seeded fleet on each backend."""

from __future__ import annotations

from typing import Any

import pytest

from evict.catalog.interface import Catalog
from evict.matching.engine import Matcher
from tests.report.reportkit import SeededFleet, seed


@pytest.fixture(scope="session")
def report_catalog() -> Catalog:
    """The built-in catalog."""
    from evict.catalog.loader import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def report_matcher(report_catalog: Catalog) -> Matcher:
    """The built-in catalog, compiled once."""
    return Matcher(report_catalog)


@pytest.fixture
def seeded(fleet_store: Any, report_catalog: Catalog, report_matcher: Matcher) -> SeededFleet:
    """The scenario of :mod:`tests.report.reportkit`, on SQLite and on PostgreSQL."""
    return seed(fleet_store, report_catalog, report_matcher)
