"""Shared pieces of the fleet-server benchmarks: a throw-away database, a pre-loaded fleet, the
server in a child process, and a load generator that talks HTTP to 127.0.0.1 only.

- :func:`database` creates a fresh PostgreSQL database (``evict_bench_<random>`` on the local
  server at 127.0.0.1:5432, trust auth) or an SQLite file, and drops it afterwards.
- :func:`preload` fills it with ``n`` simulated hosts through the store's bulk path
  (:meth:`evict.store.store.Store.bulk_load`), generating hosts in a process pool.
- :class:`Server` runs ``uvicorn`` on the evict app (``--workers`` processes) and reports its CPU
  time and peak memory from ``/proc``.
- :func:`hammer` sends pre-built requests over keep-alive connections from a few threads and
  stops after a fixed number of requests or seconds, whichever comes first.

``python bench/loadgen.py`` is not an entry point; uvicorn imports :func:`app` from here.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 7
ORG = "Department of Benchmarks"
ADMIN = "bench-admin"
PASSWORD = "bench password, not a secret"
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def credential(index: int) -> str:
    """The bench's credential of simulated host ``index`` (a real one is random)."""
    return f"evh_bench{index:09d}"


def fake_digest(index: int, snapshot: int = 0) -> str:
    """A stand-in inventory digest for pre-loaded hosts.

    The server compares digests and never recomputes a stored one, so a unique value per host
    behaves exactly like the real SHA-256 over the inventory while saving ~1 ms per host.
    """
    import hashlib

    return hashlib.sha256(f"{SEED}:{index}:{snapshot}".encode()).hexdigest()


# -- the database -------------------------------------------------------------------------------


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL for ``backend`` (``postgresql`` or ``sqlite``), dropped after.

    ``EVICT_BENCH_DATABASE`` names a database of that backend to use instead (a fleet loaded
    by an earlier run, grown further if the sizes ask for more: a PostgreSQL URL, or a
    ``sqlite:///`` file such as ``EVICT_BENCH_KEEP=1`` leaves); it is left in place.
    ``EVICT_BENCH_KEEP=1`` leaves the fresh PostgreSQL database in place too and prints its URL,
    so that a million-host fleet is loaded once and measured as often as needed.
    """
    reuse = os.environ.get("EVICT_BENCH_DATABASE", "")
    if backend == "postgresql" and reuse.startswith("postgresql"):
        yield reuse.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    if backend == "sqlite" and reuse.startswith("sqlite:///"):
        yield reuse
        return
    if backend == "sqlite":
        if os.environ.get("EVICT_BENCH_KEEP") == "1":
            kept = f"sqlite:///{tempfile.mkdtemp(prefix='evict-bench-')}/fleet.db"
            print(f"  database kept: EVICT_BENCH_DATABASE={kept}", file=sys.stderr)
            yield kept
            return
        with tempfile.TemporaryDirectory(prefix="evict-bench-") as tmp:
            yield f"sqlite:///{tmp}/fleet.db"
        return
    import psycopg

    name = f"evict_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    if os.environ.get("EVICT_BENCH_KEEP") == "1":
        print(f"  database kept: EVICT_BENCH_DATABASE={url}", file=sys.stderr)
        yield url
        return
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_bytes(url: str) -> int:
    """The size on disk of the database behind ``url``."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return int(row[0]) if row else 0


# -- pre-loading ---------------------------------------------------------------------------------


_STORE: Any = None
"""The store of a pre-loading child process (one engine per process, made on first use)."""


def _load_span(url: str, span: tuple[int, int], units: dict[str, int]) -> int:
    """Generate hosts ``span`` and bulk-load them, each into its simulated org unit."""
    global _STORE
    from evict.demo.simulate import generate_host
    from evict.model.records import BulkHost
    from evict.store.engine import make_engine
    from evict.store.secrets import lookup_hash
    from evict.store.store import Store

    if _STORE is None:
        _STORE = Store(make_engine(url))
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    by_unit: dict[str, list[Any]] = {}
    for index in range(*span):
        inv = generate_host(SEED, index, at=start)
        by_unit.setdefault(inv.org_unit or ORG, []).append(
            BulkHost(
                identifier=inv.host,
                hostname=inv.hostname,
                platform=inv.platform.value,
                credential_hash=lookup_hash(credential(index)),
                digest=fake_digest(index),
                observations=inv.observations,
                collected_at=inv.collected_at,
            )
        )
    loaded = 0
    for unit, hosts in sorted(by_unit.items()):
        loaded += _STORE.bulk_load(units[unit], hosts, actor="cli:bench", now=NOW, batch=len(hosts))
    return loaded


@dataclass
class Preloaded:
    """What :func:`preload` did."""

    hosts: int
    seconds: float
    hosts_per_second: float
    links: int
    software: int
    database_bytes: int


def stored_hosts(url: str) -> int:
    """How many hosts the database at ``url`` holds (0 before its schema exists)."""
    from sqlalchemy import func, inspect, select

    from evict.store.engine import make_engine
    from evict.store.tables import Host

    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("hosts"):
            return 0
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Host)).scalar_one())
    finally:
        engine.dispose()


