"""The docs stay true: every command, inventory source and directive is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.cli import build_parser
from evict.inventory.registry import SOURCES

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def _commands(parser: argparse.ArgumentParser, prefix: str = "evict") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}"
                found.append(full)
                found.extend(_commands(sub, full))
    return found


COMMANDS = _commands(build_parser())


def test_there_are_commands_to_check():
    assert "evict scan" in COMMANDS and "evict catalog list" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    text = (DOCS / "cli.md").read_text()
    assert re.search(rf"^#+ `{re.escape(command)}\b", text, re.MULTILINE), (
        f"docs/cli.md has no heading for `{command}`"
    )


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_inventory_source_is_documented(source: str) -> None:
    text = (DOCS / "sources.md").read_text()
    assert re.search(rf"^#+ `{re.escape(source)}`", text, re.MULTILINE), (
        f"docs/sources.md has no heading for `{source}`"
    )


@pytest.mark.parametrize("directive", [d.id for d in load_catalog().directives])
def test_every_directive_is_documented(directive: str) -> None:
    assert f"`{directive}`" in (DOCS / "directives.md").read_text()


def test_readme_quickstart_is_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quickstart", 1)[1].split("```", 2)[1]
    assert [line.strip() for line in block.strip().splitlines()] == ["make demo", "make test"]
