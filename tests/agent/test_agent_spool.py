"""The agent's spool: reports survive until acknowledged; credentials stay private."""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

import pytest

from evict.agent.spool import Spool, SpoolError


def body(report_id: str, host: str = "ws-1") -> dict[str, object]:
    return {"report_id": report_id, "host": {"id": host}, "digest": "d" * 64, "observations": []}


def test_reports_wait_in_order_until_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first = spool.add(body("aaaaaaaa01"), stamp="20260105T100000")
    second = spool.add(body("aaaaaaaa02"), stamp="20260105T100000")
    assert spool.pending() == [first, second]
    loaded, raw = spool.load(first)
    assert loaded["report_id"] == "aaaaaaaa01"
    assert gzip.decompress(raw).startswith(b"{")
    spool.done(first)
    assert spool.pending() == [second]


def test_a_new_spool_survives_a_restart(tmp_path: Path) -> None:
    Spool(tmp_path).add(body("aaaaaaaa01"), stamp="1")
    assert len(Spool(tmp_path).pending()) == 1


def test_the_outbox_is_bounded_dropping_the_oldest_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, max_reports=3)
    for i in range(5):
        spool.add(body(f"aaaaaaaa{i:02d}"), stamp=f"2026010{i}")
    assert [spool.load(p)[0]["report_id"] for p in spool.pending()] == [
        "aaaaaaaa02",
        "aaaaaaaa03",
        "aaaaaaaa04",
    ]
    assert spool.dropped == 2
    assert "dropped 1 oldest unsent report(s)" in caplog.text


def test_the_agent_says_when_its_full_spool_dropped_reports(tmp_path: Path) -> None:
    import datetime as dt

    from evict.agent.agent import Agent
    from evict.model.observations import HostInventory, Platform

    lines: list[str] = []
    agent = Agent(None, Spool(tmp_path, max_reports=2), "eve_x", log=lines.append)  # type: ignore[arg-type]
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    hosts = [HostInventory(f"ws-{i}", f"ws-{i}", Platform.LINUX, now, ()) for i in range(3)]
    queued = agent.queue(hosts, now=now)
    assert len(queued) == 2 and len(agent.spool.pending()) == 2
    assert lines == [
        f"warning: spool full (2 reports): dropped the 1 oldest unsent report(s) in {tmp_path}"
    ]


def test_credentials_are_kept_per_server_and_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.save_credential("https://a", "ws-1", "evh_secret")
    assert spool.credential("https://a", "ws-1") == "evh_secret"
    assert spool.credential("https://b", "ws-1") is None
    mode = stat.S_IMODE((tmp_path / "state.json").stat().st_mode)
    assert mode == 0o600
    spool.save_digest("https://a", "ws-1", "f" * 64)
    assert spool.acked_digest("https://a", "ws-1") == "f" * 64
    spool.forget_credential("https://a", "ws-1")
    assert spool.credential("https://a", "ws-1") is None


def test_a_corrupt_report_or_state_is_an_error_naming_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.add(body("aaaaaaaa01"), stamp="1")
    path.write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(SpoolError, match=path.name):
        spool.load(path)
    moved = spool.reject(path, "unreadable")
    assert moved.parent.name == "rejected" and spool.pending() == []
    (tmp_path / "state.json").write_text("{oops")
    with pytest.raises(SpoolError, match="state.json"):
        spool.credential("https://a", "ws-1")
