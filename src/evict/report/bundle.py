"""The evidence bundle: one zip an auditor can check without evict's database.

``evict evidence DIRECTIVE --out FILE.zip`` writes::

    MANIFEST.json                 what is in the bundle, with the SHA-256 of every other file
    reports/DIRECTIVE-KIND.EXT    every report of the directive, in csv, json, html and pdf
    findings.jsonl                one line per host and finding, with its evidence
    determinations.json           the directive's questions of scope, with their cited text, and
                                  the organisation's determinations (revoked ones included)
    audit/events.jsonl            the audit chain up to its head, one event a line
    audit/head.json               the head (sequence number and hash) and the verification
    catalog/VERSION               the catalog version the reports were built with
    catalog/files/...             the catalog files themselves (built-in and the organisation's)

The audit chain is exported whole, up to the head read before the export began, so it can be
verified again from the bundle alone (:func:`evict.compliance.audit.verify_chain`); the head
hash is the one ``evict audit verify`` prints. A broken chain is exported as it is and recorded
as broken: the bundle is evidence either way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evict import __version__
from evict.catalog.export import question_json
from evict.compliance.audit import AuditEvent, ChainVerdict, verify_chain
from evict.compliance.determinations import determination_state
from evict.report.directives import ReportInputs, available, render_report
from evict.report.interface import Format, ReportError

MANIFEST = "MANIFEST.json"
BUNDLE_FORMAT = "evict-evidence/1"


class BundleError(ReportError):
    """The bundle could not be written (the output path, the disk)."""


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One file of the bundle, as the manifest lists it."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, object]:
        """Render as a manifest entry."""
        return {"path": self.path, "sha256": self.sha256, "bytes": self.size}


@dataclass(frozen=True, slots=True)
class Bundle:
    """What was written: the files, the audit verdict, the manifest's own hash."""

    path: Path
    entries: tuple[BundleEntry, ...]
    audit: ChainVerdict
    manifest_sha256: str


