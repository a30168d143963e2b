"""Fleet commands: the server, its database, organisations and users, the agent.

``serve``, ``db upgrade``, ``worker``, ``org create``, ``org unit create``, ``org freshness``,
``org silence``, ``user create``, ``token create`` and ``agent``. The lifecycle commands are in
:mod:`evict.cli.hosts`, the audit chain and the reports in :mod:`evict.cli.reports`.
Commands that take ``--db URL`` work on the server machine directly on the database (default:
``EVICT_DB``, else SQLite in the user data directory). Secrets that are shown once (an enrolment
secret, an API token) are printed alone on the last line, for scripts.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import pickle
import socket
import sys
import time
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from evict.cli._common import add_catalog_options
from evict.cli._database import (
    _actor,
    _add_audit_key,
    _add_db,
    _fleet,
    _now,
    _settings,
    _store,
)
from evict.errors import EvictError, InputError
from evict.model.records import Role
from evict.settings import Settings, parse_proxies, sqlite_path


def _duration(value: str) -> float:
    """An argparse type for ``90s``, ``15m``, ``1h``, ``1d`` (seconds without a unit)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a duration (e.g. 90s, 15m, 1h): {value!r}") from e
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive: {value!r}")
    return seconds


def register(subparsers: Any) -> None:
    """Add the fleet commands."""
    _register_server(subparsers)
    _register_admin(subparsers)
    _register_agent(subparsers)


def _register_server(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the fleet server (API and matching worker)",
        description="Run the fleet server. On SQLite the schema is upgraded on start; on "
        "PostgreSQL run `evict db upgrade` first.",
    )
    _add_db(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port (default 1; PostgreSQL: about one per core)",
    )
    p.add_argument(
        "--worker-interval",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="time between matching-worker passes (default 5s; each inventory wakes it)",
    )
    _add_audit_key(p)
    p.add_argument(
        "--anchor-file",
        type=Path,
        metavar="FILE",
        help="append a signed audit head here on a schedule (default: EVICT_AUDIT_ANCHOR, else "
        "audit-anchors.jsonl beside the key); keep it off the database host if you can",
    )
    p.add_argument(
        "--anchor-interval",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="time between signed heads (default 5m): events after the last one can be "
        "rewritten undetected until the next",
    )
    p.add_argument(
        "--audit-syslog",
        metavar="ADDRESS",
        help="also send each signed head to syslog: a socket (/dev/log) or HOST:PORT (UDP)",
    )
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="a reverse proxy (address or network) whose X-Forwarded-For is believed; repeat "
        "for several (default: none, or EVICT_TRUSTED_PROXIES): the rate limits then count "
        "the client's address instead of the proxy's",
    )
    add_catalog_options(p)
    p.set_defaults(func=run_serve)

    db = subparsers.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = dbsub.add_parser(
        "upgrade",
        help="create or upgrade the schema to this version's (and create the audit key if absent)",
    )
    _add_db(up)
    _add_audit_key(up)
    up.set_defaults(func=run_db_upgrade)

    worker = subparsers.add_parser(
        "worker", help="match new software and evaluate queued hosts (the server runs this too)"
    )
    _add_db(worker)
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument(
        "--interval", type=_duration, default=5.0, metavar="DURATION", help="between passes"
    )
    add_catalog_options(worker)
    worker.set_defaults(func=run_worker)


