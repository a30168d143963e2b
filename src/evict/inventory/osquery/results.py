"""The hosts of osqueryd results logs: each query's current rows, rebuilt event by event, and
a host's rows turned into its inventory."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evict.inventory.interface import SourceInputError
from evict.inventory.osquery.detect import detect_table, platform_from_name, table_from_name
from evict.inventory.osquery.tables import TABLES, Row, registry_view
from evict.inventory.windows._keys import registry_observations
from evict.model.observations import HostID, HostInventory, Observation, Platform

_RowKey = tuple[tuple[str, str], ...]


class OsqueryInputError(SourceInputError):
    """An osquery results log or ``osqueryi --json`` output that cannot be read."""


# --- state ------------------------------------------------------------------------------------


@dataclass
class _Query:
    """The current rows of one query on one host."""

    table: str
    rows: Counter[_RowKey] = field(default_factory=Counter)
    epoch: str | None = None
    counter: int | None = None

    def copy(self) -> _Query:
        return _Query(self.table, Counter(self.rows), self.epoch, self.counter)


@dataclass
class HostState:
    """What is known of one host so far."""

    host: str
    hostname: str = ""
    platform: str = ""
    """``platform`` from decorations or ``os_version``: ``windows``, ``darwin``, ``ubuntu``..."""
    collected_at: float = 0.0
    queries: dict[str, _Query] = field(default_factory=dict)
    path: str = ""
    """The last file this host was seen in (where problems about it are reported)."""
    addresses: set[str] = field(default_factory=set)
    """Interface addresses (``interface_addresses``)."""

    def copy(self) -> HostState:
        queries = {k: q.copy() for k, q in self.queries.items()}
        return HostState(
            self.host,
            self.hostname,
            self.platform,
            self.collected_at,
            queries,
            self.path,
            set(self.addresses),
        )


def check_row(value: object, path: Path, line: int | None, where: str) -> dict[str, str]:
    """Check one result row: a flat object; values become strings as osquery logs them."""
    if not isinstance(value, dict):
        raise OsqueryInputError(
            str(path), "a result row must be a JSON object", line=line, where=where
        )
    row: dict[str, str] = {}
    for key, v in value.items():
        if v is None:
            row[key] = ""
        elif isinstance(v, str):
            row[key] = v
        elif isinstance(v, bool):
            row[key] = "1" if v else "0"
        elif isinstance(v, int | float):
            row[key] = str(v)
        else:
            raise OsqueryInputError(
                str(path), f"column {key!r} holds a {type(v).__name__}", line=line, where=where
            )
    return row


def _rows(value: object, path: Path, line: int | None, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise OsqueryInputError(str(path), f"{where!r} must be a list of rows", line=line)
    return [check_row(v, path, line, f"{where}[{i}]") for i, v in enumerate(value)]


def _key(row: Mapping[str, str]) -> _RowKey:
    return tuple(sorted(row.items()))


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _event_time(event: Mapping[str, Any]) -> float:
    """Seconds since the epoch of an event: ``unixTime``, else ``calendarTime``, else 0."""
    unix = _int(event.get("unixTime"))
    if unix is not None and unix > 0:
        return float(unix)
    calendar = event.get("calendarTime")
    if isinstance(calendar, str) and calendar.strip():
        text = " ".join(calendar.split()).removesuffix(" UTC")
        try:
            parsed = dt.datetime.strptime(text, "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return 0.0
        return parsed.replace(tzinfo=dt.UTC).timestamp()
    return 0.0


class Fleet:
    """Every host of the logs read so far, with a per-file overlay that can be dropped."""

    def __init__(self) -> None:
        self.committed: dict[str, HostState] = {}
        self.working: dict[str, HostState] = {}
        self.detected: dict[tuple[str, frozenset[str]], str | None] = {}
        self.by_name: dict[str, str] = {}
        self.unknown: dict[str, Counter[str]] = {}
        """Per file: unrecognised query name -> events skipped."""

    def host(self, host_id: str) -> HostState:
        host = self.working.get(host_id)
        if host is None:
            prior = self.committed.get(host_id)
            host = prior.copy() if prior else HostState(host_id)
            self.working[host_id] = host
        return host

    def commit(self) -> None:
        self.committed.update(self.working)
        self.working = {}

    def rollback(self) -> None:
        self.working = {}

    def table_for(self, query: str, rows: Sequence[Mapping[str, str]]) -> str | None:
        columns = frozenset(rows[0]) if rows else frozenset()
        if not columns:
            return self.by_name.get(query) or table_from_name(query)
        key = (query, columns)
        if key not in self.detected:
            self.detected[key] = detect_table(query, columns)
        table = self.detected[key]
        if table:
            self.by_name[query] = table
        return table


def apply_event(fleet: Fleet, event: Mapping[str, Any], path: Path, line: int) -> None:
    """Apply one results-log event to the fleet's state."""
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise OsqueryInputError(str(path), "not an osquery result: no query 'name'", line=line)
    decorations = event.get("decorations") or {}
    if not isinstance(decorations, dict):
        raise OsqueryInputError(str(path), "'decorations' must be an object", line=line)
    host_id = event.get("hostIdentifier") or event.get("hostname") or decorations.get("host_uuid")
    if not isinstance(host_id, str) or not host_id:
        raise OsqueryInputError(str(path), "not an osquery result: no 'hostIdentifier'", line=line)

    action = event.get("action")
    added: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    snapshot: list[dict[str, str]] | None = None
    if action == "snapshot":
        snapshot = _rows(event.get("snapshot"), path, line, "snapshot")
    elif action in ("added", "removed"):
        rows = [check_row(event.get("columns"), path, line, "columns")]
        (added if action == "added" else removed).extend(rows)
    elif action is None and "diffResults" in event:
        diff = event["diffResults"]
        if not isinstance(diff, dict):
            raise OsqueryInputError(str(path), "'diffResults' must be an object", line=line)
        added = _rows(diff.get("added", []), path, line, "diffResults.added")
        removed = _rows(diff.get("removed", []), path, line, "diffResults.removed")
    else:
        raise OsqueryInputError(
            str(path),
            f"unknown result form (action {action!r}): expected a snapshot, an added or removed "
            "event, or diffResults",
            line=line,
        )

    host = fleet.host(host_id)
    host.path = str(path)
    host.collected_at = max(host.collected_at, _event_time(event))
    hostname = decorations.get("hostname") or decorations.get("computer_name")
    if isinstance(hostname, str) and hostname:
        host.hostname = hostname
    platform = decorations.get("platform") or decorations.get("os_platform")
    if isinstance(platform, str) and platform:
        host.platform = platform

    table = fleet.table_for(name, snapshot if snapshot is not None else (added or removed))
    if table is None:
        fleet.unknown.setdefault(str(path), Counter())[name] += 1
        return
    if table == "interface_addresses":
        if snapshot is not None:
            host.addresses = {r.get("address", "") for r in snapshot} - {""}
        else:
            host.addresses -= {r.get("address", "") for r in removed}
            host.addresses |= {r.get("address", "") for r in added} - {""}
        return
    if TABLES[table].convert is None and not TABLES[table].registry:
        for row in snapshot if snapshot is not None else added:
            host_facts(host, table, row)
        return

    query = host.queries.get(name)
    if query is None or query.table != table:
        query = host.queries[name] = _Query(table)
    if snapshot is not None:
        query.rows = Counter(_key(r) for r in snapshot)
        return
    epoch = event.get("epoch")
    epoch_text = None if epoch is None else str(epoch)
    counter = _int(event.get("counter"))
    if query.epoch is not None and epoch_text is not None and epoch_text != query.epoch:
        query.rows.clear()  # a new epoch starts over with a full first run
    elif query.counter is not None and counter is not None and counter < query.counter:
        query.rows.clear()  # osquery's query state was reset: a fresh first run
    query.epoch = epoch_text if epoch_text is not None else query.epoch
    query.counter = counter if counter is not None else query.counter
    for r in removed:
        k = _key(r)
        if query.rows[k] > 1:
            query.rows[k] -= 1
        else:
            query.rows.pop(k, None)
    for r in added:
        query.rows[_key(r)] += 1


