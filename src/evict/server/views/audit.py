"""The audit log: the organisation's events newest first, filtered, with the chain's verdict.

The verdict recomputes the whole chain, which is long at scale, so it goes through the dashboard's
:class:`~evict.server.views.cache.Refresher` keyed by the chain head and recomputed at least every
:data:`VERIFY_EVERY` seconds (an edited event does not move the head); the page says which head
it covers and when it was verified.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from evict.compliance.audit import AuditEvent
from evict.report.cells import safe_cell
from evict.server.deps import Ctx
from evict.server.views.web import SECURITY_HEADERS, BadRequest, Dash, Viewer, ViewerDep, page_url
from evict.service.fleet import Fleet

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
"""Events per page."""

ACTIONS: tuple[tuple[str, str], ...] = (
    ("state.", "state changes"),
    ("waiver.", "waivers"),
    ("determination.", "scope determinations"),
    ("inventory.", "inventories"),
    ("host.", "enrolments"),
    ("token.", "tokens and sign-ins"),
    ("user.", "users"),
    ("directive.", "directive adoptions"),
    ("org.", "organisation"),
    ("unit.", "org units"),
    ("report.", "reports generated"),
    ("notify.", "notifications"),
)
"""The action filter's choices: prefixes of the actions evict records."""

VERIFY_EVERY = 60.0
"""Seconds after which the chain is verified again even when no event was added."""

Text = Annotated[str, Query(max_length=300)]


def _day(value: str, what: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise BadRequest(f"{what}: give a date as YYYY-MM-DD") from e


@dataclass(frozen=True)
class _Filter:
    """The audit page's filters, resolved (a host name to its audit subject)."""

    actor: str | None
    action: str | None
    subject: str | None
    since: dt.date | None
    until: dt.date | None
    host_missing: bool


def _filter(
    fleet: Fleet, viewer: Viewer, actor: str, action: str, host: str, since: str, until: str
) -> _Filter:  # fmt: skip
    subject = None
    host_missing = False
    if host:
        identifier = fleet.dashboard.host_identifier(
            viewer.principal.org_id, host.strip(), unit_id=viewer.unit_id
        )
        host_missing = identifier is None
        subject = f"host:{identifier}"
    return _Filter(
        actor.strip() or None,
        action or None,
        subject,
        _day(since, "since"),
        _day(until, "until"),
        host_missing,
    )


@router.get("/audit")
def audit(
    request: Request,
    ctx: Ctx,
    dashboard: Dash,
    viewer: ViewerDep,
    actor: Text = "",
    action: Text = "",
    host: Text = "",
    since: Text = "",
    until: Text = "",
    before: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Events newest first (filter by actor, action, host, dates) and the chain's verdict."""
    org_id, unit_id = viewer.principal.org_id, viewer.unit_id
    queries = ctx.fleet.dashboard
    if before and not before.isdigit():
        raise BadRequest("before: give an event number")
    f = _filter(ctx.fleet, viewer, actor, action, host, since, until)
    events = (
        []
        if f.host_missing
        else queries.audit_page(
            org_id,
            unit_id=unit_id,
            actor=f.actor,
            action=f.action,
            subject=f.subject,
            since=f.since,
            until=f.until,
            before=int(before) if before else None,
            limit=PAGE_SIZE + 1,
        )
    )
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    params = {"actor": actor, "action": action, "host": host, "since": since, "until": until}
    head = ctx.store.audit_head()
    verdict = dashboard.cache.get(
        ("verify",), head, ctx.store.verify_audit, now=ctx.now(), max_age=VERIFY_EVERY
    )
    identifiers = sorted({e.subject[5:] for e in events if e.subject.startswith("host:")})
    hosts = queries.host_names(org_id, identifiers, unit_id=unit_id)
    return dashboard.render(
        request,
        "audit.html",
        viewer=viewer,
        title="Audit log",
        section="audit",
        events=events,
        params=params,
        actions=ACTIONS,
        host_missing=f.host_missing,
        hosts=hosts,
        verdict=verdict,
        export_query=urlencode({k: v for k, v in params.items() if v}),
        next_url=page_url("/audit", params, before=events[-1].seq) if more and events else "",
        first_url=page_url("/audit", params) if before else "",
        headers=None if verdict else {"Refresh": "10"},
    )


EXPORT_COLUMNS = (
    "seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash",
    "chain_head_seq", "chain_head_hash",
)  # fmt: skip
"""The CSV export's columns: each event with its hashes, and the chain head it was read under."""


@router.get("/audit.{fmt}")
def export(
    fmt: str,
    ctx: Ctx,
    viewer: ViewerDep,
    actor: Text = "",
    action: Text = "",
    host: Text = "",
    since: Text = "",
    until: Text = "",
) -> Response:
    """The events the audit page's filters select, newest first, as CSV or JSON lines, with the
    chain head they were read under (JSON lines: the first line; CSV: two columns per row)."""
    if fmt not in ("csv", "jsonl"):
        raise BadRequest("export as audit.csv or audit.jsonl")
    queries = ctx.fleet.dashboard
    f = _filter(ctx.fleet, viewer, actor, action, host, since, until)
    head_seq, head_hash = ctx.store.audit_head()

    def events() -> Iterator[AuditEvent]:
        before: int | None = head_seq + 1
        while not f.host_missing and before is not None:
            page = queries.audit_page(
                viewer.principal.org_id, unit_id=viewer.unit_id, actor=f.actor, action=f.action,
                subject=f.subject, since=f.since, until=f.until, before=before, limit=EXPORT_PAGE,
            )  # fmt: skip
            yield from page
            before = page[-1].seq if len(page) == EXPORT_PAGE else None

    def jsonl() -> Iterator[str]:
        head = {"chain_head": {"seq": head_seq, "hash": head_hash}, "exported_at":
                ctx.now().isoformat(), "exported_by": viewer.principal.actor}  # fmt: skip
        yield json.dumps(head) + "\n"
        for e in events():
            yield json.dumps({**e.body(), "prev_hash": e.prev_hash, "hash": e.hash},
                             ensure_ascii=True, sort_keys=True) + "\n"  # fmt: skip

    def csv_rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in chain([EXPORT_COLUMNS], (_csv_row(e, head_seq, head_hash) for e in events())):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(row)
            yield buffer.getvalue()

    name = f"audit-{viewer.org_name}-to-{head_seq}.{fmt}"
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="{safe_name}"',
        "X-Evict-Audit-Head": f"{head_seq}:{head_hash}",
    }
    if fmt == "jsonl":
        return StreamingResponse(jsonl(), media_type="application/x-ndjson", headers=headers)
    return StreamingResponse(csv_rows(), media_type="text/csv; charset=utf-8", headers=headers)


EXPORT_PAGE = 1000
"""Events read per query while exporting."""


def _csv_row(e: AuditEvent, head_seq: int, head_hash: str) -> tuple[str, ...]:
    payload = json.dumps(dict(e.payload), ensure_ascii=False, sort_keys=True)
    cells = (e.seq, e.at, e.actor, e.action, e.subject, payload, e.prev_hash, e.hash, head_seq,
             head_hash)  # fmt: skip
    return tuple(safe_cell(c) for c in cells)