def _register_admin(subparsers: Any) -> None:
    org = subparsers.add_parser("org", help="organisations and org units")
    orgsub = org.add_subparsers(dest="org_command", metavar="COMMAND", required=True)
    create = orgsub.add_parser(
        "create", help="create an organisation; prints its enrolment secret on the last line"
    )
    create.add_argument("name")
    _add_db(create)
    create.set_defaults(func=run_org_create)
    unit = orgsub.add_parser("unit", help="org units")
    unitsub = unit.add_subparsers(dest="unit_command", metavar="COMMAND", required=True)
    ucreate = unitsub.add_parser(
        "create", help="create an org unit; prints its enrolment secret on the last line"
    )
    ucreate.add_argument("org")
    ucreate.add_argument("unit")
    _add_db(ucreate)
    ucreate.set_defaults(func=run_unit_create)
    fresh = orgsub.add_parser(
        "freshness",
        help="how old a host's last inventory may be before it is stale, not clean "
        "(default 7 days)",
    )
    fresh.add_argument("org")
    fresh.add_argument("days", type=int, help="days (1 to 3650)")
    _add_db(fresh)
    fresh.set_defaults(func=run_org_freshness)
    silence = orgsub.add_parser(
        "silence",
        help="days without vendor traffic in the network logs a replaced host needs before it "
        "is verified (default 0: not required)",
    )
    silence.add_argument("org")
    silence.add_argument("days", type=int, help="days (0 to 3650; 0 turns it off)")
    _add_db(silence)
    silence.set_defaults(func=run_org_silence)

    user = subparsers.add_parser("user", help="users of the server")
    usersub = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    ucr = usersub.add_parser("create", help="create a user")
    ucr.add_argument("name")
    ucr.add_argument("--org", required=True)
    ucr.add_argument("--role", required=True, choices=("admin", "operator", "auditor"))
    ucr.add_argument("--unit", help="restrict the user to this org unit")
    ucr.add_argument(
        "--password-stdin", action="store_true", help="read a password from standard input"
    )
    _add_db(ucr)
    ucr.set_defaults(func=run_user_create)

    token = subparsers.add_parser("token", help="API tokens")
    tokensub = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    tcr = tokensub.add_parser(
        "create", help="create an API token for a user; prints it on the last line"
    )
    tcr.add_argument("user")
    tcr.add_argument(
        "--expires",
        type=int,
        default=30,
        metavar="DAYS",
        help="lifetime in days (default 30); at most the role's maximum, set with "
        "EVICT_TOKEN_MAX_DAYS (default admin=90,operator=90,auditor=30)",
    )
    tcr.add_argument("--org", help="the user's organisation (needed when the name is in several)")
    tcr.add_argument("--label", default="", help="a note to tell tokens apart")
    _add_db(tcr)
    tcr.set_defaults(func=run_token_create)


def _register_agent(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "agent",
        help="enrol, scan and push to a fleet server",
        description="Scan this host (or read offline inventories with --from) and push the "
        "inventories to a fleet server. Reports are spooled first and sent later if the "
        "server is unreachable. Exit 0: all delivered; 1: some kept in the spool or refused; "
        "2: usage or input error.",
    )
    p.add_argument("--server", required=True, metavar="URL")
    p.add_argument(
        "--enroll-secret",
        metavar="SECRET",
        help="the org unit's enrolment secret (or EVICT_ENROLL_SECRET)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="scan and push once (the default)")
    mode.add_argument(
        "--interval", type=_duration, metavar="DURATION", help="scan and push every DURATION"
    )
    p.add_argument("--spool", type=Path, metavar="DIR", help="spool directory")
    p.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        action="append",
        metavar=("KIND", "PATH"),
        default=[],
        help="push offline inventories of KIND from PATH... (one enrolment per host in them)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the reports that would be sent; send nothing"
    )
    p.add_argument(
        "--token",
        metavar="TOKEN",
        help="with --from zeek|suricata|squid|bind|windows-dns|dnsmasq: the API token of an "
        "operator or admin of the whole organisation that network logs are sent with "
        "(or EVICT_TOKEN)",
    )
    p.set_defaults(func=run_agent)


# -- server and database -----------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    """Run ``evict serve``."""
    # uvicorn, FastAPI and SQLAlchemy: not loaded at CLI start-up.
    import uvicorn

    from evict.server.app import SETTINGS_ENV, create_app
    from evict.service.fleet import ready_database

    overrides: dict[str, Any] = {}
    if args.worker_interval:
        overrides["worker_interval"] = args.worker_interval
    if args.anchor_file:
        overrides["audit_anchor_file"] = args.anchor_file
        overrides["audit_anchor_enabled"] = True
    if args.anchor_interval:
        overrides["audit_anchor_interval"] = args.anchor_interval
    if args.audit_syslog:
        overrides["audit_syslog"] = args.audit_syslog
    if args.trusted_proxy:
        try:
            overrides["trusted_proxies"] = parse_proxies(",".join(args.trusted_proxy))
        except ValueError as e:
            raise EvictError(f"--trusted-proxy: {e}") from e
    settings = _settings(args, **overrides)
    safe = ready_database(settings.database_url, migrate=settings.upgrade_on_start)
    _check_port_free(args.host, args.port)
    _ensure_audit_key(settings)
    print(f"evict: serving on http://{args.host}:{args.port} with {safe}", file=sys.stderr)
    # uvicorn's own proxy-headers handling believes X-Forwarded-For from 127.0.0.1 (or
    # FORWARDED_ALLOW_IPS); the app applies settings.trusted_proxies itself instead.
    if args.workers > 1:
        if sqlite_path(settings.database_url) is not None:
            raise EvictError("--workers needs PostgreSQL: SQLite has one writer at a time")
        # Each worker process builds the app from the same settings (uvicorn's factory).
        os.environ[SETTINGS_ENV] = base64.b64encode(pickle.dumps(settings)).decode()
        uvicorn.run(
            "evict.server.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="warning",
            proxy_headers=False,
        )
        return 0
    uvicorn.run(
        create_app(settings, serving=True),
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
    )
    return 0


