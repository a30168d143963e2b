"""The audit chain and the reports: ``audit verify``, ``audit key``, ``audit anchor``,
``report`` and ``evidence``.

``report`` reads the database named by ``--db`` (default: ``EVICT_DB``) or asks a running server
(``--server URL --token T``); ``evidence`` writes a signed bundle that ``evidence verify``
checks offline.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evict._util import today
from evict.cli._common import add_catalog_options, iso_date
from evict.cli._database import _add_audit_key, _add_db, _now, _only_org, _settings, _store
from evict.errors import EvictError
from evict.report.interface import Format, ReportKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


def register(subparsers: Any) -> None:
    """Add the ``audit``, ``report`` and ``evidence`` commands."""
    _register_audit(subparsers)
    _register_report(subparsers)


def _register_audit(subparsers: Any) -> None:
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


# -- the audit chain ---------------------------------------------------------------------------


def _public_key(args: argparse.Namespace) -> Any:
    """The public key to check signatures with: ``--public-key``, else the audit key's."""
    from evict.signing import load_key, load_public_key  # cryptography: not at CLI start-up

    if getattr(args, "public_key", None):
        return load_public_key(args.public_key)
    path = _settings(args).audit_key
    if path is None or not path.exists():
        raise EvictError(f"no audit key at {path}: give --public-key FILE (`evict audit key`)")
    return load_key(path).public_key()


def run_audit_verify(args: argparse.Namespace) -> int:
    """Run ``evict audit verify``."""
    # The audit chain's checks (cryptography): not loaded at CLI start-up.
    from evict.compliance.audit import check_anchors
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
    # The audit chain's checks (cryptography): not loaded at CLI start-up.
    from evict.compliance.audit import key_id
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
    # The store (SQLAlchemy) and cryptography: not loaded at CLI start-up.
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
    # httpx: loaded when the command runs, not at start-up
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


def _print_signed_head(args: argparse.Namespace) -> None:
    """Print the audit head, signed now, on stderr (when the audit key is here): keep it with
    the report, and give it to ``evict audit verify --anchor`` later."""
    # the store (SQLAlchemy): loaded when the command runs, not at start-up
    from evict.service.audit import signed_head
    from evict.signing import anchor_line, load_key

    path = _settings(args).audit_key
    if path is None or not path.exists():
        return
    head = signed_head(_store(args), load_key(path), _now())
    print(f"evict: audit head (signed): {anchor_line(head).strip()}", file=sys.stderr)


def _report_from_db(args: argparse.Namespace) -> Iterator[str]:
    # the catalog: loaded when the command runs, not at start-up
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
    # the reports and their renderers: loaded when the command runs
    from evict.report.profile import Profile, load_profile

    return load_profile(args.profile) if args.profile else Profile()


def _report_scope(args: argparse.Namespace) -> Any:
    """Whose report, as of when, from the database named by ``--db`` (see ReportScope)."""
    # the catalog: loaded when the command runs, not at start-up
    from evict.catalog.loader import load_catalog
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
    # Rich (the progress bar): loaded when the command runs
    from evict.cli._progress import progress_bar
    from evict.service.reports import render_document

    scope = _report_scope(args)
    kind = ReportKind(args.report) if args.report else None
    with progress_bar(f"{scope.directive.id} report") as progress:
        return render_document(scope, kind, Format(args.format), progress)


def run_evidence(args: argparse.Namespace) -> int:
    """Run ``evict evidence`` (and ``evict evidence verify BUNDLE``)."""
    # Rich (the progress bar): loaded when the command runs
    from evict.cli._progress import progress_bar
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
    # loaded when the command runs, not at start-up
    from evict.compliance.audit import key_id
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
