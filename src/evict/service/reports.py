"""Generating a directive's reports and evidence bundle: the one use case behind the CLI's
``evict report`` / ``evict evidence`` and the dashboard's reports page.

Work is split in phases (reading the fleet, rendering, writing) and each phase is announced to a
``progress`` callback with a per-cent figure, so the CLI draws a progress bar and the dashboard
shows how far a background job got. :class:`ReportRunner` runs jobs on a worker thread of the
server and keeps their output in the server's reports directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evict.report.bundle import catalog_entries, write_bundle
from evict.report.directives import default_kind, render_report
from evict.report.fleet import report_lines, stream_json, summarise_fleet, to_csv, to_jsonl
from evict.report.interface import Format, ReportKind
from evict.service.audit import signed_head
from evict.service.report_inputs import gather

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evict.catalog.interface import Directive
    from evict.matching.engine import Matcher
    from evict.model.listings import ReportJob
    from evict.report.directives import ReportInputs
    from evict.report.profile import Profile
    from evict.store.report_jobs import ReportJobs
    from evict.store.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""``progress(phase, per_cent)``: what a long job is doing now, and how far it is."""

EVIDENCE = "evidence"
"""The job kind of an evidence bundle (beside the report kinds)."""


def _quiet(phase: str, per_cent: int) -> None:
    """A progress callback that shows nothing."""


@dataclass(frozen=True)
class ReportScope:
    """Whose report, as of when: everything a directive's documents are built from.

    :param protection: product ids that count as approved protection.
    :param catalog_dirs: the extra catalog directories (their files go in the bundle).
    """

    store: Store
    matcher: Matcher
    directive: Directive
    org_id: int
    unit_id: int | None
    protection: frozenset[str]
    today: dt.date
    generated_at: dt.datetime
    profile: Profile | None = None
    catalog_dirs: Sequence[Path] = ()

    def inputs(self) -> ReportInputs:
        """Read what the reports need from the store (counted in SQL; the host lines and
        findings are read again, a page at a time, whenever a document iterates them: run
        that under :meth:`Store.scanning` too)."""

        with self.store.scanning():
            return gather(
                self.store,
                self.matcher,
                self.directive,
                org_id=self.org_id,
                unit_id=self.unit_id,
                protection=self.protection,
                today=self.today,
                generated_at=self.generated_at,
                profile=self.profile,
            )


def render_document(
    scope: ReportScope, kind: ReportKind | None, fmt: Format, progress: Progress = _quiet
) -> bytes:
    """One of the directive's documents (``kind`` None: the one its current milestone asks
    for), announcing each phase to ``progress``."""

    progress("reading the fleet", 5)
    inputs = scope.inputs()
    if kind is None:
        kind = default_kind(inputs.directive, today=inputs.today, start=inputs.start)
    progress(f"rendering the {kind.value} report as {fmt.value.upper()}", 50)
    with scope.store.scanning():
        data = render_report(kind, fmt, inputs)
    progress("done", 100)
    return data


LISTING_FORMATS: tuple[str, ...] = ("csv", "json", "jsonl")
"""The formats of the per-host listing (the ``hosts`` report), all streamed."""

LISTING_MEDIA: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/jsonl",
}
"""The HTTP media type of each listing format."""


def host_listing(
    store: Store,
    directive: Directive,
    fmt: str,
    *,
    org_id: int | None,
    unit_id: int | None,
    today: dt.date,
    generated_at: dt.datetime,
    start: dt.date | None = None,
) -> Iterator[str]:
    """The per-host listing of ``directive`` as text chunks, read and written a page at a time.

    ``csv`` and ``jsonl`` are one line per host; ``json`` is the summary (counted in SQL
    first) and the ``hosts`` array. Memory does not grow with the fleet: the store is read in
    keyset pages and each line is written as it is read.
    """

    lines = report_lines(
        store.fleet_rows(directive.id, org_id=org_id, unit_id=unit_id), directive, today=today
    )
    if fmt == "csv":
        return to_csv(lines)
    if fmt == "jsonl":
        return to_jsonl(lines)
    if fmt != "json":
        raise ValueError(f"not a listing format: {fmt!r} (one of {', '.join(LISTING_FORMATS)})")
    summary = summarise_fleet(
        store.fleet_counts(directive.id, org_id=org_id, unit_id=unit_id),
        directive,
        today=today,
        start=start,
    )
    return stream_json(lines, summary, directive, today=today, generated_at=generated_at)


def write_listing(scope: ReportScope, fmt: str, out: Path, progress: Progress = _quiet) -> None:
    """Write the per-host listing of ``scope`` in ``fmt`` (:data:`LISTING_FORMATS`) to ``out``,
    streamed: a temporary file renamed when complete."""
    progress("writing one line per host", 10)
    chunks = host_listing(
        scope.store,
        scope.directive,
        fmt,
        org_id=scope.org_id,
        unit_id=scope.unit_id,
        today=scope.today,
        generated_at=scope.generated_at,
        start=scope.store.adoptions(scope.org_id).get(scope.directive.id),
    )
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    progress("done", 100)


