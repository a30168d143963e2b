"""What the agent and the server say to each other: bodies, the inventory digest, and limits.

The agent is read-only and sends metadata only. Three requests:

- ``POST /api/v1/enroll`` ``{"secret", "host", "hostname", "platform"}`` -> a host credential;
  409 for a host already enrolled and seen recently, unless the body adds its current
  ``"credential"`` or an admin allowed it to enrol again.
- ``POST /api/v1/inventory/digest`` ``{"report_id", "digest"}`` -> ``unchanged`` when the server
  already holds an inventory with that digest (it only records the check-in), else ``send``.
- ``POST /api/v1/inventory`` the full report (gzip): ``{"report_id", "host", "collected_at",
  "digest", "observations": [...]}`` -> an acknowledgement; a resend of the same ``report_id``
  gets the same acknowledgement and changes nothing. Status ``held``: the report has no
  observations while the host's stored inventory has some; it waits for an admin's review.

Both the digest check and the full report may carry ``"addresses": [...]``, the host's interface
addresses; the server keeps them over time (written only when they change) to join network logs
with the host that held an address. They are not part of the digest.

The digest is the SHA-256 over the sorted canonical lines of every observation (kind, name,
publisher, identifiers, version, source), so the same software list gives the same digest in
any order, on both sides.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from evict import __version__
from evict.errors import EvictError
from evict.inventory.network.join import canonical_address
from evict.matching.engine import software_key
from evict.model.observations import HostInventory, Kind, Observation, Platform
from evict.model.records import InventoryReport

REPORT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
"""The shape of a report id (the agent uses a UUID4 in hex)."""

DIGEST = re.compile(r"^[0-9a-f]{64}$")
"""The shape of an inventory digest (:func:`inventory_digest`: hex SHA-256)."""

MAX_IDENTIFIER = 255
"""Longest host identifier accepted."""

MAX_TEXT = 4096
"""Longest string of an observation (name, version, publisher, source, identifier)."""

MAX_IDENTIFIERS = 256
"""Most identifier values one observation may carry."""

MAX_ADDRESSES = 256
"""Most interface addresses one report may carry."""


class WireError(EvictError):
    """A body that does not follow the protocol; says where (``observations[12].kind``)."""

    def __init__(self, message: str, where: str = "") -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def observation_line(o: Observation) -> str:
    """One observation as the canonical line the digest covers."""
    return json.dumps(
        [o.kind.value, o.name, o.publisher, [list(p) for p in o.identifiers], o.version, o.source],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _line_bytes(o: Observation) -> bytes:
    """:func:`observation_line` as UTF-8, encoded by orjson (the same bytes, measured on every
    code point; a string orjson refuses goes the slow way, which raises as it always did)."""
    try:
        return orjson.dumps(
            [o.kind.value, o.name, o.publisher, [list(p) for p in o.identifiers], o.version,
             o.source]
        )  # fmt: skip
    except orjson.JSONEncodeError:
        return observation_line(o).encode("utf-8")


def inventory_digest(observations: Iterable[Observation]) -> str:
    """The digest of a software list, independent of order (hex SHA-256)."""
    # UTF-8 keeps code point order, so sorting the encoded lines sorts the lines.
    return hashlib.sha256(
        b"".join(line + b"\n" for line in sorted(map(_line_bytes, observations)))
    ).hexdigest()


def report_body(
    inventory: HostInventory, report_id: str, addresses: Sequence[str] = ()
) -> dict[str, object]:
    """The full report the agent sends for one host (with its interface addresses, if known)."""
    body: dict[str, object] = {
        "evict_version": __version__,
        "report_id": report_id,
        "host": {
            "id": inventory.host,
            "hostname": inventory.hostname,
            "platform": inventory.platform.value,
        },
        "collected_at": inventory.collected_at.isoformat(),
        "source": inventory.source,
        "digest": inventory_digest(inventory.observations),
        "observations": [o.to_json() for o in inventory.observations],
    }
    if addresses or inventory.addresses:
        body["addresses"] = list(addresses or inventory.addresses)
    return body


def encode(body: Mapping[str, object]) -> bytes:
    """Serialise and gzip a body."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=6)


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """A full report, checked."""

    report_id: str
    host: str
    hostname: str
    platform: str
    collected_at: dt.datetime | None
    observations: tuple[Observation, ...]
    addresses: tuple[str, ...] | None = None
    """The host's interface addresses, when the report carries them."""
    software_keys: tuple[str, ...] | None = None
    """Each observation's :func:`~evict.matching.engine.software_key`, when the decoder knew
    them (:func:`decode_report`)."""

    def inventory(self, digest: str) -> InventoryReport:
        """What the store writes of this report, whose observations digest to ``digest``."""
        return InventoryReport(
            report_id=self.report_id,
            digest=digest,
            observations=self.observations,
            hostname=self.hostname,
            platform=self.platform,
            collected_at=self.collected_at,
            software_keys=self.software_keys,
        )