def host_facts(host: HostState, table: str, row: Mapping[str, str]) -> None:
    """Take the hostname and platform from an ``os_version`` or ``system_info`` row, an address
    from an ``interface_addresses`` one."""
    if table == "interface_addresses":
        if row.get("address"):
            host.addresses.add(row["address"])
    elif table == "os_version":
        platform = row.get("platform") or ""
        if platform and not host.platform:
            host.platform = platform
    elif table == "system_info":
        hostname = row.get("hostname") or row.get("computer_name") or ""
        if hostname and not host.hostname:
            host.hostname = hostname


def host_inventory(
    host: HostState, rows: Iterable[tuple[str, Row]], collected: float
) -> HostInventory:
    """Turn a host's current rows (table, row) into its inventory."""
    distro = host.platform.strip().lower()
    observations: dict[Observation, None] = {}
    tables: set[str] = set()
    registry: list[Row] = []
    for table, row in rows:
        tables.add(table)
        if TABLES[table].registry:
            registry.append(row)
            continue
        convert = TABLES[table].convert
        if convert is None:
            continue
        observation = convert(row, distro)
        if observation is not None and observation.name:
            observations[observation] = None
    if registry:
        for observation in registry_observations(registry_view(registry), "osquery:registry"):
            observations[observation] = None
    platform = platform_from_name(host.platform)
    if platform is None:
        implied = {p for t in tables if (p := TABLES[t].platform) is not None}
        platform = implied.pop() if len(implied) == 1 else Platform.UNKNOWN
    return HostInventory(
        host=HostID(host.host),
        hostname=host.hostname or host.host,
        platform=platform,
        collected_at=dt.datetime.fromtimestamp(collected, dt.UTC),
        observations=tuple(observations),
        source="osquery",
        addresses=tuple(sorted(host.addresses)),
    )
