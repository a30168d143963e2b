"""The server's notification pass, run on a schedule in a daemon thread."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from evict.catalog.interface import Catalog
from evict.service.notify import NotifyStats, notify_once
from evict.store.store import Store

log = logging.getLogger(__name__)


class NotifierThread:
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
        self.store = store
        self.catalog = catalog
        self.interval = interval
        self.clock = clock
        self.last: NotifyStats | None = None
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evict-notify", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = notify_once(self.store, self.catalog, now=self.clock())
                self.last_error = ""
            except Exception as e:  # noqa: BLE001 - one failed pass must not end the schedule
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("notification pass failed")
            self._stop.wait(self.interval)