def check_report_id(value: object, where: str = "report_id") -> str:
    """Return ``value`` if it is a well-formed report id, else raise :class:`WireError`."""
    if not isinstance(value, str) or not REPORT_ID.match(value):
        raise WireError("must be 8-64 characters of letters, digits, '-' or '_'", where)
    return value


def check_host_identifier(value: object, where: str = "host") -> str:
    """Return ``value`` if it can be a host identifier, else raise :class:`WireError`."""
    if not isinstance(value, str) or not value.strip():
        raise WireError("a host identifier is required", where)
    if len(value) > MAX_IDENTIFIER or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise WireError(
            f"must be at most {MAX_IDENTIFIER} characters without control characters", where
        )
    return value.strip()


def check_hostname(value: object, where: str = "hostname") -> str:
    """Return ``value`` if it can be a hostname (possibly empty), else raise :class:`WireError`."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_IDENTIFIER:
        raise WireError(f"must be a string of at most {MAX_IDENTIFIER} characters", where)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise WireError("must not contain control characters", where)
    return value


def check_platform(value: object, where: str = "platform") -> str:
    """Return a known platform name (``unknown`` when missing)."""
    if value in (None, ""):
        return Platform.UNKNOWN.value
    try:
        return Platform(str(value)).value
    except ValueError:
        raise WireError(
            f"unknown platform {value!r}; one of {', '.join(p.value for p in Platform)}", where
        ) from None


def parse_report(data: object, *, max_observations: int) -> ParsedReport:
    """Check a decoded report body and build its observations.

    Raise :class:`WireError` naming the first bad field; :class:`TooManyObservations` when the
    report holds more than ``max_observations``.
    """
    if not isinstance(data, Mapping):
        raise WireError("the body must be a JSON object")
    report_id = check_report_id(data.get("report_id"))
    host = data.get("host")
    if not isinstance(host, Mapping):
        raise WireError("must be an object with id, hostname and platform", "host")
    identifier = check_host_identifier(host.get("id"), "host.id")
    hostname = check_hostname(host.get("hostname") or "", "host.hostname")
    platform = check_platform(host.get("platform"), "host.platform")
    collected_at = None
    if data.get("collected_at"):
        try:
            collected_at = dt.datetime.fromisoformat(str(data["collected_at"]))
        except ValueError:
            raise WireError("must be an ISO 8601 timestamp", "collected_at") from None
        if collected_at.tzinfo is None:
            collected_at = collected_at.replace(tzinfo=dt.UTC)
    items = data.get("observations")
    if not isinstance(items, list):
        raise WireError("must be a list", "observations")
    if len(items) > max_observations:
        raise TooManyObservations(len(items), max_observations)
    return ParsedReport(
        report_id,
        identifier,
        hostname,
        platform,
        collected_at,
        _observations(items),
        check_addresses(data.get("addresses")),
    )


def check_addresses(value: object, where: str = "addresses") -> tuple[str, ...] | None:
    """A list of IP addresses as sent (None when absent); raise :class:`WireError` otherwise."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ADDRESSES:
        raise WireError(f"must be a list of at most {MAX_ADDRESSES} IP addresses", where)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or canonical_address(item) is None or len(item) > 64:
            raise WireError("is not an IP address", f"{where}[{i}]")
        out.append(item)
    return tuple(out)


