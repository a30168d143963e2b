"""``evict catalog``: the directives, vendors, products and rules evict knows, with sources."""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from typing import Any

from evict.cli._common import add_catalog_options, catalog_dirs


def register(subparsers: Any) -> None:
    """Add the ``catalog`` command group."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "catalog", help="list and show directives, products and rules, with their sources"
    )
    sub = p.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND", required=True)
    ls = sub.add_parser("list", help="list directives, vendors, products and exclusions")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    add_catalog_options(ls)
    ls.set_defaults(func=run_list)
    show = sub.add_parser(
        "show", help="show one directive, vendor, product, exclusion or question of scope"
    )
    show.add_argument("id", metavar="ID")
    show.add_argument("--format", choices=("table", "json"), default="table")
    add_catalog_options(show)
    show.set_defaults(func=run_show)
    check = sub.add_parser(
        "validate", help="validate the catalog (with --catalog: your own files too)"
    )
    add_catalog_options(check)
    check.set_defaults(func=run_validate)


def _catalog(args: argparse.Namespace) -> Any:
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog

    return load_catalog(catalog_dirs(args))


def run_validate(args: argparse.Namespace) -> int:
    """Load and validate; a mistake raises a CatalogValidationError (exit 2)."""
    catalog = _catalog(args)
    rules = sum(len(p.rules) for p in catalog.products)
    print(
        f"catalog {catalog.version}: {len(catalog.directives)} directives, "
        f"{len(catalog.vendors)} vendors, {len(catalog.products)} products, {rules} rules, "
        f"{len(catalog.exclusions)} exclusions, {len(catalog.questions)} questions: valid"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print every directive and product with its sources."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.export import catalog_json

    catalog = _catalog(args)
    doc = catalog_json(catalog)
    if args.format == "json":
        print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
        return 0
    # rich: only for terminal output.
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    t = Table(title=f"Directives (catalog {catalog.version})", title_justify="left")
    for col in ("ID", "Title", "Issued", "Embedded code", "Vendors", "Sources"):
        t.add_column(col)
    for d in catalog.directives:
        t.add_row(
            d.id,
            escape(d.title),
            d.issued.isoformat(),
            "covered" if d.embedded else "not covered",
            ", ".join(d.vendors),
            "\n".join(escape(s.url or s.title) for s in d.sources),
        )
    console.print(t)
    t = Table(title="Products", title_justify="left")
    for col in ("ID", "Vendor", "Name", "Category", "Rules", "Sources"):
        t.add_column(col)
    for p in catalog.products:
        sources = {r.source for r in p.rules} | {s.url or s.title for s in p.sources}
        t.add_row(
            p.id,
            p.vendor,
            escape(p.name),
            p.category,
            str(len(p.rules)),
            "\n".join(escape(s) for s in sorted(sources)[:3])
            + (f"\n… {len(sources) - 3} more" if len(sources) > 3 else ""),
        )
    console.print(t)
    if catalog.exclusions:
        t = Table(title="Exclusions (known look-alikes)", title_justify="left")
        for col in ("ID", "Reason", "Suppresses"):
            t.add_column(col)
        for x in catalog.exclusions:
            t.add_row(
                x.id,
                escape(x.reason),
                ", ".join([*x.suppresses_vendors, *x.suppresses_products]),
            )
        console.print(t)
    if catalog.questions:
        t = Table(title="Questions of scope (need your determination)", title_justify="left")
        for col in ("ID", "Directives", "Applies to", "Question"):
            t.add_column(col)
        for q in catalog.questions:
            applies = [*q.products, *(f"vendor {v}" for v in q.vendors)]
            if q.embedded is not None:
                applies.append("embedded only" if q.embedded else "not embedded")
            t.add_row(q.id, ", ".join(q.directives), ", ".join(applies), escape(q.question))
        console.print(t)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one catalog entry in full (its id's case does not matter)."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.export import entry_ids, entry_json
    from evict.catalog.interface import CatalogLookupError, did_you_mean

    catalog = _catalog(args)
    entry = entry_json(catalog, args.id)
    if entry is None:
        raise CatalogLookupError(
            f"no directive, vendor, product, exclusion or question {args.id!r}"
            f"{did_you_mean(args.id, entry_ids(catalog))} (see `evict catalog list`)"
        )
    if args.format == "json":
        print(json.dumps(entry, indent=2, ensure_ascii=False, default=str))
        return 0
    width = max(60, min(shutil.get_terminal_size().columns, 120))
    print("\n".join(readable(entry, width=width)))
    return 0


def readable(entry: dict[str, Any], *, width: int = 100) -> list[str]:
    """A catalog entry as indented ``field: value`` lines, wrapped to ``width``.

    Empty fields are left out, booleans read yes/no, and lists of records are numbered
    blocks headed by their id and name, so that a person reads the entry as text.
    """
    head = f"{entry.get('type', 'entry')} {entry.get('id', '')}"
    title = entry.get("title") or entry.get("name")
    lines = [f"{head}: {title}" if title else head]
    rest = {k: v for k, v in entry.items() if k not in ("type", "id", "title", "name")}
    lines += _fields(rest, indent=2, width=width)
    return lines


def _fields(record: dict[str, Any], *, indent: int, width: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for key, value in record.items():
        if value is None or value == [] or value == {} or value == "":
            continue
        label = key.replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{pad}{label}:")
            lines += _fields(value, indent=indent + 2, width=width)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{label} ({len(value)}):")
            for item in value:
                keys = [k for k in ("id", "name", "title") if item.get(k)] or [
                    k for k in ("url",) if item.get(k)
                ]
                name = " ".join(str(item[k]) for k in keys)
                lines.append(f"{pad}  - {name}" if name else f"{pad}  -")
                shown = {k: v for k, v in item.items() if k not in keys}
                lines += _fields(shown, indent=indent + 4, width=width)
        else:
            text = (
                ", ".join(_scalar(v) for v in value) if isinstance(value, list) else _scalar(value)
            )
            lines += textwrap.wrap(
                text,
                width=width,
                initial_indent=f"{pad}{label}: ",
                subsequent_indent=pad + "    ",
                break_on_hyphens=False,
            ) or [f"{pad}{label}:"]
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
