"""Someone who can write the database rewrites the audit log: `evict audit verify --anchor` says so.

Each attack is done as an attacker would, with raw SQL against the database (recomputing the
unkeyed hashes with evict's own public function where the attack needs it), on SQLite and
PostgreSQL. Without anchors the rewritten chain still verifies as intact (that is the hole);
with the signed heads the server anchored outside the database it is caught, exit 1 naming
the fault. A missing head row is exit 2 with a message, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from evict.cli import main
from evict.compliance.audit import GENESIS, AuditEvent, event_hash
from evict.settings import normalise_database_url
from evict.signing import ensure_key, public_pem
from evict.store.engine import make_engine
from evict.store.store import Store

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def add_events(store: Store, first: int, count: int) -> None:
    for i in range(first, first + count):
        store.audit(
            actor="user:alice",
            action="state.change",
            subject=f"host:ws-{i}",
            org=None,
            payload={"directive": "bod-17-01", "to": "removed", "n": i},
            now=T0 + dt.timedelta(minutes=i),
        )


class Tampered:
    """A database with 10 events, heads anchored at events 6 and 10, and its engine."""

    def __init__(self, url: str, anchors: Path, engine: Engine) -> None:
        self.url = url
        self.anchors = anchors
        self.engine = engine

    def verify(self, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
        return run(capsys, "audit", "verify", "--db", self.url, *extra)

    def verify_anchored(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        return self.verify(capsys, "--anchor", str(self.anchors))

    def rechain_from(self, seq: int) -> None:
        """Recompute every hash from ``seq`` on and move the head, as an attacker can."""
        with self.engine.begin() as conn:
            rows = conn.execute(text("SELECT * FROM audit_events ORDER BY seq")).mappings().all()
            prev = GENESIS
            for row in rows:
                if row["seq"] >= seq:
                    event = AuditEvent(
                        row["seq"],
                        row["at"],
                        row["actor"],
                        row["action"],
                        row["subject"],
                        row["org_id"],
                        json.loads(row["payload"]),
                        prev,
                    )
                    digest = event_hash(prev, event)
                    conn.execute(
                        text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                        {"p": prev, "h": digest, "s": row["seq"]},
                    )
                    prev = digest
                else:
                    prev = row["hash"]
            conn.execute(
                text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                {"s": rows[-1]["seq"], "h": prev},
            )


@pytest.fixture
def tampered(
    migrated_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Tampered]:
    store = Store(make_engine(normalise_database_url(migrated_url)))
    anchors = tmp_path / "anchors.jsonl"
    add_events(store, 1, 6)
    assert run(capsys, "audit", "anchor", "--db", migrated_url, "--out", str(anchors))[0] == 0
    add_events(store, 7, 4)
    assert run(capsys, "audit", "anchor", "--db", migrated_url, "--out", str(anchors))[0] == 0
    store.close()
    engine = make_engine(normalise_database_url(migrated_url))
    world = Tampered(migrated_url, anchors, engine)
    code, out, _ = world.verify_anchored(capsys)
    assert code == 0 and "intact: 10 events" in out and "2 signed head(s)" in out
    yield world
    engine.dispose()


def test_deleting_the_tail_and_moving_the_head_back_is_caught_by_the_anchors(
    tampered: Tampered, capsys: pytest.CaptureFixture[str]
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 7"))
        conn.execute(
            text(
                "UPDATE audit_head SET seq = 7, "
                "hash = (SELECT hash FROM audit_events WHERE seq = 7) WHERE id = 1"
            )
        )
    code, out, _ = tampered.verify(capsys)
    assert code == 0 and "intact: 7 events" in out, "the database alone cannot tell"
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 1
    assert "BROKEN at event 8 (truncated)" in err
    assert "the chain ends at event 7" in err and "vouches for event 10" in err


def test_rewriting_an_event_and_recomputing_the_chain_is_caught_by_the_anchors(
    tampered: Tampered, capsys: pytest.CaptureFixture[str]
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 3"))
    tampered.rechain_from(3)
    code, out, _ = tampered.verify(capsys)
    assert code == 0 and "intact: 10 events" in out, "the database alone cannot tell"
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 1
    assert "BROKEN at event 6 (rewritten)" in err
    assert "up to event 6 was rewritten" in err


def test_a_rewrite_after_the_last_anchor_but_one_is_caught_by_the_last(
    tampered: Tampered, capsys: pytest.CaptureFixture[str]
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'state.noop' WHERE seq = 8"))
    tampered.rechain_from(8)
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 1 and "BROKEN at event 10 (rewritten)" in err and "after event 6" in err


def test_truncating_everything_and_resetting_the_head_is_caught_by_the_anchors(
    tampered: Tampered, capsys: pytest.CaptureFixture[str]
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
        conn.execute(text(f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}' WHERE id = 1"))
    code, out, _ = tampered.verify(capsys)
    assert code == 0 and "intact: 0 events" in out, "the database alone cannot tell"
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 1
    assert "BROKEN at event 1 (truncated)" in err and "the audit log is empty" in err


def test_a_missing_head_row_is_a_clear_error_not_a_traceback(
    tampered: Tampered, capsys: pytest.CaptureFixture[str]
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    for extra in ((), ("--anchor", str(tampered.anchors))):
        code, _, err = tampered.verify(capsys, *extra)
        assert code == 2
        assert "audit chain head (table audit_head, row id 1) is missing" in err
        assert "Traceback" not in err
    # and nothing can be appended past the missing head either
    code, _, err = run(capsys, "org", "create", "DHS", "--db", tampered.url)
    assert code == 2 and "is missing" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("sql", "fault"),
    [
        ("UPDATE audit_head SET seq = 4 WHERE id = 1", "(head)"),
        ("UPDATE audit_head SET seq = 12 WHERE id = 1", "(truncated)"),
        (f"UPDATE audit_head SET hash = '{'f' * 64}' WHERE id = 1", "(head)"),
    ],
    ids=["back", "forward", "other-hash"],
)
def test_a_moved_head_row_is_caught(
    tampered: Tampered, capsys: pytest.CaptureFixture[str], sql: str, fault: str
) -> None:
    with tampered.engine.begin() as conn:
        conn.execute(text(sql))
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 1 and fault in err


def test_anchors_signed_with_another_key_or_changed_are_refused(
    tampered: Tampered, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other, _ = ensure_key(tmp_path / "other.pem")
    public = tmp_path / "other.pub"
    public.write_text(public_pem(other))
    code, _, err = tampered.verify(
        capsys, "--anchor", str(tampered.anchors), "--public-key", str(public)
    )
    assert code == 2 and "not the audit key" in err

    # an attacker who also edits the anchor file cannot re-sign the line
    lines = tampered.anchors.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 7}
    tampered.anchors.write_text(lines[0] + "\n" + json.dumps(forged) + "\n")
    code, _, err = tampered.verify_anchored(capsys)
    assert code == 2 and f"{tampered.anchors} line 2" in err and "does not verify" in err


def test_an_evidence_bundle_and_a_syslog_extract_serve_as_anchors(
    tampered: Tampered, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    syslog = tmp_path / "messages"
    line = tampered.anchors.read_text().splitlines()[-1]
    syslog.write_text(
        "Mar  2 09:15:00 fleet evict[311]: unrelated {not json\n"
        f"Mar  2 09:15:00 fleet evict[311]: evict-audit-head: {line}\n"
    )
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 9"))
        conn.execute(
            text(
                "UPDATE audit_head SET seq = 9, "
                "hash = (SELECT hash FROM audit_events WHERE seq = 9) WHERE id = 1"
            )
        )
    code, _, err = tampered.verify(capsys, "--anchor", str(syslog))
    assert code == 1 and "(truncated)" in err and f"{syslog} line 2" in err


def test_db_upgrade_creates_the_audit_key_owner_only_and_audit_key_prints_it(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "keys" / "audit-key.pem"
    code, _, err = run(capsys, "db", "upgrade", "--db", database_url, "--audit-key", str(key))
    assert code == 0 and f"created the audit key {key}" in err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    code, _, err = run(capsys, "db", "upgrade", "--db", database_url, "--audit-key", str(key))
    assert code == 0 and "created" not in err
    code, out, _ = run(capsys, "audit", "key", "--audit-key", str(key))
    assert code == 0 and "-----BEGIN PUBLIC KEY-----" in out and "PRIVATE" not in out

    key.chmod(0o644)
    code, _, err = run(capsys, "audit", "key", "--audit-key", str(key))
    assert code == 2 and "open to other users" in err and "chmod 600" in err


def test_a_reports_signed_head_saved_from_stderr_is_an_anchor(
    tampered: Tampered, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "report", "bod-17-01", "--format", "csv", "--db", tampered.url)
    assert code == 0 and "evict: audit head (signed): {" in err
    saved = tmp_path / "report-head.txt"
    saved.write_text(err)
    with tampered.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
        conn.execute(text(f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}' WHERE id = 1"))
    code, _, err = tampered.verify(capsys, "--anchor", str(saved))
    assert code == 1 and "the audit log is empty" in err and "vouches for event 10" in err


def test_a_signed_head_saved_from_the_api_pretty_printed_is_an_anchor(
    tampered: Tampered, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "head.json"
    last = json.loads(tampered.anchors.read_text().splitlines()[-1])
    saved.write_text(json.dumps(last, indent=2))
    code, out, _ = tampered.verify(capsys, "--anchor", str(saved))
    assert code == 0 and "1 signed head(s)" in out
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('x {"signature": [[[' + "[" * 5000 + "\n")
    code, _, err = tampered.verify(capsys, "--anchor", str(garbage))
    assert code == 2 and f"{garbage}:1" in err and "Traceback" not in err
