"""``evict demo``: the dashboard on a simulated fleet with this host in it, on embedded defaults.

Everything runs in this process on a fresh SQLite file (no other service): an organisation "Demo
Agency" with the simulated fleet's org units and an admin, the directives adopted (BOD 17-01 on
its own dates, OMB M-23-13 on the organisation's own clock from 30 days ago), three weekly
inventories of the fleet through the store's ingestion path (changed hosts send a full inventory,
the others check in by digest, a few go silent), operators planning removals and granting
waivers in between, and this host scanned and added last. The matching worker runs after each
round, so the audit log holds the history the burn-down is drawn from. Then it prints the
summary and the login and serves the dashboard on 127.0.0.1 until Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir

from evict._util import utcnow
from evict.errors import EvictError

if TYPE_CHECKING:
    from evict.demo.fleet import DemoFleet


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the dashboard on a simulated fleet with this host in it (a first look)",
        description="Build a demo fleet on a fresh SQLite database (a simulated fleet of N "
        "hosts with three weekly inventories, and this host), print the summary and a login, "
        "and serve the dashboard on 127.0.0.1 until Ctrl-C. No other service is needed.",
    )
    p.add_argument(
        "--hosts", type=int, default=2000, metavar="N", help="simulated hosts (default 2000)"
    )
    p.add_argument("--seed", type=int, default=1, help="fleet seed (default 1)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where demo.db goes (default: the user data directory's evict/); recreated each run",
    )
    p.add_argument(
        "--no-serve", action="store_true", help="build the fleet and print the summary only"
    )
    p.set_defaults(func=run)


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(user_data_dir("evict"))


def run(args: argparse.Namespace) -> int:
    """Build the demo fleet, print the summary and the login, then serve the dashboard."""
    if args.hosts < 0:
        raise EvictError("--hosts must be 0 or more")

    # The demo's fleet loads the catalog, the worker and the store: not at CLI start-up.
    from evict.demo.fleet import ADMIN, build_demo

    def log(line: str) -> None:
        print(f"evict demo: {line}", file=sys.stderr, flush=True)

    demo = build_demo(_data_dir(args), hosts=args.hosts, seed=args.seed, now=utcnow(), log=log)
    print_summary(demo, now=utcnow())
    url = f"http://127.0.0.1:{args.port}/"
    print()
    print(f"Dashboard: {url}")
    print(f"Sign in as {ADMIN!r} with password {demo.password}  (shown once; recreated each run)")
    if args.no_serve:
        return 0
    # uvicorn and the server (FastAPI): not loaded at CLI start-up.
    import uvicorn

    from evict.server.app import create_app

    log(f"serving {url} (Ctrl-C to stop)")
    uvicorn.run(create_app(demo.settings), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def print_summary(demo: DemoFleet, *, now: dt.datetime) -> None:
    """Per adopted directive: hosts affected and clean, by state, next milestone, days left."""
    # The catalog and the report's counts: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.demo.fleet import ORG
    from evict.model.states import PRESENT, STATE_ORDER, UNCONCLUDED_STATES
    from evict.report.fleet import summarise_counts
    from evict.service.fleet import Fleet

    store = Fleet.open(demo.settings.database_url).store
    catalog = load_catalog(demo.settings.catalog_dirs)
    org = store.org(ORG)
    today = now.date()
    print(f"{ORG}: {demo.hosts:,} simulated hosts and this host ({demo.this_host or 'none'})")
    print(f"database: {demo.database}")
    for directive_id, start in store.adoptions(org.id).items():
        d = catalog.directive(directive_id)
        counts = store.state_counts(d.id, org.id)
        summary = summarise_counts(counts, d, today=today, start=start)
        unsure = {s.value for s in UNCONCLUDED_STATES}
        affected = sum(
            n for s, n in summary.states.items() if s not in {"clean", "pending", *unsure}
        )
        carrying = sum(n for s, n in summary.states.items() if s in PRESENT)
        unconcluded = sum(n for s, n in summary.states.items() if s in unsure)
        left = summary.days_left or 0
        when = f"{-left} days overdue" if left < 0 else f"{left} days left"
        print()
        print(f"{d.id}: {d.title} (clock from {start.isoformat()})")
        print(
            f"  hosts affected {affected:,} (still carrying {carrying:,}), "
            f"clean {summary.states.get('clean', 0):,}, cannot conclude (incomplete or stale) "
            f"{unconcluded:,}, overdue {summary.overdue:,}"
        )
        print(
            "  by state: "
            + ", ".join(f"{s} {summary.states[s]:,}" for s in STATE_ORDER if summary.states.get(s))
        )
        print(f"  next milestone: {summary.milestone}, due {summary.due}, {when}")
    store.close()
