"""Render a scan: the JSON contract of DESIGN.md, CSV, and the terminal table.

Pure functions of a :class:`~evict.scanning.ScanResult`, the catalog and ``today``: the milestone
and days left are computed here, from each directive's clock or an organisation's own ``start``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evict import __version__
from evict.catalog.interface import Catalog, Directive
from evict.compliance.determinations import determination_state
from evict.compliance.milestones import MilestoneStatus, current_milestone
from evict.matching.interface import Finding
from evict.neutral import json_dumps, neutralise
from evict.remediation.policy import Policy, coverage_gap, protection_present
from evict.report.cells import safe_cell
from evict.scanning import HostResult, ScanResult


def milestones_for(
    catalog: Catalog, *, today: dt.date, starts: Mapping[str, dt.date] | None = None
) -> dict[str, MilestoneStatus]:
    """The current milestone of every directive, on ``today``, with optional own start dates."""
    starts = starts or {}
    return {
        d.id: current_milestone(d, today=today, start=starts.get(d.id)) for d in catalog.directives
    }


def finding_json(finding: Finding, milestone: MilestoneStatus) -> dict[str, Any]:
    """One finding as the scan contract shows it.

    A finding that raises a question of scope carries ``determination``: the question's id and
    ``state`` (``needed`` until the organisation determines it ``covered``).
    """
    out: dict[str, Any] = {
        "directive": finding.directive,
        "vendor": finding.vendor,
        "product": finding.product,
        "product_name": finding.product_name,
        "confidence": finding.confidence.value,
        "embedded": finding.embedded,
        "milestone": milestone.to_json(),
        "evidence": [e.to_json() for e in finding.evidence],
    }
    determination = determination_state(finding)
    if determination is not None:
        out["determination"] = determination
    return out


def _needed(finding: Mapping[str, Any]) -> bool:
    """Whether a contract finding waits for a determination of its question of scope."""
    d = finding.get("determination")
    return d is not None and d.get("state") == "needed"


def to_document(
    result: ScanResult,
    catalog: Catalog,
    *,
    today: dt.date,
    starts: Mapping[str, dt.date] | None = None,
    policy: Policy | None = None,
    directives: Sequence[Directive] | None = None,
) -> dict[str, Any]:
    """The scan as the JSON object of the command-line contract.

    Each host says which observation kinds its inventory held and whether they are enough to
    conclude for its platform (``coverage``, :mod:`evict.compliance.coverage`), and for which of
    ``directives`` (default: all) its lack of findings is therefore no answer
    (``cannot_conclude``). It also says which approved protection products it has
    (``protection``, by ``policy``: every catalog protection product by default) and whether
    removing its covered antivirus would leave it unprotected (``coverage_gap``).
    """
    clocks = milestones_for(catalog, today=today, starts=starts)
    policy = policy or Policy()
    scope = list(directives) if directives is not None else list(catalog.directives)
    return {
        "evict_version": __version__,
        "catalog_version": result.catalog_version,
        "generated_at": result.generated_at.isoformat(timespec="seconds"),
        "hosts": [
            {
                "host": h.inventory.host,
                "hostname": h.inventory.hostname,
                "platform": h.inventory.platform.value,
                "observations": len(h.inventory.observations),
                "coverage": h.coverage.to_json(),
                "cannot_conclude": _cannot_conclude(h, scope),
                "findings": [finding_json(f, clocks[f.directive]) for f in h.findings],
                "look_alikes": [
                    {
                        "kind": o.kind.value,
                        "name": o.name,
                        "source": o.source,
                        "exclusion": x.id,
                        "reason": x.reason,
                    }
                    for o, x in h.lookalikes
                ],
                "protection": list(protection_present(h.present, catalog, policy)),
                "coverage_gap": coverage_gap(
                    (f.product for f in h.findings if not f.needs_determination),
                    h.present,
                    catalog,
                    policy,
                ),
            }
            for h in result.hosts
        ],
        "sources": [s.to_json() for s in result.statuses],
    }


def _cannot_conclude(host: HostResult, directives: Sequence[Directive]) -> list[str]:
    """The directives with no finding on ``host`` whose "none found" its inventory cannot back."""
    found = {f.directive for f in host.findings}
    return [d.id for d in directives if d.id not in found and not host.concludes(d)]


def inconclusive(host: Mapping[str, Any]) -> bool:
    """Whether a host of the scan document is one nothing may be concluded about (not clean)."""
    return bool(host.get("cannot_conclude"))


def render_json(document: Mapping[str, Any]) -> str:
    """Serialise the contract document."""
    return json_dumps(document) + "\n"


CSV_COLUMNS = (
    "host", "hostname", "platform", "directive", "vendor", "product", "product_name",
    "confidence", "embedded", "milestone", "due", "days_left", "evidence",
    "protection", "coverage_gap", "coverage", "complete", "missing", "determination",
)  # fmt: skip


def render_csv(document: Mapping[str, Any]) -> str:
    """One row per host and finding; a host without findings gets one row with empty finding
    columns (``complete`` says whether that empty row is a clean answer)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for host in document["hosts"]:
        head = [host["host"], host["hostname"], host["platform"]]
        cov = host.get("coverage") or {}
        tail = [
            " ".join(host.get("protection", ())),
            str(host.get("coverage_gap", False)).lower(),
            " ".join(cov.get("kinds", ())),
            str(cov.get("complete", False)).lower(),
            " ".join(cov.get("missing", ())),
        ]
        if not host["findings"]:
            blanks = [""] * (len(CSV_COLUMNS) - len(head) - len(tail) - 1)
            writer.writerow([safe_cell(v) for v in [*head, *blanks, *tail, ""]])
            continue
        for f in host["findings"]:
            evidence = "; ".join(
                f"{e['kind']} {e['name']!r} ({e['source']}, rule {e['rule']})"
                for e in f["evidence"]
            )
            row = [
                *head, f["directive"], f["vendor"], f["product"], f["product_name"],
                f["confidence"], str(f["embedded"]).lower(), f["milestone"]["name"],
                f["milestone"]["due"], f["milestone"]["days_left"], evidence, *tail,
                _determination_cell(f),
            ]  # fmt: skip
            writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def _determination_cell(finding: Mapping[str, Any]) -> str:
    d = finding.get("determination")
    if d is None:
        return ""
    return f"{d['state']} ({d['question']})"


