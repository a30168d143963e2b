"""Fleet commands: the server, its database, organisations and users, the agent, the lifecycle.

``serve``, ``db upgrade``, ``org create``, ``org unit create``, ``user create``, ``token create``,
``agent``, ``worker``, ``host state``, ``waive``, ``adopt``, ``audit verify``, ``report`` and
``evidence``.
Commands that take ``--db URL`` work on the server machine directly on the database (default:
``EVICT_DB``, else SQLite in the user data directory); ``report`` can also ask a running server
(``--server URL --token T``). Secrets that are shown once (an enrolment secret, an API token)
are printed alone on the last line, for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evict.cli._common import add_catalog_options, catalog_dirs, iso_date
from evict.model.states import OPERATOR_CHOICES
from evict.neutral import neutralise

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from evict.settings import Settings
    from evict.store.store import Store


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL or SQLite path (default: EVICT_DB, else SQLite in the user data "
        "directory); postgresql://... for PostgreSQL",
    )


def _add_audit_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audit-key",
        type=Path,
        metavar="FILE",
        help="the Ed25519 key that signs audit heads, kept outside the database (default: "
        "EVICT_AUDIT_KEY, else audit-key.pem in the user data directory)",
    )


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
    _register_lifecycle(subparsers)
    _register_report(subparsers)


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


def _register_lifecycle(subparsers: Any) -> None:
    host = subparsers.add_parser("host", help="a host's lifecycle")
    hostsub = host.add_subparsers(dest="host_command", metavar="COMMAND", required=True)
    state = hostsub.add_parser("state", help="move a host to planned, removing or identified")
    state.add_argument("host", help="host identifier (or hostname)")
    state.add_argument("--directive", required=True, metavar="ID")
    state.add_argument("--to", required=True, choices=OPERATOR_CHOICES)
    state.add_argument("--reason", default="")
    state.add_argument("--org", help="the host's organisation, if the identifier is ambiguous")
    _add_db(state)
    state.set_defaults(func=run_host_state)

    allow = hostsub.add_parser(
        "allow-reenroll",
        help="let a host enrol again once with its unit's secret (within 7 days)",
        description="An enrolled host seen recently cannot enrol again with its org unit's "
        "secret alone (that would let anyone with the secret take it over). After a reinstall "
        "that lost the agent's credential, allow it once here.",
    )
    allow.add_argument("host", help="host identifier (or hostname)")
    allow.add_argument("--org", help="the host's organisation, if the identifier is ambiguous")
    allow.add_argument(
        "--days", type=int, default=7, metavar="DAYS", help="how long the permission lasts (7)"
    )
    _add_db(allow)
    allow.set_defaults(func=run_host_allow_reenroll)
    held = hostsub.add_parser(
        "held",
        help="accept or reject an inventory held for review (it dropped every observation)",
    )
    held.add_argument("host", help="host identifier (or hostname)")
    decision = held.add_mutually_exclusive_group(required=True)
    decision.add_argument(
        "--accept",
        action="store_true",
        help="the host really has nothing now: its findings become removed",
    )
    decision.add_argument(
        "--reject", action="store_true", help="discard it; the host keeps its stored inventory"
    )
    held.add_argument("--org", help="the host's organisation, if the identifier is ambiguous")
    _add_db(held)
    held.set_defaults(func=run_host_held)

    waive = subparsers.add_parser("waive", help="waive one host for one directive, until a date")
    waive.add_argument("host", help="host identifier (or hostname): one host, never all")
    waive.add_argument("--directive", required=True, metavar="ID")
    waive.add_argument("--justification", required=True)
    waive.add_argument(
        "--grounds",
        default="",
        help="the exception's grounds, where the directive lists them "
        "(omb-m-23-13: law-enforcement, national-security, security-research)",
    )
    waive.add_argument("--approver", required=True)
    waive.add_argument("--expires", required=True, type=iso_date, metavar="DATE")
    waive.add_argument("--org")
    _add_db(waive)
    waive.set_defaults(func=run_waive)

    waiver = subparsers.add_parser("waiver", help="revoke or renew a waiver")
    waiversub = waiver.add_subparsers(dest="waiver_command", metavar="COMMAND", required=True)
    revoke = waiversub.add_parser("revoke", help="end a waiver now, with the reason")
    revoke.add_argument("waiver", type=int, metavar="ID", help="the waiver's id (evict waivers)")
    revoke.add_argument("--reason", required=True)
    revoke.add_argument("--org", required=True)
    _add_db(revoke)
    revoke.set_defaults(func=run_waiver_revoke)
    renew = waiversub.add_parser("renew", help="renew a waiver until a later date")
    renew.add_argument("waiver", type=int, metavar="ID")
    renew.add_argument("--expires", required=True, type=iso_date, metavar="DATE")
    renew.add_argument("--justification", required=True)
    renew.add_argument("--approver", required=True)
    renew.add_argument("--org", required=True)
    _add_db(renew)
    renew.set_defaults(func=run_waiver_renew)

    adopt = subparsers.add_parser(
        "adopt", help="adopt a directive with your organisation's own start date"
    )
    adopt.add_argument("directive")
    adopt.add_argument("--org", required=True)
    adopt.add_argument("--start", required=True, type=iso_date, metavar="DATE")
    adopt.add_argument(
        "--yes", action="store_true", help="do not ask before a start date in the future"
    )
    _add_db(adopt)
    adopt.set_defaults(func=run_adopt)

    audit = subparsers.add_parser("audit", help="the audit chain")
    auditsub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    verify = auditsub.add_parser(
        "verify",
        help="recompute the chain: exit 0 intact, 1 broken or tampered (naming the first bad "
        "event), 2 error",
        description="Recompute the audit chain and compare it with its recorded head and with "
        "the signed heads in each --anchor file (an anchor file, a syslog extract, a signed "
        "head saved from a report, or an evidence bundle). Anchors catch what the database "
        "alone cannot: events deleted from the end with the head moved back, an event "
        "rewritten with the chain recomputed, every event deleted with the head reset. Exit 0: "
        "intact; 1: broken or tampered; 2: error (the head row is missing, an anchor is not "
        "signed by the key, a file cannot be read).",
    )
    _add_db(verify)
    verify.add_argument(
        "--anchor",
        action="append",
        type=Path,
        metavar="FILE",
        help="signed heads the chain must pass through (repeatable)",
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="the public key the anchors are signed with (`evict audit key`; default: the "
        "audit key's)",
    )
    _add_audit_key(verify)
    verify.set_defaults(func=run_audit_verify)
    key = auditsub.add_parser("key", help="print the audit key's public key (PEM)")
    _add_audit_key(key)
    key.set_defaults(func=run_audit_key)
    anchor = auditsub.add_parser(
        "anchor",
        help="sign the chain head now and append it to the anchor file (the server does this "
        "on a schedule)",
    )
    _add_db(anchor)
    _add_audit_key(anchor)
    anchor.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the anchor file (default: EVICT_AUDIT_ANCHOR, else beside the key)",
    )
    anchor.set_defaults(func=run_audit_anchor)


def _register_report(subparsers: Any) -> None:
    from evict.report.interface import Format, ReportKind

    p = subparsers.add_parser(
        "report",
        help="a directive's reports: one line per host, or the directive's own reports",
        description="Report on a directive, from the database (--db) or a running server "
        "(--server URL --token T). --format csv and json give one line per host unless --report "
        "names another report; html and pdf give the report the current milestone asks for. "
        "--format jsonl is the per-host listing as JSON Lines, one host a line. The per-host "
        "listings are streamed: written as they are read, in memory that does not grow with "
        "the fleet.",
    )
    p.add_argument("directive")
    p.add_argument("--org", help="only this organisation (with --db)")
    p.add_argument("--unit", help="only this org unit")
    p.add_argument("--format", choices=[*(f.value for f in Format), "jsonl"], default="csv")
    p.add_argument(
        "--report",
        choices=[k.value for k in ReportKind],
        help="which report (default: hosts for csv and json; the current milestone's for html "
        "and pdf)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="organisation profile YAML: point of contact, contracts, costs... (docs/reports.md)",
    )
    p.add_argument("--today", type=iso_date, metavar="DATE", help="evaluate as of this date")
    p.add_argument("-o", "--output", type=Path, help="write to this file")
    _add_db(p)
    p.add_argument("--server", metavar="URL", help="ask this server instead of the database")
    p.add_argument("--token", metavar="TOKEN", help="API token for --server (or EVICT_TOKEN)")
    _add_audit_key(p)
    add_catalog_options(p)
    p.set_defaults(func=run_report)

    ev = subparsers.add_parser(
        "evidence",
        help="write a directive's evidence bundle (zip): reports, findings, audit chain, catalog",
        description="Write every report of the directive in csv, json, html and pdf, the "
        "findings with their evidence, the audit chain with its head hash, and the catalog, "
        "with a MANIFEST.json of SHA-256 sums signed with the audit key (MANIFEST.sig). Exit 0: "
        "written, audit chain intact; 1: written, audit chain broken. `evict evidence verify "
        "BUNDLE [--public-key FILE]` checks a bundle offline: the signature, every file's hash, "
        "and the audit events re-chained up to the signed head (exit 0: good, 1: bad, 2: "
        "unreadable).",
    )
    ev.add_argument("directive", help="the directive, or `verify` to check a bundle")
    ev.add_argument("bundle", nargs="?", type=Path, help="with `verify`: the bundle to check")
    ev.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="with `verify`: the public key the bundle must be signed with (`evict audit key`)",
    )
    _add_audit_key(ev)
    ev.add_argument("--org", help="the organisation (needed when the database holds several)")
    ev.add_argument("--unit", help="only this org unit")
    ev.add_argument("--out", type=Path, metavar="FILE.zip", help="the bundle to write")
    ev.add_argument("--profile", type=Path, metavar="FILE", help="organisation profile YAML")
    ev.add_argument("--today", type=iso_date, metavar="DATE", help="evaluate as of this date")
    _add_db(ev)
    add_catalog_options(ev)
    ev.set_defaults(func=run_evidence)


# -- helpers -----------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    from evict.settings import Settings

    extra = tuple(catalog_dirs(args)) if hasattr(args, "catalog") else ()
    if getattr(args, "audit_key", None):
        overrides.setdefault("audit_key", args.audit_key)
    settings = Settings.from_env(getattr(args, "db", None), **overrides)
    if extra:
        import dataclasses

        settings = dataclasses.replace(settings, catalog_dirs=extra)
    return settings


def _store(args: argparse.Namespace) -> Store:
    """Open the database named by ``--db`` and check its schema is current.

    A SQLite file that does not exist is an error here, not a new empty database: only
    ``evict db upgrade`` (and ``serve``, ``demo``) create one.
    """
    from evict.errors import EvictError
    from evict.store.engine import check_schema, make_engine
    from evict.store.store import Store

    url = _settings(args).database_url
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        raise EvictError(
            f"no database at {path}: create it with `evict db upgrade --db {path}`, "
            "or give the --db of an existing one"
        )
    engine = make_engine(url)
    check_schema(engine)
    return Store(engine)


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL, or None for other databases and in-memory ones."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _now() -> dt.datetime:
    from evict._util import utcnow

    return utcnow()


# -- server and database -----------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    """Run ``evict serve``."""
    import uvicorn

    from evict.errors import EvictError
    from evict.server.app import SETTINGS_ENV, create_app
    from evict.store.engine import check_schema, make_engine, upgrade

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
        from evict.settings import parse_proxies

        try:
            overrides["trusted_proxies"] = parse_proxies(",".join(args.trusted_proxy))
        except ValueError as e:
            raise EvictError(f"--trusted-proxy: {e}") from e
    settings = _settings(args, **overrides)
    engine = make_engine(settings.database_url)
    if settings.upgrade_on_start:
        upgrade(engine)
    check_schema(engine)
    engine.dispose()
    _check_port_free(args.host, args.port)
    _ensure_audit_key(settings)
    safe = engine.url.render_as_string(hide_password=True)
    print(f"evict: serving on http://{args.host}:{args.port} with {safe}", file=sys.stderr)
    # uvicorn's own proxy-headers handling believes X-Forwarded-For from 127.0.0.1 (or
    # FORWARDED_ALLOW_IPS); the app applies settings.trusted_proxies itself instead.
    if args.workers > 1:
        if _sqlite_path(settings.database_url) is not None:
            raise EvictError("--workers needs PostgreSQL: SQLite has one writer at a time")
        # Each worker process builds the app from the same settings (uvicorn's factory).
        import base64
        import os
        import pickle

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
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
    )
    return 0


def _check_port_free(host: str, port: int) -> None:
    """Raise a clear error if ``host:port`` cannot be bound (in use, or not this machine's)."""
    import socket

    from evict.errors import EvictError

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
    from evict.store.engine import make_engine, upgrade

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    before, after = upgrade(engine)
    safe = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"{safe}: schema already at revision {after}")
    else:
        print(f"{safe}: schema upgraded from {before or 'empty'} to revision {after}")
    _ensure_audit_key(settings)
    return 0