def _check_port_free(host: str, port: int) -> None:
    """Raise a clear error if ``host:port`` cannot be bound (in use, or not this machine's)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise EvictError(f"cannot serve on {host}: {e.strerror}") from e
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise EvictError(
                f"cannot serve on {host}:{port}: {e.strerror or e} "
                "(another server on that port? give --port)"
            ) from e


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Run ``evict db upgrade``."""
    from evict.service.fleet import upgrade_database  # SQLAlchemy: not at CLI start-up

    settings = _settings(args)
    before, after, safe = upgrade_database(settings.database_url)
    if before == after:
        print(f"{safe}: schema already at revision {after}")
    else:
        print(f"{safe}: schema upgraded from {before or 'empty'} to revision {after}")
    _ensure_audit_key(settings)
    return 0


def _ensure_audit_key(settings: Settings) -> None:
    """Create the audit key if it is absent, saying so (``serve`` and ``db upgrade``)."""
    from evict.signing import ensure_key  # cryptography: not at CLI start-up

    if settings.audit_key is None:
        return
    _, created = ensure_key(settings.audit_key)
    if created:
        print(
            f"created the audit key {settings.audit_key} (mode 0600): keep it, and "
            "`evict audit key` (its public half), outside the database and its backups",
            file=sys.stderr,
        )