def summarize(document: Mapping[str, Any]) -> dict[str, Any]:
    """Per-directive fleet counts: affected, needing a determination, incomplete and clean
    hosts, endpoints per product.

    A host whose inventory cannot conclude for a directive (``cannot_conclude``) is counted
    ``incomplete_hosts``, never clean; a host whose only findings under a directive wait for a
    determination counts under ``needs_determination_hosts``: neither affected nor clean.
    """
    hosts = document["hosts"]
    per_directive: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "hosts": set(),
            "asked": set(),
            "products": Counter(),
            "milestone": None,
            "incomplete": 0,
        }
    )
    for host in hosts:
        for f in host["findings"]:
            entry = per_directive[f["directive"]]
            entry["asked" if _needed(f) else "hosts"].add(host["host"])
            entry["products"][f["product_name"]] += 1
            entry["milestone"] = f["milestone"]
    if per_directive:
        for host in hosts:
            for d in host.get("cannot_conclude", ()):
                if d in per_directive:
                    per_directive[d]["incomplete"] += 1
    return {
        "hosts": len(hosts),
        "observations": sum(h["observations"] for h in hosts),
        "incomplete_hosts": sum(1 for h in hosts if inconclusive(h)),
        "directives": {
            d: {
                "affected_hosts": len(v["hosts"]),
                "incomplete_hosts": v["incomplete"],
                "needs_determination_hosts": len(v["asked"] - v["hosts"]),
                "clean_hosts": len(hosts) - len(v["hosts"] | v["asked"]) - v["incomplete"],
                "products": dict(v["products"].most_common()),
                "milestone": v["milestone"],
            }
            for d, v in sorted(per_directive.items())
        },
    }


def _days(days: int) -> str:
    if days < 0:
        return f"[bold red]{-days} days overdue[/]"
    if days <= 14:
        return f"[yellow]{days} days left[/]"
    return f"{days} days left"


def _evidence_line(evidence: Iterable[Mapping[str, Any]], limit: int = 3) -> str:
    items = list(evidence)
    text = "\n".join(
        f"{e['kind']} [bold]{e['name']}[/] {e.get('version', '')} "
        f"[dim]({e['source']}; rule {e['rule']})[/]"
        for e in items[:limit]
    )
    if len(items) > limit:
        text += f"\n[dim]… and {len(items) - limit} more[/]"
    return text


