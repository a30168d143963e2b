"""Lifecycle commands on the fleet database: ``host state``, ``host allow-reenroll``,
``host held``, ``waive``, ``waiver revoke``, ``waiver renew`` and ``adopt``.

Each works on the server machine directly on the database named by ``--db`` (default:
``EVICT_DB``) and is audit-logged as ``cli:`` and the login name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

from evict._util import today
from evict.cli._common import iso_date
from evict.cli._database import _actor, _add_db, _now, _settings, _store
from evict.errors import EvictError
from evict.model.states import OPERATOR_CHOICES
from evict.neutral import neutralise

if TYPE_CHECKING:
    from evict.catalog.interface import Catalog


def register(subparsers: Any) -> None:
    """Add the lifecycle commands: ``host``, ``waive``, ``waiver`` and ``adopt``."""
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


# -- lifecycle ---------------------------------------------------------------------------------


def _catalog(args: argparse.Namespace) -> Catalog:
    """The catalog, with the ``--catalog`` and ``EVICT_CATALOG`` directories."""
    # The catalog's loader builds its schema on import: not at CLI start-up.
    from evict.catalog.loader import load_catalog

    return load_catalog(_settings(args).catalog_dirs)


def _directive(args: argparse.Namespace, directive: str) -> str:
    return _catalog(args).directive(directive).id


def run_host_state(args: argparse.Namespace) -> int:
    """Run ``evict host state``."""
    from evict.service import states  # the store (SQLAlchemy): not at CLI start-up

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
    from evict.service import waivers  # the store (SQLAlchemy): not at CLI start-up

    store = _store(args)
    directive = _catalog(args).directive(args.directive)
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
    from evict.service import waivers  # the store (SQLAlchemy): not at CLI start-up

    store = _store(args)
    org = store.org(args.org)
    done = waivers.revoke(
        store, org.id, args.waiver, reason=args.reason, actor=_actor(), now=_now()
    )
    print(f"waiver {done.id} of {neutralise(done.host)} for {done.directive} revoked")
    return 0


def run_waiver_renew(args: argparse.Namespace) -> int:
    """Run ``evict waiver renew``."""
    from evict.service import waivers  # the store (SQLAlchemy): not at CLI start-up

    store = _store(args)
    org = store.org(args.org)
    old = store.waiver(org.id, args.waiver)
    directive = _catalog(args).directive(old.directive)
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
    # The milestones come with the catalog's schema: not at CLI start-up.
    from evict.compliance.milestones import schedule

    store = _store(args)
    directive = _catalog(args).directive(args.directive)
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
