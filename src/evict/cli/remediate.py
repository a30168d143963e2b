"""``evict plan``, ``evict remove`` and ``evict block``: remove and replace, discontinue use.

``plan`` writes removal and replacement plans (Ansible, PowerShell, sh, JSON) for a host in the
fleet store, every affected host of an organisation, offline inventories, or this host; plans
are pure output. ``remove`` plans this host and, with ``--execute``, runs the plan here after
confirmation, recording each step. ``block`` writes deny lists for a directive.
Exit codes: 0 done; 1 a plan refuses to remove (coverage gap) or a step's check failed;
2 usage or input error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_data_dir

from evict._util import today, utcnow
from evict.cli._common import add_catalog_options, catalog_dirs, iso_date
from evict.errors import EvictError
from evict.neutral import neutralise
from evict.settings import Settings

if TYPE_CHECKING:
    from evict.matching.engine import Matcher
    from evict.model.observations import HostInventory
    from evict.remediation.interface import Plan
    from evict.remediation.policy import Policy

PLAN_FORMATS = ("ansible", "powershell", "sh", "json")
BLOCK_FORMATS = ("applocker", "apt-preferences", "dnf", "dns-rpz", "hosts", "squid", "json")


def _shown(text: str) -> str:
    """Host text for one line of the terminal: controls and bidi characters shown as <U+XXXX>."""
    return neutralise(text, one_line=True)


def _add_policy(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--approved",
        nargs="+",
        default=[],
        metavar="ID",
        help="approved protection products (default: every catalog product of category "
        "protection, or the policy file's)",
    )
    p.add_argument(
        "--install",
        nargs="+",
        default=[],
        metavar="ID",
        help="protection products a plan may install where a host has none (default: only "
        "built-in ones, such as Microsoft Defender on Windows)",
    )
    p.add_argument(
        "--policy", type=Path, metavar="FILE", help="replacement policy YAML (approved:, install:)"
    )
    p.add_argument(
        "--directive",
        action="append",
        default=[],
        metavar="ID",
        help="only these directives' findings (repeatable; default: all)",
    )
    p.add_argument(
        "--today", type=iso_date, metavar="DATE", help="plan as of this date (milestones)"
    )
    add_catalog_options(p)


def register(subparsers: Any) -> None:
    """Add the ``plan``, ``remove`` and ``block`` commands."""
    plan = subparsers.add_parser(
        "plan",
        help="write removal and replacement plans (Ansible, PowerShell, sh, JSON)",
        description="Write the plan that removes covered software from a host without leaving "
        "it unprotected: install or enable an approved replacement, confirm it runs, remove the "
        "covered products in order, remove leftovers, rescan; each step with a check that stops "
        "the plan. Plans are output only: evict never runs them on other hosts.",
    )
    plan.add_argument("host", nargs="?", metavar="HOST", help="a host id or name")
    plan.add_argument("--org", metavar="ORG", help="every affected host of this organisation")
    plan.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        action="append",
        metavar=("KIND", "PATH"),
        default=[],
        help="plan from offline inventories of KIND (as evict scan --from); with HOST, only it",
    )
    plan.add_argument("--this-host", action="store_true", help="plan for this host")
    plan.add_argument("--format", choices=PLAN_FORMATS, required=True, help="plan format")
    plan.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="write to this file; with several hosts and a one-host format, a directory",
    )
    plan.add_argument(
        "--db", metavar="URL", help="fleet database for HOST and --org (default: EVICT_DB)"
    )
    _add_policy(plan)
    plan.set_defaults(func=run_plan)

    remove = subparsers.add_parser(
        "remove",
        help="plan this host's removal; --execute runs it here",
        description="Plan the removal of covered software from this host and print the plan "
        "(a dry run). --execute runs it on this host after confirmation, stops at the first "
        "failing check, and records every step in a JSON log in the user data directory.",
    )
    remove.add_argument("--execute", action="store_true", help="run the plan on this host")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="work on the Debian root DIR (dpkg --root) instead of this running system",
    )
    remove.add_argument("--log", type=Path, metavar="FILE", help="write the step log here")
    _add_policy(remove)
    remove.set_defaults(func=run_remove)

    block = subparsers.add_parser(
        "block",
        help="deny lists for a directive: AppLocker, apt, dnf, DNS RPZ, hosts, Squid",
        description="Write what discontinues future use of a directive's software, built from "
        "the catalog: AppLocker publisher deny rules, apt pinning, dnf excludes, a DNS RPZ zone, "
        "hosts-file lines, a Squid ACL, or all of it as JSON.",
    )
    block.add_argument("directive", metavar="DIRECTIVE", help="a directive id (evict catalog list)")
    block.add_argument("--format", choices=BLOCK_FORMATS, required=True, help="output format")
    block.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to this file")
    block.add_argument(
        "--today", type=iso_date, metavar="DATE", help="date for the RPZ serial (default: today)"
    )
    add_catalog_options(block)
    block.set_defaults(func=run_block)


# --- shared -------------------------------------------------------------------------------------


def _policy(args: argparse.Namespace, matcher: Matcher) -> Policy:
    # The planner and its formats: not loaded at CLI start-up.
    from evict.remediation.policy import Policy, load_policy

    policy = load_policy(args.policy, matcher.catalog) if args.policy else Policy()
    return policy.override(args.approved, args.install).check(matcher.catalog, "--approved")


def _directives(args: argparse.Namespace, matcher: Matcher) -> list[Any] | None:
    if not args.directive:
        return None
    return [matcher.catalog.directive(d) for d in args.directive]


def _today(args: argparse.Namespace) -> Any:
    return args.today or today()


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


# --- plan ---------------------------------------------------------------------------------------


def _store_inventories(args: argparse.Namespace, matcher: Matcher) -> list[HostInventory]:
    """Inventories rebuilt from the fleet store: each host's software that rules matched."""
    settings = Settings.from_env(args.db)
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).exists():
        raise EvictError(
            f"no fleet database at {url[len('sqlite:///') :]}: give --db URL (or EVICT_DB), or "
            "plan from inventories with --from KIND PATH or --this-host"
        )
    # The store (SQLAlchemy) and the inventory model: not loaded at CLI start-up.
    from evict.matching.interface import linked_findings
    from evict.model.observations import HostID, HostInventory, Platform
    from evict.service.fleet import Fleet

    store = Fleet.open(url).store
    try:
        version = matcher.catalog.version
        matched = store.matched_software(version)
        if not matched:
            raise EvictError(
                f"the fleet database has no software matched against catalog {version}: run "
                "`evict worker --once` with the same catalog first"
            )
        if args.org and not args.host:
            org = store.org(args.org)
            rows: list[tuple[int, str, str, str]] = []
            after = 0
            while page := store.list_hosts(org.id, after=after, limit=500):
                rows += [(h.id, h.identifier, h.hostname, h.platform) for h in page]
                after = page[-1].id
        else:
            host = store.find_host(args.host, org=args.org)
            rows = [(host.id, host.identifier, host.hostname, host.platform)]
        links = store.host_links([r[0] for r in rows], matched)
        out = []
        for hid, identifier, hostname, platform in rows:
            observations = tuple(o for o, _ in linked_findings(links.get(hid, []), matched))
            known = platform in {p.value for p in Platform}
            out.append(
                HostInventory(
                    HostID(identifier),
                    hostname,
                    Platform(platform) if known else Platform.UNKNOWN,
                    utcnow(),
                    observations,
                    source="store",
                )
            )
        return out
    finally:
        store.close()