class _Writer:
    """Adds files to an open zip, hashing each as it streams."""

    def __init__(self, archive: zipfile.ZipFile, when: dt.datetime) -> None:
        self.archive = archive
        self.stamp = when.timetuple()[:6]
        self.entries: list[BundleEntry] = []

    def info(self, name: str) -> zipfile.ZipInfo:
        """The zip entry header of ``name``: the bundle's time, deflated, read-only for others."""
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def add(self, name: str, data: bytes) -> BundleEntry:
        """Add ``data`` as ``name``."""
        self.archive.writestr(self.info(name), data)
        entry = BundleEntry(name, hashlib.sha256(data).hexdigest(), len(data))
        self.entries.append(entry)
        return entry

    @contextmanager
    def stream(self, name: str) -> Iterator[Callable[[bytes], None]]:
        """Add ``name`` written in chunks through the function yielded, never held whole."""
        digest = hashlib.sha256()
        size = 0

        def write(chunk: bytes) -> None:
            nonlocal size
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)

        with self.archive.open(self.info(name), "w", force_zip64=True) as out:
            yield write
        self.entries.append(BundleEntry(name, digest.hexdigest(), size))

    def add_lines(self, name: str, lines: Iterable[bytes]) -> None:
        """Add ``name`` from chunks."""
        with self.stream(name) as write:
            for chunk in lines:
                write(chunk)


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def _jsonl(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _findings(inputs: ReportInputs) -> Iterator[bytes]:
    for line in inputs.lines:
        for f in inputs.findings.get(line.row.host, ()):
            yield _jsonl(
                {
                    "host": line.row.host,
                    "hostname": line.row.hostname,
                    "org_unit": line.row.org_unit,
                    "platform": line.row.platform,
                    "state": line.row.state,
                    "directive": f.directive,
                    "vendor": f.vendor,
                    "product": f.product,
                    "product_name": f.product_name,
                    "confidence": f.confidence.value,
                    "embedded": f.embedded,
                    "evidence": [e.to_json() for e in f.evidence],
                    **(
                        {"determination": state}
                        if (state := determination_state(f)) is not None
                        else {}
                    ),
                }
            )


def _determinations(inputs: ReportInputs) -> dict[str, object]:
    """The directive's questions of scope with their cited text, and the organisation's
    determinations of them (in force and revoked)."""
    d = inputs.directive.id
    questions = [q for q in inputs.catalog.questions if d in q.directives]
    asked = {q.id for q in questions}
    return {
        "directive": d,
        "questions": [question_json(q) for q in questions],
        "determinations": [x.to_json() for x in inputs.determinations if x.question in asked],
    }


def catalog_entries(extra_dirs: Sequence[Path] = ()) -> list[tuple[str, Path]]:
    """The catalog's files with their names in a bundle: ``builtin/...``, ``extra-N/...``."""
    from evict.catalog.loader import builtin_catalog_dir, catalog_files

    roots = [builtin_catalog_dir(), *extra_dirs]
    out = []
    for path in catalog_files(extra_dirs):
        for n, root in enumerate(roots):
            prefix = "builtin" if n == 0 else f"extra-{n}"
            if path == root:
                out.append((f"{prefix}/{path.name}", path))
                break
            if root.is_dir() and path.is_relative_to(root):
                out.append((f"{prefix}/{path.relative_to(root).as_posix()}", path))
                break
    return out


def write_bundle(
    out: Path,
    inputs: ReportInputs,
    *,
    audit_events: Iterable[AuditEvent],
    audit_head: tuple[int, str],
    catalog_files: Sequence[tuple[str, Path]],
) -> Bundle:
    """Write the evidence bundle of ``inputs`` to ``out`` (atomically: a temporary file renamed).

    :param audit_events: the audit chain in stored order (events past ``audit_head`` are left
        out, so a chain growing meanwhile still ends at the head quoted).
    :param audit_head: the head ``(seq, hash)`` as recorded, read before the events.
    :param catalog_files: ``(name in the bundle, file)`` for each catalog file.
    """
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            writer = _Writer(archive, inputs.generated_at)
            d = inputs.directive.id
            for kind in available(inputs.directive):
                for fmt in Format:
                    writer.add(
                        f"reports/{d}-{kind.value}.{fmt.value}", render_report(kind, fmt, inputs)
                    )
            writer.add_lines("findings.jsonl", _findings(inputs))
            writer.add("determinations.json", _json(_determinations(inputs)))
            verdict = _write_chain(writer, audit_events, audit_head)
            writer.add(
                "audit/head.json",
                _json(
                    {"seq": audit_head[0], "hash": audit_head[1], "verification": verdict.to_json()}
                ),
            )
            writer.add("catalog/VERSION", (inputs.catalog.version + "\n").encode())
            for name, path in catalog_files:
                writer.add(f"catalog/files/{name}", path.read_bytes())
            manifest = _json(
                {
                    "format": BUNDLE_FORMAT,
                    "evict_version": __version__,
                    "directive": d,
                    "organisation": inputs.organisation,
                    "scope": inputs.scope or "all org units",
                    "today": inputs.today.isoformat(),
                    "generated_at": inputs.generated_at.isoformat(),
                    "catalog_version": inputs.catalog.version,
                    "audit_head": {"seq": audit_head[0], "hash": audit_head[1]},
                    "audit_intact": verdict.ok,
                    "files": [e.to_json() for e in writer.entries],
                }
            )
            archive.writestr(writer.info(MANIFEST), manifest)
        os.replace(tmp, out)
    except OSError as e:
        raise BundleError(f"{out}: cannot write the evidence bundle: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return Bundle(out, tuple(writer.entries), verdict, hashlib.sha256(manifest).hexdigest())


def _write_chain(
    writer: _Writer, events: Iterable[AuditEvent], head: tuple[int, str]
) -> ChainVerdict:
    """Export the chain up to ``head`` to ``audit/events.jsonl``, verifying it on the way."""
    with writer.stream("audit/events.jsonl") as write:

        def exported() -> Iterator[AuditEvent]:
            for event in events:
                if event.seq > head[0]:
                    return
                write(_jsonl(event.to_json()))
                yield event

        chain = exported()
        verdict = verify_chain(chain, head=head)
        # verify_chain stops at the first break: the rest of the chain is exported as it is
        for _ in chain:
            pass
    return verdict
