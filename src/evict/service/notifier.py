"""The server's notification pass, run on a schedule in a daemon thread."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from evict.catalog.interface import Catalog
from evict.service.notify import NotifyStats, notify_once
from evict.service.periodic import PeriodicThread
from evict.store.store import Store

log = logging.getLogger(__name__)


class NotifierThread(PeriodicThread):
    """Runs :func:`evict.service.notify.notify_once` every ``interval`` seconds until stopped.

    The first pass runs right after the server starts, so a reminder due today is not
    delayed by a restart.
    """

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        *,
        interval: float,
        clock: Callable[[], dt.datetime],
    ) -> None:
        super().__init__("evict-notify", interval=interval)
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.last: NotifyStats | None = None
        self.last_error = ""

    def run_pass(self) -> None:
        """Send what is due now; a failed pass is logged and the schedule goes on."""
        try:
            self.last = notify_once(self.store, self.catalog, now=self.clock())
            self.last_error = ""
        except Exception as e:  # noqa: BLE001 - one failed pass must not end the schedule
            self.last_error = f"{type(e).__name__}: {e}"
            log.exception("notification pass failed")
