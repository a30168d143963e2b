"""``evict demo``: the whole job on embedded defaults, for a first look."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="scan this host and a sample fleet, print the summary (a first look)",
        description="Scan this host, add the bundled sample fleet, and print the summary, on "
        "embedded defaults (no service needed).",
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; always exits 0 unless something is broken."""
    from importlib import resources
    from pathlib import Path

    from evict._util import today, utcnow
    from evict.cli.scan import emit
    from evict.inventory.local import LocalHostSource
    from evict.inventory.registry import open_source
    from evict.matching.cache import load_matcher
    from evict.report.scan import to_document
    from evict.scanning import scan

    matcher = load_matcher()
    fleet = Path(str(resources.files("evict.sample_data") / "fleet.osquery.log"))
    sources = [LocalHostSource(), open_source("osquery", [fleet])]
    result = scan(sources, matcher, generated_at=utcnow())
    document = to_document(result, matcher.catalog, today=today())
    emit(document, args.format, None)
    return 2 if result.errors else 0
