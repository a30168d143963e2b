"""``evict scan``: scan this host, or read offline inventories, and report covered software."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evict._util import today, utcnow
from evict.cli._common import add_catalog_options, add_clock_options, catalog_dirs
from evict.errors import EvictError, InputError

if TYPE_CHECKING:
    from evict.catalog.interface import Catalog


def register(subparsers: Any) -> None:
    """Add the ``scan`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "scan",
        help="scan this host (or offline inventories) for covered software",
        description="Scan this host, or read inventories other tools produced (--from), and "
        "report software covered by a directive. Exit 0: nothing found, on inventories "
        "complete enough to conclude; 1: found, or some host's inventory is incomplete "
        "(cannot conclude); 2: usage or input error (reading no host at all is one).",
    )
    p.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        action="append",
        metavar=("KIND", "PATH"),
        default=[],
        help="read offline inventories of KIND from PATH... instead of this host "
        "(repeatable; KIND: osquery, dpkg-status, reg, hive, powershell, macos, intune, jamf, "
        "cyclonedx, spdx; network logs: zeek, suricata, squid, bind, windows-dns, dnsmasq)",
    )
    p.add_argument(
        "--files",
        nargs="+",
        type=Path,
        metavar="PATH",
        default=[],
        help="also walk these folders for executables (PE, ELF, Mach-O) and identify them",
    )
    p.add_argument("--no-file-cache", action="store_true", help="do not use the file-scan cache")
    p.add_argument(
        "--yara", action="store_true", help="with --files: also run the catalog's YARA rules"
    )
    p.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (default: table)",
    )
    p.add_argument(
        "--directive",
        action="append",
        default=[],
        metavar="ID",
        help="only these directives (repeatable; default: all)",
    )
    p.add_argument(
        "--determinations",
        type=Path,
        metavar="FILE",
        help="apply your organisation's answers to questions of scope, as "
        "'evict determination list --format json' exports them (covered: the finding is "
        "identified; not covered: it is dropped)",
    )
    p.add_argument("-o", "--output", type=Path, help="write the output to this file")
    add_clock_options(p)
    add_catalog_options(p)
    p.set_defaults(func=run)


def build_sources(args: argparse.Namespace, catalog: Catalog) -> list[Any]:
    """The inventory sources the arguments ask for (this host when none); network logs and
    files are read for ``catalog``'s products."""
    # The inventory sources (with the catalog's schema): not loaded at CLI start-up.
    from evict.inventory.registry import open_source

    sources: list[Any] = []
    for group in args.sources:
        if len(group) < 2:
            raise EvictError(f"--from {group[0]} needs at least one PATH")
        kind, *paths = group
        sources.append(open_source(kind, [Path(p) for p in paths], catalog=catalog))
    if args.files:
        # The executable readers (and yara, when asked for): only for --files.
        from evict.inventory.files import FileScanSource

        cache = None if args.no_file_cache else _file_cache_path()
        sources.append(
            FileScanSource(
                args.files,
                catalog=catalog,
                cache_path=cache,
                progress=_progress_printer() if sys.stderr.isatty() else None,
                yara_rules=_yara_dir() if args.yara else None,
            )
        )
    if not sources:
        from evict.inventory.local import LocalHostSource  # as above

        sources.append(LocalHostSource())
    return sources


def _file_cache_path() -> Path:
    from evict.matching.cache import cache_dir  # the catalog's loader: not at CLI start-up

    return cache_dir() / "files.sqlite"


def _yara_dir() -> Path:
    from evict.catalog.loader import builtin_catalog_dir  # not at CLI start-up

    return builtin_catalog_dir() / "yara"


def _progress_printer() -> Any:
    from rich.console import Console  # rich: only on a terminal

    console = Console(stderr=True)

    def show(done: int, total: int) -> None:
        console.print(f"scanned {done:,} of {total:,} files", end="\r", highlight=False)

    return show


def run(args: argparse.Namespace) -> int:
    """Run ``evict scan``."""
    # The catalog, the matcher and the scan pipeline: not loaded at CLI start-up.
    from evict.matching.cache import load_matcher
    from evict.report.scan import to_document
    from evict.scanning import no_host_error, read_nothing, scan

    matcher = load_matcher(catalog_dirs(args))
    directives = None
    if args.directive:
        directives = [matcher.catalog.directive(d) for d in args.directive]
    sources = build_sources(args, matcher.catalog)
    answers = _determinations(args.determinations, matcher.catalog, args.today or today())
    result = scan(
        sources, matcher, generated_at=utcnow(), directives=directives, determinations=answers
    )
    if not result.hosts and not result.errors and read_nothing(sources):
        raise no_host_error(sources)
    starts: dict[str, Any] | None = None
    if args.start:
        starts = {d.id: args.start for d in matcher.catalog.directives}
    document = to_document(
        result,
        matcher.catalog,
        today=args.today or today(),
        starts=starts,
        directives=directives,
    )
    emit(document, args.format, args.output)
    for error in result.errors:
        print(f"evict: error: {error}", file=sys.stderr)
    if result.errors:
        return 2
    if result.found:
        return 1
    inconclusive = result.inconclusive(directives or matcher.catalog.directives)
    if inconclusive:
        # Nothing found is not an answer where the inventory could not show it: not clean.
        names = ", ".join(h.inventory.hostname or h.inventory.host for h in inconclusive[:5])
        more = f" and {len(inconclusive) - 5} more" if len(inconclusive) > 5 else ""
        print(
            f"evict: incomplete: cannot conclude on {len(inconclusive)} host(s) "
            f"({names}{more}): their inventories lack what their platform needs",
            file=sys.stderr,
        )
        return 1
    return 0


def _determinations(path: Path | None, catalog: Any, today: Any) -> dict[str, Any]:
    """The determinations in ``path`` (an exported list), checked against ``catalog``; a note on
    standard error says which were applied. A file that cannot be used is an input error."""

    # loaded when the command runs, not at start-up
    from evict.compliance.determinations import DeterminationError, load_determinations

    if path is None:
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        answers = load_determinations(document, catalog, today=today)
    except OSError as e:
        raise InputError(str(path), f"cannot read: {e.strerror or e}") from e
    except (ValueError, DeterminationError) as e:  # JSONDecodeError is a ValueError
        raise InputError(str(path), f"not a list of determinations: {e}") from e
    applied = ", ".join(f"{q} ({d.answer.value})" for q, d in sorted(answers.items()))
    print(
        f"evict: applying {len(answers)} determination(s) from {path}: {applied or 'none'}",
        file=sys.stderr,
    )
    return answers


def emit(document: dict[str, Any], fmt: str, output: Path | None) -> None:
    """Write ``document`` in ``fmt`` to ``output`` or standard output."""
    from evict.report.scan import render_csv, render_json, render_table  # not at CLI start-up

    if fmt == "json":
        text = render_json(document)
    elif fmt == "csv":
        text = render_csv(document)
    else:
        from rich.console import Console  # rich: only for the table

        if output is None:
            render_table(document, console=Console(emoji=False))
            return
        with output.open("w", encoding="utf-8") as f:
            render_table(document, console=Console(file=f, width=160, emoji=False))
        return
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
