"""What a user types as --db becomes the right SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path

from evict.settings import Settings, normalise_database_url


def test_postgresql_urls_select_psycopg_3() -> None:
    assert normalise_database_url("postgresql://u@db:5432/evict") == (
        "postgresql+psycopg://u@db:5432/evict"
    )
    assert normalise_database_url("postgres://u@db/evict") == "postgresql+psycopg://u@db/evict"
    assert normalise_database_url("postgresql+psycopg://u@db/x") == "postgresql+psycopg://u@db/x"


def test_a_bare_path_is_a_sqlite_file(tmp_path: Path) -> None:
    assert normalise_database_url(str(tmp_path / "f.db")) == f"sqlite:///{tmp_path / 'f.db'}"


def test_the_environment_chooses_the_database_and_worker_interval(tmp_path: Path) -> None:
    env = {
        "EVICT_DB": str(tmp_path / "e.db"),
        "EVICT_WORKER_INTERVAL": "2.5",
        "EVICT_PROTECTION": "defender, crowdstrike-falcon",
    }
    settings = Settings.from_env(env=env)
    assert settings.database_url == f"sqlite:///{tmp_path / 'e.db'}"
    assert settings.is_sqlite and settings.upgrade_on_start
    assert settings.worker_interval == 2.5
    assert settings.protection_products == frozenset({"defender", "crowdstrike-falcon"})
    explicit = Settings.from_env("postgresql://u@db/x", env=env)
    assert explicit.database_url.startswith("postgresql+psycopg://")
    assert not explicit.upgrade_on_start, "PostgreSQL is migrated by `evict db upgrade`"


def test_the_default_is_sqlite_in_the_user_data_directory(monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/tmp/evict-xdg")
    settings = Settings.from_env(env={})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/evict/evict.db")
