"""Fixtures of the security tests: the two-organisation world on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evict.catalog.interface import Catalog
from tests.security.seckit import World, make_world
from tests.server.fleetkit import SERVER_ASSETS


@pytest.fixture(scope="session")
def security_catalog() -> Catalog:
    """The built-in catalog plus the test organisation's own protection product."""
    from evict.catalog.loader import load_catalog

    return load_catalog([SERVER_ASSETS / "catalog"])


@pytest.fixture
def world(migrated_url: str, security_catalog: Catalog) -> Iterator[World]:
    """DHS (org units East and West) and Rival on one server, on each backend."""
    yield from make_world(migrated_url, security_catalog)
