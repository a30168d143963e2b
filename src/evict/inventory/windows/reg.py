"""Regedit exports (``.reg`` files) as an inventory source: ``evict scan --from reg FILE|DIR``.

A ``.reg`` file is what ``regedit`` (File > Export) and ``reg export`` write: a header line
(``Windows Registry Editor Version 5.00``, or ``REGEDIT4`` for the ANSI format), then
``[key]`` sections of ``"name"=data`` lines. Regedit writes UTF-16LE with a byte order mark;
files converted to UTF-8, with or without a BOM, read too. Data forms:

- ``"text"`` (REG_SZ, with ``\\\\`` and ``\\"`` escapes), ``dword:0000002a``;
- ``hex:01,02`` (REG_BINARY) and ``hex(N):...`` for any other type: ``hex(2)`` REG_EXPAND_SZ and
  ``hex(7)`` REG_MULTI_SZ as UTF-16LE bytes (ANSI in REGEDIT4), ``hex(b)`` REG_QWORD;
- long hex data continues over lines that end with a backslash;
- ``@=`` is the default value; ``[-key]`` deletes a key and ``"name"=-`` a value;
- lines starting with ``;`` are comments.

Each file, or each folder of ``.reg`` files (read in name order, later files applied on top of
earlier ones, as importing them would), is one host.

A malformed line does not cost the rest of the file: a value line that cannot be read (an
unknown data form, a bad hex byte, text after the value, a missing ``=``) is skipped, and so is
a key line that cannot be (an unknown root, a missing ``]``, an empty or over-long key name,
keys nested deeper than Windows allows) together with the values below it; each is a problem
of that source, naming the file and line, and the source's state is ``partial``. What makes the
whole file unreadable is a :class:`~evict.inventory.interface.SourceInputError` naming the file
(and line): not a regedit export, not text in its encoding, a line over
:data:`MAX_LINE_CHARS`, a value over :data:`MAX_VALUE_CHARS`, or a file cut short (it ends
inside a continued value, or its last line, left without a line ending, does not parse).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from evict.inventory.interface import OfflineSource, Problems, SourceInputError
from evict.inventory.windows._keys import (
    KeyValues,
    RegistryView,
    RegValue,
    canonical_root,
    computer_name,
    key_needed,
    registry_observations,
    values_needed,
)
from evict.model.observations import HostID, HostInventory, Platform

MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest ``.reg`` file read: a full export of a big SOFTWARE hive fits."""

MAX_LINE_CHARS = 1024 * 1024
"""Longest physical line: regedit wraps hex data at 80 columns; a string can be long, not this."""

MAX_VALUE_CHARS = 16 * 1024 * 1024
"""Longest value once continuation lines are joined."""

MAX_KEY_DEPTH = 512
"""Windows nests keys at most 512 levels deep."""

MAX_KEY_NAME = 255
"""Windows key names are at most 255 characters."""

MAX_LINE_PROBLEMS = 50
"""Malformed lines listed one by one per source; the rest are counted in one problem."""