def parse_observations(
    items: Sequence[object], where: str = "observations"
) -> tuple[Observation, ...]:
    """Check a list of observations as the agent sends them and build them."""
    try:
        return _observations(items)
    except WireError as e:
        raise WireError(e.message, f"{where}{e.where.removeprefix('observations')}") from None


_SEEN_LIMIT = 200_000
_seen: dict[tuple[object, ...], Observation] = {}
"""Observations already checked and built, by their raw fields: a fleet reports the same
software over and over, and a server checks each distinct one once (bounded; shared by
threads, dict operations being atomic)."""


def _raw_key(item: Mapping[str, object]) -> tuple[object, ...] | None:
    """The fields an observation is built from, hashable; None when not plain strings."""
    idents = item.get("identifiers")
    if idents:
        if not isinstance(idents, dict) or not all(isinstance(v, str) for v in idents.values()):
            return None
        pairs: tuple[object, ...] = tuple(idents.items())
    else:
        pairs = ()
    fields = tuple(item.get(k) for k in ("kind", "name", "version", "publisher", "source"))
    if not all(f is None or isinstance(f, str) for f in fields):
        return None
    return (*fields, pairs)


def _observations(items: Sequence[object]) -> tuple[Observation, ...]:
    out: list[Observation] = []
    seen = _seen
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise WireError("must be an object", f"observations[{i}]")
        raw = _raw_key(item)
        if raw is not None:
            known = seen.get(raw)
            if known is not None:
                out.append(known)
                continue
        observation = _observation(item, i)
        if raw is not None:
            if len(seen) >= _SEEN_LIMIT:
                seen.clear()
            seen[raw] = observation
        out.append(observation)
    return tuple(out)


def _observation(item: Mapping[str, object], i: int) -> Observation:
    """Observation ``i`` of a report checked and built (raise :class:`WireError` saying where)."""
    where = f"observations[{i}]"
    kind = item.get("kind")
    if kind not in Kind._value2member_map_:
        raise WireError(f"unknown kind {kind!r}", f"{where}.kind")
    for key in ("name", "version", "publisher", "source"):
        value = item.get(key, "")
        if value is not None and not isinstance(value, str):
            raise WireError("must be a string", f"{where}.{key}")
        if value and len(value) > MAX_TEXT:
            raise WireError(f"must be at most {MAX_TEXT} characters", f"{where}.{key}")
    _check_identifiers(item.get("identifiers") or {}, f"{where}.identifiers")
    return Observation.from_json(item)


def _check_identifiers(idents: object, where: str) -> None:
    """Identifiers: an object of strings, or of lists of strings (several CPEs, say)."""
    if not isinstance(idents, Mapping):
        raise WireError("must be an object of strings", where)
    count = 0
    for key, value in idents.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, str) for v in values):
            raise WireError("must be an object of strings (or lists of strings)", where)
        count += len(values)
        if len(key) > MAX_TEXT or any(len(v) > MAX_TEXT for v in values):
            raise WireError(f"identifiers must be at most {MAX_TEXT} characters", where)
    if count > MAX_IDENTIFIERS:
        raise WireError(f"at most {MAX_IDENTIFIERS} identifiers per observation", where)


class TooManyObservations(WireError):
    """A report with more observations than the server accepts in one report."""

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(
            f"the report holds {count} observations; at most {limit} are accepted in one report",
            "observations",
        )


# -- the compiled decoder: the common report decoded in C, the rest by the code above -----------