def _ensure_audit_key(settings: Settings) -> None:
    """Create the audit key if it is absent, saying so (``serve`` and ``db upgrade``)."""
    from evict.signing import ensure_key

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
    import json
    import time

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
    from evict.store.network import NetworkStore

    store = _store(args)
    org = store.org(args.org)
    NetworkStore(store).set_silence_days(org.id, args.days, actor=_actor(), now=_now())
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
    from evict.model.records import Role

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
    import json
    import os
    import time

    from evict.agent.agent import Agent, new_report_id
    from evict.agent.client import FleetClient
    from evict.agent.network import NETWORK_KINDS
    from evict.agent.spool import Spool
    from evict.agent.wire import report_body
    from evict.errors import EvictError

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
    from platformdirs import user_data_dir

    return Path(user_data_dir("evict")) / "agent"


def _run_agent_network(args: argparse.Namespace) -> int:
    """``evict agent --from zeek PATH…``: send the devices of network logs with an API token."""
    import json
    import os

    from evict.agent.client import FleetClient, Refused, ServerUnreachable
    from evict.agent.network import NETWORK_KINDS, network_body, push_network
    from evict.errors import EvictError

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
    from evict.errors import EvictError, InputError
    from evict.inventory.registry import open_source, wrong_kind_hint
    from evict.scanning import merge_by_host, no_host_error

    if not args.sources:
        from evict.inventory.local import LocalHostSource

        return list(LocalHostSource(now=_now()).collect())
    inventories: list[Any] = []
    sources = []
    for group in args.sources:
        if len(group) < 2:
            raise EvictError(f"--from {group[0]} needs at least one PATH")
        kind, *paths = group
        source = open_source(kind, [Path(p) for p in paths])
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