def _inventories(args: argparse.Namespace, matcher: Matcher) -> list[HostInventory]:
    store = bool(args.org or args.host) and not args.sources
    chosen = sum(bool(x) for x in (args.sources, args.this_host, store))
    if chosen != 1 or (args.this_host and (args.host or args.org)):
        raise EvictError("give one of HOST, --org ORG, --from KIND PATH..., --this-host")
    # The inventory sources and the scan pipeline: not loaded at CLI start-up.
    from evict.cli.scan import build_sources
    from evict.inventory.local import LocalHostSource
    from evict.scanning import merge_by_host, no_host_error

    if args.this_host:
        return list(LocalHostSource(now=utcnow()).collect())
    if args.sources:
        namespace = argparse.Namespace(sources=args.sources, files=[], no_file_cache=True)
        inventories = []
        sources = build_sources(namespace, matcher.catalog)
        for source in sources:
            inventories.extend(source.collect())
        if not inventories:
            raise no_host_error(sources)
        inventories = merge_by_host(inventories)
        if args.host:
            inventories = [i for i in inventories if args.host in (i.host, i.hostname)]
            if not inventories:
                raise EvictError(f"no host {args.host!r} in the inventories given")
        return inventories
    return _store_inventories(args, matcher)


def _plans(args: argparse.Namespace, matcher: Matcher) -> list[Plan]:
    # The planner and its formats: not loaded at CLI start-up.
    from evict.remediation.planner import plan_inventory

    policy = _policy(args, matcher)
    directives = _directives(args, matcher)
    plans = []
    for inventory in _inventories(args, matcher):
        plan = plan_inventory(
            inventory, matcher, policy=policy, today=_today(args), directives=directives
        )
        if not plan.products:
            name = _shown(inventory.hostname or inventory.host)
            print(f"evict: nothing covered on {name}: no plan", file=sys.stderr)
            continue
        plans.append(plan)
    return plans


def _host_after_sources(args: argparse.Namespace) -> None:
    """Take HOST back from the last ``--from KIND PATH...`` group, which swallows it.

    ``evict plan --from osquery fleet.log HOST`` parses HOST as a second path: when no HOST was
    given and the group's last word names no file, that word is the host.
    """
    if args.host is not None or not args.sources:
        return
    last = args.sources[-1]
    if len(last) > 2 and not Path(last[-1]).exists():
        args.host = last.pop()


