"""The audit log's hash chain: pure functions to seal events and to verify a chain.

Every change the fleet server makes (an ingested inventory, a lifecycle transition, a waiver, a user
or token change) is one event. Each event is sealed with
``hash = sha256(prev_hash + canonical_json(event))`` where the event holds its sequence number,
time, actor, action, subject, organisation and payload, and ``prev_hash`` is the hash of the event
before it (:data:`GENESIS` for the first). Changing any field of any event, deleting an event or
swapping two of them breaks the chain at that point; :func:`verify_chain` names the first event
that does not fit. The store keeps the chain head (last sequence number and hash) beside the
events so that cutting events off the end is caught too, and an evidence bundle can quote it.

Nothing here reads a clock or a database: the store passes the time and the rows in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event of a chain."""


def canonical_json(value: object) -> str:
    """Serialise ``value`` one way only: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash that seals ``event`` after an event whose hash is ``prev_hash``."""
    data = (prev_hash + canonical_json(event.body())).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


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


Fault = Literal["altered", "deleted", "reordered", "unlinked", "truncated", "head"]


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


def verify_chain(
    events: Iterable[AuditEvent], *, head: tuple[int, str] | None = None
) -> ChainVerdict:
    """Recompute the chain over ``events`` (in stored order) and find the first break.

    :param events: the events as stored, in ascending storage order.
    :param head: the chain head the store recorded, ``(seq, hash)``; when given, a chain that
        ends before it (events cut off the end) or disagrees with it is reported too.

    A sequence gap means events were deleted; a sequence number that goes backwards, or an event
    whose ``prev_hash`` names another event, means events were reordered or one was rewritten
    with a fresh hash; an event whose fields no longer hash to its stored hash was altered.
    """
    prev_seq, prev_hash, count = 0, GENESIS, 0
    for event in events:
        count += 1
        problem = _link_problem(event, prev_seq, prev_hash)
        if problem is not None:
            fault, message = problem
            return ChainVerdict(False, count, prev_seq, prev_hash, event.seq, fault, message)
        prev_seq, prev_hash = event.seq, event.hash
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


def _link_problem(event: AuditEvent, prev_seq: int, prev_hash: str) -> tuple[Fault, str] | None:
    """What is wrong with ``event`` following the event ``(prev_seq, prev_hash)``, if anything."""
    if event.seq <= prev_seq:
        return "reordered", f"event {event.seq} comes after event {prev_seq}"
    if event.seq != prev_seq + 1:
        gap = str(prev_seq + 1) if event.seq == prev_seq + 2 else f"{prev_seq + 1}-{event.seq - 1}"
        return "deleted", f"event(s) {gap} missing before event {event.seq}"
    if event_hash(event.prev_hash, event) != event.hash:
        return "altered", f"event {event.seq} does not match its hash"
    if event.prev_hash != prev_hash:
        return (
            "unlinked",
            f"event {event.seq} does not follow event {prev_seq} in the chain "
            "(one of them was rewritten, or events were reordered)",
        )
    return None