# -- lifecycle ---------------------------------------------------------------------------------


def _directive(args: argparse.Namespace, directive: str) -> str:
    from evict.catalog.loader import load_catalog

    return load_catalog(_settings(args).catalog_dirs).directive(directive).id


def run_host_state(args: argparse.Namespace) -> int:
    """Run ``evict host state``."""
    from evict.service import states

    store = _store(args)
    directive = _directive(args, args.directive)
    host = store.find_host(args.host, org=args.org)
    change = states.change_state(
        store, directive, host, args.to, reason=args.reason, actor=_actor(), now=_now()
    )
    before = change.old.state.value if change.old else "not evaluated"
    print(f"{neutralise(host.identifier)}: {directive}: {before} -> {change.new.state.value}")
    return 0


def run_host_allow_reenroll(args: argparse.Namespace) -> int:
    """Run ``evict host allow-reenroll``."""
    from evict.errors import EvictError

    if args.days < 1:
        raise EvictError("--days: at least 1")
    store = _store(args)
    host = store.find_host(args.host, org=args.org)
    until = store.allow_reenroll(
        host, actor=_actor(), now=_now(), valid_for=dt.timedelta(days=args.days)
    )
    print(f"{host.identifier}: may enrol again once, until {until.isoformat(timespec='minutes')}")
    return 0


