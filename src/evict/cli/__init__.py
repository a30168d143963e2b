"""evict's command line: parse, call the library, render. No business logic lives here.

Each command group is a module of this package with a ``register(subparsers)`` function; modules
import their heavy dependencies inside the command functions so that ``evict scan`` starts fast.
Exit codes: 0 nothing found / success, 1 something found (scan) or check failed, 2 usage or
input error (a message, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from evict import __version__
from evict.errors import EvictError

COMMAND_MODULES: tuple[str, ...] = (
    "evict.cli.scan",
    "evict.cli.catalog",
    "evict.cli.remediate",
    "evict.cli.fleet",
    "evict.cli.hosts",
    "evict.cli.reports",
    "evict.cli.notify",
    "evict.cli.determination",
    "evict.cli.simulate",
    "evict.cli.demo",
)
"""Modules that add subcommands, in the order ``evict --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The whole ``evict`` argument parser, with every registered command."""
    parser = argparse.ArgumentParser(
        prog="evict",
        description="Find, report, plan, remove and replace, and verify the removal of "
        "software covered by a ban (BOD 17-01, NDAA FY2018 s.1634, the 2024 BIS Kaspersky "
        "ban, OMB M-23-13, state DeepSeek bans).",
    )
    parser.add_argument("--version", action="version", version=f"evict {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except EvictError as e:
        print(f"evict: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evict: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return code
