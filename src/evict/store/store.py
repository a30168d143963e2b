"""The store: the only code that writes SQL.

:class:`Store` wraps an engine (SQLite or PostgreSQL) and offers what the server, the worker and
the command line need; each change is one transaction, with its audit event appended in it. It
decides nothing: lifecycle rules come in as functions (``decide``) from
:mod:`evict.compliance.lifecycle`, and the time comes in as ``now``. An unchanged check-in (the
digest matched) only moves ``last_seen`` and is not an audit event: at a million hosts checking in
hourly the chain would otherwise grow by 24 million events a day without recording any change.

Ingestion, the hot path, is shaped for a large fleet: distinct software is upserted in sorted
batches in its own short transaction (``INSERT ... ON CONFLICT DO NOTHING``), then the host's
``host_software`` set is replaced, the report id recorded and the host queued for the worker in
one transaction. It never runs the matcher.
"""

from __future__ import annotations

from evict.store.audit import AuditLog
from evict.store.core import NOTIFY_LOCK_KEY, StoreCore
from evict.store.determinations import Determinations
from evict.store.hosts import Hosts
from evict.store.ingest import Ingest
from evict.store.listings import Listings
from evict.store.matches import Matches
from evict.store.states import States
from evict.store.tenancy import Tenancy

__all__ = ["NOTIFY_LOCK_KEY", "Store"]


class Store(
    Listings,
    States,
    Matches,
    Ingest,
    Hosts,
    Determinations,
    Tenancy,
    AuditLog,
    StoreCore,
):
    """The fleet's database: one class per concern, composed.

    :param engine: an engine from :func:`evict.store.engine.make_engine`; the schema must be
        current (:func:`evict.store.engine.check_schema`).
    """