def preload(
    url: str, stop: int, *, start: int = 0, progress: bool = False, processes: int = 0
) -> Preloaded:
    """Load simulated hosts ``start`` to ``stop`` through the bulk path, into their org units.

    With ``start`` 0 the schema, the organisation with the simulated org units, an admin
    (:data:`ADMIN`) and the BOD 17-01 adoption are created first; later calls grow the same
    fleet. Hosts are generated and loaded by ``processes`` child processes (default: one per
    core on PostgreSQL, one on SQLite), each with its own connection, in spans of 2,000 hosts.
    """
    from sqlalchemy import func, select

    from evict.catalog.loader import load_catalog
    from evict.demo.simulate import ORG_UNITS
    from evict.model.records import Role
    from evict.store.engine import make_engine, upgrade
    from evict.store.store import Store
    from evict.store.tables import HostSoftware, Software

    engine = make_engine(url)
    store = Store(engine)
    if start == 0:
        upgrade(engine)
        store.create_org(ORG, actor="cli:bench", now=NOW)
        for name in ORG_UNITS:
            store.create_unit(ORG, name, actor="cli:bench", now=NOW)
        store.create_user(
            ADMIN, org=ORG, role=Role.ADMIN, password=PASSWORD, actor="cli:bench", now=NOW
        )
        bod = load_catalog().directive("bod-17-01")
        store.adopt(ORG, bod.id, bod.start, actor="cli:bench", now=NOW)
    org = store.org(ORG)
    units = {u.name: u.id for u in store.units(org.id)}
    store.close()
    step = 2000
    spans = [(i, min(i + step, stop)) for i in range(start, stop, step)]
    started = time.perf_counter()
    loaded = 0
    # SQLite has one writer: a second loading process would only wait for the lock.
    workers = processes or (1 if engine.dialect.name == "sqlite" else os.cpu_count() or 1)
    # A large load builds the software_id index once at the end instead of maintaining it row
    # by row (the same index, under the same name, afterwards): links arrive in host order,
    # so that index is written all over (on SQLite it halves the load rate).
    rebuild = stop - start >= 200_000
    if rebuild:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_host_software_software_id_host_id")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(_load_span, url, span, units) for span in spans]
        for job in jobs:
            loaded += job.result()
            if progress and loaded % 50_000 < step:
                rate = loaded / (time.perf_counter() - started)
                print(
                    f"  preload {start + loaded:,}/{stop:,} hosts ({rate:,.0f}/s)", file=sys.stderr
                )
    if rebuild:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
            conn.exec_driver_sql(
                "CREATE INDEX ix_host_software_software_id_host_id"
                " ON host_software (software_id, host_id)"
            )
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        links = int(conn.execute(select(func.count()).select_from(HostSoftware)).scalar_one())
        software = int(conn.execute(select(func.count()).select_from(Software)).scalar_one())
    if engine.dialect.name == "postgresql" and loaded:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return Preloaded(loaded, seconds, loaded / seconds, links, software, database_bytes(url))


def evaluate_all(url: str) -> dict[str, Any]:
    """One matching-worker pass over the whole database (as ``evict worker --once``), timed."""
    from evict.catalog.loader import load_catalog
    from evict.matching.engine import Matcher
    from evict.service.evaluate import MatchWorker, protection_products
    from evict.store.engine import make_engine
    from evict.store.store import Store

    catalog = load_catalog()
    store = Store(make_engine(url))
    worker = MatchWorker(store, Matcher(catalog), protection=protection_products(catalog, None))
    started = time.perf_counter()
    stats = worker.run_once(now=NOW, today=NOW.date())
    seconds = time.perf_counter() - started
    if store.dialect == "postgresql" and stats.evaluated:
        # What autovacuum does after that many writes: visibility map and planner statistics
        # brought up to date (index-only scans and row estimates depend on them).
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE hosts")
            conn.exec_driver_sql("VACUUM ANALYZE host_states")
    store.close()
    return {"seconds": round(seconds, 2), **stats.to_json()}


