"""The unchanged check-in answered below FastAPI, for hosts the server remembers.

An unchanged check-in is the request a fleet sends most (every host, every interval) and the
cheapest to answer: the digest is compared with the remembered host's and the check-in waits
in memory for the next batch write (:class:`evict.store.agents.CheckinBuffer`). Through
FastAPI most of its cost was the framework (routing, dependency resolution, validation and
response models: about 0.35 ms of CPU per request against 0.2 ms allowed). :class:`CheckinFastPath`
answers it as a plain ASGI handler when everything about the request is the common case — a
remembered host's bearer credential, a JSON body of only ``report_id`` and ``digest`` in their
exact shapes, check-ins batched — and hands anything else, byte for byte, to the app: unknown
credentials, addresses to record, malformed bodies and errors keep their one implementation.

A full inventory is answered the same way by :class:`InventoryFastPath`: a remembered host's
report, gzip or plain within the body limits (:mod:`evict.server.bodies`), decoded by the
compiled decoder (:func:`evict.agent.wire.decode_report`), for the credential's own host and
without addresses to record, is handed to the batching writer and answered once committed,
with the body the API's handler gives. Anything else, and any error, is left to the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evict.agent.wire import DIGEST, REPORT_ID, decode_report
from evict.errors import EvictError
from evict.server.bodies import check_declared, unpack
from evict.server.models import IngestResponse

PATH = "/api/v1/inventory/digest"
MAX_BODY = 1024
"""A check-in body larger than this goes to the app (a digest and a report id are ~130 bytes)."""
_KEYS = frozenset({"report_id", "digest"})
INVENTORY_PATH = "/api/v1/inventory"


class CheckinFastPath:
    """ASGI middleware answering remembered hosts' check-ins (see the module).

    :param app: the application every other request (and every uncommon check-in) goes to.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a common check-in here; pass anything else on unchanged."""
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages, body = await read_messages(receive, MAX_BODY)
        answer = None if body is None else answer_checkin(scope, body)
        if answer is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(answer)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer})
            return
        await self.app(scope, replay(messages, receive), send)


async def read_messages(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages of a request read until its body is complete or over ``limit`` bytes, and
    the body when it is complete within ``limit`` (None otherwise: left to the app)."""
    messages: list[Message] = []
    size = 0
    while size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    if size > limit:
        return messages, None
    return messages, b"".join(m.get("body", b"") for m in messages)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving the app ``messages`` (already read) first, then the rest."""
    queued = list(messages)

    async def replayed() -> Message:
        if queued:
            return queued.pop(0)
        return await receive()

    return replayed


def answer_checkin(scope: Scope, body: bytes) -> bytes | None:
    """The JSON answer to a common check-in, recorded; None to leave it to the app."""
    app = scope.get("app")
    context: Any = getattr(getattr(app, "state", None), "context", None)
    if context is None:
        return None
    store = context.store
    if store.checkins is None:
        return None
    token = content_type = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = value
        elif name == b"content-type":
            content_type = value
        elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return None
    if token is None or content_type is None:
        return None
    if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return None
    scheme, _, credential = token.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return None
    host = store.cached_agent_host(credential)
    if host is None:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.keys() != _KEYS:
        return None
    report_id, digest = data["report_id"], data["digest"]
    if not (isinstance(report_id, str) and REPORT_ID.fullmatch(report_id)):
        return None
    if not (isinstance(digest, str) and DIGEST.fullmatch(digest)):
        return None
    same = store.checkin_unchanged(host, report_id, digest, now=context.now())
    if same:
        context.wake_worker()
    return orjson.dumps({"status": "unchanged" if same else "send", "report_id": report_id})


class InventoryFastPath:
    """ASGI middleware answering remembered hosts' full inventories (see the module).

    :param app: the application every other request (and every uncommon report) goes to.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a common full inventory here; pass anything else on unchanged."""
        if (
            scope["type"] != "http"
            or scope["path"] != INVENTORY_PATH
            or scope["method"] != "POST"
            or (request := inventory_request(scope)) is None
        ):
            await self.app(scope, receive, send)
            return
        context, host, encoding = request
        messages, body = await read_messages(receive, context.settings.max_body_bytes)
        answer = None
        if body is not None:
            answer = await answer_inventory(scope, context, host, encoding, body)
        if answer is not None:
            await answer(scope, receive, send)
            return
        await self.app(scope, replay(messages, receive), send)


def inventory_request(scope: Scope) -> tuple[Any, Any, str] | None:
    """(server context, remembered host, Content-Encoding) of a full inventory whose headers
    are the common case; None to leave it to the app (before its body is read)."""
    context: Any = getattr(getattr(scope.get("app"), "state", None), "context", None)
    if context is None or context.intake is None:
        return None
    token = declared = encoding = None
    for name, value in scope["headers"]:
        # The first of each, as the app's reading of the headers takes it.
        if name == b"authorization" and token is None:
            token = value
        elif name == b"content-length" and declared is None:
            declared = value
        elif name == b"content-encoding" and encoding is None:
            encoding = value
    if token is None:
        return None
    scheme, _, credential = token.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not credential or credential != credential.strip():
        return None
    try:
        check_declared(declared.decode("latin-1") if declared else None,
                       context.settings.max_body_bytes)  # fmt: skip
    except EvictError:
        return None
    host = context.store.cached_agent_host(credential)
    if host is None:
        return None
    return context, host, (encoding or b"identity").decode("latin-1").strip().lower()


async def answer_inventory(
    scope: Scope, context: Any, host: Any, encoding: str, body: bytes
) -> JSONResponse | None:
    """The API's answer to a common full inventory, stored; None to leave it to the app (which
    stores it, or says what is wrong: a report submitted here and failed is, sent again to the
    app, a resend or the same error)."""
    settings = context.settings
    try:
        raw = unpack(body, encoding, settings.max_inflated_bytes)
        decoded = decode_report(raw, max_observations=settings.max_observations)
    except EvictError:
        return None
    if decoded is None:
        return None
    parsed, digest = decoded
    if parsed.host != host.identifier or parsed.addresses is not None:
        return None
    report = parsed.inventory(digest)
    client = scope.get("client")
    address = client[0] if client is not None else "unknown"
    try:
        submitted = context.intake.submit(host, report, now=context.now(), address=address)
        ack = await asyncio.wrap_future(submitted)
        # What the API's handler answers: its response model, rendered by FastAPI's default.
        answer = JSONResponse(IngestResponse.model_validate(ack.to_json()).model_dump(mode="json"))
    except Exception:  # noqa: BLE001 - the app answers it with its one implementation
        return None
    context.wake_worker()
    return answer
