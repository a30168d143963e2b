"""The audit log's hash chain: pure functions to seal events and to verify a chain.

Every change the fleet server makes (an ingested inventory, a lifecycle transition, a waiver, a user
or token change) is one event. Each event is sealed with
``hash = sha256(prev_hash + canonical_json(event))`` where the event holds its sequence number,
time, actor, action, subject, organisation and payload, and ``prev_hash`` is the hash of the event
before it (:data:`GENESIS` for the first). Changing any field of any event, deleting an event or
swapping two of them breaks the chain at that point; :func:`verify_chain` names the first event
that does not fit. The store keeps the chain head (last sequence number and hash) beside the
events so that cutting events off the end is caught too, and an evidence bundle can quote it.

An unkeyed chain with its head in the same database cannot stand against someone who can write
that database: they can delete the last events and move the head back, rewrite an event and
recompute every hash after it, or empty the log and reset the head. So heads are also *signed*
with an Ed25519 key kept outside the database (:class:`SignedHead`, :func:`sign_head`) and the
signed heads are kept outside it too (an anchor file, syslog, every report and evidence
bundle). :func:`verify_chain` given such *anchors* checks that the recomputed chain reaches every
anchored sequence number with the anchored hash: a shorter chain was cut (``truncated``), a
different hash was rewritten and re-chained (``rewritten``).

Nothing here reads a clock, a file or a database: the caller passes the time, the keys and the
rows in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evict._util import canonical_json as canonical_json  # the chain's serialisation

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event of a chain."""


_encode_text: Callable[[str], str] = json.encoder.encode_basestring
"""A JSON string literal, non-ASCII kept (as :func:`canonical_json` writes strings)."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One sealed event of the audit log."""

    seq: int
    """Position in the chain, from 1, without gaps."""
    at: str
    """When it happened: an ISO 8601 UTC timestamp, kept as text so it hashes the same anywhere."""
    actor: str
    """Who did it: ``user:NAME``, ``host:ID``, ``cli:LOGIN`` or ``worker``."""
    action: str
    """What was done, e.g. ``inventory.ingest``, ``state.change``, ``waiver.create``."""
    subject: str
    """What it was done to, e.g. ``host:HOSTID``, ``user:NAME``, ``org:NAME``."""
    org: int | None
    """The organisation the event belongs to (None for server-wide events)."""
    payload: Mapping[str, object] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, object]:
        """The fields the hash covers (everything but the two hashes)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "org": self.org,
            "payload": dict(self.payload),
        }

    def to_json(self) -> dict[str, object]:
        """Render for the API and the evidence bundle."""
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


class StoredEvent(NamedTuple):
    """An audit event as the store keeps it, its payload the text it was stored as (the
    canonical JSON :func:`seal` made). A chain is verified and exported from these without
    decoding each event (see :func:`stored_body`)."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    org: int | None
    payload: str
    prev_hash: str
    hash: str

    def event(self) -> AuditEvent:
        """The event decoded (a payload that is not a JSON object is kept as ``unreadable``)."""
        try:  # json, not orjson: orjson reads an integer past 64 bits as a float
            payload = json.loads(self.payload)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {"unreadable": self.payload}
        return AuditEvent(
            int(self.seq),
            self.at,
            self.actor,
            self.action,
            self.subject,
            self.org,
            payload,
            self.prev_hash,
            self.hash,
        )


