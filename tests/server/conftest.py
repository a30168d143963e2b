"""Fixtures for the server tests: the app on each backend, with a clock set by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evict.catalog.interface import Catalog
from tests.server.fleetkit import SERVER_ASSETS, Clock, Fleet, make_fleet


@pytest.fixture(scope="session")
def server_catalog() -> Catalog:
    """The built-in catalog plus an organisation's own approved protection product."""
    from evict.catalog.loader import load_catalog

    return load_catalog([SERVER_ASSETS / "catalog"])


@pytest.fixture
def fleet(migrated_url: str, server_catalog: Catalog) -> Iterator[Fleet]:
    """The app on each backend, its worker run by hand with :meth:`Fleet.work`."""
    yield from make_fleet(migrated_url, server_catalog, Clock())
