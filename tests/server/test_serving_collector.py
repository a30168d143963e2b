"""A serving process's garbage collector is set for a long life once its app has started; an app
built for anything else (tests, the demo's one-off reads) leaves the collector as it is."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evict.server.app import create_app
from evict.settings import Settings, normalise_database_url


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=normalise_database_url(f"sqlite:///{tmp_path / 'fleet.db'}"),
        run_worker=False,
    )


def test_a_serving_app_freezes_what_it_built_and_collects_less_often(
    tmp_path: Path, collector: None
) -> None:
    app = create_app(_settings(tmp_path), serving=True)
    with TestClient(app):
        assert gc.get_threshold() == (50_000, 20, 10)
        assert gc.get_freeze_count() > 0


def test_an_app_not_serving_leaves_the_collector_alone(tmp_path: Path, collector: None) -> None:
    before = gc.get_threshold()
    app = create_app(_settings(tmp_path))
    with TestClient(app):
        assert gc.get_threshold() == before
