"""The root of evict's errors.

Every interface has one base error that subclasses :class:`EvictError`; implementations subclass
that again and chain the library error they translate (``raise ... from e``). The command line
catches :class:`EvictError` alone and turns it into a message and exit code 2.
"""

from __future__ import annotations


class EvictError(Exception):
    """Base class of every error evict raises on purpose."""


class InputError(EvictError):
    """Input that evict cannot read: names the file and, where known, the place in it.

    :param path: the file (or directory) that was being read.
    :param message: what is wrong, in words a user can act on.
    :param line: 1-based line number, when the format has lines.
    :param where: any other description of the place (an entry, a key path, a byte offset).
    """

    def __init__(
        self, path: str, message: str, *, line: int | None = None, where: str | None = None
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:
        place = self.path
        if self.line is not None:
            place += f":{self.line}"
        if self.where:
            place += f" ({self.where})"
        return f"{place}: {self.message}"