def run_host_held(args: argparse.Namespace) -> int:
    """Run ``evict host held``."""
    from evict.errors import EvictError

    store = _store(args)
    host = store.find_host(args.host, org=args.org)
    if host.held is None:
        raise EvictError(f"{host.identifier}: no inventory is held for review")
    address = host.held.address or "an unknown address"
    if not store.review_held(host, accept=args.accept, actor=_actor(), now=_now()):
        raise EvictError(f"{host.identifier}: no inventory is held for review")
    verb = (
        "accepted (its findings become removed at the next worker pass)"
        if args.accept
        else ("rejected (the host keeps its stored inventory)")
    )
    print(f"{host.identifier}: the empty inventory {host.held.report_id} from {address} {verb}")
    return 0


def run_waive(args: argparse.Namespace) -> int:
    """Run ``evict waive``."""
    from evict.catalog.loader import load_catalog
    from evict.service import waivers

    store = _store(args)
    directive = load_catalog(_settings(args).catalog_dirs).directive(args.directive)
    waivers.check(
        directive, args.host, justification=args.justification, approver=args.approver,
        expires=args.expires, grounds=args.grounds, today=_now().date(),
    )  # fmt: skip
    host = store.find_host(args.host, org=args.org)
    waivers.grant(
        store, directive, host, justification=args.justification, approver=args.approver,
        expires=args.expires, grounds=args.grounds, actor=_actor(), now=_now(),
    )  # fmt: skip
    print(f"{neutralise(host.identifier)}: {directive.id}: waived until {args.expires.isoformat()}")
    return 0


