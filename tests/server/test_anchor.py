"""The server signs audit heads with its key and anchors them outside the database on a schedule."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from evict.catalog.interface import Catalog
from evict.cli import main
from evict.compliance.audit import SignedHead
from evict.errors import EvictError
from evict.service.anchor import Anchorer
from evict.signing import ensure_key, load_key, read_anchors
from tests.server.fleetkit import Clock, Fleet, make_fleet


@pytest.fixture
def keyed(
    migrated_url: str, server_catalog: Catalog, tmp_path: Path
) -> Iterator[tuple[Fleet, Path, Path]]:
    """The app with an audit key (created on start) and an anchor file, anchoring hourly."""
    key = tmp_path / "keys" / "audit-key.pem"
    anchors = tmp_path / "anchors.jsonl"
    gen = make_fleet(
        migrated_url,
        server_catalog,
        Clock(),
        audit_key=key,
        audit_anchor_file=anchors,
        audit_anchor_interval=3600.0,
    )
    fleet = next(gen)
    yield fleet, key, anchors
    gen.close()


def test_the_server_creates_its_key_and_anchors_on_start_and_on_stop(
    keyed: tuple[Fleet, Path, Path],
    migrated_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fleet, key, anchors = keyed
    assert key.stat().st_mode & 0o077 == 0
    public = load_key(key).public_key()
    assert read_anchors(anchors)[0].head.seq == 0, "the head at start, before any event"
    fleet.enroll("ws-1")
    head = fleet.ctx.store.audit_head()
    assert fleet.ctx.anchor is not None
    fleet.ctx.anchor.stop()
    lines = read_anchors(anchors)
    assert all(a.head.verify(public) for a in lines)
    assert (lines[-1].head.seq, lines[-1].head.hash) == head
    assert main(["audit", "verify", "--db", migrated_url, "--anchor", str(anchors),
                 "--audit-key", str(key)]) == 0  # fmt: skip
    capsys.readouterr()


def test_reports_and_the_api_carry_the_signed_head(keyed: tuple[Fleet, Path, Path]) -> None:
    fleet, key, _ = keyed
    public = load_key(key).public_key()
    head = fleet.ctx.store.audit_head()
    response = fleet.client.get("/api/v1/audit/head", headers=fleet.auth("auditor"))
    assert response.status_code == 200
    signed = SignedHead.from_json(response.json())
    assert signed.verify(public) and (signed.seq, signed.hash) == head
    for path in ("/api/v1/reports/bod-17-01.csv", "/api/v1/reports/bod-17-01.json"):
        response = fleet.client.get(path, headers=fleet.auth("auditor"))
        assert response.status_code == 200, response.text
        signed = SignedHead.from_json(json.loads(response.headers["Evict-Audit-Head"]))
        assert signed.verify(public) and signed.seq == head[0]


def test_the_api_verify_checks_the_anchor_file_and_a_missing_head_row_is_503(
    keyed: tuple[Fleet, Path, Path],
) -> None:
    fleet, _, _ = keyed
    fleet.enroll("ws-1")
    fleet.enroll("ws-2")
    assert fleet.ctx.anchor is not None
    fleet.ctx.anchor.anchorer.run_once(fleet.clock())
    seq, _ = fleet.ctx.store.audit_head()
    ok = fleet.client.get("/api/v1/audit/verify", headers=fleet.auth("auditor")).json()
    assert ok["ok"] is True
    with fleet.ctx.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": seq - 1})
        conn.execute(
            text(
                "UPDATE audit_head SET seq = :s, "
                "hash = (SELECT hash FROM audit_events WHERE seq = :s) WHERE id = 1"
            ),
            {"s": seq - 1},
        )
    bad = fleet.client.get("/api/v1/audit/verify", headers=fleet.auth("auditor")).json()
    assert bad["ok"] is False and bad["first_bad"]["fault"] == "truncated"
    with fleet.ctx.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    response = fleet.client.get("/api/v1/audit/verify", headers=fleet.auth("auditor"))
    assert response.status_code == 503
    assert "audit_head" in response.json()["error"]["message"]


def test_a_chain_rewritten_under_the_running_server_is_not_signed_and_is_logged(
    fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, _ = ensure_key(tmp_path / "audit-key.pem")
    anchors = tmp_path / "anchors.jsonl"
    store = fleet.ctx.store
    anchorer = Anchorer(store, key, path=anchors)
    first = anchorer.anchor_once(fleet.clock())
    assert first is not None and anchorer.anchor_once(fleet.clock()) is None, "no new event"
    fleet.enroll("ws-1")
    assert anchorer.anchor_once(fleet.clock()) is not None
    before = anchors.read_text()
    last = anchorer.last
    assert last is not None

    fleet.enroll("ws-2")
    with store.engine.begin() as conn:
        # rewrite the last anchored event and every one after it with fresh hashes
        conn.execute(
            text("UPDATE audit_events SET hash = :h WHERE seq = :s"), {"h": "e" * 64, "s": last.seq}
        )
        conn.execute(
            text("UPDATE audit_events SET prev_hash = :h WHERE seq = :s"),
            {"h": "e" * 64, "s": last.seq + 1},
        )
    with pytest.raises(
        EvictError, match=f"no longer extends the head anchored at event {last.seq}"
    ):
        anchorer.anchor_once(fleet.clock())
    assert anchors.read_text() == before, "a tampered head is not signed"

    # a restarted server reads its last anchor back and still refuses
    again = Anchorer(store, key, path=anchors)
    assert again.last == last
    with caplog.at_level(logging.ERROR, logger="evict.service.anchor"):
        again.run_once(fleet.clock())
    assert "no longer extends" in caplog.text and again.last_error

    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET seq = 1 WHERE id = 1"))
    with pytest.raises(EvictError, match="moved back"):
        again.anchor_once(fleet.clock())


def test_signed_heads_and_tampering_go_to_syslog(fleet: Fleet, tmp_path: Path) -> None:
    import socket

    from evict.signing import syslog_handler

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    key, _ = ensure_key(tmp_path / "audit-key.pem")
    handler = syslog_handler(f"127.0.0.1:{port}")
    try:
        anchorer = Anchorer(fleet.ctx.store, key, path=None, syslog=handler)
        fleet.enroll("ws-1")
        head = anchorer.anchor_once(fleet.clock())
        message = receiver.recv(4096).decode()
        assert "evict-audit-head: {" in message
        sent = SignedHead.from_json(json.loads(message[message.index("{") :]))
        assert sent == head and sent.verify(key.public_key())

        with fleet.ctx.store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_head SET seq = 1 WHERE id = 1"))
        anchorer.run_once(fleet.clock())
        assert "TAMPERED: the audit chain no longer extends" in receiver.recv(4096).decode()
    finally:
        handler.close()
        receiver.close()