def stored_body(stored: StoredEvent) -> str | None:
    """``canonical_json(stored.event().body())`` written from the stored text, or None when
    that cannot be done (then decode the event).

    The payload is used as stored when it is canonical JSON of an object (as :func:`seal`
    stores it), checked by decoding it (orjson) and encoding it again: a text orjson reads
    otherwise than :mod:`json` (an integer past 64 bits becomes a float) does not come back
    the same, and is decoded by :meth:`StoredEvent.event`. The other fields are a few strings
    and numbers.
    About four times faster than decoding the event and encoding its body, which is most of
    what verifying and exporting a chain of millions of events costs.
    """
    text = stored.payload
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or canonical_json(payload) != text:
        return None
    # as read from a database: each field of the type it is declared with, else decoded
    texts: tuple[object, ...] = (stored.at, stored.actor, stored.action, stored.subject)
    numbers: tuple[object, ...] = (stored.seq, 0 if stored.org is None else stored.org)
    if any(type(v) is not str for v in texts) or any(type(v) is not int for v in numbers):
        return None
    org = stored.org
    return (
        f'{{"action":{_encode_text(stored.action)},"actor":{_encode_text(stored.actor)},'
        f'"at":{_encode_text(stored.at)},"org":{"null" if org is None else int(org)},'
        f'"payload":{text},"seq":{int(stored.seq)},"subject":{_encode_text(stored.subject)}}}'
    )


def event_hash(prev_hash: str, event: AuditEvent, body: str | None = None) -> str:
    """The hash that seals ``event`` after an event whose hash is ``prev_hash``.

    :param body: ``canonical_json(event.body())`` when the caller has it already.
    """
    return _sealed(prev_hash, canonical_json(event.body()) if body is None else body)


def export_line(event: AuditEvent | StoredEvent, body: str | None = None) -> str:
    """``event`` as one line of an export (the evidence bundle's ``audit/events.jsonl``): the
    canonical JSON of the fields its hash covers with ``prev_hash`` and ``hash`` added, so the
    line is written from the text the hash was computed from.

    :param body: ``canonical_json(event.body())`` when the caller has it already.
    """
    if body is None:
        body = canonical_json(_decoded(event).body())
    prev_hash, sealed = _encode_text(event.prev_hash), _encode_text(event.hash)
    return f'{body[:-1]},"prev_hash":{prev_hash},"hash":{sealed}}}\n'


def seal(
    head_seq: int,
    head_hash: str,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str,
    org: int | None,
    payload: Mapping[str, object],
) -> AuditEvent:
    """Build the event that follows the chain head ``(head_seq, head_hash)``, hash included."""
    draft = AuditEvent(
        seq=head_seq + 1,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        org=org,
        payload=json.loads(canonical_json(payload)),
        prev_hash=head_hash,
    )
    return AuditEvent(
        draft.seq,
        draft.at,
        draft.actor,
        draft.action,
        draft.subject,
        draft.org,
        draft.payload,
        draft.prev_hash,
        event_hash(head_hash, draft),
    )