def run_worker(args: argparse.Namespace) -> int:
    """Run ``evict worker``."""
    # The catalog, the matcher and the worker (SQLAlchemy): not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.matching.engine import Matcher
    from evict.service.evaluate import MatchWorker, protection_products

    settings = _settings(args)
    store = _store(args)
    catalog = load_catalog(settings.catalog_dirs)
    retention = settings.report_retention_days
    worker = MatchWorker(
        store,
        Matcher(catalog),
        protection=protection_products(catalog, settings.protection_products),
        report_retention=dt.timedelta(days=retention) if retention > 0 else None,
    )
    while True:
        now = _now()
        stats = worker.run_once(now=now, today=now.date())
        print(json.dumps(stats.to_json()), flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


# -- organisations, users, tokens --------------------------------------------------------------


def run_org_create(args: argparse.Namespace) -> int:
    """Run ``evict org create``."""
    org, secret = _store(args).create_org(args.name, actor=_actor(), now=_now())
    print(f"created organisation {org.name!r} with org unit {org.name!r}")
    print("enrolment secret (shown once; agents use it with --enroll-secret):")
    print(secret)
    return 0


def run_org_silence(args: argparse.Namespace) -> int:
    """Run ``evict org silence``."""
    fleet = _fleet(args)
    org = fleet.store.org(args.org)
    fleet.network.set_silence_days(org.id, args.days, actor=_actor(), now=_now())
    if args.days:
        print(
            f"{org.name}: a replaced host is verified only after {args.days} day(s) without "
            "vendor traffic, as well as a clean rescan"
        )
    else:
        print(f"{org.name}: verified needs a clean rescan only (no days of silence)")
    return 0


def run_org_freshness(args: argparse.Namespace) -> int:
    """Run ``evict org freshness``."""
    store = _store(args)
    org = store.org(args.org)
    store.set_freshness(org.id, args.days, actor=_actor(), now=_now())
    print(
        f"{org.name}: a host whose last inventory is older than {args.days} day(s) is stale, "
        "not clean"
    )
    return 0


def run_unit_create(args: argparse.Namespace) -> int:
    """Run ``evict org unit create``."""
    unit, secret = _store(args).create_unit(args.org, args.unit, actor=_actor(), now=_now())
    print(f"created org unit {unit.name!r} in {args.org!r}")
    print("enrolment secret (shown once; agents use it with --enroll-secret):")
    print(secret)
    return 0


def run_user_create(args: argparse.Namespace) -> int:
    """Run ``evict user create``."""

    password = None
    if args.password_stdin:
        # Checked by the store: 15 characters or more, not a common one (NIST SP 800-63B-4).
        password = sys.stdin.readline().rstrip("\r\n")
    user = _store(args).create_user(
        args.name,
        org=args.org,
        role=Role(args.role),
        password=password,
        unit=args.unit,
        actor=_actor(),
        now=_now(),
    )
    print(f"created user {user.name!r} ({user.role.value}) in {args.org!r}")
    return 0


def run_token_create(args: argparse.Namespace) -> int:
    """Run ``evict token create``."""
    store = _store(args)
    org_id = store.org(args.org).id if args.org else None
    info, token = store.create_token(
        args.user,
        days=args.expires,
        label=args.label,
        actor=_actor(),
        now=_now(),
        org_id=org_id,
        max_days=_settings(args).token_max_days,
    )
    expires = info.expires_at.date().isoformat() if info.expires_at else "never"
    print(f"API token for {info.user!r} (expires {expires}; shown once):")
    print(token)
    return 0


# -- agent -------------------------------------------------------------------------------------


def run_agent(args: argparse.Namespace) -> int:
    """Run ``evict agent``."""
    # The agent and its HTTP client (httpx): not loaded at CLI start-up.
    from evict.agent.agent import Agent, new_report_id
    from evict.agent.client import FleetClient
    from evict.agent.network import NETWORK_KINDS
    from evict.agent.spool import Spool
    from evict.agent.wire import report_body

    if any(group[0] in NETWORK_KINDS for group in args.sources):
        return _run_agent_network(args)
    if args.dry_run:
        for inventory in _agent_inventories(args):
            print(json.dumps(report_body(inventory, new_report_id()), ensure_ascii=False))
        return 0
    secret = args.enroll_secret or os.environ.get("EVICT_ENROLL_SECRET", "")
    if not secret:
        raise EvictError("give --enroll-secret (or set EVICT_ENROLL_SECRET)")
    client = FleetClient(args.server)
    spool = Spool(args.spool or _default_spool())

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    agent = Agent(client, spool, secret, log=log)
    try:
        while True:
            queued = agent.queue(_agent_inventories(args), now=_now())
            delivery = agent.deliver()
            if delivery.stopped is not None:
                # Nothing this run wrote can be sent until the operator fixes the cause.
                agent.discard(queued)
                raise EvictError(delivery.error)
            log(delivery.summary())
            if args.interval is None:
                return 0 if delivery.ok else 1
            time.sleep(args.interval)
    finally:
        client.close()


def _default_spool() -> Path:
    return Path(user_data_dir("evict")) / "agent"


def _run_agent_network(args: argparse.Namespace) -> int:
    """``evict agent --from zeek PATH…``: send the devices of network logs with an API token."""
    # The agent's HTTP client (httpx): not loaded at CLI start-up.
    from evict.agent.client import FleetClient, Refused, ServerUnreachable
    from evict.agent.network import NETWORK_KINDS, network_body, push_network

    others = sorted({g[0] for g in args.sources if g[0] not in NETWORK_KINDS})
    if others:
        raise EvictError(
            f"network logs are sent apart from inventories: run --from {others[0]} separately"
        )
    devices = _agent_inventories(args)
    if args.dry_run:
        print(json.dumps(network_body(devices), ensure_ascii=False))
        return 0
    token = args.token or os.environ.get("EVICT_TOKEN", "")
    if not token:
        raise EvictError(
            "network logs are sent with an operator's or admin's API token: give --token "
            "(or set EVICT_TOKEN)"
        )
    client = FleetClient(args.server)
    try:
        answer = push_network(client, token, devices)
    except Refused as e:
        print(f"evict: error: the server refused the network logs: {e}", file=sys.stderr)
        return 2
    except ServerUnreachable as e:
        print(f"evict: error: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(
        f"{answer.get('devices', 0)} device(s), {answer.get('matched', 0)} with vendor traffic: "
        f"{len(answer.get('joined', []))} enrolled host(s) credited, "
        f"{len(answer.get('unmanaged', []))} unmanaged, "
        f"{len(answer.get('reopened', []))} host state(s) reopened"
    )
    return 0


def _agent_inventories(args: argparse.Namespace) -> list[Any]:
    """This host's inventory, or every host's from the ``--from`` sources (merged per host)."""
    # The inventory sources and the scan pipeline: not loaded at CLI start-up.
    from evict.inventory.local import LocalHostSource
    from evict.inventory.registry import NETWORK_LOGS, open_source, wrong_kind_hint
    from evict.scanning import merge_by_host, no_host_error

    if not args.sources:
        return list(LocalHostSource(now=_now()).collect())
    catalog = None
    if NETWORK_LOGS.intersection(g[0] for g in args.sources):
        # Network logs are read for the built-in catalog's endpoints (the compiled-catalog cache).
        from evict.matching.cache import load_matcher

        catalog = load_matcher().catalog
    inventories: list[Any] = []
    sources = []
    for group in args.sources:
        if len(group) < 2:
            raise EvictError(f"--from {group[0]} needs at least one PATH")
        kind, *paths = group
        source = open_source(kind, [Path(p) for p in paths], catalog=catalog)
        sources.append(source)
        try:
            inventories.extend(source.collect())
        except InputError as e:
            e.message += wrong_kind_hint(kind, e.path)
            raise
        for status in source.statuses:
            for problem in status.problems:
                print(f"evict: warning: {status.source}: {problem}", file=sys.stderr)
    if not inventories:
        raise no_host_error(sources)
    return merge_by_host(inventories)
