"""A progress bar on standard error for long commands (reports, evidence bundles).

Shown only on a terminal, and only once the work has run for :data:`SHOW_AFTER` seconds, so
quick runs and scripts see nothing; the bar goes away when the work ends.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from evict.service.reports import Progress

SHOW_AFTER = 1.0
"""Seconds of work before the bar appears."""


@contextmanager
def progress_bar(title: str) -> Iterator[Progress]:
    """Yield a ``progress(phase, per_cent)`` callback drawing a Rich bar titled ``title``."""
    if not sys.stderr.isatty():
        yield lambda phase, per_cent: None
        return
    # Rich: only for the terminal's output
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[phase]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(title, total=100, phase="")
    # Rich redraws on its own thread once started, so the clock ticks through a long phase.
    timer = threading.Timer(SHOW_AFTER, bar.start)
    timer.daemon = True
    timer.start()
    try:
        yield lambda phase, per_cent: bar.update(task, completed=per_cent, phase=phase)
    finally:
        timer.cancel()
        bar.stop()
