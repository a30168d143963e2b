"""The size limit on request bodies other than inventory reports.

Inventory reports have their own limits (sent and inflated size, observations; see
:func:`evict.server.api.agent.read_body`). Every other body is a small JSON object or form (a
login, a waiver, a user), and FastAPI would read any of them into memory whole before the
models' field limits are checked; this middleware refuses one over :data:`SMALL_BODY_BYTES` as
soon as its declared length, or the bytes actually received, pass the limit (413). Only
inventory reports may be compressed; any other body with a ``Content-Encoding`` is refused
(415) rather than misread.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evict.server.errors import BodyTooLarge

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
        import json

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
