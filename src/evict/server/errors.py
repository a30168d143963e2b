"""Errors the HTTP layer raises itself, and the one table that maps every error to a status.

Library errors (store, lifecycle, wire, catalog) keep their own types; :func:`status_for` decides
the HTTP status for any :class:`~evict.errors.EvictError`, and the app's single exception
handler renders ``{"error": {"status", "type", "message"}}``.
"""

from __future__ import annotations

from evict.agent.wire import TooManyObservations, WireError
from evict.catalog.interface import CatalogLookupError
from evict.compliance.determinations import DeterminationError
from evict.compliance.lifecycle import LifecycleError
from evict.errors import EvictError
from evict.model.records import (
    ConflictError,
    DatabaseError,
    InvalidValueError,
    NotFoundError,
    SchemaError,
)


class ServerError(EvictError):
    """Base error of the HTTP layer."""


class Unauthorized(ServerError):
    """No credentials, or credentials the server does not accept."""


class Forbidden(ServerError):
    """Valid credentials without the right to do this (an auditor writing, say)."""


class RateLimited(ServerError):
    """Too many requests from one address; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BodyTooLarge(ServerError):
    """A request body over the server's limit (sent or decompressed)."""


class BadBody(ServerError):
    """A request body that cannot be decoded (bad gzip, bad JSON)."""


def status_for(error: EvictError) -> int:
    """The HTTP status for ``error``."""

    table: tuple[tuple[type[EvictError], int], ...] = (
        (Unauthorized, 401),
        (Forbidden, 403),
        (NotFoundError, 404),
        (CatalogLookupError, 404),
        (ConflictError, 409),
        (LifecycleError, 409),
        (BodyTooLarge, 413),
        (TooManyObservations, 413),
        (WireError, 422),
        (BadBody, 422),
        (InvalidValueError, 422),
        (DeterminationError, 422),
        (RateLimited, 429),
        (SchemaError, 503),
        (DatabaseError, 503),
    )
    for cls, status in table:
        if isinstance(error, cls):
            return status
    return 400
