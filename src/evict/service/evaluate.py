"""The matching worker: matches new distinct software and evaluates queued hosts, off the hot path.

One pass (:meth:`MatchWorker.run_once`):

1. If the catalog version changed, the store notes it. When the directives stayed the same,
   the previous version's matches are kept for step 2; when a directive was added or
   withdrawn, they are dropped and every host is queued.
2. Software rows with no result for this catalog version are matched in batches
   (``Matcher.match_distinct``: tens of thousands of distinct rows, not the fleet's hundreds of
   millions of host links) and their hits stored. After a rules-only change (same
   :func:`catalog_shape`), the hosts linked to software whose hits differ from the previous
   version's are queued — for a typical catalog update a few hosts, not the whole fleet. After
   a wider change, the hosts carrying a covered product under either version, and those whose
   state is neither clean nor verified: the others have no finding under either catalog, and
   their state cannot change (:meth:`evict.store.store.Store.prepare_catalog`).
   Without a catalog change, the hosts linked to newly matched software with a hit are
   queued: an inventory stored after the previous pass's matching step but evaluated in that
   pass was decided without those hits.
3. Hosts whose waiver lapsed are queued, and clean hosts whose last inventory is older than
   their organisation's freshness limit (they become ``stale``).
4. Queued hosts are evaluated in batches (a host linked to software stored since step 2 waits
   for the next pass): their links to *matched* software (a small set) give
   the findings per directive and whether approved protection is present, and
   :func:`evict.compliance.lifecycle.observe` gives each directive's new state — told whether
   the host's stored observation kinds are enough to conclude for the directive
   (:mod:`evict.compliance.coverage`) and whether its last inventory is fresh. Findings that
   raise a question of scope pass through the host's organisation's determinations first
   (:func:`evict.compliance.determinations.apply_determinations`): undetermined ones make the
   host ``needs_determination``. Recording or revoking a determination queues the
   organisation's hosts that carry the question's products. Changes are
   written with their audit events, and the hosts taken off the queue unless a newer inventory
   arrived meanwhile.

The server runs passes in a background thread (:class:`WorkerThread`), woken early by each
ingested inventory; ``evict worker --once`` and the tests run one pass synchronously.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from evict.catalog.interface import Catalog
from evict.compliance.coverage import assess, concludes
from evict.compliance.determinations import Answer, apply_determinations
from evict.compliance.lifecycle import Observed, observe
from evict.matching.engine import Matcher
from evict.matching.interface import MatchedSoftware, hit_to_json, linked_findings
from evict.model.observations import HostID
from evict.model.records import DirtyHost, StateChange
from evict.model.states import HostState, State
from evict.store.network import NetworkStore
from evict.store.store import Store

log = logging.getLogger(__name__)


def protection_products(catalog: Catalog, configured: frozenset[str] | None) -> frozenset[str]:
    """The product ids that count as approved protection.

    :param configured: an explicit set (settings); None means every catalog product whose
        category is ``protection``.
    """
    if configured is not None:
        return configured
    return frozenset(p.id for p in catalog.products if p.category == "protection")


def catalog_shape(catalog: Catalog, protection: frozenset[str]) -> str:
    """A fingerprint of what decides states besides the rules: directives, vendors, products
    (without their rules) and the protection products.

    Two catalogs with the same shape differ only in which software their rules recognise, so
    a change between them needs only the hosts whose matched software changed evaluated again.
    """
    products = tuple(dataclasses.replace(p, rules=()) for p in catalog.products)
    text = repr((catalog.directives, catalog.vendors, products, sorted(protection)))
    if catalog.questions:
        text += repr(catalog.questions)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What one pass did."""

    catalog_changed: bool
    matched: int
    """Software rows matched."""
    evaluated: int
    """Hosts evaluated."""
    changes: int
    """State changes written."""
    pruned: int = 0
    """Stored reports forgotten (older than the retention, see :meth:`Store.prune_reports`)."""

    def to_json(self) -> dict[str, object]:
        """Render for the health endpoint and ``evict worker``."""
        return {
            "catalog_changed": self.catalog_changed,
            "matched": self.matched,
            "evaluated": self.evaluated,
            "changes": self.changes,
            "reports_pruned": self.pruned,
        }


