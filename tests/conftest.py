"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the compiled-catalog and file-scan caches out of the user's home."""
    os.environ["EVICT_CACHE_DIR"] = str(tmp_path_factory.mktemp("evict-cache"))


@pytest.fixture
def asset():
    """Return the path of a file under tests/assets, failing if it does not exist."""

    def _asset(*parts: str) -> Path:
        path = ASSETS.joinpath(*parts)
        assert path.exists(), f"missing test asset {path}"
        return path

    return _asset
