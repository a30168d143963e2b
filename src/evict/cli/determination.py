"""``evict determination``: an organisation's answers to the catalog's questions of scope.

``record`` answers one question (covered or not covered) for a whole organisation, saying who
decided, when and on what citation or reasoning; ``list`` shows the answers in force (with
``--all``, the revoked ones too); ``revoke`` withdraws one, so that its findings need a
determination again. Each is audit-logged; the worker's next pass moves the hosts concerned.
The questions themselves are in the catalog: ``evict catalog list``, ``evict catalog show ID``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from evict.cli._common import add_catalog_options, iso_date
from evict.cli._database import _actor, _add_db, _now, _settings, _store


def register(subparsers: Any) -> None:
    """Add the ``determination`` command group."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "determination",
        help="record, list and revoke your organisation's answers to questions of scope",
    )
    sub = p.add_subparsers(dest="determination_command", metavar="SUBCOMMAND", required=True)
    rec = sub.add_parser(
        "record", help="answer one question of scope (covered or not) for the whole organisation"
    )
    rec.add_argument("question", metavar="QUESTION", help="question id (evict catalog list)")
    rec.add_argument("--org", required=True, help="the organisation it applies to")
    rec.add_argument("--answer", required=True, choices=("covered", "not-covered"))
    rec.add_argument(
        "--reasoning",
        required=True,
        help="the citation and reasoning the answer rests on (counsel's memo, agency guidance...)",
    )
    rec.add_argument("--decided-by", required=True, metavar="WHO", help="who made it")
    rec.add_argument(
        "--decided-on", type=iso_date, metavar="DATE", help="the day it was made (default: today)"
    )
    _add_db(rec)
    add_catalog_options(rec)
    rec.set_defaults(func=run_record)
    ls = sub.add_parser("list", help="list the organisation's determinations")
    ls.add_argument("--org", required=True)
    ls.add_argument("--all", action="store_true", help="revoked ones too")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    _add_db(ls)
    ls.set_defaults(func=run_list)
    rv = sub.add_parser("revoke", help="withdraw a determination: its findings need one again")
    rv.add_argument("question", metavar="QUESTION")
    rv.add_argument("--org", required=True)
    _add_db(rv)
    add_catalog_options(rv)
    rv.set_defaults(func=run_revoke)


def run_record(args: argparse.Namespace) -> int:
    """Run ``evict determination record``."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.compliance.determinations import Determination, parse_answer, question_products

    catalog = load_catalog(_settings(args).catalog_dirs)
    now = _now()
    determination = Determination(
        question=args.question,
        answer=parse_answer(args.answer),
        reasoning=args.reasoning,
        decided_by=args.decided_by,
        decided_on=args.decided_on or now.date(),
    )
    determination.check(catalog, today=now.date())
    store = _store(args)
    org = store.org(args.org)
    saved = store.record_determination(
        org.id,
        determination,
        actor=_actor(),
        now=now,
        products=question_products(catalog, args.question),
        catalog_version=catalog.version,
    )
    print(
        f"{org.name}: {saved.question}: {saved.answer.value} (determination {saved.id}); "
        "hosts move on the worker's next pass"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Run ``evict determination list``."""
    store = _store(args)
    org = store.org(args.org)
    items = store.determinations(org.id, revoked=args.all)
    if args.format == "json":
        print(json.dumps([d.to_json() for d in items], indent=2, ensure_ascii=False))
        return 0
    # rich: only for terminal output.
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not items:
        print(f"{org.name}: no determination recorded")
        return 0
    t = Table(title=f"Determinations of {escape(org.name)}", title_justify="left")
    for col in ("ID", "Question", "Answer", "Decided by", "On", "Reasoning", "Recorded by"):
        t.add_column(col)
    for d in items:
        t.add_row(
            str(d.id),
            escape(d.question),
            d.answer.value + (" (revoked)" if d.revoked else ""),
            escape(d.decided_by),
            d.decided_on.isoformat(),
            escape(d.reasoning),
            escape(d.recorded_by),
        )
    Console().print(t)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    """Run ``evict determination revoke``."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.compliance.determinations import question_products

    catalog = load_catalog(_settings(args).catalog_dirs)
    catalog.question(args.question)
    store = _store(args)
    org = store.org(args.org)
    store.revoke_determination(
        org.id,
        args.question,
        actor=_actor(),
        now=_now(),
        products=question_products(catalog, args.question),
        catalog_version=catalog.version,
    )
    print(f"{org.name}: {args.question}: determination revoked; its findings need one again")
    return 0
