"""What agents call: enrolment, the digest check, and full inventory reports."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from evict.agent.wire import (
    check_addresses,
    check_host_identifier,
    check_hostname,
    check_platform,
    decode_report,
    inventory_digest,
    parse_report,
)
from evict.server.bodies import check_declared, check_read, unpack
from evict.server.deps import AgentHost, Ctx, client_address
from evict.server.errors import BadBody
from evict.server.models import (
    DigestRequest,
    DigestResponse,
    EnrollRequest,
    EnrollResponse,
    ErrorResponse,
    IngestResponse,
)

router = APIRouter(prefix="/api/v1", tags=["agent"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}


def _limit_enroll(request: Request, ctx: Ctx) -> None:
    ctx.enroll_limit.check(client_address(request), "enrolment")


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses=ERRORS,
    dependencies=[Depends(_limit_enroll)],
    summary="Enrol a host with an org unit's enrolment secret",
)
def enroll(body: EnrollRequest, request: Request, ctx: Ctx) -> EnrollResponse:
    """Issue a host credential.

    Enrolling a host already enrolled replaces its credential only with proof: the current
    credential in ``credential``, an admin's one-time permission, or a host not seen for
    ``reenroll_stale_days``; otherwise 409 (the unit's secret alone cannot take a host over).
    """
    identifier = check_host_identifier(body.host)
    platform = check_platform(body.platform)
    hostname = check_hostname(body.hostname)
    stale = ctx.settings.reenroll_stale_days
    host, credential = ctx.store.enroll(
        body.secret,
        identifier,
        hostname=hostname,
        platform=platform,
        now=ctx.now(),
        credential=body.credential,
        address=client_address(request),
        stale_after=dt.timedelta(days=stale) if stale > 0 else None,
    )
    org = ctx.store.org_by_id(host.org_id)
    return EnrollResponse(
        host=host.identifier, credential=credential, org=org.name, org_unit=host.org_unit
    )


@router.post(
    "/inventory/digest",
    response_model=DigestResponse,
    responses=ERRORS,
    summary="Check in with the digest of an inventory; send it in full only if it changed",
)
async def check_digest(body: DigestRequest, host: AgentHost, ctx: Ctx) -> DigestResponse:
    """Answer ``unchanged`` (and record the check-in) when the stored inventory has this digest.

    When the store writes check-ins in batches the answer comes from memory, on the event loop;
    otherwise the check-in is written in the thread pool before the answer. Addresses, sent
    only when they changed, are written in the thread pool.
    """
    addresses = check_addresses(body.addresses)
    store, now = ctx.store, ctx.now()
    if store.checkins is not None:
        same = store.checkin_unchanged(host, body.report_id, body.digest, now=now)
    else:
        same = await run_in_threadpool(
            store.checkin_unchanged, host, body.report_id, body.digest, now=now
        )
    if addresses is not None:
        network = ctx.fleet.network
        await run_in_threadpool(network.record_addresses, host, addresses, now=now)
    if same:
        ctx.wake_worker()
    return DigestResponse(status="unchanged" if same else "send", report_id=body.report_id)


async def read_body(request: Request, *, limit: int, inflated_limit: int) -> Any:
    """Read a JSON body, gzip or plain, within the size limits; raise on anything else."""
    return decode_body(await read_bytes(request, limit=limit, inflated_limit=inflated_limit))


async def read_bytes(request: Request, *, limit: int, inflated_limit: int) -> bytes:
    """Read a body, gzip or plain, within the size limits, inflated; raise on anything else."""
    check_declared(request.headers.get("content-length"), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        check_read(size, limit)
        chunks.append(chunk)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    return unpack(b"".join(chunks), encoding, inflated_limit)


def decode_body(raw: bytes) -> Any:
    """Decode a JSON body; raise :class:`BadBody` saying what is wrong with it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # what orjson refuses, json decides, with its message (or its value: NaN, big ints)
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:
        raise BadBody(f"the body is not UTF-8 (byte {e.start})") from e
    except json.JSONDecodeError as e:
        raise BadBody(
            f"the body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    except RecursionError as e:
        raise BadBody("the body's JSON is nested too deeply") from e


@router.post(
    "/inventory",
    response_model=IngestResponse,
    responses=ERRORS,
    summary="Send a host's full inventory (gzip JSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An inventory report, usually with Content-Encoding: gzip.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/InventoryBody"}}
            },
        }
    },
)
async def ingest(request: Request, host: AgentHost, ctx: Ctx) -> IngestResponse:
    """Store the inventory (matching happens later, in the worker); a resend is harmless."""
    settings = ctx.settings
    raw = await read_bytes(
        request, limit=settings.max_body_bytes, inflated_limit=settings.max_inflated_bytes
    )
    decoded = decode_report(raw, max_observations=settings.max_observations)
    if decoded is not None:  # the common report, decoded in C with its digest
        parsed, digest = decoded
    else:  # anything else the way that says what is wrong with it
        parsed = parse_report(decode_body(raw), max_observations=settings.max_observations)
        digest = inventory_digest(parsed.observations)
    if parsed.host != host.identifier:
        raise BadBody(
            f"the report is for host {parsed.host!r} but the credential is {host.identifier!r}'s"
        )
    report = parsed.inventory(digest)
    if ctx.intake is not None:  # written with the others waiting, answered once committed
        submitted = ctx.intake.submit(host, report, now=ctx.now(), address=client_address(request))
        ack = await asyncio.wrap_future(submitted)
    else:
        ack = await run_in_threadpool(
            ctx.store.ingest, host, report, now=ctx.now(), address=client_address(request)
        )
    if parsed.addresses is not None:
        network = ctx.fleet.network
        await run_in_threadpool(network.record_addresses, host, parsed.addresses, now=ctx.now())
    ctx.wake_worker()
    return IngestResponse.model_validate(ack.to_json())
