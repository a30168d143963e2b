"""YARA rules for the file scan: compiled once, run on the executable formats they target.

A rule tagged ``pe``, ``elf`` or ``macho`` runs only on files of that format; a rule without
any of those tags runs on every executable. The catalog's own rules
(``evict/catalog/data/yara/*.yar``) are all tagged ``pe``, so a tree of ELF files is never
handed to YARA at all. A rule's ``meta: vendor`` is reported as the publisher of the file it
matched, so the catalog's publisher rules decide what the match means.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evict.inventory.files.formats import Format
from evict.inventory.interface import InventoryError, SourceInputError

MATCH_TIMEOUT = 60
"""Seconds YARA may spend on one file before the match is abandoned (and reported)."""


class RulesMatchError(InventoryError):
    """YARA could not finish matching one file (a timeout, an internal limit)."""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """One rule that matched one file."""

    rule: str
    vendor: str


def rule_files(path: Path) -> list[Path]:
    """The rule files at ``path``: the file itself, or every ``*.yar``/``*.yara`` in a folder."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yar", ".yara") and p.is_file())
    if path.is_file():
        return [path]
    raise SourceInputError(str(path), "no such YARA rule file or folder")


def rules_digest(files: Sequence[Path]) -> str:
    """A content hash of the rule files, so cached results follow any change to the rules."""
    digest = hashlib.sha256()
    for path in files:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError as e:
            raise SourceInputError(str(path), f"cannot read YARA rules: {e.strerror}") from e
    return digest.hexdigest()[:16]


class CompiledRules:
    """A set of YARA rules, compiled on first use, with the formats they apply to.

    Reading the files and hashing them happens at once (the hash is part of the file-scan
    cache key); compiling waits until a file actually needs the rules, so a scan answered from
    the cache never pays for it. Call :meth:`compile` from one thread before matching from many.

    :param path: a rule file or a folder of them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = rule_files(path)
        if not self.files:
            raise SourceInputError(str(path), "no YARA rules (*.yar) in this folder")
        self.digest = rules_digest(self.files)
        self._rules: Any = None
        self._formats: frozenset[Format] = frozenset()

    def compile(self) -> None:
        """Compile the rules (once); raise :class:`SourceInputError` if they do not compile."""
        if self._rules is not None:
            return
        import yara  # type: ignore[import-not-found]

        try:
            rules = yara.compile(filepaths={f"r{i}": str(p) for i, p in enumerate(self.files)})
        except yara.SyntaxError as e:
            raise SourceInputError(str(self.path), f"YARA rules do not compile: {e}") from e
        except yara.Error as e:
            raise SourceInputError(str(self.path), f"YARA rules cannot be loaded: {e}") from e
        every = frozenset(Format)
        formats: set[Format] = set()
        for rule in rules:
            if rule.is_private:
                continue
            tagged = {Format(t) for t in rule.tags if t in every}
            formats |= tagged or every
        self._formats = frozenset(formats)
        self._rules = rules

    @property
    def formats(self) -> frozenset[Format]:
        """The formats at least one (public) rule applies to."""
        self.compile()
        return self._formats

    def applies_to(self, fmt: Format | None) -> bool:
        """Whether any rule targets files of ``fmt`` (named non-executables: never)."""
        return fmt is not None and fmt in self.formats

    def match(self, data: Any) -> list[RuleMatch]:
        """Run the rules over ``data`` (bytes or a read-only mapping of one whole file).

        :raises RulesMatchError: when YARA gives up (after :data:`MATCH_TIMEOUT` seconds, or on
            one of its internal limits).
        """
        # yara-python is optional: only with YARA rules
        import yara

        self.compile()
        try:
            matches = self._rules.match(data=data, timeout=MATCH_TIMEOUT)
        except yara.TimeoutError as e:
            raise RulesMatchError(f"YARA timed out after {MATCH_TIMEOUT} s") from e
        except yara.Error as e:
            raise RulesMatchError(f"YARA failed: {e}") from e
        out = []
        for m in matches:
            vendor = m.meta.get("vendor", "")
            out.append(RuleMatch(m.rule, vendor if isinstance(vendor, str) else str(vendor)))
        return out
