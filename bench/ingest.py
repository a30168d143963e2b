"""Ingestion over HTTP on loopback: full inventories/s and unchanged check-ins/s, p50/p99.

For each backend (PostgreSQL in a fresh ``evict_bench_*`` database on 127.0.0.1:5432, and
SQLite in a temporary file) the fleet grows through the store's bulk path to each size, the
matching worker evaluates it once, and then the real server (uvicorn, the evict app, its
matching worker thread running) takes:

- full inventories: gzip JSON reports of simulated hosts a week after their stored inventory,
  with a stated churn (:func:`loadgen.churned`: 3% of observations change version, 2% of hosts
  install a new title; 5% of hosts are silent), fresh report ids, from 64 agents at once;
- unchanged check-ins: digest-only requests of other hosts, answered ``unchanged``, from 128
  connections each waiting for its answer (:func:`loadgen.hammer_raw`).

Beside each figure: the raw COPY ceiling measured in the same run (:func:`copy_ceiling`, 64
and 1 inventories per commit) and the ratio evict/ceiling, the server's and PostgreSQL's CPU
per request, and the churn sent. ``make bench`` prints one summary row per backend and size.

The load generator (:mod:`loadgen`) shares the machine's cores with the server and the
database: it sends pre-built bodies over keep-alive connections from threads, and its own CPU
use is reported beside each figure. At each size the dashboard's server time
(:func:`server.time_dashboard`) and two catalog changes (:func:`loadgen.reevaluate`) are timed on
the same fleet (the dashboard on PostgreSQL only). Sizes: 10,000 and 100,000 hosts by default;
``--full`` grows each backend's fleet to 1,000,000 as well (``EVICT_BENCH_SIZES=10000,100000`` picks
others,
``EVICT_BENCH_BACKENDS=postgresql`` one backend; ``EVICT_BENCH_DATABASE`` and
``EVICT_BENCH_KEEP``, see :func:`loadgen.database`, reuse a loaded fleet).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import loadgen  # noqa: E402

import server  # noqa: E402

FULL_REQUESTS = (2000, 60.0)
"""Full inventories per measurement, and the most seconds one may take."""
DIGEST_REQUESTS = (150_000, 30.0)
THREADS = 8
"""Client threads of the warm-up."""
CHECKIN_CONNECTIONS = 128
"""Agents checking in at once: connections, each waiting for its answer before sending the
next check-in (:func:`loadgen.hammer_raw`, no pipelining)."""
FULL_THREADS = 64
"""Agents sending full inventories at once (agents of a fleet report concurrently; the
server writes the reports that wait together)."""
WORKERS = {"postgresql": 2, "sqlite": 1}
"""uvicorn processes: one per core on PostgreSQL; one on SQLite (a single writer)."""


def sizes(full: bool) -> list[int]:
    """The fleet sizes to measure at, the same on every backend."""
    chosen = os.environ.get("EVICT_BENCH_SIZES")
    if chosen:
        return [int(s) for s in chosen.split(",")]
    return [10_000, 100_000, 1_000_000] if full else [10_000, 100_000]


def backends() -> list[str]:
    """The backends to measure."""
    return os.environ.get("EVICT_BENCH_BACKENDS", "postgresql,sqlite").split(",")


CEILING_ROWS = 250
"""Rows per simulated inventory in the raw ceiling (the simulated fleet's mean is about 250)."""


CEILING_BATCH = 64
"""Inventories per commit in the batched raw ceiling (as many as evict's writer takes)."""


def copy_ceiling(
    url: str, backend: str, seconds: float = 5.0, *, per_commit: int = 1
) -> dict[str, Any]:
    """The machine's raw ceiling for full inventories, in the same run: inventories of
    :data:`CEILING_ROWS` rows, ``per_commit`` of them per commit, into a scratch table with the
    schema and indexes of ``host_software`` (COPY on PostgreSQL, ``executemany`` on SQLite),
    from one connection, for ``seconds``. What evict achieves is compared with this: it is
    what the database takes when nothing else is done (no parsing, no HTTP, no diff)."""
    from sqlalchemy import create_engine

    rng = random.Random(7)
    software = [rng.randrange(1, 50_000) for _ in range(4096)]
    engine = create_engine(url)
    done, started = 0, time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if backend == "postgresql":
            cur.execute("DROP TABLE IF EXISTS bench_ceiling")
            cur.execute("CREATE TABLE bench_ceiling (LIKE host_software INCLUDING ALL)")
        else:  # as evict's SQLite engine runs: WAL, synchronous=NORMAL
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("DROP TABLE IF EXISTS bench_ceiling")
            cur.execute(
                "CREATE TABLE bench_ceiling (host_id INTEGER, software_id INTEGER, version "
                "VARCHAR(200), source VARCHAR(100), PRIMARY KEY (host_id, software_id, version, "
                "source))"
            )
            cur.execute("CREATE INDEX bench_ceiling_sw ON bench_ceiling (software_id, host_id)")
        raw.commit()
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            rows = [
                (10_000_000 + done + j, software[(done * 31 + i) % len(software)] + i * 50_000,
                 "1.0", "bench")
                for j in range(per_commit)
                for i in range(CEILING_ROWS)
            ]  # fmt: skip
            if backend == "postgresql":
                with cur.copy(  # type: ignore[attr-defined]
                    "COPY bench_ceiling (host_id, software_id, version, source) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cur.executemany("INSERT INTO bench_ceiling VALUES (?, ?, ?, ?)", rows)
            raw.commit()
            done += per_commit
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_ceiling")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return {
        "rows_per_inventory": CEILING_ROWS,
        "inventories_per_second": round(done / elapsed, 1),
        "rows_per_second": round(done * CEILING_ROWS / elapsed),
        "inventories_per_commit": per_commit,
        "connections": 1,
    }


def _postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (its CPU time is reported beside evict's)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


def measure(url: str, backend: str, n: int) -> dict[str, Any]:
    """Full inventories then unchanged check-ins against a fleet of ``n`` stored hosts."""
    rng = random.Random(n)
    # Silent hosts send nothing; the others send a week's churn or check in unchanged.
    speaking = [i for i in range(n) if not loadgen.silent(i)]
    full_hosts = rng.sample(speaking, min(len(speaking) // 2, FULL_REQUESTS[0]))
    chosen = set(full_hosts)
    others = [i for i in speaking if i not in chosen]
    # Hosts whose stored inventory stays as it is; at 10,000 hosts each checks in several
    # times during the measure (the flush writes one row per host per 100 ms).
    digest_hosts = rng.sample(others, min(len(others), DIGEST_REQUESTS[0]))
    digest_hosts += rng.choices(others, k=DIGEST_REQUESTS[0] - len(digest_hosts))
    churn: dict[str, Any] = {}
    full = loadgen.inventory_requests(full_hosts, snapshot=1, stats=churn)
    digests = loadgen.digest_requests(digest_hosts)
    out: dict[str, Any] = {"backend": backend, "hosts": n, "server_workers": WORKERS[backend]}
    out["observations_per_inventory"] = round(statistics.mean(r.observations for r in full), 1)
    out["churn"] = churn
    out["copy_ceiling"] = copy_ceiling(url, backend, per_commit=CEILING_BATCH)
    out["copy_ceiling_commit_each"] = copy_ceiling(url, backend)
    with loadgen.Server(url, workers=WORKERS[backend]) as server:
        loadgen.hammer(server.port, loadgen.digest_requests(rng.sample(range(n), 200)),
                       threads=THREADS, max_seconds=10)  # fmt: skip
        pg = _postgres_pids() if backend == "postgresql" else []
        for name, requests, (_, limit), threads in (
            ("full_inventory", full, FULL_REQUESTS, FULL_THREADS),
            ("unchanged_checkin", digests, DIGEST_REQUESTS, CHECKIN_CONNECTIONS),
        ):
            cpu0, db0 = server.cpu_seconds(), loadgen._cpu_seconds(pg)
            if name == "unchanged_checkin":
                result = loadgen.hammer_raw(
                    server.port, requests, connections=threads, max_seconds=limit
                )
            else:
                result = loadgen.hammer(server.port, requests, threads=threads, max_seconds=limit)
            figures = result.to_json()
            figures["connections"] = threads
            figures["server_cpu_cores"] = round((server.cpu_seconds() - cpu0) / result.seconds, 2)
            if pg:
                db = loadgen._cpu_seconds(pg) - db0
                figures["database_cpu_cores"] = round(db / result.seconds, 2)
            out[name] = figures
        status, health = server.get("/api/v1/health")
        out["worker_after"] = health.get("worker") if status == 200 else None
        out["server_peak_rss_mib"] = round(server.peak_rss_mib(), 1)
    return out


def run(full: bool) -> dict[str, Any]:
    """Grow the fleet to each size and measure both request kinds there, per backend."""
    results: list[dict[str, Any]] = []
    table: list[tuple[str, Any, str]] = []
    summary: list[tuple[str, Any, str]] = []
    for backend in backends():
        with loadgen.database(backend) as url:
            stored = loadgen.stored_hosts(url)
            for n in sizes(full):
                if n < stored:
                    continue  # a reused database already holds more
                pre = loadgen.preload(url, n, start=stored, progress=full)
                stored = n
                first = loadgen.evaluate_all(url)
                started = time.perf_counter()
                figures = measure(url, backend, n)
                figures["preload"] = {
                    "reused_database": pre.hosts == 0,
                    "hosts": pre.hosts,
                    "hosts_per_second": round(pre.hosts_per_second, 1),
                    "links": pre.links,
                    "software": pre.software,
                    "database_mib": round(pre.database_bytes / 2**20),
                }
                figures["first_evaluation"] = first
                if backend == "postgresql":
                    figures["dashboard"] = server.time_dashboard(
                        url, runs=40, org=loadgen.ORG, user=loadgen.ADMIN,
                        password=loadgen.PASSWORD,
                    )  # fmt: skip
                figures["catalog_change_rules"] = loadgen.reevaluate(url, "rules")
                figures["catalog_change"] = loadgen.reevaluate(url, "all")
                figures["measure_seconds"] = round(time.perf_counter() - started, 1)
                results.append(figures)
                tag = f"{backend}, {n:,} hosts"
                f, u = figures["full_inventory"], figures["unchanged_checkin"]
                pg = backend == "postgresql"
                ceiling = figures["copy_ceiling"]["inventories_per_second"]
                each = figures["copy_ceiling_commit_each"]["inventories_per_second"]
                churn = figures["churn"]
                summary.append((
                    f"SUMMARY {tag}: full inventories/s | unchanged check-ins/s",
                    f"{f['per_second']:,.0f} | {u['per_second']:,.0f}",
                    ">= 1,000 | >= 10,000 (at 100,000 hosts)" if pg
                    else "within 2x of PostgreSQL",
                ))  # fmt: skip
                summary.append((
                    "  raw COPY ceiling, same run: inventories/s (64 per commit); evict/ceiling",
                    f"{ceiling:,.0f}; {f['per_second'] / ceiling:.2f}" if ceiling else "-", "",
                ))  # fmt: skip
                table += [
                    (f"full inventories/s ({tag})", f"{f['per_second']:,.0f}",
                     ">= 1,000" if pg else ""),
                    ("  raw ceiling: inventories of 250 rows/s, 64 per commit; 1 per commit",
                     f"{ceiling:,.0f}; {each:,.0f}", ""),
                    ("  CPU ms per full inventory: server; database",
                     f"{1000 * f['server_cpu_cores'] / f['per_second']:.1f}; "
                     f"{1000 * f.get('database_cpu_cores', 0) / f['per_second']:.1f}"
                     if f["per_second"] else "-", "<= 2 together"),
                    ("  observations per inventory (mean); links changed (share)",
                     f"{figures['observations_per_inventory']}; "
                     f"{churn['links_changed_per_inventory']} ({churn['links_changed_share']:.1%})",
                     "about 300"),
                    ("  churn: versions changed/week; hosts with new titles; silent hosts",
                     f"{churn['version_change_per_week']:.0%}; "
                     f"{churn['hosts_with_new_titles']:.1%}; {churn['silent_hosts']:.0%}", ""),
                    ("  p50 / p99 ms; client, server CPU cores",
                     f"{f['p50_ms']:.0f} / {f['p99_ms']:.0f}; "
                     f"{f['client_cpu_cores']}, {f['server_cpu_cores']}", ""),
                    (f"unchanged check-ins/s ({tag})", f"{u['per_second']:,.0f}",
                     ">= 10,000" if pg else ""),
                    ("  p50 / p99 ms; client, server CPU cores",
                     f"{u['p50_ms']:.1f} / {u['p99_ms']:.1f}; "
                     f"{u['client_cpu_cores']}, {u['server_cpu_cores']}", ""),
                    ("  server CPU ms per unchanged check-in",
                     f"{1000 * u['server_cpu_cores'] / u['per_second']:.2f}"
                     if u["per_second"] else "-", "<= 0.2"),
                    (f"server peak RSS MiB ({tag})", figures["server_peak_rss_mib"], ""),
                    (f"bulk pre-load hosts/s ({tag})",
                     f"{figures['preload']['hosts_per_second']:,.0f}"
                     if pre.hosts else "(database reused)", ""),
                ]  # fmt: skip
                for key, what in (
                    ("catalog_change_rules", "one product's rules"),
                    ("catalog_change", "beyond the rules"),
                ):
                    again = figures[key]
                    table.append(
                        (f"re-evaluation after a catalog change ({what}), s ({tag})",
                         again["seconds"], "<= 30 at 1,000,000" if pg else "")
                    )  # fmt: skip
                for page, timing in figures.get("dashboard", {}).get("pages", {}).items():
                    if not page.startswith(" "):
                        goal = "" if "cold" in page or "api" in page else "< 100"
                        table.append((f"{page} p95 ms ({tag})", timing["p95_ms"], goal))
                if f["errors"] or u["errors"]:
                    table.append((f"  errors ({tag})", f"{f['errors']} / {u['errors']}", "0"))
    return {
        "load": os.getloadavg(),
        "connections": {"full_inventory": FULL_THREADS, "unchanged_checkin": CHECKIN_CONNECTIONS},
        "observations_per_inventory": "about 250 (evict.simulate; Windows and Linux about 290)",
        "results": results,
        "table": summary + table,
    }
