"""Request bodies within their limits: the declared and read sizes, gzip, the inflated size.

One implementation for the API's handlers (:func:`evict.server.api.agent.read_bytes`) and the
handlers below FastAPI (:mod:`evict.server.intake`), which read the body themselves and leave
any body these functions refuse to the API, to refuse it with its message.
"""

from __future__ import annotations

import zlib

from evict.server.errors import BadBody, BodyTooLarge


def check_declared(declared: str | None, limit: int) -> None:
    """Raise :class:`BodyTooLarge` when a Content-Length header declares over ``limit``."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")


def check_read(size: int, limit: int) -> None:
    """Raise :class:`BodyTooLarge` when the bytes read so far are over ``limit``."""
    if size > limit:
        raise BodyTooLarge(f"the body is over {limit} bytes")


def unpack(raw: bytes, encoding: str, inflated_limit: int) -> bytes:
    """A whole body as read, inflated when ``encoding`` (Content-Encoding, stripped and lower
    case) is gzip, within ``inflated_limit``; raise on anything else."""
    if encoding == "gzip":
        return inflate(raw, inflated_limit)
    if encoding not in ("", "identity"):
        raise BadBody(f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    if len(raw) > inflated_limit:
        raise BodyTooLarge(f"the body is over {inflated_limit} bytes")
    return raw


def inflate(data: bytes, limit: int) -> bytes:
    """Gunzip ``data``, refusing more than ``limit`` bytes of output (gzip bombs)."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as e:
        raise BadBody(f"the body is not valid gzip: {e}") from e
    if len(out) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge(f"the body inflates to over {limit} bytes")
    if not decompressor.eof:
        raise BadBody("the gzip body is truncated")
    return out
