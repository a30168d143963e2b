"""The API's documentation pages would load scripts from a CDN: they are off; the spec stays."""

from __future__ import annotations

from fastapi.testclient import TestClient

from evict.server.app import create_app
from evict.settings import Settings


def test_no_page_that_loads_assets_from_the_internet(tmp_path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        spec = client.get("/openapi.json")
        assert spec.status_code == 200 and spec.json()["paths"]