def run_waiver_revoke(args: argparse.Namespace) -> int:
    """Run ``evict waiver revoke``."""
    from evict.service import waivers

    store = _store(args)
    org = store.org(args.org)
    done = waivers.revoke(
        store, org.id, args.waiver, reason=args.reason, actor=_actor(), now=_now()
    )
    print(f"waiver {done.id} of {neutralise(done.host)} for {done.directive} revoked")
    return 0


def run_waiver_renew(args: argparse.Namespace) -> int:
    """Run ``evict waiver renew``."""
    from evict.catalog.loader import load_catalog
    from evict.service import waivers

    store = _store(args)
    org = store.org(args.org)
    old = store.waiver(org.id, args.waiver)
    directive = load_catalog(_settings(args).catalog_dirs).directive(old.directive)
    host = store.host(org.id, old.host)
    waivers.renew(
        store, directive, host, old, justification=args.justification, approver=args.approver,
        expires=args.expires, actor=_actor(), now=_now(),
    )  # fmt: skip
    until = args.expires.isoformat()
    print(f"{neutralise(host.identifier)}: {directive.id}: waiver renewed until {until}")
    return 0


def run_adopt(args: argparse.Namespace) -> int:
    """Run ``evict adopt``: show the milestones the start date gives, ask before a future one."""
    from evict._util import today
    from evict.catalog.loader import load_catalog
    from evict.compliance.milestones import schedule
    from evict.errors import EvictError

    store = _store(args)
    directive = load_catalog(_settings(args).catalog_dirs).directive(args.directive)
    day = today()
    print(f"{args.org}: {directive.id} from {args.start.isoformat()} gives these milestones:")
    for milestone, due in schedule(directive, args.start):
        left = (due - day).days
        when = f"{left} days left" if left >= 0 else f"{-left} days overdue"
        print(f"  {due.isoformat()}  {milestone.name} ({when})")
    if args.start > day and not args.yes:
        question = f"{args.start.isoformat()} is in the future: adopt from that date?"
        if not (sys.stdin.isatty() and _confirm(question)):
            raise EvictError(
                f"start date {args.start.isoformat()} is in the future (today is "
                f"{day.isoformat()}): give --yes if that is what you mean"
            )
    store.adopt(args.org, directive.id, args.start, actor=_actor(), now=_now())
    print(f"{args.org}: {directive.id} adopted from {args.start.isoformat()}")
    return 0


