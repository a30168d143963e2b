"""``evict simulate``: write a realistic synthetic fleet, for demos and benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evict.errors import EvictError
from evict.model.observations import Platform


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="write a realistic synthetic fleet (osquery results log or evict JSON lines)",
        description="Write a synthetic fleet of N hosts, streaming (memory stays flat). Hosts are "
        "reproducible from --seed; --snapshot K writes the same fleet K weeks later, with "
        "covered products removed and replaced on a growing share of hosts.",
    )
    p.add_argument("--hosts", type=int, required=True, metavar="N", help="number of hosts")
    p.add_argument("--seed", type=int, default=1, help="fleet seed (default 1)")
    p.add_argument("--snapshot", type=int, default=0, metavar="K", help="snapshot number")
    p.add_argument(
        "--format",
        choices=("osquery", "evict"),
        help="osquery: an osqueryd results log, read back with --from osquery (mobile hosts "
        "are left out: osquery does not run there); evict: evict's JSON lines, every host, read "
        "back with --from evict (default: osquery when --out's name contains 'osquery', "
        "otherwise evict)",
    )
    p.add_argument("--out", type=Path, help="output file (default: standard output)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the fleet; progress goes to standard error on a terminal."""
    # the simulated fleet: loaded when the command runs
    from evict.demo.simulate import fleet, osquery_lines
    from evict.inventory.evict_json import inventory_to_json

    if args.hosts < 0:
        raise EvictError("--hosts must be 0 or more")
    if args.format is None:
        named = args.out is not None and "osquery" in args.out.name.lower()
        args.format = "osquery" if named else "evict"
    out = sys.stdout if args.out is None else args.out.open("w", encoding="utf-8")
    progress = sys.stderr.isatty()
    skipped = 0
    try:
        for i, inventory in enumerate(fleet(args.hosts, seed=args.seed, snapshot=args.snapshot)):
            if args.format == "evict":
                record = inventory_to_json(inventory)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            elif inventory.platform in (Platform.ANDROID, Platform.IOS):
                skipped += 1
            else:
                for event in osquery_lines(inventory, counter=args.snapshot):
                    out.write(json.dumps(event, ensure_ascii=False) + "\n")
            if progress and i % 10_000 == 0:
                print(f"\r{i:,} / {args.hosts:,} hosts", end="", file=sys.stderr)
    finally:
        if out is not sys.stdout:
            out.close()
    if progress:
        print(f"\r{args.hosts:,} / {args.hosts:,} hosts", file=sys.stderr)
    if skipped:
        print(f"left out {skipped:,} mobile hosts (osquery does not run there)", file=sys.stderr)
    if args.out is not None:
        what = "an osquery results log" if args.format == "osquery" else "evict JSON lines"
        print(
            f"wrote {args.hosts - skipped:,} hosts to {args.out} as {what}: read it with "
            f"--from {args.format} {args.out}",
            file=sys.stderr,
        )
    return 0
