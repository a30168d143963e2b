"""The audit hash chain: sealing events and finding the first one that was tampered with."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evict.compliance.audit import (
    GENESIS,
    Anchor,
    AuditEvent,
    SignedHead,
    StoredEvent,
    canonical_json,
    check_anchors,
    event_hash,
    export_line,
    key_id,
    seal,
    sign_head,
    stored_body,
    verify_chain,
)


def chain(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    seq, prev = 0, GENESIS
    for i in range(n):
        event = seal(
            seq,
            prev,
            at=f"2026-01-05T10:00:{i:02d}.000000+00:00",
            actor="user:alice",
            action="state.change",
            subject=f"host:h{i}",
            org=1,
            payload={"directive": "bod-17-01", "to": "planned", "n": i},
        )
        events.append(event)
        seq, prev = event.seq, event.hash
    return events


def test_an_untouched_chain_verifies_with_its_head() -> None:
    events = chain(5)
    verdict = verify_chain(events, head=(5, events[-1].hash))
    assert verdict.ok
    assert (verdict.events, verdict.head_seq, verdict.head_hash) == (5, 5, events[-1].hash)


def test_an_empty_chain_is_intact() -> None:
    assert verify_chain([], head=(0, GENESIS)).ok


def test_an_altered_payload_is_named_by_its_sequence_number() -> None:
    events = chain(5)
    events[2] = dataclasses.replace(events[2], payload={**events[2].payload, "to": "verified"})
    verdict = verify_chain(events)
    assert not verdict.ok
    assert (verdict.seq, verdict.fault) == (3, "altered")


def test_a_deleted_event_is_reported_as_missing() -> None:
    events = chain(5)
    del events[1]
    verdict = verify_chain(events)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 3, "deleted")
    assert "2 missing" in verdict.message


def test_swapped_events_are_caught() -> None:
    events = chain(5)
    events[1], events[2] = events[2], events[1]
    verdict = verify_chain(events)
    assert not verdict.ok
    assert verdict.seq == 3
    assert verdict.fault in {"deleted", "reordered"}


def test_renumbered_events_break_their_hash() -> None:
    events = chain(4)
    events[1], events[2] = (
        dataclasses.replace(events[2], seq=2),
        dataclasses.replace(events[1], seq=3),
    )
    verdict = verify_chain(events)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 2, "altered")


def test_an_event_rewritten_with_a_fresh_hash_breaks_the_next_link() -> None:
    events = chain(4)
    forged = dataclasses.replace(events[1], actor="user:mallory")
    events[1] = dataclasses.replace(forged, hash=event_hash(forged.prev_hash, forged))
    verdict = verify_chain(events)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 3, "unlinked")


def test_events_cut_off_the_end_are_caught_by_the_recorded_head() -> None:
    events = chain(5)
    verdict = verify_chain(events[:3], head=(5, events[-1].hash))
    assert (verdict.ok, verdict.fault, verdict.seq) == (False, "truncated", 4)


def test_a_head_that_disagrees_with_the_chain_is_reported() -> None:
    events = chain(3)
    verdict = verify_chain(events, head=(3, "f" * 64))
    assert (verdict.ok, verdict.fault) == (False, "head")


def test_canonical_json_ignores_key_order_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": "Касперский"}) == canonical_json(
        {"a": "Касперский", "b": 1}
    )
    assert canonical_json({"a": "é"}) == '{"a":"é"}'


def test_the_verdict_renders_the_first_bad_event() -> None:
    events = chain(2)
    events[0] = dataclasses.replace(events[0], subject="host:other")
    out = verify_chain(events).to_json()
    assert out["ok"] is False
    assert out["first_bad"] == {
        "seq": 1,
        "fault": "altered",
        "message": "event 1 does not match its hash",
    }


# -- signed heads and anchors --------------------------------------------------------------------

KEY = Ed25519PrivateKey.generate()


def anchored(events: list[AuditEvent], *seqs: int) -> list[Anchor]:
    hashes = {0: GENESIS} | {e.seq: e.hash for e in events}
    return [
        Anchor(sign_head(KEY, s, hashes[s], at=f"2026-01-05T11:00:0{s % 10}Z"), f"anchors line {n}")
        for n, s in enumerate(seqs, 1)
    ]


def test_a_signed_head_verifies_with_its_key_only_and_survives_json() -> None:
    head = sign_head(KEY, 7, "ab" * 32, at="2026-01-05T11:00:00Z")
    assert head.verify(KEY.public_key())
    assert SignedHead.from_json(json.loads(json.dumps(head.to_json()))) == head
    assert not head.verify(Ed25519PrivateKey.generate().public_key())
    for change in ({"seq": 8}, {"hash": "cd" * 32}, {"at": "2026-01-06T11:00:00Z"}):
        assert not dataclasses.replace(head, **change).verify(KEY.public_key()), change  # type: ignore[arg-type]
    assert head.key == key_id(KEY.public_key())


def test_check_anchors_names_each_line_not_signed_by_the_key() -> None:
    events = chain(3)
    good, bad = anchored(events, 2, 3)
    forged = Anchor(dataclasses.replace(bad.head, seq=1), bad.where)
    other = Anchor(sign_head(Ed25519PrivateKey.generate(), 3, events[2].hash, at="x"), "other")
    assert check_anchors([good], KEY.public_key()) == []
    problems = check_anchors([good, forged, other], KEY.public_key())
    assert len(problems) == 2
    assert problems[0].startswith("anchors line 2: the signature does not verify")
    assert problems[1].startswith("other: signed with key")


def test_a_chain_through_its_anchors_is_intact() -> None:
    events = chain(6)
    verdict = verify_chain(events, head=(6, events[-1].hash), anchors=anchored(events, 0, 3, 6))
    assert verdict.ok


def test_a_cut_tail_with_the_head_moved_back_is_caught_only_by_an_anchor() -> None:
    events = chain(6)
    anchors = anchored(events, 3, 6)
    cut = events[:4]
    assert verify_chain(cut, head=(4, cut[-1].hash)).ok
    verdict = verify_chain(cut, head=(4, cut[-1].hash), anchors=anchors)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 5, "truncated")
    assert "anchors line 2" in verdict.message and "vouches for event 6" in verdict.message


def test_a_rewritten_and_rechained_event_is_caught_at_the_next_anchor() -> None:
    events = chain(6)
    anchors = anchored(events, 2, 5)
    forged: list[AuditEvent] = events[:3]
    forged[2] = dataclasses.replace(forged[2], actor="user:mallory")
    forged[2] = dataclasses.replace(forged[2], hash=event_hash(forged[1].hash, forged[2]))
    for e in events[3:]:
        nxt = dataclasses.replace(e, prev_hash=forged[-1].hash)
        forged.append(dataclasses.replace(nxt, hash=event_hash(nxt.prev_hash, nxt)))
    assert verify_chain(forged, head=(6, forged[-1].hash)).ok
    verdict = verify_chain(forged, head=(6, forged[-1].hash), anchors=anchors)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 5, "rewritten")
    assert "after event 2 up to event 5" in verdict.message


def test_an_emptied_log_with_its_head_reset_is_caught_by_any_anchor() -> None:
    events = chain(2)
    verdict = verify_chain([], head=(0, GENESIS), anchors=anchored(events, 1))
    assert (verdict.ok, verdict.fault) == (False, "truncated")
    assert verdict.message.startswith("the audit log is empty")


def test_a_chain_checked_from_a_known_head_on() -> None:
    events = chain(5)
    assert verify_chain(events[2:], head=(5, events[-1].hash), after=(2, events[1].hash)).ok
    verdict = verify_chain(events[2:], head=(5, events[-1].hash), after=(2, "0" * 63 + "1"))
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 3, "unlinked")


def stored(event: AuditEvent, payload: str | None = None) -> StoredEvent:
    """``event`` as the store keeps it (payload as canonical text unless given)."""
    text = canonical_json(dict(event.payload)) if payload is None else payload
    return StoredEvent(
        event.seq,
        event.at,
        event.actor,
        event.action,
        event.subject,
        event.org,
        text,
        event.prev_hash,
        event.hash,
    )


def test_stored_events_verify_and_export_as_the_decoded_ones() -> None:
    events = chain(5)
    hostile = seal(
        5,
        events[-1].hash,
        at="2026-01-05T10:01:00.000000+00:00",
        actor='host:"quoted"\\back',
        action="inventory.ingest",
        subject="host:ws\x1b[2J\u202eZürich",
        org=None,
        payload={"hostname": "ws\x1b\u2028", "n": 1.5, "nested": [{"b": 1}]},
    )
    big = seal(
        6,
        hostile.hash,
        at="2026-01-05T10:02:00.000000+00:00",
        actor="worker",
        action="state.change",
        subject="host:h",
        org=1,
        payload={"big": 2**70},
    )
    events += [hostile, big]
    as_stored = [stored(e) for e in events]
    for e in as_stored[:-1]:  # the stored text is the canonical JSON the hash covers
        assert stored_body(e) == canonical_json(e.event().body())
    # orjson would read 2**70 as a float: that payload is decoded by json instead, exactly
    assert stored_body(as_stored[-1]) is None
    assert as_stored[-1].event().payload["big"] == 2**70
    lines: list[str] = []
    verdict = verify_chain(
        as_stored, head=(7, big.hash), each=lambda e, body: lines.append(export_line(e, body))
    )
    assert verdict.ok
    assert lines == [export_line(e) for e in events]
    assert [json.loads(line) for line in lines] == [e.to_json() for e in events]


def test_a_payload_stored_in_another_spelling_is_judged_on_its_decoded_fields() -> None:
    events = chain(3)
    # the same data with spaces and keys in another order: not the text seal() stores, so it
    # is decoded, and the event still verifies (the hash covers the canonical JSON)
    respelled = json.dumps({"to": "planned", "n": 1, "directive": "bod-17-01"}, indent=1)
    as_stored = [stored(events[0]), stored(events[1], respelled), stored(events[2])]
    assert stored_body(as_stored[1]) is None
    assert verify_chain(as_stored, head=(3, events[-1].hash)).ok
    # an event whose hash was computed over the respelled text (a forger's shortcut) is not
    # accepted: the canonical JSON of its fields is what a hash must cover
    forged_body = canonical_json(events[1].body()).replace(
        canonical_json(dict(events[1].payload)), respelled
    )
    forged = as_stored[1]._replace(
        hash=hashlib.sha256((events[0].hash + forged_body).encode()).hexdigest()
    )
    verdict = verify_chain([as_stored[0], forged])
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 2, "altered")


def test_an_altered_stored_payload_is_caught() -> None:
    events = chain(4)
    as_stored = [stored(e) for e in events]
    as_stored[2] = as_stored[2]._replace(
        payload=as_stored[2].payload.replace("planned", "verified")
    )
    verdict = verify_chain(as_stored)
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 3, "altered")
    unreadable = stored(events[1], payload="not json")
    assert unreadable.event().payload == {"unreadable": "not json"}
    verdict = verify_chain([as_stored[0], unreadable])
    assert (verdict.ok, verdict.seq, verdict.fault) == (False, 2, "altered")