def render_table(document: Mapping[str, Any], *, console: Any, max_hosts: int = 50) -> None:
    """Print the scan for a person: hosts with findings, then the fleet summary and sources."""
    # Rich: only for the terminal's output
    from rich.markup import escape as markup_escape
    from rich.table import Table

    def escape(text: str) -> str:
        # Host text shows as it is: no markup, no control or bidi characters.
        return markup_escape(neutralise(text))

    hosts = document["hosts"]
    affected = [h for h in hosts if h["findings"]]
    for host in affected[:max_hosts]:
        protection = ", ".join(host.get("protection", ())) or "none"
        gap = (
            "\n[bold red]coverage gap: no approved protection[/]"
            if host.get("coverage_gap")
            else ""
        )
        table = Table(
            title=f"{escape(host['hostname'])} [dim]({escape(host['host'])}, "
            f"{host['platform']}, {host['observations']} observations; "
            f"protection: {escape(protection)})[/]{gap}",
            title_justify="left",
            expand=False,
        )
        table.add_column("Directive", style="bold")
        table.add_column("Product")
        table.add_column("Confidence")
        table.add_column("Next milestone")
        table.add_column("Evidence")
        for f in host["findings"]:
            m = f["milestone"]
            product = escape(f["product_name"]) + (" [dim](embedded)[/]" if f["embedded"] else "")
            if _needed(f):
                question = escape(f["determination"]["question"])
                product += f"\n[yellow]needs determination[/] [dim]({question})[/]"
            table.add_row(
                escape(f["directive"]),
                product,
                f["confidence"],
                f"{escape(m['name'])}\ndue {m['due']}, {_days(m['days_left'])}",
                _evidence_line({k: escape(str(v)) for k, v in e.items()} for e in f["evidence"]),
            )
        console.print(table)
    set_aside = [(h, a) for h in hosts for a in h.get("look_alikes", [])]
    for host, item in set_aside[:10]:
        console.print(
            f"[dim]{escape(host['hostname'])}: set aside {item['kind']} "
            f"{escape(item['name'])!r} — {escape(item['reason'])} ({item['exclusion']})[/]"
        )
    if len(affected) > max_hosts:
        console.print(f"[dim]… {len(affected) - max_hosts} more hosts with findings[/]")
    summary = summarize(document)
    unsure = [h for h in hosts if inconclusive(h) and not h["findings"]]
    for host in unsure[:max_hosts]:
        cov = host.get("coverage") or {}
        lacks = ", ".join(m.replace("|", " or ") for m in cov.get("missing", ())) or "?"
        console.print(
            f"[bold yellow]incomplete: cannot conclude[/] on {escape(host['hostname'])} "
            f"[dim]({escape(host['host'])}, {host['platform']}; seen: "
            f"{escape(', '.join(cov.get('kinds', ())) or 'nothing')}; missing: "
            f"{escape(lacks)}; for {escape(', '.join(host['cannot_conclude']))})[/]"
        )
    if len(unsure) > max_hosts:
        console.print(f"[dim]… {len(unsure) - max_hosts} more incomplete hosts[/]")
    if not affected:
        complete = summary["hosts"] - len(unsure)
        if complete:
            console.print(
                f"[bold green]No covered software found[/] on {complete} host(s) "
                f"({summary['observations']} observations checked against catalog "
                f"{document['catalog_version']})."
            )
        if unsure:
            console.print(
                f"[bold yellow]Incomplete: cannot conclude[/] on {len(unsure)} host(s): nothing "
                "was found, but their inventories do not show where covered software lives "
                "(see docs/sources.md: what each platform needs)."
            )
    else:
        table = Table(title="Summary", title_justify="left")
        table.add_column("Directive", style="bold")
        table.add_column("Hosts affected", justify="right")
        table.add_column("Incomplete", justify="right")
        table.add_column("Needs determination", justify="right")
        table.add_column("Clean", justify="right")
        table.add_column("Products (endpoints)")
        table.add_column("Next milestone")
        for directive, entry in summary["directives"].items():
            m = entry["milestone"]
            table.add_row(
                escape(directive),
                str(entry["affected_hosts"]),
                str(entry["incomplete_hosts"]),
                str(entry["needs_determination_hosts"]),
                str(entry["clean_hosts"]),
                "\n".join(f"{escape(p)} ({n})" for p, n in entry["products"].items()),
                f"{escape(m['name'])}\ndue {m['due']}, {_days(m['days_left'])}",
            )
        console.print(table)
        console.print(
            f"{summary['hosts']} host(s), {summary['observations']} observations, "
            f"catalog {document['catalog_version']}."
        )
    for s in document["sources"]:
        if s["state"] != "ok":
            colour = "red" if s["state"] == "failed" else "yellow"
            problems = "; ".join(s["problems"][:3])
            more = f" (+{len(s['problems']) - 3} more)" if len(s["problems"]) > 3 else ""
            console.print(
                f"[{colour}]source {escape(s['source'])}: {s['state']}[/] {escape(problems)}{more}"
            )
