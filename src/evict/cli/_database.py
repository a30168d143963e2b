"""Helpers of the commands that work on the fleet database: ``--db``, ``--audit-key``, the
settings, the store, who acts and when."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evict._util import utcnow
from evict.cli._common import catalog_dirs
from evict.settings import Settings

if TYPE_CHECKING:
    from evict.model.records import OrgInfo
    from evict.service.fleet import Fleet
    from evict.store.store import Store


def _actor() -> str:
    """Who acts, for the audit chain: ``cli:`` and the login name."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL or SQLite path (default: EVICT_DB, else SQLite in the user data "
        "directory); postgresql://... for PostgreSQL",
    )


def _add_audit_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audit-key",
        type=Path,
        metavar="FILE",
        help="the Ed25519 key that signs audit heads, kept outside the database (default: "
        "EVICT_AUDIT_KEY, else audit-key.pem in the user data directory)",
    )


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings from the environment, with ``--db``, ``--audit-key`` and ``--catalog``."""
    extra = tuple(catalog_dirs(args)) if hasattr(args, "catalog") else ()
    if getattr(args, "audit_key", None):
        overrides.setdefault("audit_key", args.audit_key)
    settings = Settings.from_env(getattr(args, "db", None), **overrides)
    if extra:
        settings = dataclasses.replace(settings, catalog_dirs=extra)
    return settings


def _store(args: argparse.Namespace) -> Store:
    """Open the database named by ``--db`` and check its schema is current.

    A SQLite file that does not exist is an error here, not a new empty database: only
    ``evict db upgrade`` (and ``serve``, ``demo``) create one.
    """
    return _fleet(args).store


def _fleet(args: argparse.Namespace) -> Fleet:
    """Open the fleet named by ``--db`` (:meth:`evict.service.fleet.Fleet.open`): its schema
    must be current, and a SQLite file that does not exist is an error here, not a new empty
    database (only ``evict db upgrade``, ``serve`` and ``demo`` create one)."""
    # SQLAlchemy and the store are not loaded at CLI start-up (half a second).
    from evict.service.fleet import Fleet

    return Fleet.open(_settings(args).database_url, must_exist=True)


def _now() -> dt.datetime:
    """Now, in UTC."""
    return utcnow()


def _only_org(store: Store) -> OrgInfo | None:
    """The database's one organisation, or None when it holds none or several."""
    orgs = store.orgs()
    return orgs[0] if len(orgs) == 1 else None