class MatchWorker:
    """Matches and evaluates with one catalog.

    :param store: the store.
    :param matcher: the compiled catalog.
    :param protection: product ids that count as approved protection.
    :param batch: hosts per evaluation batch (one transaction each).
    :param report_retention: how long stored reports are kept (each host's latest always is);
        None keeps them all.
    """

    def __init__(
        self,
        store: Store,
        matcher: Matcher,
        *,
        protection: frozenset[str] = frozenset(),
        batch: int = 1000,
        match_batch: int = 5000,
        report_retention: dt.timedelta | None = None,
    ) -> None:
        self.store = store
        self.report_retention = report_retention
        self.matcher = matcher
        self.protection = protection
        self.batch = batch
        self.match_batch = match_batch
        self.shape = catalog_shape(matcher.catalog, protection)
        self.directives = tuple(d.id for d in matcher.catalog.directives)
        catalog = matcher.catalog
        self.covered = frozenset(
            p.id
            for p in catalog.products
            if catalog.reach(p, embedded=True) or catalog.reach(p, embedded=False)
        )
        """Products some directive covers or asks a question of scope about (embedded presence
        included): the only ones that can make a finding."""
        self.matched_through: int | None = None
        """The newest software row that existed when this worker last matched (None before):
        hosts linked to newer software wait for the next pass's matching."""

    @property
    def catalog_version(self) -> str:
        """The version of the catalog this worker matches with."""
        return self.matcher.catalog.version

    def run_once(self, *, now: dt.datetime, today: dt.date) -> WorkerStats:
        """One full pass; returns what it did (nothing when another worker holds the lock)."""
        with self.store.worker_lock() as mine:
            if not mine:
                return WorkerStats(False, 0, 0, 0)
            changed = self.store.prepare_catalog(
                self.catalog_version, now=now, shape=self.shape, directives=self.directives
            )
            matched, hit = self._match_new_software()
            if not changed:
                # Software stored after the previous pass matched: its hosts may have been
                # evaluated without its hits. (After a catalog change the comparison below
                # queues the hosts of every software whose hits changed, new rows included.)
                self.store.queue_linked(hit)
            self.store.queue_changed_matches(self.catalog_version, covered=self.covered)
            self.store.queue_expired_waivers(today)
            self.store.queue_stale(now)
            evaluated, changes = self.evaluate_queued(now=now, today=today)
            pruned = 0
            if self.report_retention is not None:
                pruned = self.store.prune_reports(now - self.report_retention, now=now)
        return WorkerStats(changed, matched, evaluated, changes, pruned)

    def match_new_software(self) -> int:
        """Match every software row without a result for this catalog version."""
        return self._match_new_software()[0]

    def _match_new_software(self) -> tuple[int, list[int]]:
        """Match every software row without a result; return how many, and those with a hit."""
        version, total, after = self.catalog_version, 0, 0
        hit: list[int] = []
        self.matched_through = self.store.newest_software()
        while True:
            rows = self.store.unmatched_software(version, after=after, limit=self.match_batch)
            if not rows:
                return total, hit
            hits = self.matcher.match_distinct([o for _, o in rows])
            self.store.save_matches(
                version,
                [
                    (sid, [hit_to_json(h) for h in found])
                    for (sid, _), found in zip(rows, hits, strict=True)
                ],
            )
            hit += [sid for (sid, _), found in zip(rows, hits, strict=True) if found]
            total += len(rows)
            after = rows[-1][0]

    def evaluate_queued(self, *, now: dt.datetime, today: dt.date) -> tuple[int, int]:
        """Evaluate every queued host; return (hosts evaluated, state changes written)."""
        matched = self.store.matched_software(self.catalog_version)
        evaluated = changes = after = 0
        while True:
            batch = self.store.dirty_hosts(after=after, limit=self.batch)
            if not batch:
                return evaluated, changes
            after = batch[-1].id
            if self.matched_through is not None:
                # Software stored after the matching step has no hits yet: its hosts stay
                # queued for the next pass rather than be decided without them.
                waiting = self.store.linked_beyond([h.id for h in batch], self.matched_through)
                batch = [h for h in batch if h.id not in waiting]
                if not batch:
                    continue
            decided = self.evaluate(batch, matched, now=now, today=today)
            changes += self.store.apply_evaluation(batch, decided, now=now)
            evaluated += len(batch)

    def evaluate(
        self,
        batch: Sequence[DirtyHost],
        matched: MatchedSoftware,
        *,
        now: dt.datetime,
        today: dt.date,
    ) -> list[StateChange]:
        """Decide each host's new state per directive from its matched software."""
        ids = [h.id for h in batch]
        links = self.store.host_links(ids, matched.keys())
        states = self.store.states(ids)
        waived = self.store.active_waivers(ids, today)
        determined = (
            self.store.active_determinations({h.org_id for h in batch})
            if self.matcher.catalog.questions
            else {}
        )
        loud = self._loud(batch, states, now=now)
        directives = self.matcher.catalog.directives
        out: list[StateChange] = []
        for host in batch:
            pairs = linked_findings(links.get(host.id, ()), matched)
            protected = any(h.product in self.protection for _, hits in pairs for h in hits)
            found: dict[str, set[str]] = defaultdict(set)
            asked: dict[str, set[str]] = defaultdict(set)
            out_of_scope: dict[str, set[str]] = defaultdict(set)
            answers = determined.get(host.org_id, {})
            findings = self.matcher.findings(HostID(str(host.id)), pairs)
            for finding in findings:
                if finding.question is not None:
                    d = answers.get(finding.question)
                    if d is not None and d.answer is Answer.NOT_COVERED:
                        out_of_scope[finding.directive].add(finding.product)
            for finding in apply_determinations(findings, answers):
                target = asked if finding.needs_determination else found
                target[finding.directive].add(finding.product)
            current: Mapping[str, HostState] = states.get(host.id, {})
            coverage = assess(host.platform, host.kinds)
            fresh = host.last_seen is None or now - host.last_seen <= dt.timedelta(
                days=host.freshness_days
            )
            for directive in directives:
                old = current.get(directive.id)
                seen = Observed(
                    frozenset(found.get(directive.id, ())),
                    protected,
                    host.checkin,
                    complete=concludes(coverage, embedded=directive.embedded),
                    fresh=fresh,
                    questioned=frozenset(asked.get(directive.id, ())),
                    determined_out=frozenset(out_of_scope.get(directive.id, ())),
                    silent=(host.id, directive.id) not in loud,
                )
                new = observe(old, seen, now=now, waiver_active=(host.id, directive.id) in waived)
                if new is not old:
                    out.append(StateChange(host.id, directive.id, old, new))
        return out

    def _loud(
        self,
        batch: Sequence[DirtyHost],
        states: Mapping[int, Mapping[str, HostState]],
        *,
        now: dt.datetime,
    ) -> set[tuple[int, str]]:
        """(host, directive) pairs ``replaced`` too recently, or too recently heard on the
        network, for their organisation's days of silence: not yet ``verified``."""
        waiting = [
            (h, d, s)
            for h in batch
            for d, s in states.get(h.id, {}).items()
            if s.state is State.REPLACED
        ]
        if not waiting:
            return set()
        network = NetworkStore(self.store)
        days = network.silence_days(h.org_id for h, _, _ in waiting)
        if not any(days.values()):
            return set()
        heard = network.last_traffic([h.id for h, _, _ in waiting])
        out = set()
        for host, directive, state in waiting:
            need = dt.timedelta(days=days.get(host.org_id, 0))
            quiet_since = max(state.since, heard.get(host.id, state.since))
            if need and now - quiet_since < need:
                out.add((host.id, directive))
        return out


