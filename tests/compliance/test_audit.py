"""The audit hash chain: sealing events and finding the first one that was tampered with."""

from __future__ import annotations

import dataclasses

from evict.compliance.audit import GENESIS, AuditEvent, canonical_json, seal, verify_chain


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
    from evict.compliance.audit import event_hash

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
