"""The agent: turn inventories into spooled reports, then deliver the spool.

``evict agent`` is read-only: it never changes the host, opens no port, and sends metadata only.
For each inventory (this host's own scan, or every host of an offline source given with
``--from``) it writes a report to the spool; then it delivers the spool oldest first. Per host it
enrols once (the credential stays in the spool), asks with the digest first whether the server
already holds this inventory, and sends the full gzip body only when it does not.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evict.agent.client import FleetClient, Refused, ServerUnreachable
from evict.agent.spool import Spool, SpoolError
from evict.agent.wire import report_body
from evict.model.observations import HostInventory
from evict.neutral import neutralise

FATAL_STATUSES = frozenset({401, 403, 404})
"""Refusals that no retry and no other report can fix: a wrong enrolment secret or credential
(401), a host or secret the server will not take (403), or a URL that is no evict server (404)."""

HINTS = {
    401: "the host's credential was refused: check --enroll-secret",
    403: "the server will not take this host: ask the server's admin",
    404: "check --server: it should be the evict server's base URL, e.g. https://evict.example:8000",
}
ENROLMENT_HINT = (
    "check --enroll-secret (`evict org create` and `evict org unit create` print a unit's secret)"
)


class EnrolmentRefused(Refused):
    """The server refused to enrol a host: the enrolment secret is wrong, or the host id taken."""


def new_report_id() -> str:
    """A fresh report id (a UUID4 in hex)."""
    return uuid.uuid4().hex


@dataclass
class Delivery:
    """What one delivery of the spool did."""

    stored: list[str] = field(default_factory=list)
    """Hosts whose full inventory was stored."""
    unchanged: list[str] = field(default_factory=list)
    """Hosts whose inventory the server already held (check-in only)."""
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(report file, reason) refused by the server and moved aside."""
    pending: int = 0
    """Reports still spooled (the server was unreachable)."""
    error: str = ""
    """Why delivery stopped early, if it did."""
    stopped: Refused | None = None
    """The refusal that stopped delivery, when retrying could not fix it (see
    :data:`FATAL_STATUSES`)."""

    @property
    def ok(self) -> bool:
        """Whether every report was delivered."""
        return not self.rejected and not self.pending

    def summary(self) -> str:
        """One line: hosts sent (stored or unchanged), refused, and kept for later."""
        sent = len(self.stored) + len(self.unchanged)
        line = f"sent {sent} host(s): {len(self.stored)} stored, {len(self.unchanged)} unchanged"
        if self.rejected:
            line += f"; {len(self.rejected)} refused"
        if self.pending:
            line += f"; {self.pending} kept to send later"
        return line


class Agent:
    """Spools and delivers inventory reports for one server.

    :param client: the server's client.
    :param spool: the spool directory.
    :param enroll_secret: the org unit's enrolment secret (used once per host).
    :param log: where progress lines go (one per report).
    """

    def __init__(
        self,
        client: FleetClient,
        spool: Spool,
        enroll_secret: str,
        *,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.client = client
        self.spool = spool
        self.secret = enroll_secret
        self.log = log

    def queue(self, inventories: Iterable[HostInventory], *, now: dt.datetime) -> list[Path]:
        """Write one report per inventory to the spool."""
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        before = self.spool.dropped
        paths = [
            self.spool.add(report_body(inv, new_report_id()), stamp=stamp) for inv in inventories
        ]
        if self.spool.dropped > before:
            self.log(
                f"warning: spool full ({self.spool.max_reports} reports): dropped the "
                f"{self.spool.dropped - before} oldest unsent report(s) in {self.spool.root}"
            )
        return [p for p in paths if p.exists()]

    def deliver(self) -> Delivery:
        """Send every spooled report, oldest first; stop at the first unreachable server."""
        result = Delivery()
        waiting = self.spool.pending()
        for i, path in enumerate(waiting):
            try:
                self._deliver_one(path, result)
            except ServerUnreachable as e:
                result.pending = len(waiting) - i
                result.error = str(e)
                self.log(
                    f"server unreachable; {result.pending} report(s) kept in {self.spool.root}"
                )
                return result
            except Refused as e:
                if isinstance(e, EnrolmentRefused) and e.status == 409:
                    # An enrolled host id: an admin must allow enrolling it again. The reports
                    # wait in the spool until then.
                    result.pending = len(waiting) - i
                    result.error = f"enrolling again refused: {e.message}"
                    self.log(
                        f"{result.error}; {result.pending} report(s) kept in {self.spool.root}"
                    )
                    return result
                if e.status in FATAL_STATUSES:
                    result.stopped = e
                    result.pending = len(waiting) - i
                    hint = ENROLMENT_HINT if isinstance(e, EnrolmentRefused) else HINTS[e.status]
                    result.error = f"{e} - {hint}"
                    return result
                moved = self.spool.reject(path, str(e)) if path.exists() else path
                result.rejected.append((str(moved), str(e)))
                self.log(f"refused: {path.name}: {e}")
            except SpoolError as e:
                moved = self.spool.reject(path, str(e)) if path.exists() else path
                result.rejected.append((str(moved), str(e)))
                self.log(f"refused: {path.name}: {e}")
        return result

    def discard(self, paths: Iterable[Path]) -> None:
        """Remove reports from the spool unsent (this run's, after a refusal that stops it)."""
        for path in paths:
            if path.exists():
                self.spool.done(path)

    def _credential(self, host: str, hostname: str, platform: str, *, fresh: bool) -> str:
        server = self.client.server
        credential = None if fresh else self.spool.credential(server, host)
        if credential is None:
            try:
                credential = self.client.enroll(
                    self.secret, host, hostname=hostname, platform=platform
                )
            except Refused as e:
                raise EnrolmentRefused(e.status, e.message) from e
            self.spool.save_credential(server, host, credential)
        return credential

    def _deliver_one(self, path: Path, result: Delivery) -> None:
        body, gzipped = self.spool.load(path)
        info = body["host"]
        host, hostname, platform = (
            str(info["id"]),
            str(info.get("hostname", "")),
            str(info.get("platform", "unknown")),
        )
        report_id, digest = str(body["report_id"]), str(body.get("digest", ""))
        addresses = body.get("addresses")
        listed = [str(a) for a in addresses] if isinstance(addresses, list) else None
        server = self.client.server
        for attempt in range(2):
            credential = self._credential(host, hostname, platform, fresh=attempt > 0)
            try:
                known = self.spool.acked_digest(server, host)
                if known is None or known == digest:
                    # The addresses go along only when they differ from what the server
                    # acknowledged: an unchanged host's check-in stays one short request.
                    changed = listed is not None and sorted(listed) != self.spool.acked_addresses(
                        server, host
                    )
                    if self.client.unchanged(
                        credential, report_id, digest, listed if changed else None
                    ):
                        if changed and listed is not None:
                            self.spool.save_addresses(server, host, listed)
                        self.spool.done(path)
                        result.unchanged.append(host)
                        self.log(f"{neutralise(hostname or host, one_line=True)}: unchanged")
                        return
                ack = self.client.send(credential, gzipped)
            except Refused as e:
                if e.status == 401 and attempt == 0:
                    self.spool.forget_credential(server, host)
                    continue
                raise
            self.spool.save_digest(server, host, digest)
            if listed is not None:
                self.spool.save_addresses(server, host, listed)
            self.spool.done(path)
            result.stored.append(host)
            count = ack.get("observations", "?")
            name = neutralise(hostname or host, one_line=True)
            self.log(f"{name}: {ack.get('status', 'stored')} ({count} observations)")
            return