@dataclass(frozen=True)
class EvidenceResult:
    """What :func:`write_evidence` wrote, and the audit chain's verdict."""

    path: Path
    files: int
    manifest_sha256: str
    audit_ok: bool
    audit_message: str
    head: tuple[int, str]


def write_evidence(
    scope: ReportScope,
    out: Path,
    progress: Progress = _quiet,
    *,
    key: Ed25519PrivateKey | None = None,
    now: dt.datetime | None = None,
) -> EvidenceResult:
    """Write the directive's evidence bundle to ``out``, announcing each phase.

    :param key: the audit key: the bundle quotes the head signed with it and its manifest is
        signed (``evict evidence verify`` fails an unsigned bundle).
    :param now: when the head is signed (default: the scope's ``generated_at``).
    """

    progress("reading the fleet", 5)
    inputs = scope.inputs()
    signed = signed_head(scope.store, key, now or scope.generated_at) if key else None
    head = (signed.seq, signed.hash) if signed else scope.store.audit_head()
    progress("writing every report, the findings and the audit chain", 30)
    with scope.store.scanning():
        bundle = write_bundle(
            out,
            inputs,
            audit_events=scope.store.iter_audit(page=1000),
            audit_head=head,
            catalog_files=catalog_entries(scope.catalog_dirs),
            signed_head=signed,
            key=key,
        )
    progress("done", 100)
    verdict = bundle.audit
    message = (
        f"audit chain intact: {verdict.events} events, head {head[1]}"
        if verdict.ok
        else f"audit chain BROKEN at event {verdict.seq} ({verdict.fault}): {verdict.message}"
    )
    return EvidenceResult(
        bundle.path, len(bundle.entries), bundle.manifest_sha256, verdict.ok, message, head
    )


def job_file_name(job: ReportJob) -> str:
    """The output's file name: directive, kind, job id and suffix; nothing the user typed."""
    suffix = "zip" if job.kind == EVIDENCE else job.format
    return f"{job.directive}-{job.kind}-{job.id}.{suffix}"


class ReportRunner:
    """Runs report jobs one at a time on a background thread of the server.

    :param jobs: the jobs table.
    :param directory: where outputs are kept (created on first use).
    :param scope_for: builds a job's :class:`ReportScope` (the server knows the catalog,
        matcher, protection products and clock).
    :param clock: the current time.
    :param key: the audit key that signs evidence bundles.
    """

    def __init__(
        self,
        jobs: ReportJobs,
        directory: Path,
        scope_for: Callable[[ReportJob], ReportScope],
        *,
        clock: Callable[[], dt.datetime],
        key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.key = key
        """The audit key that signs evidence bundles (None: they go out unsigned)."""
        self.jobs = jobs
        self.directory = directory
        self.scope_for = scope_for
        self.clock = clock
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Fail the jobs a previous run of the server left unfinished, and accept new ones."""
        left = self.jobs.abandon_unfinished(
            reason="the server stopped before the job finished: generate it again",
            now=self.clock(),
        )
        if left:
            log.warning("%d report job(s) left unfinished by a previous run marked failed", left)
        with self._lock:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evict-reports")

    def stop(self) -> None:
        """Stop accepting jobs; wait for the running one."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, job: ReportJob) -> Future[None]:
        """Run ``job`` in the background."""
        with self._lock:
            if self._pool is None:
                raise RuntimeError("the report runner is not started")
            return self._pool.submit(self.run, job)

    def path(self, job: ReportJob) -> Path:
        """Where ``job``'s output is kept."""
        return self.directory / job.file

    def run(self, job: ReportJob) -> None:
        """Generate ``job``'s document now, recording progress, output or failure."""

        def progress(phase: str, per_cent: int) -> None:
            self.jobs.advance(job.id, phase=phase, progress=per_cent)

        name = job_file_name(job)
        out = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            scope = self.scope_for(job)
            if job.kind == EVIDENCE:
                write_evidence(scope, out, progress, key=self.key, now=self.clock())
            elif job.kind == ReportKind.HOSTS.value and job.format in LISTING_FORMATS:
                write_listing(scope, job.format, out, progress)
            else:
                data = render_document(scope, ReportKind(job.kind), Format(job.format), progress)
                tmp = out.with_name(f".{name}.{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(out)
            size, digest = _size_and_sha256(out)
        except Exception as e:  # a job's failure is recorded, never lost in a thread
            log.exception("report job %d failed", job.id)
            self.jobs.fail(job.id, error=str(e) or type(e).__name__, now=self.clock())
            return
        self.jobs.finish(job.id, file=name, size=size, sha256=digest, now=self.clock())


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