RULES_CHANGE_PRODUCT = "kaspersky-endpoint-security"
"""The product whose rules a rules-only catalog change drops (as an update that edits one
product's rules would): the hosts carrying it are evaluated again."""


def reevaluate(url: str, change: str = "all") -> dict[str, Any]:
    """Change the catalog and time one worker pass, by part, until every host is up to date.

    :param change: ``rules`` — one product's recognition rules change, so only the hosts
        linked to software whose hits changed are evaluated again; ``all`` — something beyond
        the rules changes (a product's description), so the hosts carrying a covered product
        or in a state other than clean or verified are; ``directive`` — a directive is added
        (a copy of BOD 17-01 under another id), so every host is: the most work a catalog
        change causes.
    """
    import dataclasses

    from evict.catalog.interface import DirectiveID
    from evict.catalog.loader import load_catalog
    from evict.matching.engine import Matcher
    from evict.service.evaluate import MatchWorker, protection_products
    from evict.store.engine import make_engine
    from evict.store.store import Store

    base = load_catalog()
    version = f"{base.version}-bench-{change}-{time.time_ns()}"
    protection = protection_products(base, None)
    if change == "rules":
        products = tuple(
            dataclasses.replace(p, rules=()) if p.id == RULES_CHANGE_PRODUCT else p
            for p in base.products
        )
        catalog = dataclasses.replace(base, version=version, products=products)
    elif change == "directive":
        bod = base.directive("bod-17-01")
        extra = dataclasses.replace(bod, id=DirectiveID(f"bench-{time.time_ns()}"))
        catalog = dataclasses.replace(base, version=version, directives=(*base.directives, extra))
    else:
        # Anything beyond the rules (here a product's description, unique to this version)
        # changes the catalog's shape; the directives stay.
        first, *rest = base.products
        products = (dataclasses.replace(first, description=version), *rest)
        catalog = dataclasses.replace(base, version=version, products=products)
    store = Store(make_engine(url))
    worker = MatchWorker(store, Matcher(catalog), protection=protection)
    now, today = NOW, NOW.date()
    parts: dict[str, float] = {}
    started = time.perf_counter()
    with store.worker_lock():
        t = time.perf_counter()
        store.prepare_catalog(
            catalog.version, now=now, shape=worker.shape, directives=worker.directives
        )
        parts["queue_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        matched = worker.match_new_software()
        store.queue_changed_matches(catalog.version, covered=worker.covered)
        parts["match_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        store.queue_expired_waivers(today)
        evaluated, changes = worker.evaluate_queued(now=now, today=today)
        parts["evaluate_seconds"] = time.perf_counter() - t
    total = time.perf_counter() - started
    store.close()
    return {
        "change": change,
        "seconds": round(total, 2),
        **{k: round(v, 2) for k, v in parts.items()},
        "software_matched": matched,
        "hosts_evaluated": evaluated,
        "state_changes": changes,
        "hosts_per_second": round(evaluated / parts["evaluate_seconds"], 1)
        if parts["evaluate_seconds"]
        else 0,
    }


# -- the server ----------------------------------------------------------------------------------


def app() -> Any:
    """The evict app on ``EVICT_DB`` (uvicorn's factory, imported in each worker process), set
    up as ``evict serve`` sets it up (``serving``: the process's collector settled)."""
    from evict.server.app import create_app
    from evict.settings import Settings

    return create_app(Settings.from_env(), serving=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_tree(root: int) -> list[int]:
    """``root`` and its children (uvicorn's worker processes)."""
    pids = [root]
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[1]) == root:
            pids.append(int(status.parent.name))
    return pids


def _cpu_seconds(pids: Sequence[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(parts[11]) + int(parts[12])) / tick
    return total


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Server:
    """``uvicorn`` serving evict on 127.0.0.1 in a child process.

    :param url: the database.
    :param workers: uvicorn worker processes (1: a single process, no supervisor).
    """

    def __init__(self, url: str, *, workers: int = 1) -> None:
        self.url = url
        self.workers = workers
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> Server:
        env = dict(os.environ, EVICT_DB=self.url, EVICT_WORKER_INTERVAL="5")
        command = [
            sys.executable, "-m", "uvicorn", "loadgen:app", "--factory", "--app-dir", str(HERE),
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--no-access-log", "--workers", str(self.workers),
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.output()}")
            try:
                status, body = self.get("/api/v1/health")
                if status == 200 and len(self.pids()) >= self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the server did not start: {self.output()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        """The server's log so far (last 2,000 characters)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def pids(self) -> list[int]:
        """The server's processes (the supervisor and its workers)."""
        assert self.proc is not None
        return _proc_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time the server's processes have used so far."""
        return _cpu_seconds(self.pids())

    def peak_rss_mib(self) -> float:
        """The largest peak resident memory of one server process."""
        return max(_peak_rss_mib(pid) for pid in self.pids())

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        """GET a JSON document from the server."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()


# -- the load generator --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One pre-built POST."""

    path: str
    headers: dict[str, str]
    body: bytes
    observations: int = 0
    """How many observations the body reports (0 for a check-in)."""


@dataclass
class LoadResult:
    """What :func:`hammer` measured."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)
    client_cpu_seconds: float
    statuses: dict[int, int]
    first_error: str = ""

    @property
    def per_second(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile ``p`` (0-100) in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def to_json(self) -> dict[str, Any]:
        """Figures for the results file."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 2),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0,
            "client_cpu_cores": round(self.client_cpu_seconds / self.seconds, 2)
            if self.seconds
            else 0,
            "first_error": self.first_error,
        }


def _run_pool(
    work: Callable[[], None],
    n: int,
    latencies: list[float],
    errors: list[int],
    statuses: dict[int, int],
    first_error: list[str],
) -> LoadResult:
    """Run ``work`` on ``n`` threads at once; the LoadResult of what they recorded (in
    ``latencies``, ``errors[0]``, ``statuses`` and ``first_error[0]``)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=work, daemon=True) for _ in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - t0
    return LoadResult(
        len(latencies),
        errors[0],
        seconds,
        latencies,
        time.process_time() - cpu0,
        statuses,
        first_error[0],
    )


def hammer(
    port: int,
    requests: Sequence[Request],
    *,
    threads: int,
    max_seconds: float,
) -> LoadResult:
    """Send ``requests`` (each once, in order, shared by ``threads`` keep-alive connections).

    Stops when every request is sent or after ``max_seconds``. Only 127.0.0.1 is ever contacted.
    """
    lock = threading.Lock()
    cursor = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    first_error = [""]
    deadline = time.monotonic() + max_seconds

    def work() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        while time.monotonic() < deadline:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            r = requests[i]
            t0 = time.perf_counter()
            try:
                conn.request("POST", r.path, body=r.body, headers=r.headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, payload = 0, str(e).encode()
            mine.append(time.perf_counter() - t0)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    errors[0] += 1
                    first_error[0] = first_error[0] or f"{status}: {payload[:300]!r}"
        conn.close()
        with lock:
            latencies.extend(mine)

    return _run_pool(work, threads, latencies, errors, statuses, first_error)


VERSION_CHURN = 0.03
"""Share of a host's observations whose version changes in a week (browser, agent and
library updates: 2-5% in real fleets)."""
NEW_SOFTWARE = 0.02
"""Share of hosts that install software the fleet has not seen before, per week."""
NEW_TITLES_PER_WEEK = 25
"""Titles released per week that hosts install (each new to the fleet the first time)."""
SILENT = 0.05
"""Share of the stored hosts gone silent: they send nothing while the bench measures."""


def churned(inventory: Any, index: int, weeks: int) -> Any:
    """``inventory`` of host ``index`` after ``weeks`` weeks of churn since the stored one.

    Each observation changes version in a given week with probability :data:`VERSION_CHURN`
    (the version gets one more component per change); with probability :data:`NEW_SOFTWARE`
    per week the host installs one of that week's new titles. Deterministic per host and week.
    """
    import dataclasses
    import random

    from evict.model.observations import Kind, Observation

    if weeks <= 0:
        return inventory
    observations = []
    for o in inventory.observations:
        changes = 0
        for week in range(1, weeks + 1):
            if random.Random(f"{index}:{o.name}:{o.source}:{week}").random() < VERSION_CHURN:
                changes += 1
        if changes:
            o = dataclasses.replace(o, version=f"{o.version or '0'}.u{changes}")
        observations.append(o)
    for week in range(1, weeks + 1):
        rng = random.Random(f"{index}:new:{week}")
        if rng.random() < NEW_SOFTWARE:
            title = f"Bench New App {week}.{rng.randrange(NEW_TITLES_PER_WEEK)}"
            observations.append(
                Observation.make(
                    Kind.PROGRAM,
                    title,
                    version="1.0",
                    publisher="Bench Software",
                    source="osquery:programs",
                )  # fmt: skip
            )
    return dataclasses.replace(inventory, observations=tuple(observations))


def silent(index: int) -> bool:
    """Whether host ``index`` has gone silent (:data:`SILENT` of the fleet)."""
    import random

    return random.Random(f"{index}:silent").random() < SILENT


def churn_figures(stored: Sequence[Any], sent: Sequence[Any]) -> dict[str, Any]:
    """What the churn changed: links changed per inventory, hosts with new titles."""
    changed = new = links = 0
    for before, after in zip(stored, sent, strict=True):
        old = {(o.kind, o.name, o.version, o.source) for o in before.observations}
        now = {(o.kind, o.name, o.version, o.source) for o in after.observations}
        changed += len(old ^ now)
        links += len(now)
        new += any(o.publisher == "Bench Software" for o in after.observations)
    n = max(1, len(sent))
    return {
        "version_change_per_week": VERSION_CHURN,
        "new_software_hosts_per_week": NEW_SOFTWARE,
        "silent_hosts": SILENT,
        "links_changed_per_inventory": round(changed / n, 1),
        "links_changed_share": round(changed / max(1, links), 4),
        "hosts_with_new_titles": round(new / n, 4),
    }


def inventory_requests(
    indexes: Sequence[int],
    *,
    snapshot: int = 1,
    churn: bool = True,
    stats: dict[str, Any] | None = None,
) -> list[Request]:
    """Full inventory reports (gzip JSON) of simulated hosts, each with a fresh report id:
    the hosts ``snapshot`` weeks after the stored inventory, with :func:`churned` churn
    (``stats``, when given, receives :func:`churn_figures`)."""
    from evict.agent.wire import encode, report_body
    from evict.demo.simulate import generate_host

    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    out = []
    before, after = [], []
    for index in indexes:
        inv = generate_host(SEED, index, snapshot=snapshot, at=start)
        if churn:
            inv = churned(inv, index, snapshot)
            if stats is not None and len(after) < 500:
                before.append(generate_host(SEED, index, at=start))
                after.append(inv)
        body = encode(report_body(inv, secrets.token_hex(16)))
        headers = {
            "Authorization": f"Bearer {credential(index)}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        out.append(Request("/api/v1/inventory", headers, body, len(inv.observations)))
    if stats is not None:
        stats.update(churn_figures(before, after))
    return out


def digest_requests(indexes: Sequence[int]) -> list[Request]:
    """Unchanged check-ins (digest only) of pre-loaded hosts."""
    out = []
    for index in indexes:
        body = json.dumps({"report_id": secrets.token_hex(16), "digest": fake_digest(index)})
        headers = {
            "Authorization": f"Bearer {credential(index)}",
            "Content-Type": "application/json",
        }
        out.append(Request("/api/v1/inventory/digest", headers, body.encode()))
    return out


def hammer_raw(
    port: int,
    requests: Sequence[Request],
    *,
    connections: int,
    depth: int = 1,
    max_seconds: float,
) -> LoadResult:
    """Send ``requests`` over ``connections`` keep-alive connections (a thread each) written
    and read as raw bytes; ``depth`` requests in flight per connection (1: each waits for the
    answer to the one before, as an agent does; more is HTTP/1.1 pipelining).

    The server sees exactly what :func:`hammer` sends, but the load generator, which shares
    the machine's cores with the server, spends a fraction of the CPU per request (no
    ``http.client`` objects), so that it can offer many connections and over ten thousand
    requests per second on two cores. Each request's latency is its window's (written to
    last answer read).
    """
    lock = threading.Lock()
    cursor = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    first_error = [""]
    deadline = time.monotonic() + max_seconds
    wire = [
        (
            f"POST {r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(r.body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in r.headers.items())
            + "\r\n"
        ).encode()
        + r.body
        for r in requests
    ]

    def work() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        buffer = b""
        mine: list[float] = []
        counts: dict[int, int] = {}
        bad = 0
        error = ""
        while time.monotonic() < deadline:
            with lock:
                window = [i for _, i in zip(range(depth), cursor, strict=False)]
            if not window:
                break
            t0 = time.perf_counter()
            sock.sendall(b"".join(wire[i] for i in window))
            for _ in window:
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("the server closed the connection")
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("the server closed the connection")
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                counts[status] = counts.get(status, 0) + 1
                if status != 200:
                    bad += 1
                    error = error or f"{status}: {body[:300]!r}"
            elapsed = time.perf_counter() - t0
            mine.extend(elapsed for _ in window)
        sock.close()
        with lock:
            latencies.extend(mine)
            for k, v in counts.items():
                statuses[k] = statuses.get(k, 0) + v
            errors[0] += bad
            first_error[0] = first_error[0] or error

    return _run_pool(work, connections, latencies, errors, statuses, first_error)
