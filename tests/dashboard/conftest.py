"""Fixtures of the dashboard tests: the seeded fleet (see :mod:`tests.dashboard.dashkit`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from evict.catalog.interface import Catalog
from tests.dashboard.dashkit import NOW, Seeded, app_settings, pg_schema_url, seed


@pytest.fixture(scope="session")
def builtin_catalog() -> Catalog:
    """The built-in catalog."""
    from evict.catalog.loader import load_catalog

    return load_catalog()


@pytest.fixture(
    scope="module", params=("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))
)
def seeded(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fleet_pg_database: str | None,
    builtin_catalog: Catalog,
) -> Seeded:
    """The seeded fleet, once per module and backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'evict.db'}"
    else:
        if fleet_pg_database is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("EVICT_TEST_DATABASE_URL is not set: CI must test on PostgreSQL too")
            pytest.skip("PostgreSQL: set EVICT_TEST_DATABASE_URL (postgresql://user@host:port/db)")
        url = pg_schema_url(fleet_pg_database)
    return seed(url, builtin_catalog)


@pytest.fixture(scope="module")
def client(seeded: Seeded, builtin_catalog: Catalog) -> Iterator[TestClient]:
    """The app over the seeded fleet, with the clock at :data:`NOW`."""
    from evict.server.app import create_app

    app = create_app(app_settings(seeded.url), clock=lambda: NOW, catalog=builtin_catalog)
    with TestClient(app) as c:
        c.app.state.dashboard.cache.stale_wait = 30  # type: ignore[attr-defined]
        yield c
