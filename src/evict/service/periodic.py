"""A pass run on a schedule in a daemon thread: the server's anchoring and notifications."""

from __future__ import annotations

import threading


class PeriodicThread:
    """Runs :meth:`run_pass` right away and then every ``interval`` seconds until stopped;
    :meth:`last_pass` runs once more on the way out (nothing by default).

    :param name: the thread's name.
    :param interval: seconds between passes.
    """

    def __init__(self, name: str, *, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current pass (and :meth:`last_pass`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_pass(self) -> None:
        """One pass; subclasses say what it does."""
        raise NotImplementedError

    def last_pass(self) -> None:
        """What to do once more when stopped."""

    def _run(self) -> None:
        while True:
            self.run_pass()
            if self._stop.wait(self.interval):
                self.last_pass()
                return
