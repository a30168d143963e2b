"""What an inventory source is: its interface, its errors and how it reports problems.

The observations a source produces are :mod:`evict.model.observations`.

An :class:`Observation` is one thing a source saw on a host: an installed program or package, an
app bundle, a service, a running process, a driver or kernel module, a trusted root certificate, a
browser extension, a file, an SBOM component, or a registry key. Every source, from this host's
dpkg database to an Intune export, reduces what it reads to these records so that one matcher
serves them all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from evict.errors import EvictError, InputError
from evict.model.observations import HostInventory, Observation, SourceStatus


class InventoryError(EvictError):
    """Base error of inventory sources."""


class SourceInputError(InventoryError, InputError):
    """An offline inventory file that cannot be read; names the file and place."""


@dataclass
class Problems:
    """Collects the problems one source meets, and turns them into a :class:`SourceStatus`.

    :param source: the status's name, e.g. ``macos:/evidence/mac.tgz``.
    :param limit: keep at most this many problems (hostile input can make millions); the rest
        are counted and summarised in one line.
    """

    source: str
    problems: list[str] = field(default_factory=list)
    failed: bool = False
    limit: int | None = None
    dropped: int = 0

    def add(self, problem: str) -> None:
        """Record a problem that left the result partial."""
        if self.limit is not None and len(self.problems) >= self.limit:
            self.dropped += 1
            return
        self.problems.append(problem)

    def fail(self, problem: str) -> None:
        """Record a problem that left no usable result (always kept)."""
        self.problems.append(problem)
        self.failed = True

    def status(self) -> SourceStatus:
        """Summarise as a :class:`SourceStatus`, counting the problems that were not kept."""
        problems = list(self.problems)
        if self.dropped:
            problems.append(f"... and {self.dropped} more problems")
        if self.failed:
            return SourceStatus(self.source, "failed", tuple(problems))
        if problems:
            return SourceStatus(self.source, "partial", tuple(problems))
        return SourceStatus(self.source, "ok")


class InventorySource(ABC):
    """A place host inventories come from: this host, or files another tool wrote.

    Implementations read lazily in :meth:`collect` and record partial failures in
    :attr:`statuses`; a file that cannot be read at all raises :class:`SourceInputError`.
    """

    name: ClassVar[str]
    """The name used with ``evict scan --from NAME``."""

    @abstractmethod
    def collect(self) -> Iterator[HostInventory]:  # pragma: no cover
        """Yield one inventory per host found in this source."""
        raise NotImplementedError

    @property
    @abstractmethod
    def statuses(self) -> list[SourceStatus]:  # pragma: no cover
        """How each part of this source was read, valid once :meth:`collect` is exhausted."""
        raise NotImplementedError


class OfflineSource(InventorySource):
    """A source over files another tool wrote, named on the command line (``--from KIND PATH…``).

    :param paths: the files or folders to read.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._statuses: list[SourceStatus] = []

    @property
    def statuses(self) -> list[SourceStatus]:
        """How each path was read, valid once :meth:`collect` is exhausted."""
        return list(self._statuses)


class Collector(ABC):
    """One reader of one kind of thing on the running host (dpkg, /proc, trust store, ...)."""

    name: ClassVar[str]
    """Short name, used as ``local:<name>`` in observation sources and statuses."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        """The filesystem root to read below; tests point it at a prepared tree."""

    @abstractmethod
    def collect(self, problems: Problems) -> Iterable[Observation]:  # pragma: no cover
        """Return what this collector sees; record non-fatal problems on ``problems``.

        Raise :class:`InventoryError` (or let ``OSError`` escape) when nothing can be read; the
        host source records the collector as failed and goes on with the others.
        """
        raise NotImplementedError

    def available(self) -> bool:
        """Whether this collector applies to this host at all (e.g. rpm on a Debian host)."""
        return True
