"""Server benchmarks on PostgreSQL: the dashboard's server time (overview, filtered host pages).

``run_dashboard`` makes a fresh database on the PostgreSQL server at ``EVICT_TEST_DATABASE_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), loads a simulated fleet through the
store's fastest path (``Store.bulk_load``, one process per core; host by host through
``Store.enroll`` and ``Store.ingest`` on a store without it), runs the matching worker, lets a
second weekly inventory (``Store.ingest`` of the hosts whose software changed) remove covered
products from part of the fleet, runs the worker again, and times requests to the dashboard in
process (FastAPI's TestClient: server time, no network):

- the overview, cold (its aggregates computed for the request) and warm (served from the
  dashboard's refresher, as every request after the first is while the data does not change);
- filtered host pages: an org unit's hosts carrying covered products, a platform by last seen,
  the largest state in state order, a hostname prefix, hosts silent for days, and the next page
  of each (keyset cursors);
- for comparison, the API's exact summary (``/api/v1/directives/{id}/summary``), uncached.

Reduced size: 20,000 hosts; full: 1,000,000 (hours, mostly loading); ``EVICT_BENCH_SERVER_HOSTS``
sets another size. ``EVICT_BENCH_SERVER_DB`` names an already loaded database to time again
without loading (it is left in place).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
ORG = "Bench Agency"
ADMIN = "bench-admin"
PASSWORD = "bench password, not a secret"
T0 = (dt.datetime.now(dt.UTC) - dt.timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
"""The first inventory's time: two weeks ago, so the server's clock sees a recent history."""
TARGET_MS = 100.0
BULK_BATCH = 2000
"""Hosts generated and loaded per bulk batch."""


def run(full: bool) -> dict[str, Any]:
    """The server benchmarks (``bench/run.py`` calls this)."""
    return run_dashboard(full)


# -- the dashboard ---------------------------------------------------------------------------------


def run_dashboard(full: bool) -> dict[str, Any]:
    """Load a fleet (1,000,000 hosts with ``full``, else 20,000) and time the dashboard."""
    hosts = int(os.environ.get("EVICT_BENCH_SERVER_HOSTS") or (1_000_000 if full else 20_000))
    reuse = os.environ.get("EVICT_BENCH_SERVER_DB", "")
    with _database(reuse) as url:
        load: dict[str, Any] = {"reused": True} if reuse else load_fleet(url, hosts)
        timings = time_dashboard(url, runs=40 if full else 30)
    table: list[tuple[str, Any, str]] = [
        ("dashboard fleet size (hosts)", f"{timings['hosts']:,}", ""),
    ]
    if "seconds" in load:
        table.append(("dashboard fleet load (hosts/s)", round(load["hosts_per_second"], 1), ""))
    for name, figures in timings["pages"].items():
        if name.startswith(" "):
            continue  # per-filter figures: in the JSON result
        target = "" if name.startswith("api") or "cold" in name else f"< {TARGET_MS:.0f}"
        table.append((f"{name} p50 (ms)", figures["p50_ms"], ""))
        table.append((f"{name} p95 (ms)", figures["p95_ms"], target))
    return {"hosts": timings["hosts"], "load": load, "dashboard": timings, "table": table}


@contextmanager
def _database(reuse: str) -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards), or the one to reuse."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    if reuse:
        yield reuse
        return
    server = os.environ.get("EVICT_TEST_DATABASE_URL") or DEFAULT_SERVER
    name = f"evict_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _store(url: str) -> Any:
    from evict.settings import normalise_database_url
    from evict.store.store import Store

    return Store.open(normalise_database_url(url))


def load_fleet(url: str, hosts: int, *, seed: int = 1) -> dict[str, Any]:
    """Create the organisation and load ``hosts`` simulated hosts, two weekly inventories."""
    from evict.catalog.loader import load_catalog
    from evict.demo.simulate import ORG_UNITS
    from evict.matching.engine import Matcher
    from evict.model.records import Role
    from evict.service.evaluate import MatchWorker, protection_products
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine, upgrade

    upgrade(make_engine(normalise_database_url(url)))
    store = _store(url)
    _, first = store.create_org(ORG, actor="bench", now=T0)
    unit_secrets = {ORG: first}
    for unit in ORG_UNITS:
        unit_secrets[unit] = store.create_unit(ORG, unit, actor="bench", now=T0)[1]
    store.create_user(ADMIN, org=ORG, role=Role.ADMIN, password=PASSWORD, actor="bench", now=T0)
    catalog = load_catalog()
    store.adopt(ORG, "bod-17-01", catalog.directive("bod-17-01").start, actor="bench", now=T0)
    worker = MatchWorker(
        store, Matcher(catalog), protection=protection_products(catalog, None), batch=2000
    )
    figures: dict[str, Any] = {}
    # Forked loaders must not share this process's connections: drop them first.
    store.engine.dispose()
    started = time.perf_counter()
    _parallel(url, unit_secrets, hosts, seed, snapshot=0)
    figures["week1_ingest_seconds"] = round(time.perf_counter() - started, 1)
    mark = time.perf_counter()
    worker.run_once(now=T0 + dt.timedelta(hours=2), today=T0.date())
    figures["week1_worker_seconds"] = round(time.perf_counter() - mark, 1)
    mark = time.perf_counter()
    store.engine.dispose()
    changed = _parallel(url, unit_secrets, hosts, seed, snapshot=1)
    week2 = T0 + dt.timedelta(days=7)
    worker.run_once(now=week2 + dt.timedelta(hours=2), today=week2.date())
    figures["week2_changed_hosts"] = changed
    figures["week2_seconds"] = round(time.perf_counter() - mark, 1)
    total = time.perf_counter() - started
    figures.update(hosts=hosts, seconds=round(total, 1), hosts_per_second=hosts / total)
    store.close()
    # What autovacuum would do after a load this size: fresh planner statistics.
    engine = make_engine(normalise_database_url(url))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return figures


def _parallel(url: str, unit_secrets: dict[str, str], hosts: int, seed: int, snapshot: int) -> int:
    """Send one weekly inventory of every host, split across one forked process per core."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = max(1, os.cpu_count() or 1)
    step = -(-hosts // workers)

    def work(start: int, stop: int) -> None:
        results.put(_load_range(url, unit_secrets, start, stop, seed, snapshot))

    processes = [
        context.Process(target=work, args=(i, min(hosts, i + step))) for i in range(0, hosts, step)
    ]
    for process in processes:
        process.start()
    sent = sum(results.get() for _ in processes)
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a loader process failed (exit code {process.exitcode})")
    return sent


def _load_range(
    url: str, unit_secrets: dict[str, str], start: int, stop: int, seed: int, snapshot: int
) -> int:
    """Hosts ``start..stop``: load them (week 1), or ingest those that changed (later weeks).

    Week 1 goes through ``Store.bulk_load`` (hosts arrive credentialed, a batch per
    transaction, links written with COPY) where the store has it, else host by host through
    ``Store.enroll`` and ``Store.ingest``, as agents do.
    """
    import hashlib

    from evict.agent.wire import observation_line
    from evict.demo.simulate import generate_host
    from evict.model.records import InventoryReport

    store = _store(url)
    org_id = store.org(ORG).id
    lines: dict[Any, str] = {}
    sent = 0

    def digest(observations: Sequence[Any]) -> str:
        for o in observations:
            if o not in lines:
                lines[o] = observation_line(o)
        h = hashlib.sha256()
        for line in sorted(lines[o] for o in observations):
            h.update(line.encode() + b"\n")
        return h.hexdigest()

    if snapshot == 0 and hasattr(store, "bulk_load"):
        sent = _bulk_range(store, org_id, start, stop, seed, digest)
        store.close()
        return sent
    for index in range(start, stop):
        inventory = generate_host(seed, index, snapshot=snapshot, at=T0)
        if snapshot:
            before = generate_host(seed, index, snapshot=snapshot - 1, at=T0)
            if before.observations == inventory.observations:
                continue
            host = store.host(org_id, inventory.host)
        else:
            host, _ = store.enroll(
                unit_secrets[inventory.org_unit],
                inventory.host,
                hostname=inventory.hostname,
                platform=inventory.platform.value,
                now=inventory.collected_at,
            )
        report = InventoryReport(
            uuid.uuid4().hex,
            digest(inventory.observations),
            inventory.observations,
            inventory.hostname,
            inventory.platform.value,
            inventory.collected_at,
        )
        store.ingest(host, report, now=inventory.collected_at)
        sent += 1
    store.close()
    return sent


def _bulk_range(store: Any, org_id: int, start: int, stop: int, seed: int, digest: Any) -> int:
    """Week 1 of hosts ``start..stop`` through ``Store.bulk_load``, a batch per org unit."""
    from collections import defaultdict

    from evict.demo.simulate import generate_host
    from evict.model.records import BulkHost
    from evict.store.secrets import lookup_hash

    units = {u.name: u.id for u in store.units(org_id)}
    loaded = 0
    for first in range(start, stop, BULK_BATCH):
        by_unit: dict[str, list[Any]] = defaultdict(list)
        for index in range(first, min(stop, first + BULK_BATCH)):
            inventory = generate_host(seed, index, at=T0)
            by_unit[inventory.org_unit].append(
                BulkHost(
                    identifier=inventory.host,
                    hostname=inventory.hostname,
                    platform=inventory.platform.value,
                    credential_hash=lookup_hash(f"bench-host-{seed}-{index}"),
                    digest=digest(inventory.observations),
                    observations=inventory.observations,
                    collected_at=inventory.collected_at,
                )
            )
        for unit, hosts in by_unit.items():
            loaded += store.bulk_load(units[unit], hosts, actor="bench", now=T0, batch=BULK_BATCH)
    return loaded


def _percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "runs": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def time_dashboard(
    url: str, *, runs: int, org: str = ORG, user: str = ADMIN, password: str = PASSWORD
) -> dict[str, Any]:
    """Time the overview and filtered host pages against the database at ``url``.

    ``org`` is the organisation whose dashboard is timed, ``user`` and ``password`` one of its
    admins.
    """
    import re

    from fastapi.testclient import TestClient

    from evict.server.app import create_app
    from evict.settings import Settings, normalise_database_url

    settings = Settings(
        database_url=normalise_database_url(url),
        run_worker=False,
        auto_upgrade=False,
        login_rate=(1000.0, 1000.0),
    )
    store = _store(url)
    org_id = store.org(org).id
    counts = store.state_counts("bod-17-01", org_id)
    hosts = sum(n for _, _, n in counts)
    biggest = max({u for u, _, _ in counts}, key=lambda u: sum(n for x, _, n in counts if x == u))
    token = store.create_token(user, days=1, actor="bench", now=dt.datetime.now(dt.UTC))[1]
    store.close()
    app = create_app(settings)
    pages: dict[str, dict[str, float]] = {}
    with TestClient(app) as client:
        nonce = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert nonce is not None
        client.post("/login", data={"name": user, "password": password, "csrf": nonce.group(1)})
        dashboard = app.state.dashboard

        def timed(path: str, *, cold: bool = False, **headers: str) -> float:
            if cold:
                dashboard.cache.clear()
            started = time.perf_counter()
            response = client.get(path, headers=headers or None)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
            return elapsed

        pages["overview, cold"] = _percentiles(
            [timed("/overview?directive=bod-17-01", cold=True) for _ in range(3)]
        )
        pages["overview"] = _percentiles(
            [timed("/overview?directive=bod-17-01") for _ in range(runs)]
        )
        unit = biggest.replace(" ", "+").replace("/", "%2F")
        filtered = [
            f"/hosts?org_unit={unit}&directive=bod-17-01&state=carrying",
            "/hosts?platform=linux&sort=-last_seen&state=all",
            "/hosts?directive=bod-17-01&state=clean&sort=state",
            "/hosts?q=hoot-ws-00012&state=all&sort=name",
            "/hosts?seen_days=3&sort=last_seen&state=all",
            "/hosts?directive=bod-17-01&product=kaspersky-endpoint-security&state=all&sort=name",
            "/hosts?directive=bod-17-01",  # the work queue: open hosts, overdue first
        ]
        for path in filtered:
            timed(path)  # warm up: templates compiled, statements cached
        first: list[float] = []
        for path in filtered:
            samples = [timed(path) for _ in range(max(3, runs // len(filtered)))]
            pages[f"  {path}"] = _percentiles(samples)
            first += samples
        pages["host page, filtered"] = _percentiles(first)
        following = []
        for path in filtered:
            html = client.get(path).text
            found = re.search(r'href="([^"]+)" rel="next"', html)
            if found:
                following += [timed(found.group(1).replace("&amp;", "&")) for _ in range(5)]
        if following:
            pages["host page, next page"] = _percentiles(following)
        pages["api summary (exact, uncached)"] = _percentiles(
            [
                timed("/api/v1/directives/bod-17-01/summary", Authorization=f"Bearer {token}")
                for _ in range(5)
            ]
        )
    return {"hosts": hosts, "largest_org_unit": biggest, "pages": pages}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run_dashboard("--full" in sys.argv), indent=2, default=str))