HEADER_V5 = "Windows Registry Editor Version 5.00"
HEADER_V4 = "REGEDIT4"

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_HEX_TYPE = re.compile(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:", re.IGNORECASE)
_DWORD = re.compile(r"dword:([0-9a-fA-F]{1,8})", re.IGNORECASE)
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{1,2}")
_HEX_LIST = re.compile(r"[0-9a-fA-F]{1,2}(?:\s*,\s*[0-9a-fA-F]{1,2})*")

REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_DWORD_BE, REG_MULTI_SZ, REG_QWORD = (
    1,
    2,
    3,
    4,
    5,
    7,
    11,
)


class RegFileError(SourceInputError):
    """A ``.reg`` file that is not a well-formed regedit export."""


class _LineError(RegFileError):
    """One malformed line: skipped, with a problem, unless the file is cut short there."""


@dataclass
class _Key:
    name: str
    """The key's full path as first seen, e.g. ``HKLM\\SOFTWARE\\KasperskyLab``."""
    children: dict[str, str] = field(default_factory=dict)
    """Casefolded child name -> child name."""
    values: dict[str, RegValue] = field(default_factory=dict)


class RegTree(RegistryView):
    """The registry as one or more ``.reg`` files describe it, held in memory.

    Only what evict reads is kept: the keys of
    :func:`~evict.inventory.windows._keys.key_needed` and the values of
    :func:`~evict.inventory.windows._keys.values_needed`. A full export of a SOFTWARE hive is
    mostly file associations and COM classes, none of which is needed.
    """

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    def _ensure(self, path: str) -> _Key:
        folded = path.casefold()
        key = self._keys.get(folded)
        if key is not None:
            return key
        key = self._keys[folded] = _Key(path)
        parent, sep, name = path.rpartition("\\")
        if sep:
            self._ensure(parent).children[name.casefold()] = name
        return key

    def create(self, path: str) -> None:
        """Create key ``path`` and its missing parents, if evict reads it."""
        if key_needed(path):
            self._ensure(path)

    def delete(self, path: str) -> None:
        """Delete key ``path`` with everything below it, as ``[-path]`` does."""
        folded = path.casefold()
        if folded not in self._keys:
            return
        prefix = folded + "\\"
        for name in [k for k in self._keys if k == folded or k.startswith(prefix)]:
            del self._keys[name]
        parent, sep, name = folded.rpartition("\\")
        if sep and parent in self._keys:
            self._keys[parent].children.pop(name, None)

    def set_value(self, path: str, name: str, data: RegValue | None) -> None:
        """Set (or with ``None`` delete) value ``name`` of key ``path``, if evict reads it."""
        if not values_needed(path):
            return
        key = self._ensure(path)
        if data is None:
            key.values.pop(name.casefold(), None)
        else:
            key.values[name.casefold()] = data

    def subkeys(self, path: str) -> list[str]:
        """The names of the subkeys of ``path``."""
        key = self._keys.get(path.casefold())
        return list(key.children.values()) if key is not None else []

    def values(self, path: str) -> KeyValues | None:
        """The values of ``path`` (only where evict reads them), or None when it is absent."""
        key = self._keys.get(path.casefold())
        return KeyValues(dict(key.values)) if key is not None else None

    def __len__(self) -> int:
        return len(self._keys)


def _encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a file starting with ``head``, and the length of its byte order mark."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le", 0
    return "utf-8", 0


class _Parser:
    """Reads one ``.reg`` file into a :class:`RegTree`."""

    def __init__(self, path: Path, tree: RegTree, problems: Problems | None = None) -> None:
        self.path = path
        self.tree = tree
        self.problems = problems
        """Where skipped lines are reported; None makes any malformed line an error."""
        self.ansi = False
        """REGEDIT4: hex(2)/hex(7) data are ANSI bytes rather than UTF-16LE."""
        self._last_terminated = True
        """Whether that line ended with a line break (a file cut short usually does not)."""

    def error(self, message: str, line: int | None) -> RegFileError:
        return RegFileError(str(self.path), message, line=line)

    def line_error(self, message: str, line: int) -> _LineError:
        """An error of one line, which :meth:`_parse_text` may skip."""
        return _LineError(str(self.path), message, line=line)

    def _skip(self, error: _LineError, what: str) -> None:
        """Record ``error`` as a problem and go on, or raise it where skipping is not allowed.

        The last line of a file that ends without a line break is where a copy was cut short:
        an error there is the file's, not one line's.
        """
        # Logical lines are read one at a time, so the last physical line read is part of the
        # line in error; only a file's final line can lack a line break.
        cut = not self._last_terminated
        if self.problems is None or cut:
            raise RegFileError(str(self.path), error.message, line=error.line) from None
        self.problems.add(f"{error}; {what}")

    def parse(self) -> None:
        try:
            size = self.path.stat().st_size
        except OSError as e:
            raise self.error(f"cannot read: {e.strerror or e}", None) from e
        if size == 0:
            raise self.error("empty file, not a regedit export", None)
        if size > MAX_FILE_BYTES:
            raise self.error(
                f"file is {size} bytes; regedit exports over {MAX_FILE_BYTES} bytes are refused",
                None,
            )
        with self.path.open("rb") as raw:
            head = raw.read(256)
        encoding, bom = _encoding(head)
        header = head[bom:].decode(encoding, errors="replace").lstrip("\ufeff")
        first = header.splitlines()[0].strip() if header.splitlines() else ""
        if first not in (HEADER_V5, HEADER_V4):
            raise self.error(
                f"not a regedit export: the first line must be {HEADER_V5!r} or {HEADER_V4!r}", 1
            )
        self.ansi = first == HEADER_V4
        kept = (len(self.problems.problems), self.problems.dropped) if self.problems else (0, 0)
        try:
            self._parse_text(encoding, bom)
        except UnicodeDecodeError as e:
            if encoding != "utf-8" or bom:
                raise self.error(f"not valid {encoding} text: {e.reason}", None) from e
            if self.problems is not None:  # read again from the start: forget what was noted
                del self.problems.problems[kept[0] :]
                self.problems.dropped = kept[1]
            # NOTE: without a BOM, regedit's own format is ANSI (REGEDIT4, or files saved by an
            # editor as "ANSI"): Windows-1252, in which only five bytes mean nothing.
            try:
                self._parse_text("cp1252", 0)
            except UnicodeDecodeError as e2:
                raise self.error(
                    f"neither UTF-8 nor Windows-1252 text: byte {e2.object[e2.start]:#04x}", None
                ) from e2

    def _lines(self, stream: TextIO) -> Iterator[tuple[int, str]]:
        """Physical lines without their line ending, numbered from 1, each length-checked."""
        number = 0
        while True:
            line = stream.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                raise self.error(f"line longer than {MAX_LINE_CHARS} characters", number)
            self._last_terminated = line.endswith(("\n", "\r"))
            yield number, line.rstrip("\r\n")

    def _logical(self, stream: TextIO) -> Iterator[tuple[int, str]]:
        """Logical lines: a line ending in a backslash continues on the next one."""
        lines = self._lines(stream)
        for number, line in lines:
            text = line.rstrip()
            if not text.endswith("\\") or text.lstrip().startswith(("[", ";")):
                yield number, text
                continue
            parts = [text[:-1]]
            length = len(parts[0])
            while True:
                following = next(lines, None)
                if following is None:
                    raise self.error("file ends inside a value continued with '\\'", number)
                more = following[1].strip()
                length += len(more)
                if length > MAX_VALUE_CHARS:
                    raise self.error(f"value longer than {MAX_VALUE_CHARS} characters", number)
                if more.endswith("\\"):
                    parts.append(more[:-1])
                    continue
                parts.append(more)
                break
            yield number, "".join(parts)

    def _parse_text(self, encoding: str, bom: int) -> None:
        with self.path.open("rb") as raw:
            raw.seek(bom)
            stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
            logical = self._logical(stream)
            next(logical, None)  # the header, checked already
            current: str | None = None
            keep = False
            skipping = False
            """The values below a key line that could not be read are skipped with it."""
            for number, line in logical:
                text = line.strip()
                if not text or text.startswith(";"):
                    continue
                if text.startswith("["):
                    try:
                        current = self._key_line(text, number)
                        skipping = False
                    except _LineError as e:
                        self._skip(e, "key skipped with its values")
                        current, skipping = None, True
                    keep = current is not None and values_needed(current)
                    continue
                if skipping:
                    continue
                try:
                    if current is None:
                        raise self.line_error("value outside any [key] section", number)
                    name, data = self._value_line(text, number, keep)
                except _LineError as e:
                    self._skip(e, "value skipped")
                    continue
                if keep:
                    self.tree.set_value(current, name, data)

    def _key_line(self, text: str, number: int) -> str | None:
        """Apply a ``[key]`` or ``[-key]`` line; return the key that values now go to."""
        if not text.endswith("]"):
            raise self.line_error("key line without a closing ']'", number)
        inner = text[1:-1]
        delete = inner.startswith("-")
        if delete:
            inner = inner[1:]
        path = self._key_path(inner.rstrip("\\"), number)
        if delete:
            self.tree.delete(path)
            return None
        self.tree.create(path)
        return path

    def _key_path(self, raw: str, number: int) -> str:
        parts = raw.split("\\")
        root = canonical_root(parts[0].strip())
        if root is None:
            raise self.line_error(f"unknown root key {parts[0][:80]!r}", number)
        if len(parts) > MAX_KEY_DEPTH:
            raise self.line_error(f"key nested deeper than {MAX_KEY_DEPTH} levels", number)
        for part in parts[1:]:
            if not part:
                raise self.line_error("empty key name in key path", number)
            if len(part) > MAX_KEY_NAME:
                raise self.line_error(f"key name longer than {MAX_KEY_NAME} characters", number)
        return "\\".join([root, *parts[1:]])

    def _value_line(self, text: str, number: int, keep: bool) -> tuple[str, RegValue | None]:
        """Parse ``"name"=data`` or ``@=data``; data None means delete the value.

        Unless ``keep``, the data is only checked, not decoded: most of a full export is keys
        evict never reads.
        """
        if text.startswith("@"):
            name, rest = "", text[1:].lstrip()
        else:
            quoted = _QUOTED.match(text)
            if quoted is None:
                raise self.line_error('expected "name"=value or @=value', number)
            name = _unescape(quoted.group(1)) if keep else ""
            rest = text[quoted.end() :].lstrip()
        if not rest.startswith("="):
            raise self.line_error("expected '=' after the value name", number)
        return name, self._data(rest[1:].strip(), number, keep)

    def _data(self, text: str, number: int, keep: bool) -> RegValue | None:
        if text == "-":
            return None
        if text.startswith('"'):
            quoted = _QUOTED.match(text)
            if quoted is None:
                raise self.line_error("string value without a closing quote", number)
            self._end(text[quoted.end() :], number)
            return _unescape(quoted.group(1))
        dword = _DWORD.match(text)
        if dword is not None:
            self._end(text[dword.end() :], number)
            return int(dword.group(1), 16)
        hex_type = _HEX_TYPE.match(text)
        if hex_type is not None:
            data = self._bytes(text[hex_type.end() :], number, keep)
            if not keep:
                return None
            kind = int(hex_type.group(1), 16) if hex_type.group(1) else REG_BINARY
            return self._typed(kind, data)
        raise self.line_error(f"unrecognised value data {text[:40]!r}", number)

    def _end(self, rest: str, number: int) -> None:
        rest = rest.strip()
        if rest and not rest.startswith(";"):
            raise self.line_error(f"unexpected text after the value: {rest[:40]!r}", number)

    def _bytes(self, text: str, number: int, keep: bool) -> bytes:
        text = text.split(";", 1)[0].strip().rstrip(",")
        if not text:
            return b""
        if _HEX_LIST.fullmatch(text) is None:
            bad = next((t for t in text.split(",") if not _HEX_BYTE.fullmatch(t.strip())), text)
            raise self.line_error(f"bad hex byte {bad.strip()[:20]!r}", number)
        if not keep:
            return b""
        try:
            return bytes(int(token, 16) for token in text.split(","))
        except ValueError as e:
            # ``\s`` in the pattern also matches control characters (\x1c-\x1f) that int()
            # does not take for spaces.
            raise self.line_error(f"bad hex data: {str(e)[:80]}", number) from e

    def _typed(self, kind: int, data: bytes) -> RegValue:
        """Turn ``hex(kind):`` bytes into the value Windows would see."""
        if kind in (REG_SZ, REG_EXPAND_SZ):
            return self._string(data).split("\0", 1)[0]
        if kind == REG_MULTI_SZ:
            return tuple(s for s in self._string(data).split("\0") if s)
        if kind == REG_DWORD and len(data) == 4:
            return int.from_bytes(data, "little")
        if kind == REG_DWORD_BE and len(data) == 4:
            return int.from_bytes(data, "big")
        if kind == REG_QWORD and len(data) == 8:
            return int.from_bytes(data, "little")
        return data

    def _string(self, data: bytes) -> str:
        if self.ansi:
            return data.decode("cp1252", errors="replace")
        return data.decode("utf-16-le", errors="replace")


def _unescape(text: str) -> str:
    r"""Undo regedit's escapes: ``\\`` -> ``\`` and ``\"`` -> ``"``; others stay as written."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in '\\"' else m.group(0), text)


def read_reg(
    paths: Sequence[Path], tree: RegTree | None = None, problems: Problems | None = None
) -> RegTree:
    """Read ``.reg`` files, in order, into one tree (a new one unless ``tree`` is given).

    With ``problems``, a malformed line is skipped and recorded there; without, it is an error.
    """
    tree = tree if tree is not None else RegTree()
    for path in paths:
        _Parser(path, tree, problems).parse()
    return tree


class RegExportSource(OfflineSource):
    """Regedit exports: each ``.reg`` file, or each folder of them, is one Windows host.

    The host is named by the computer name in the export
    (``HKLM\\SYSTEM\\...\\Control\\ComputerName\\ComputerName``), else by the file or folder.

    :param paths: ``.reg`` files and folders holding them.
    """

    name = "reg"

    def collect(self) -> Iterator[HostInventory]:
        """Yield one inventory per ``.reg`` file or folder."""
        self._statuses = []
        for path in self.paths:
            problems = Problems(f"{self.name}:{path}", limit=MAX_LINE_PROBLEMS)
            files = self._files(path)
            tree = read_reg(files, problems=problems)
            name = computer_name(tree) or path.stem or path.name
            self._statuses.append(problems.status())
            yield HostInventory(
                host=HostID(name),
                hostname=name,
                platform=Platform.WINDOWS,
                collected_at=_modified(files),
                observations=tuple(registry_observations(tree, self.name)),
                source=self.name,
            )

    def _files(self, path: Path) -> list[Path]:
        if path.is_dir():
            files = sorted(
                (p for p in path.iterdir() if p.suffix.lower() == ".reg" and p.is_file()),
                key=lambda p: p.name.casefold(),
            )
            if not files:
                raise RegFileError(str(path), "folder holds no .reg files")
            return files
        if not path.exists():
            raise RegFileError(str(path), "no such file or folder")
        return [path]


def _modified(files: Sequence[Path]) -> dt.datetime:
    """When the newest of ``files`` was written: the best guess at when the export was made."""
    latest = max(f.stat().st_mtime for f in files)
    return dt.datetime.fromtimestamp(latest, dt.UTC)
