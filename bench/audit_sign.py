"""Micro-benchmark: what signing audit heads costs beside the write path it would sit on.

Measures, on one core:

- Ed25519 signing of a head (:func:`evict.compliance.audit.sign_head`) and verifying one;
- one audit event appended in its own transaction (:meth:`evict.store.store.Store.audit`), on
  SQLite (a temporary file) and on PostgreSQL (``EVICT_BENCH_PG``, default the local test
  server; skipped if unreachable): the cheapest write transaction an ingest makes;
- one scheduled anchoring pass (:meth:`evict.server.anchor.Anchorer.anchor_once`) after 1,000
  new events: reads and re-links them, signs, appends and fsyncs one anchor line.

Run: ``.venv/bin/python bench/audit_sign.py``; prints JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evict.compliance.audit import sign_head
from evict.service.anchor import Anchorer
from evict.settings import normalise_database_url
from evict.store.engine import make_engine, upgrade
from evict.store.store import Store

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def per_call(fn: Callable[[], object], n: int) -> float:
    """Median of 5 runs of ``n`` calls, in microseconds a call."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(runs), 1)


def store_figures(url: str) -> dict[str, float]:
    engine = make_engine(normalise_database_url(url))
    upgrade(engine)
    store = Store(engine)

    def append() -> None:
        store.audit(
            actor="host:h1",
            action="inventory.ingest",
            subject="host:h1",
            org=1,
            payload={"report": "r", "observations": 420, "software": 380},
            now=NOW,
        )

    audit_us = per_call(append, 200)
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        anchorer = Anchorer(store, key, path=Path(tmp) / "anchors.jsonl")
        anchorer.anchor_once(NOW)
        for _ in range(1000):
            append()
        start = time.perf_counter()
        anchorer.anchor_once(NOW)
        anchor_ms = round((time.perf_counter() - start) * 1e3, 2)
    store.close()
    return {"audit_append_us": audit_us, "anchor_pass_after_1000_events_ms": anchor_ms}


def main() -> int:
    key = Ed25519PrivateKey.generate()
    head = sign_head(key, 1, "ab" * 32, at="2026-12-05T12:00:00Z")
    out: dict[str, object] = {
        "sign_head_us": per_call(lambda: sign_head(key, 1, "ab" * 32, at="x"), 2000),
        "verify_head_us": per_call(lambda: head.verify(key.public_key()), 2000),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = store_figures(f"sqlite:///{tmp}/bench.db")
    pg = os.environ.get("EVICT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        schema = f"bench_audit_{os.getpid()}"
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            out["postgresql"] = store_figures(f"{pg}?options=-csearch_path%3D{schema}")
        finally:
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    except psycopg.OperationalError as e:
        out["postgresql"] = f"skipped: {e}"
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