HEAD_FORMAT = "evict-audit-head/1"
"""The ``format`` of a signed head."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A chain head ``(seq, hash)`` as seen at time ``at``, signed with the audit key ``key``.

    The signature covers :meth:`message`: the canonical JSON of the format, sequence number,
    hash, time and key id. Whoever holds the public key can check it without the database.
    """

    seq: int
    hash: str
    at: str
    """When it was signed: an ISO 8601 UTC timestamp."""
    key: str
    """The :func:`key_id` of the key that signed it."""
    signature: str
    """The Ed25519 signature of :meth:`message`, base64."""

    def message(self) -> bytes:
        """The bytes the signature covers."""
        body = {"format": HEAD_FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at}
        return canonical_json(body | {"key": self.key}).encode("utf-8")

    def to_json(self) -> dict[str, object]:
        """Render as one line of an anchor file, or a field of a report or bundle."""
        return {
            "format": HEAD_FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key": self.key,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, value: object) -> SignedHead:
        """Read a signed head written by :meth:`to_json`; ``ValueError`` says what is wrong."""
        if not isinstance(value, Mapping):
            raise ValueError("a signed head is a JSON object")
        if value.get("format") != HEAD_FORMAT:
            raise ValueError(f"not a signed audit head (format is not {HEAD_FORMAT!r})")
        seq, digest = value.get("seq"), value.get("hash")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError("seq is not a non-negative integer")
        for name in ("hash", "at", "key", "signature"):
            if not isinstance(value.get(name), str):
                raise ValueError(f"{name} is not a string")
        assert isinstance(digest, str)
        return cls(seq, digest, str(value["at"]), str(value["key"]), str(value["signature"]))

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        """Whether this head was signed by the private half of ``public_key``."""
        if self.key != key_id(public_key):
            return False
        try:
            signature = base64.b64decode(self.signature, validate=True)
            public_key.verify(signature, self.message())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def sign_head(private_key: Ed25519PrivateKey, seq: int, head_hash: str, *, at: str) -> SignedHead:
    """Sign the chain head ``(seq, head_hash)`` as seen at ``at``."""
    draft = SignedHead(seq, head_hash, at, key_id(private_key.public_key()), "")
    signature = base64.b64encode(private_key.sign(draft.message())).decode("ascii")
    return SignedHead(seq, head_hash, at, draft.key, signature)


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed head read from outside the database, and where it was read (for messages)."""

    head: SignedHead
    where: str
    """E.g. ``/var/lib/evict/audit-anchors.jsonl line 12``."""


Fault = Literal[
    "altered", "deleted", "reordered", "unlinked", "truncated", "rewritten", "head", "anchor"
]


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The result of checking a chain: intact, or the first event that breaks it and how."""

    ok: bool
    events: int
    """How many events were read."""
    head_seq: int
    head_hash: str
    """The last event's sequence number and hash, as recomputed."""
    seq: int | None = None
    """The first event that does not fit (None when intact)."""
    fault: Fault | None = None
    message: str = ""

    def to_json(self) -> dict[str, object]:
        """Render for ``/api/v1/audit/verify`` and the evidence bundle."""
        out: dict[str, object] = {
            "ok": self.ok,
            "events": self.events,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
        }
        if not self.ok:
            out["first_bad"] = {"seq": self.seq, "fault": self.fault, "message": self.message}
        return out


def _decoded(event: AuditEvent | StoredEvent) -> AuditEvent:
    return event.event() if isinstance(event, StoredEvent) else event


def _canonical_body(
    event: AuditEvent | StoredEvent,
) -> tuple[AuditEvent | StoredEvent, str, str]:
    """``event``, its canonical JSON and the hash that JSON seals to: from the stored text
    when its hash holds over that, else decoded (the one definition: the canonical JSON of
    the decoded fields)."""
    if isinstance(event, StoredEvent):
        body = stored_body(event)
        if body is not None:
            sealed = _sealed(event.prev_hash, body)
            if sealed == event.hash:
                return event, body, sealed
        event = event.event()
    body = canonical_json(event.body())
    return event, body, _sealed(event.prev_hash, body)


def _sealed(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def verify_chain(
    events: Iterable[AuditEvent | StoredEvent],
    *,
    head: tuple[int, str] | None = None,
    anchors: Sequence[Anchor] = (),
    after: tuple[int, str] = (0, GENESIS),
    each: Callable[[AuditEvent | StoredEvent, str], None] | None = None,
) -> ChainVerdict:
    """Recompute the chain over ``events`` (in stored order) and find the first break.

    :param events: the events as stored, in ascending storage order.
    :param head: the chain head the store recorded, ``(seq, hash)``; when given, a chain that
        ends before it (events cut off the end) or disagrees with it is reported too.
    :param anchors: signed heads kept outside the database, their signatures already checked
        (:func:`check_anchors`); the recomputed chain must pass through each of them.
    :param after: where ``events`` start: the ``(seq, hash)`` of the event before the first
        (a chain checked from a known head on, as the scheduled anchoring does).
    :param each: called with each event read, before it is checked, and the canonical JSON
        its hash is computed from (an export writes the event from it: :func:`export_line`).

    A sequence gap means events were deleted; a sequence number that goes backwards, or an event
    whose ``prev_hash`` names another event, means events were reordered or one was rewritten
    with a fresh hash; an event whose fields no longer hash to its stored hash was altered. An
    anchored sequence number whose recomputed hash differs means the chain was rewritten and
    recomputed; an anchored sequence number past the chain's end means events were cut off
    (or all of them, with the head reset).
    """
    wanted: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        wanted.setdefault(anchor.head.seq, []).append(anchor)
    prev_seq, prev_hash = after
    count = 0
    vouched = 0
    for anchor in wanted.get(0, ()):
        if anchor.head.hash != GENESIS:
            return _rewritten(count, 0, GENESIS, 0, anchor, 0)
    for event in events:
        count += 1
        event, body, sealed = _canonical_body(event)
        if each is not None:
            each(event, body)
        problem = _link_problem(event, prev_seq, prev_hash, sealed)
        if problem is not None:
            fault, message = problem
            return ChainVerdict(False, count, prev_seq, prev_hash, event.seq, fault, message)
        prev_seq, prev_hash = event.seq, event.hash
        for anchor in wanted.get(prev_seq, ()):
            if anchor.head.hash != prev_hash:
                return _rewritten(count, prev_seq, prev_hash, vouched, anchor, prev_seq)
        if prev_seq in wanted:
            vouched = prev_seq
    if wanted and max(wanted) > prev_seq:
        anchor = wanted[max(wanted)][0]
        where = "the audit log is empty" if count == 0 else f"the chain ends at event {prev_seq}"
        return ChainVerdict(
            False,
            count,
            prev_seq,
            prev_hash,
            prev_seq + 1,
            "truncated",
            f"{where} but {anchor.where} (signed {anchor.head.at}) vouches for event "
            f"{anchor.head.seq}: events were deleted from the end",
        )
    if head is not None:
        head_seq, head_hash = head
        if head_seq > prev_seq:
            return ChainVerdict(
                False,
                count,
                prev_seq,
                prev_hash,
                prev_seq + 1,
                "truncated",
                f"the chain ends at event {prev_seq} but its recorded head is event {head_seq}",
            )
        if head_seq != prev_seq or head_hash != prev_hash:
            return ChainVerdict(
                False,
                count,
                prev_seq,
                prev_hash,
                head_seq,
                "head",
                f"the recorded head (event {head_seq}) does not match the chain",
            )
    return ChainVerdict(True, count, prev_seq, prev_hash)


def _rewritten(
    count: int, seq: int, digest: str, vouched: int, anchor: Anchor, at_seq: int
) -> ChainVerdict:
    since = f" after event {vouched}" if vouched else ""
    return ChainVerdict(
        False,
        count,
        seq,
        digest,
        at_seq,
        "rewritten",
        f"event {at_seq} recomputes to hash {digest[:16]}... but {anchor.where} (signed "
        f"{anchor.head.at}) vouches for {anchor.head.hash[:16]}...: an event{since} up to "
        f"event {at_seq} was rewritten and the chain recomputed",
    )


def check_anchors(anchors: Iterable[Anchor], public_key: Ed25519PublicKey) -> list[str]:
    """The anchors whose signature does not verify with ``public_key``, as messages."""
    expected = key_id(public_key)
    problems = []
    for anchor in anchors:
        if anchor.head.key != expected:
            problems.append(
                f"{anchor.where}: signed with key {anchor.head.key!r}, not the audit key {expected}"
            )
        elif not anchor.head.verify(public_key):
            problems.append(f"{anchor.where}: the signature does not verify: the line was changed")
    return problems


def _link_problem(
    event: AuditEvent | StoredEvent, prev_seq: int, prev_hash: str, sealed: str
) -> tuple[Fault, str] | None:
    """What is wrong with ``event`` (whose fields seal to ``sealed`` after its ``prev_hash``)
    following the event ``(prev_seq, prev_hash)``, if anything."""
    if event.seq <= prev_seq:
        return "reordered", f"event {event.seq} comes after event {prev_seq}"
    if event.seq != prev_seq + 1:
        gap = str(prev_seq + 1) if event.seq == prev_seq + 2 else f"{prev_seq + 1}-{event.seq - 1}"
        return "deleted", f"event(s) {gap} missing before event {event.seq}"
    if sealed != event.hash:
        return "altered", f"event {event.seq} does not match its hash"
    if event.prev_hash != prev_hash:
        return (
            "unlinked",
            f"event {event.seq} does not follow event {prev_seq} in the chain "
            "(one of them was rewritten, or events were reordered)",
        )
    return None
