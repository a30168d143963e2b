"""Helpers shared by the command modules: argument types and the catalog options."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


def iso_date(value: str) -> dt.date:
    """An argparse type for ``YYYY-MM-DD`` dates."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from e


def add_catalog_options(parser: argparse.ArgumentParser) -> None:
    """``--catalog DIR`` (an organisation's own catalog files on top of the built-in ones)."""
    parser.add_argument(
        "--catalog",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="extra catalog directory or YAML file (repeatable; also EVICT_CATALOG)",
    )


def add_clock_options(parser: argparse.ArgumentParser) -> None:
    """``--start DATE`` (own clock) and ``--today DATE`` (evaluate as of a date)."""
    parser.add_argument(
        "--start",
        metavar="DATE",
        type=iso_date,
        help="your organisation's own start date for the directives' milestones",
    )
    parser.add_argument(
        "--today",
        metavar="DATE",
        type=iso_date,
        help="evaluate milestones as of this date instead of today (UTC)",
    )


def catalog_dirs(args: argparse.Namespace) -> list[Path]:
    """The extra catalog directories from ``--catalog`` and ``EVICT_CATALOG``."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import extra_catalog_dirs

    return [*extra_catalog_dirs(), *args.catalog]
