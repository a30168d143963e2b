"""The fleet's database as the use cases see it: opened once, handed to the interfaces.

The command line, the API and the dashboard never build store objects themselves: they open a
:class:`Fleet` (or are handed the server's) and call the use cases of :mod:`evict.service`, which
use its parts. Opening is where the schema is checked or upgraded, so no interface repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evict.errors import EvictError
from evict.settings import sqlite_path
from evict.store.dashboard import DashboardQueries
from evict.store.engine import check_schema, make_engine, upgrade
from evict.store.ingest_batch import IngestBatcher
from evict.store.network import NetworkStore
from evict.store.notifications import NotificationStore
from evict.store.report_jobs import ReportJobs
from evict.store.store import Store


@dataclass
class Fleet:
    """The store and the query objects over it, built once per process.

    :param store: an open store whose schema is current.
    """

    store: Store
    dashboard: DashboardQueries = field(init=False)
    """The dashboard's read queries."""
    network: NetworkStore = field(init=False)
    """Network evidence: addresses, vendor traffic, unmanaged devices."""
    notifications: NotificationStore = field(init=False)
    """The organisations' notification channels."""
    report_jobs: ReportJobs = field(init=False)
    """Reports generated in the background."""

    def __post_init__(self) -> None:
        self.dashboard = DashboardQueries(self.store)
        self.network = NetworkStore(self.store)
        self.notifications = NotificationStore(self.store.engine)
        self.report_jobs = ReportJobs(self.store.engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = False, must_exist: bool = False) -> Fleet:
        """Open the database at ``url`` (an SQLAlchemy URL).

        :param migrate: bring the schema up to date first (``serve``, ``demo``, ``db upgrade``);
            otherwise a schema that is not current is an error that says how to upgrade.
        :param must_exist: refuse a SQLite file that does not exist instead of creating an
            empty database (every command that only reads or changes a fleet).
        """
        path = sqlite_path(url)
        if must_exist and path is not None and not path.exists():
            raise EvictError(
                f"no database at {path}: create it with `evict db upgrade --db {path}`, "
                "or give the --db of an existing one"
            )
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        check_schema(engine)
        return cls(Store(engine))

    def batcher(self, size: int) -> IngestBatcher | None:
        """A writer of full inventories in batches of up to ``size`` per transaction (not
        started), or None for ``size`` 0: each inventory written on its own."""
        return IngestBatcher(self.store, size) if size > 0 else None

    def close(self) -> None:
        """Write what waits and release the database's connections."""
        self.store.close()


def upgrade_database(url: str) -> tuple[str | None, str, str]:
    """Bring the schema of the database at ``url`` up to date.

    :returns: the revision before (None: an empty database), the revision now, and the URL as
        it may be shown (password hidden).
    """
    engine = make_engine(url)
    try:
        before, after = upgrade(engine)
        return before, after, engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()


def ready_database(url: str, *, migrate: bool) -> str:
    """Check (and with ``migrate``, first upgrade) the schema of the database at ``url`` before
    a server starts on it; return the URL as it may be shown (password hidden)."""
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        check_schema(engine)
        return engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
