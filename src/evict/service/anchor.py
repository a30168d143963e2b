"""Anchoring the audit chain outside the database, on a schedule.

Every ``audit_anchor_interval`` seconds the server reads the chain head, checks that the chain
still runs from the head it anchored last to this one (the events in between link up), signs
the head with the audit key and appends it to the anchor file and/or syslog. A head that does
not extend the last anchored one is not signed: the chain was rewritten or cut under the running
server, and the error is logged (and sent to syslog) instead.

Signing a head costs about 0.13 ms (``bench/audit_sign.py``), a few per cent of the cheapest
audit append, but per event it would need the key on every machine that appends events (each
``evict`` command with ``--db`` does), so heads are signed here, on export (reports, evidence
bundles) and by ``evict audit anchor``, not per event; see docs/security.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evict.compliance.audit import SignedHead, check_anchors, sign_head, verify_chain
from evict.errors import EvictError
from evict.service.audit import iso
from evict.service.periodic import PeriodicThread
from evict.signing import anchor_line, append_anchor, read_anchors
from evict.store.store import Store

log = logging.getLogger(__name__)


class Anchorer:
    """Signs the chain head and appends it outside the database, if the chain still extends the
    head anchored last.

    :param path: the anchor file (None: none).
    :param syslog: a handler to send each anchored head to (None: none).
    """

    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        *,
        path: Path | None,
        syslog: logging.Handler | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.path = path
        self.syslog = syslog
        self.last: SignedHead | None = None
        self.last_error = ""
        if path is not None and path.exists():
            self.last = self._last_anchored(path)

    def _last_anchored(self, path: Path) -> SignedHead | None:
        try:
            anchors = read_anchors(path)
        except EvictError as e:
            log.error("audit anchors: %s", e)
            return None
        for problem in check_anchors(anchors, self.key.public_key()):
            log.error("audit anchors: %s", problem)
        mine = [a.head for a in anchors if a.head.verify(self.key.public_key())]
        return max(mine, key=lambda h: h.seq, default=None)

    def anchor_once(self, now: dt.datetime) -> SignedHead | None:
        """Anchor the current head; None when it has not moved since the last anchor.

        Raises :class:`evict.errors.EvictError` when the chain no longer extends the last
        anchored head (nothing is signed then).
        """
        seq, digest = self.store.audit_head()
        last = self.last
        if last is not None:
            if (seq, digest) == (last.seq, last.hash):
                return None
            verdict = verify_chain(
                self.store.iter_audit(after=last.seq),
                head=(seq, digest),
                after=(last.seq, last.hash),
            )
            if seq < last.seq or not verdict.ok:
                why = (
                    f"the head moved back from event {last.seq} to event {seq}"
                    if seq < last.seq
                    else verdict.message
                )
                raise EvictError(
                    f"the audit chain no longer extends the head anchored at event {last.seq} "
                    f"(signed {last.at}): {why}; the head was not signed"
                )
        head = sign_head(self.key, seq, digest, at=iso(now))
        if self.path is not None:
            append_anchor(self.path, head)
        if self.syslog is not None:
            self._syslog(logging.INFO, anchor_line(head).strip())
        self.last = head
        return head

    def _syslog(self, level: int, message: str) -> None:
        assert self.syslog is not None
        record = logging.LogRecord("evict.audit", level, __file__, 0, message, None, None)
        try:
            self.syslog.handle(record)
        except OSError as e:  # pragma: no cover - the handler reports its own errors
            log.error("audit anchors: syslog: %s", e)

    def run_once(self, now: dt.datetime) -> None:
        """One scheduled pass: anchor, logging (never raising) any error."""
        try:
            self.anchor_once(now)
            self.last_error = ""
        except EvictError as e:
            self.last_error = str(e)
            log.error("audit anchors: %s", e)
            if self.syslog is not None:
                self._syslog(logging.ERROR, f"TAMPERED: {e}")
        except Exception as e:  # a database outage must not end the thread
            self.last_error = str(e)
            log.error("audit anchors: %s", e)


class AnchorThread(PeriodicThread):
    """Runs :meth:`Anchorer.run_once` every ``interval`` seconds in a daemon thread (and once
    more when stopped, so the last events are anchored on shutdown)."""

    def __init__(
        self, anchorer: Anchorer, *, interval: float, clock: Callable[[], dt.datetime]
    ) -> None:
        super().__init__("evict-anchor", interval=interval)
        self.anchorer = anchorer
        self.clock = clock

    def run_pass(self) -> None:
        """Anchor the head now."""
        self.anchorer.run_once(self.clock())

    def last_pass(self) -> None:
        """Anchor the last events on the way out."""
        self.anchorer.run_once(self.clock())
