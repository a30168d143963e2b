"""Which osquery table a query read (by its columns, else its name), and the host's platform."""

from __future__ import annotations

import re
from collections.abc import Iterable

from evict.inventory.osquery.tables import ALIASES, TABLES
from evict.model.observations import Platform

_NAME_TOKENS = sorted(
    ((tuple(n.split("_")), TABLES[ALIASES.get(n, n)].name) for n in [*TABLES, *ALIASES]),
    key=lambda item: -len(item[0]),
)


def table_from_name(query: str) -> str | None:
    """The table a query name refers to, or None (see the module docstring for the rules)."""
    q = query.lower()
    q = re.sub(r"^pack[_/]", "", q)
    tokens = [t for t in re.split(r"[^a-z0-9]+", q) if t]
    best: tuple[int, int, str] | None = None
    for words, table in _NAME_TOKENS:
        n = len(words)
        for start in range(len(tokens) - n, -1, -1):
            if tuple(tokens[start : start + n]) == words:
                candidate = (n, start, table)
                if best is None or candidate[:2] > best[:2]:
                    best = candidate
                break
    return best[2] if best else None


def table_from_columns(columns: Iterable[str]) -> str | None:
    """The one table whose distinctive columns are all present, or None if none or several."""
    present = frozenset(columns)
    found = {t.name for t in TABLES.values() if any(sig <= present for sig in t.signatures)}
    return found.pop() if len(found) == 1 else None


def detect_table(query: str, columns: Iterable[str]) -> str | None:
    """Decide which table a query read: distinctive columns first, then the query's name."""
    by_columns = table_from_columns(columns)
    return by_columns or table_from_name(query)


# --- platform ---------------------------------------------------------------------------------

_LINUX_NAMES = frozenset(
    "linux debian ubuntu rhel centos fedora amzn arch gentoo suse sles opensuse opensuse-leap "
    "opensuse-tumbleweed rocky almalinux ol raspbian linuxmint pop kali manjaro alpine".split()
)


def platform_from_name(value: str) -> Platform | None:
    """Map osquery's ``os_version.platform`` (``windows``, ``darwin``, ``ubuntu``...)."""
    v = value.strip().lower()
    if not v:
        return None
    if v.startswith("windows"):
        return Platform.WINDOWS
    if v in ("darwin", "macos", "mac os x", "osx"):
        return Platform.MACOS
    if v in _LINUX_NAMES or "linux" in v:
        return Platform.LINUX
    return None
