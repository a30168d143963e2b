"""evict's own inventory format: JSON lines, one host inventory per line.

This is what ``evict simulate --format evict`` writes and what the agent's spool holds::

    {"host": "...", "hostname": "...", "platform": "windows", "collected_at": "...",
     "observations": [{"kind": "program", "name": "...", "version": "...", "publisher": "...",
                       "identifiers": {"product_code": "..."}, "source": "..."}]}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from evict.inventory.interface import OfflineSource, SourceInputError
from evict.model.observations import HostID, HostInventory, Observation, Platform, SourceStatus

MAX_LINE = 64 * 1024 * 1024


def inventory_to_json(inventory: HostInventory) -> dict[str, Any]:
    """One host inventory as a JSON-ready object."""
    return {
        "host": inventory.host,
        "hostname": inventory.hostname,
        "platform": inventory.platform.value,
        "collected_at": inventory.collected_at.isoformat(),
        "observations": [o.to_json() for o in inventory.observations],
        **({"org_unit": inventory.org_unit} if inventory.org_unit else {}),
    }


def inventory_from_json(data: Mapping[str, Any], *, source: str = "evict") -> HostInventory:
    """Parse one host inventory object; raises ``ValueError`` (with a reason) if malformed."""
    if not isinstance(data, Mapping):
        raise ValueError("an inventory must be a JSON object")
    host = data.get("host")
    if not isinstance(host, str) or not host:
        raise ValueError("'host' must be a non-empty string")
    observations = data.get("observations", [])
    if not isinstance(observations, list):
        raise ValueError("'observations' must be a list")
    try:
        platform = Platform(str(data.get("platform") or "unknown"))
    except ValueError as e:
        raise ValueError(f"unknown platform {data.get('platform')!r}") from e
    collected = data.get("collected_at")
    try:
        at = dt.datetime.fromisoformat(collected) if isinstance(collected, str) else None
    except ValueError as e:
        raise ValueError(f"'collected_at' is not an ISO date-time: {collected!r}") from e
    parsed = []
    for i, item in enumerate(observations):
        if not isinstance(item, Mapping):
            raise ValueError(f"observations[{i}] must be an object")
        try:
            parsed.append(Observation.from_json(item))
        except (KeyError, ValueError) as e:
            raise ValueError(f"observations[{i}]: {e}") from e
    return HostInventory(
        host=HostID(host),
        hostname=str(data.get("hostname") or host),
        platform=platform,
        collected_at=at or dt.datetime.fromtimestamp(0, dt.UTC),
        observations=tuple(parsed),
        source=source,
        org_unit=str(data.get("org_unit") or ""),
    )


class EvictJsonSource(OfflineSource):
    """Files of evict-format inventories, one JSON object per line."""

    name = "evict"

    def collect(self) -> Iterator[HostInventory]:
        """Yield each line's inventory, streaming the file."""
        self._statuses = []
        for path in self.paths:
            try:
                f = path.open("rb")
            except OSError as e:
                raise SourceInputError(str(path), f"cannot open: {e.strerror}") from e
            with f:
                for number, raw in enumerate(_bounded_lines(f), start=1):
                    if len(raw) > MAX_LINE:
                        raise SourceInputError(str(path), "line longer than 64 MiB", line=number)
                    if not raw.strip():
                        continue
                    try:
                        yield inventory_from_json(json.loads(raw), source=f"evict:{path.name}")
                    except (ValueError, RecursionError) as e:
                        raise SourceInputError(str(path), str(e), line=number) from e
            self._statuses.append(SourceStatus(f"evict:{path}", "ok"))


def _bounded_lines(f: BinaryIO) -> Iterator[bytes]:
    """The lines of ``f``, each read no further than one byte past :data:`MAX_LINE`: a file
    without line breaks must not be read into memory whole."""
    while line := f.readline(MAX_LINE + 1):
        yield line
