"""Limits on request bodies: their size (other than inventory reports'), and how long a client
may stall while sending one (:class:`ReceiveTimeout`).

Inventory reports have their own limits (sent and inflated size, observations; see
:func:`evict.server.api.agent.read_body`). Every other body is a small JSON object or form (a
login, a waiver, a user), and FastAPI would read any of them into memory whole before the
models' field limits are checked; this middleware refuses one over :data:`SMALL_BODY_BYTES` as
soon as its declared length, or the bytes actually received, pass the limit (413). Only
inventory reports may be compressed; any other body with a ``Content-Encoding`` is refused
(415) rather than misread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evict.server.errors import BodyTooLarge

log = logging.getLogger(__name__)

SMALL_BODY_BYTES = 1024 * 1024
"""Largest body accepted by any route other than the inventory report's."""


class BodyOverLimit(BodyTooLarge, HTTPException):
    """A body found over the limit while the route reads it.

    It is an :class:`HTTPException` so that FastAPI's body reader lets it through instead of
    turning it into "error parsing the body", and a :class:`BodyTooLarge` so that the app's
    error handler answers 413 in evict's error format.
    """

    def __init__(self, limit: int) -> None:
        message = f"the body is over {limit} bytes"
        BodyTooLarge.__init__(self, message)
        HTTPException.__init__(self, status_code=413, detail=message)

    def __str__(self) -> str:
        return str(self.detail)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes, except on ``exempt`` paths.

    :param app: the application to wrap.
    :param limit: most bytes of body accepted.
    :param exempt: paths whose routes enforce their own limits.
    """

    def __init__(self, app: ASGIApp, *, limit: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body's bytes."""
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
            if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                await self._refuse(
                    send,
                    415,
                    "UnsupportedEncoding",
                    f"Content-Encoding {value.decode('latin-1')!r} is accepted only on "
                    "inventory reports; send this body uncompressed",
                )
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyOverLimit(self.limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyOverLimit:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(
        self, send: Send, status: int = 413, kind: str = "BodyTooLarge", message: str = ""
    ) -> None:

        message = message or f"the body is over {self.limit} bytes"
        body = json.dumps({"error": {"status": status, "type": kind, "message": message}})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


class BodyTimedOut(HTTPException):
    """A request that stopped sending the body it declared (408, connection closed).

    An :class:`HTTPException` so that FastAPI's body reader lets it through and the app's
    handler answers in evict's error format, with ``Connection: close``.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"no body bytes received for {timeout:g}s; send the request again",
            headers={"Connection": "close"},
        )


class ReceiveTimeout:
    """ASGI middleware: drop requests that stall while sending their body; log disconnects.

    The HTTP servers' own timeouts cover idle connections between requests, not a request
    that declared a body and then sends nothing: each such connection would otherwise hold a
    worker slot until the client gives up. Every wait for body bytes here is bounded by
    ``timeout`` seconds (a slow but moving upload is fine: the bound is per chunk). A client
    that disconnects before its request was read is logged as one line, not a traceback.

    :param app: the application to wrap.
    :param timeout: seconds to wait for each chunk of a request body.
    """

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a bounded ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        body_read = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_read
            if body_read:
                # After the body, receive() only waits for a disconnect (streamed answers
                # listen for one): no bound.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                log.warning(
                    "%s: no body bytes for %gs; answered 408 and closed",
                    _describe(scope),
                    self.timeout,
                )
                raise BodyTimedOut(self.timeout) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyTimedOut as e:
            if not started:
                await _answer(send, 408, "HTTPError", str(e.detail))
        except ClientDisconnect:
            log.warning(
                "%s: the client disconnected before sending its whole request", _describe(scope)
            )


def _describe(scope: Scope) -> str:
    """``METHOD /path from ADDRESS`` of a request, for one log line."""
    client = scope.get("client") or ("unknown", 0)
    return f"{scope.get('method', '?')} {scope.get('path', '?')} from {client[0]}"


async def _answer(send: Send, status: int, kind: str, message: str) -> None:
    """A JSON error in evict's format, closing the connection."""

    body = json.dumps({"error": {"status": status, "type": kind, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