class _RawObservation(msgspec.Struct):
    """An observation as sent, when every field is a string (identifiers an object of strings)."""

    kind: str | msgspec.UnsetType = msgspec.UNSET
    name: str | None | msgspec.UnsetType = msgspec.UNSET
    version: str | None | msgspec.UnsetType = msgspec.UNSET
    publisher: str | None | msgspec.UnsetType = msgspec.UNSET
    source: str | None | msgspec.UnsetType = msgspec.UNSET
    identifiers: dict[str, str] | None | msgspec.UnsetType = msgspec.UNSET


class _RawReport(msgspec.Struct):
    """A report as sent; the header is checked by :func:`parse_report` as before, each
    observation kept as its JSON text (found by it, or decoded as :class:`_RawObservation`)."""

    observations: list[msgspec.Raw]
    report_id: Any = msgspec.UNSET
    host: Any = msgspec.UNSET
    collected_at: Any = msgspec.UNSET
    addresses: Any = msgspec.UNSET


_DECODER = msgspec.json.Decoder(_RawReport)
_OBSERVATION = msgspec.json.Decoder(_RawObservation)
_FIELDS = ("kind", "name", "version", "publisher", "source", "identifiers")
_known: dict[bytes, tuple[Observation, bytes, str]] = {}
"""Observations already checked and built, with their line of the digest (newline included)
and their software key, by their JSON text as sent (bounded like :data:`_seen`; shared by
threads, dict operations being atomic)."""


def decode_report(raw: bytes, *, max_observations: int) -> tuple[ParsedReport, str] | None:
    """A report body (JSON bytes) checked and built, with its :func:`inventory_digest`; None
    when it is not the common case (a field of another type, an observation that fails its
    checks, more than ``max_observations``...), for the caller to decode and
    :func:`parse_report` it as before, which says what is wrong.

    The common report is decoded by msgspec without building a dictionary per observation:
    each observation is kept as its JSON text, and each distinct text is decoded, checked,
    built, encoded for the digest and given its software key once per process; a report then
    costs one lookup per observation (agents send the same software in the same bytes). The
    result is the one :func:`parse_report` and :func:`inventory_digest` give for the same body,
    with each observation's :func:`~evict.matching.engine.software_key`.
    """
    try:
        body = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # nested too deeply, say: the parser's message says so
    if len(body.observations) > max_observations:
        return None
    head: dict[str, object] = {
        k: v
        for k in ("report_id", "host", "collected_at", "addresses")
        if (v := getattr(body, k)) is not msgspec.UNSET
    }
    head["observations"] = []
    parsed = parse_report(head, max_observations=max_observations)  # raises as it always did
    known = _known
    out: list[Observation] = []
    lines: list[bytes] = []
    keys: list[str] = []
    for text in body.observations:
        sent = bytes(text)
        hit = known.get(sent)
        if hit is None:
            hit = _first_seen(sent)
            if hit is None:
                return None  # parse_report says where
            if len(known) >= _SEEN_LIMIT:
                known.clear()
            known[sent] = hit
        out.append(hit[0])
        lines.append(hit[1])
        keys.append(hit[2])
    # Each line ends in its newline already: no line is a prefix of another (each is a whole
    # JSON array), so the lines sort as they do without it.
    lines.sort()
    digest = hashlib.sha256(b"".join(lines)).hexdigest()
    return dataclasses.replace(parsed, observations=tuple(out), software_keys=tuple(keys)), digest


def _first_seen(text: bytes) -> tuple[Observation, bytes, str] | None:
    """An observation's JSON text decoded, checked and built, with its line of the digest and
    its software key; None when it is not the common case."""
    try:
        o = _OBSERVATION.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    item = {f: v for f in _FIELDS if (v := getattr(o, f)) is not msgspec.UNSET}
    try:
        observation = _observation(item, 0)
    except WireError:
        return None
    return observation, _line_bytes(observation) + b"\n", software_key(observation)
