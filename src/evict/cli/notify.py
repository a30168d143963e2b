"""``evict notify``: an organisation's reminders and alerts by e-mail, webhook and syslog."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from evict.cli._database import _actor, _add_db, _fleet, _now, _settings
from evict.errors import EvictError
from evict.neutral import neutralise
from evict.notify.interface import ChannelKind, Event, PayloadStyle

EVENTS = ", ".join(e.value for e in Event)


def _events(value: str) -> frozenset[Event]:
    """An argparse type for a comma-separated list of events (or ``all``)."""
    if value.strip() == "all":
        return frozenset(Event)
    try:
        return frozenset(Event(v.strip()) for v in value.split(",") if v.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"events are some of: {EVENTS} (or all)") from e


def register(subparsers: Any) -> None:
    """Add the ``notify`` command group."""
    p = subparsers.add_parser(
        "notify",
        help="reminders and alerts by e-mail, webhook and syslog",
        description="Tell people before a milestone is due, when hosts become overdue, when a "
        "covered product is found for the first time and before a waiver expires. The server "
        "sends on a schedule (EVICT_NOTIFY_INTERVAL); `evict notify run` sends once.",
    )
    sub = p.add_subparsers(dest="notify_command", metavar="COMMAND", required=True)
    add = sub.add_parser("add", help="add a channel to an organisation")
    add.add_argument("--org", required=True)
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--email", metavar="ADDRESS", help="send mail to this address")
    where.add_argument("--webhook", metavar="URL", help="POST JSON to this URL")
    where.add_argument("--syslog", metavar="HOST:PORT", help="send RFC 5424 syslog here")
    add.add_argument("--smtp", metavar="HOST:PORT", default="localhost:25", help="mail server")
    add.add_argument("--sender", default="evict@localhost", help="mail From address")
    add.add_argument("--starttls", action="store_true", help="STARTTLS before sending mail")
    add.add_argument(
        "--smtp-user", metavar="NAME", help="SMTP login (password: EVICT_SMTP_PASSWORD)"
    )
    add.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the webhook's HMAC secret (signs every request)",
    )
    add.add_argument(
        "--style",
        choices=[s.value for s in PayloadStyle],
        default="json",
        help="webhook body: evict's JSON, or Slack's or Teams' incoming-webhook format",
    )
    add.add_argument("--tcp", action="store_true", help="syslog over TCP (default UDP)")
    add.add_argument(
        "--events", type=_events, default=frozenset(Event), help=f"some of {EVENTS} (default all)"
    )
    add.add_argument(
        "--days-before",
        type=int,
        default=7,
        metavar="N",
        help="remind this many days before a milestone or a waiver's end (default 7)",
    )
    _add_db(add)
    add.set_defaults(func=run_add)
    ls = sub.add_parser("list", help="an organisation's channels")
    ls.add_argument("--org", required=True)
    _add_db(ls)
    ls.set_defaults(func=run_list)
    rm = sub.add_parser("remove", help="remove a channel")
    rm.add_argument("channel", type=int, metavar="ID")
    rm.add_argument("--org", required=True)
    _add_db(rm)
    rm.set_defaults(func=run_remove)
    test = sub.add_parser("test", help="send a test notification on a channel now")
    test.add_argument("channel", type=int, metavar="ID")
    test.add_argument("--org", required=True)
    _add_db(test)
    test.set_defaults(func=run_test)
    run = sub.add_parser("run", help="send what is due now, once (for cron)")
    run.add_argument("--org", help="only this organisation")
    _add_db(run)
    run.set_defaults(func=run_pass)


def _notes(args: argparse.Namespace) -> tuple[Any, Any, int | None]:
    fleet = _fleet(args)
    org_id = fleet.store.org(args.org).id if getattr(args, "org", None) else None
    return fleet.store, fleet.notifications, org_id


def run_add(args: argparse.Namespace) -> int:
    """Run ``evict notify add``."""
    store, notes, org_id = _notes(args)
    assert org_id is not None
    if args.days_before < 0:
        raise EvictError("--days-before must be 0 or more")
    options: dict[str, str] = {}
    if args.email:
        kind, target = ChannelKind.EMAIL, args.email
        options = {"smtp": args.smtp, "sender": args.sender}
        if args.starttls:
            options["starttls"] = "yes"
        if args.smtp_user:
            options["username"] = args.smtp_user
            options["password"] = os.environ.get("EVICT_SMTP_PASSWORD", "")
    elif args.webhook:
        if not args.webhook.startswith(("https://", "http://")):
            raise EvictError(f"--webhook must be an http(s) URL: {args.webhook!r}")
        kind, target = ChannelKind.WEBHOOK, args.webhook
        options = {"style": args.style}
        if args.secret_env:
            secret = os.environ.get(args.secret_env, "")
            if not secret:
                raise EvictError(f"--secret-env {args.secret_env}: that variable is empty")
            options["secret"] = secret
    else:
        kind, target = ChannelKind.SYSLOG, args.syslog
        options = {"transport": "tcp" if args.tcp else "udp"}
    now = _now()
    channel = notes.add(
        org_id, kind=kind, target=target, events=args.events, days_before=args.days_before,
        options=options, actor=_actor(), now=now,
    )  # fmt: skip
    store.audit(
        actor=_actor(), action="notify.channel-added", subject=f"notify:{kind.value}:{channel.id}",
        org=org_id, payload={"target": target, "events": sorted(e.value for e in args.events)},
        now=now,
    )  # fmt: skip
    print(f"channel {channel.id}: {kind.value} {target}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Run ``evict notify list``."""
    _, notes, org_id = _notes(args)
    for c in notes.channels(org_id):
        events = ",".join(sorted(e.value for e in c.events))
        target = neutralise(c.target, one_line=True)
        print(f"{c.id}\t{c.kind.value}\t{target}\t{events}\t{c.days_before} days before")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Run ``evict notify remove``."""
    store, notes, org_id = _notes(args)
    assert org_id is not None
    channel = notes.remove(org_id, args.channel)
    store.audit(
        actor=_actor(), action="notify.channel-removed",
        subject=f"notify:{channel.kind.value}:{channel.id}", org=org_id,
        payload={"target": channel.target}, now=_now(),
    )  # fmt: skip
    print(f"removed channel {channel.id}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Run ``evict notify test``."""
    # The store (SQLAlchemy): not loaded at CLI start-up.
    from evict.service.notify import send_test

    store, notes, org_id = _notes(args)
    assert org_id is not None
    print(send_test(store, notes.get(org_id, args.channel), actor=_actor(), now=_now()))
    return 0


def run_pass(args: argparse.Namespace) -> int:
    """Run ``evict notify run``: exit 1 when a delivery failed."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.service.notify import notify_once

    store, _, org_id = _notes(args)
    catalog = load_catalog(_settings(args).catalog_dirs)
    stats = notify_once(store, catalog, now=_now(), org_id=org_id)
    for error in stats.errors:
        print(f"evict: {error}", file=sys.stderr)
    print(f"{stats.delivered} delivered, {stats.failed} failed")
    return 1 if stats.failed else 0