def run_plan(args: argparse.Namespace) -> int:
    """Run ``evict plan``."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.matching.cache import load_matcher
    from evict.remediation import renderer

    _host_after_sources(args)
    matcher = load_matcher(catalog_dirs(args))
    fmt = renderer(args.format)
    plans = _plans(args, matcher)
    if not plans:
        return 0
    if len(plans) > 1:
        fitting = [p for p in plans if fmt.accepts(p)]
        for plan in plans:
            if plan not in fitting:
                print(f"evict: no {args.format} plan: {fmt.refuses(plan)}", file=sys.stderr)
        if not fitting:
            raise EvictError(f"none of the hosts' plans can be written as {args.format}")
        plans = fitting
    if len(plans) > 1 and not fmt.many:
        if args.output is None:
            raise EvictError(
                f"{len(plans)} hosts need plans: give --output DIR for one {args.format} file each"
            )
        args.output.mkdir(parents=True, exist_ok=True)
        for plan in plans:
            name = "".join(
                c if c.isalnum() or c in "-_." else "_" for c in plan.hostname or plan.host
            )
            (args.output / f"{name}{fmt.suffix}").write_text(fmt.render([plan]), encoding="utf-8")
    else:
        _write(fmt.render(plans), args.output)
    for plan in plans:
        if plan.refusal:
            print(
                f"evict: {_shown(plan.hostname or plan.host)}: {_shown(plan.refusal)}",
                file=sys.stderr,
            )
    return 1 if any(p.refusal for p in plans) else 0


# --- remove -------------------------------------------------------------------------------------


def _log_path(args: argparse.Namespace, host: str, moment: Any) -> Path:
    if args.log is not None:
        return Path(args.log)
    folder = Path(user_data_dir("evict")) / "remove-logs"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host)
    return folder / f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{safe}.json"


def run_remove(args: argparse.Namespace) -> int:
    """Run ``evict remove``."""
    # The inventory, the catalog, the matcher and the planner: not loaded at CLI start-up.
    from evict.inventory.local import LocalHostSource
    from evict.matching.cache import load_matcher
    from evict.remediation.execute import StepRecord, execute
    from evict.remediation.planner import plan_inventory
    from evict.remediation.sh import ShRenderer

    root = args.root.resolve() if args.root else None
    if root is not None and not root.is_dir():
        raise EvictError(f"--root {args.root}: not a directory")
    matcher = load_matcher(catalog_dirs(args))
    directives = _directives(args, matcher)

    def inventory() -> HostInventory:
        source = LocalHostSource(root or Path("/"), now=utcnow())
        (found,) = list(source.collect())
        return found

    plan = plan_inventory(
        inventory(),
        matcher,
        policy=_policy(args, matcher),
        today=_today(args),
        directives=directives,
    )
    if not plan.products:
        print(f"evict: nothing covered on {_shown(plan.hostname or plan.host)}: nothing to remove")
        return 0
    sys.stdout.write(ShRenderer().render([plan]))
    if not args.execute:
        print("evict: dry run: nothing was changed (add --execute to run this plan here)")
        return 1 if plan.refusal else 0
    if plan.refusal:
        print(f"evict: refused: {_shown(plan.refusal)}", file=sys.stderr)
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            raise EvictError("--execute asks for confirmation: answer on a terminal or give --yes")
        answer = input(f"Run these {len(plan.steps)} steps on this host? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("evict: not confirmed: nothing was changed")
            return 1

    def rescan() -> tuple[bool, str]:
        again = inventory()
        findings = matcher.match_hosts([again], directives=directives).get(again.host, [])
        left = sorted({f.product for f in findings if not f.needs_determination})
        return not left, "still found: " + ", ".join(left) if left else "nothing covered found"

    def show(record: StepRecord) -> None:
        print(f"evict: step {record.number} {record.status}: {_shown(record.title)}", flush=True)
        if record.status == "failed" and record.output:
            print(record.output.rstrip(), file=sys.stderr)

    log = execute(plan, rescan=rescan, clock=utcnow, root=root, on_step=show)
    path = _log_path(args, plan.host, utcnow())
    path.write_text(json.dumps(log.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"evict: log written to {path}")
    if not log.completed:
        print(f"evict: stopped at step {log.stopped_at}: its check failed", file=sys.stderr)
        return 1
    print("evict: plan complete")
    return 0


# --- block --------------------------------------------------------------------------------------


def run_block(args: argparse.Namespace) -> int:
    """Run ``evict block``."""
    # The catalog and the matcher: not loaded at CLI start-up.
    from evict.catalog.loader import load_catalog
    from evict.remediation.block import block_list, render_block

    catalog = load_catalog(catalog_dirs(args))
    block = block_list(catalog, args.directive)
    serial = int(_today(args).strftime("%Y%m%d")) * 100 + 1
    _write(render_block(block, args.format, serial=serial), args.output)
    return 0