def _confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; anything but y/yes is no."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _public_key(args: argparse.Namespace) -> Any:
    """The public key to check signatures with: ``--public-key``, else the audit key's."""
    from evict.errors import EvictError
    from evict.signing import load_key, load_public_key

    if getattr(args, "public_key", None):
        return load_public_key(args.public_key)
    path = _settings(args).audit_key
    if path is None or not path.exists():
        raise EvictError(f"no audit key at {path}: give --public-key FILE (`evict audit key`)")
    return load_key(path).public_key()


def run_audit_verify(args: argparse.Namespace) -> int:
    """Run ``evict audit verify``."""
    from evict.compliance.audit import check_anchors
    from evict.errors import EvictError
    from evict.signing import read_anchors

    anchors = []
    for path in args.anchor or ():
        found = read_anchors(path)
        if not found:
            raise EvictError(f"{path}: holds no signed audit head")
        anchors.extend(found)
    if anchors:
        problems = check_anchors(anchors, _public_key(args))
        if problems:
            for problem in problems[:20]:
                print(f"evict: error: cannot trust anchor {problem}", file=sys.stderr)
            return 2
    verdict = _store(args).verify_audit(anchors)
    if not verdict.ok:
        print(
            f"audit chain BROKEN at event {verdict.seq} ({verdict.fault}): {verdict.message}",
            file=sys.stderr,
        )
        return 1
    print(f"audit chain intact: {verdict.events} events, head {verdict.head_hash}")
    if anchors:
        latest = max(anchors, key=lambda a: a.head.seq).head
        print(
            f"passes through {len(anchors)} signed head(s); the latest vouches for event "
            f"{latest.seq} (signed {latest.at})"
        )
        if verdict.head_seq > latest.seq:
            print(
                f"events {latest.seq + 1}-{verdict.head_seq} come after the latest signed head: "
                "not yet covered by an anchor"
            )
    return 0


def run_audit_key(args: argparse.Namespace) -> int:
    """Run ``evict audit key``: print the public key."""
    from evict.compliance.audit import key_id
    from evict.errors import EvictError
    from evict.signing import load_key, public_pem

    path = _settings(args).audit_key
    if path is None or not path.exists():
        raise EvictError(f"no audit key at {path}: `evict db upgrade` or `evict serve` creates it")
    key = load_key(path)
    print(f"# evict audit key {key_id(key.public_key())} ({path})")
    sys.stdout.write(public_pem(key))
    return 0


def run_audit_anchor(args: argparse.Namespace) -> int:
    """Run ``evict audit anchor``: sign the head now, append it to the anchor file."""
    from evict.errors import EvictError
    from evict.service.audit import signed_head
    from evict.signing import anchor_line, append_anchor, load_key

    settings = _settings(args)
    if settings.audit_key is None or not settings.audit_key.exists():
        raise EvictError(
            f"no audit key at {settings.audit_key}: `evict db upgrade` or `evict serve` creates it"
        )
    out = args.out or settings.anchor_path
    head = signed_head(_store(args), load_key(settings.audit_key), _now())
    if out is not None:
        append_anchor(out, head)
    sys.stdout.write(anchor_line(head))
    return 0


# -- reports -----------------------------------------------------------------------------------