class WorkerThread:
    """Runs :class:`MatchWorker` passes in a daemon thread until stopped.

    :param worker: the worker.
    :param interval: seconds between passes when nothing wakes it.
    :param clock: returns the current UTC time (the one seam for time).
    :param min_gap: the fewest seconds from one pass's start to the next when woken early.
        Under a stream of reports one pass then takes every host queued meanwhile, instead of
        one pass (with its fixed queries) per report.
    """

    def __init__(
        self,
        worker: MatchWorker,
        *,
        interval: float,
        clock: Callable[[], dt.datetime],
        min_gap: float = 1.0,
    ) -> None:
        self.worker = worker
        self.interval = interval
        self.clock = clock
        self.min_gap = min_gap
        self.last: WorkerStats | None = None
        self.last_error: str = ""
        self.passes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evict-worker", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """Run a pass soon (an inventory was stored)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def status(self) -> dict[str, object]:
        """The worker's state for the health endpoint."""
        return {
            "running": self._thread.is_alive(),
            "passes": self.passes,
            "last": self.last.to_json() if self.last else None,
            "last_error": self.last_error,
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            started = time.monotonic()
            now = self.clock()
            try:
                self.last = self.worker.run_once(now=now, today=now.date())
                self.last_error = ""
            except Exception as e:  # noqa: BLE001 - the thread must outlive one failed pass
                # Partial failure is recorded and reported by /api/v1/health; the next pass
                # retries, and nothing is lost because hosts stay queued until evaluated.
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("worker pass failed")
            self.passes += 1
            self._wake.wait(self.interval)
            rest = self.min_gap - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)