def run_report(args: argparse.Namespace) -> int:
    """Run ``evict report``."""
    import os

    from evict.errors import EvictError

    token = args.token or os.environ.get("EVICT_TOKEN", "")
    if args.profile and _fleet_listing(args):
        raise EvictError(
            "--profile fills in the directive's documents (--report day30, day60, status, ...); "
            "the per-host listing (--format csv|json) does not use it"
        )
    if args.format == "jsonl" and not _fleet_listing(args):
        raise EvictError("--format jsonl is the per-host listing: leave out --report (or hosts)")
    if args.server:
        if not token:
            raise EvictError("--server needs --token (or EVICT_TOKEN)")
        data = _report_from_server(args, token)
    elif _fleet_listing(args):
        _print_signed_head(args)
        _write_chunks(args.output, _report_from_db(args))
        return 0
    else:
        data = _document_from_db(args)
    if not args.server:
        _print_signed_head(args)
    if args.output:
        args.output.write_bytes(data)
    elif args.format == "pdf":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def _write_chunks(output: Path | None, chunks: Iterable[str]) -> None:
    """Write text chunks to ``output`` (a temporary file renamed: never a half report) or to
    stdout, as they come."""
    import os

    from evict.errors import EvictError

    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
        tmp.replace(output)
    except OSError as e:
        raise EvictError(f"{output}: cannot write the report: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)


def _fleet_listing(args: argparse.Namespace) -> bool:
    """Whether the report asked for is the one-line-per-host CSV, JSON or JSON Lines."""
    return args.format in ("csv", "json", "jsonl") and args.report in (None, "hosts")


def _report_from_server(args: argparse.Namespace, token: str) -> bytes:
    from evict.agent.client import FleetClient

    client = FleetClient(args.server, retries=2)
    params = {"org_unit": args.unit or ""}
    try:
        if _fleet_listing(args):
            path = f"/api/v1/reports/{args.directive}.{args.format}"
            response = client.get(path, token=token, params=params)
        else:
            path = f"/api/v1/reports/{args.directive}/{args.report or 'current'}.{args.format}"
            if args.profile:
                body = {"profile": _profile(args).to_json()}
                wanted = {k: v for k, v in params.items() if v}
                response = client.request("POST", path, token=token, json=body, params=wanted)
            else:
                response = client.get(path, token=token, params=params)
    finally:
        client.close()
    head = response.headers.get("Evict-Audit-Head")
    if head:
        print(f"evict: audit head (signed): {head}", file=sys.stderr)
    data = response.content
    return data if args.format != "json" or data.endswith(b"\n") else data + b"\n"


def _only_org(store: Store) -> Any:
    """The database's one organisation, or None when it holds none or several."""
    orgs = store.orgs()
    return orgs[0] if len(orgs) == 1 else None


def _print_signed_head(args: argparse.Namespace) -> None:
    """Print the audit head, signed now, on stderr (when the audit key is here): keep it with
    the report, and give it to ``evict audit verify --anchor`` later."""
    from evict.service.audit import signed_head
    from evict.signing import anchor_line, load_key

    path = _settings(args).audit_key
    if path is None or not path.exists():
        return
    head = signed_head(_store(args), load_key(path), _now())
    print(f"evict: audit head (signed): {anchor_line(head).strip()}", file=sys.stderr)


def _report_from_db(args: argparse.Namespace) -> Iterator[str]:
    from evict._util import today
    from evict.catalog.loader import load_catalog
    from evict.service.reports import host_listing

    settings = _settings(args)
    directive = load_catalog(settings.catalog_dirs).directive(args.directive)
    store = _store(args)
    org_id = unit_id = None
    start = None
    org = store.org(args.org) if args.org else _only_org(store)
    if org is not None:
        # One organisation answers the same with or without --org: its own clock.
        org_id = org.id
        start = store.adoptions(org_id).get(directive.id)
        if args.unit:
            unit_id = store.unit_id(org_id, args.unit)
    return host_listing(
        store,
        directive,
        args.format,
        org_id=org_id,
        unit_id=unit_id,
        today=args.today or today(),
        generated_at=_now(),
        start=start,
    )


# -- the directives' own reports and the evidence bundle ---------------------------------------


def _profile(args: argparse.Namespace) -> Any:
    from evict.report.profile import Profile, load_profile

    return load_profile(args.profile) if args.profile else Profile()


def _report_scope(args: argparse.Namespace) -> Any:
    """Whose report, as of when, from the database named by ``--db`` (see ReportScope)."""
    from evict._util import today
    from evict.catalog.loader import load_catalog
    from evict.errors import EvictError
    from evict.matching.engine import Matcher
    from evict.service.evaluate import protection_products
    from evict.service.reports import ReportScope

    profile = _profile(args)
    settings = _settings(args)
    catalog = load_catalog(settings.catalog_dirs)
    directive = catalog.directive(args.directive)
    store = _store(args)
    if args.org:
        org = store.org(args.org)
    else:
        orgs = store.orgs()
        if len(orgs) != 1:
            names = ", ".join(o.name for o in orgs) or "none yet"
            raise EvictError(f"give --org: the database holds several organisations ({names})")
        org = orgs[0]
    unit_id = store.unit_id(org.id, args.unit) if args.unit else None
    return ReportScope(
        store=store,
        matcher=Matcher(catalog),
        directive=directive,
        org_id=org.id,
        unit_id=unit_id,
        protection=protection_products(catalog, settings.protection_products),
        today=args.today or today(),
        generated_at=_now(),
        profile=profile,
        catalog_dirs=settings.catalog_dirs,
    )


def _document_from_db(args: argparse.Namespace) -> bytes:
    from evict.cli._progress import progress_bar
    from evict.report.interface import Format, ReportKind
    from evict.service.reports import render_document

    scope = _report_scope(args)
    kind = ReportKind(args.report) if args.report else None
    with progress_bar(f"{scope.directive.id} report") as progress:
        return render_document(scope, kind, Format(args.format), progress)


def run_evidence(args: argparse.Namespace) -> int:
    """Run ``evict evidence`` (and ``evict evidence verify BUNDLE``)."""
    from evict.cli._progress import progress_bar
    from evict.errors import EvictError
    from evict.service.reports import write_evidence
    from evict.signing import load_key

    if args.directive == "verify":
        return _run_evidence_verify(args)
    if args.bundle is not None:
        raise EvictError(f"unexpected argument {str(args.bundle)!r} (did you mean verify?)")
    if args.out is None:
        raise EvictError("give --out FILE.zip: where to write the bundle")
    key_path = _settings(args).audit_key
    if key_path is None or not key_path.exists():
        raise EvictError(
            f"no audit key at {key_path}: the bundle is signed with it (`evict db upgrade` "
            "creates it; --audit-key FILE names another)"
        )
    key = load_key(key_path)
    scope = _report_scope(args)
    with progress_bar(f"{scope.directive.id} evidence bundle") as progress:
        result = write_evidence(scope, args.out, progress, key=key, now=_now())
    print(f"wrote {result.path}: {result.files} files, manifest sha256 {result.manifest_sha256}")
    if not result.audit_ok:
        print(result.audit_message, file=sys.stderr)
        return 1
    print(result.audit_message)
    return 0


def _run_evidence_verify(args: argparse.Namespace) -> int:
    from evict.compliance.audit import key_id
    from evict.errors import EvictError
    from evict.report.bundle import verify_bundle

    if args.bundle is None:
        raise EvictError("evict evidence verify BUNDLE: name the bundle to check")
    public = None
    if args.public_key:
        from evict.signing import load_public_key

        public = load_public_key(args.public_key)
    result = verify_bundle(args.bundle, public_key=public)
    for problem in result.problems:
        print(f"{args.bundle}: {problem}", file=sys.stderr)
    if not result.ok:
        print(f"{args.bundle}: evidence bundle FAILS verification", file=sys.stderr)
        return 1
    print(
        f"{args.bundle}: evidence bundle verified: {result.files} files, signed by key "
        f"{result.key}, audit chain intact to event {result.head_seq}"
    )
    if public is None:
        print(
            f"the key was read from the bundle itself: compare {result.key} with "
            "`evict audit key` on the server, or give --public-key FILE"
        )
    else:
        assert result.key == key_id(public)
    return 0
