"""The evidence bundle: one zip an auditor can check without evict's database.

``evict evidence DIRECTIVE --out FILE.zip`` writes::

    MANIFEST.json                 what is in the bundle, with the SHA-256 of every other file
    MANIFEST.sig                  the Ed25519 signature of MANIFEST.json, with the public key
    reports/DIRECTIVE-hosts.EXT   the per-host annex: one line per host, in csv, json and jsonl,
                                  streamed from the store as it is read
    reports/DIRECTIVE-KIND.EXT    every other report of the directive, in csv, json, html and pdf:
                                  counts by org unit and product, naming the annex files with
                                  their SHA-256
    findings.jsonl                one line per host and finding, with its evidence
    determinations.json           the directive's questions of scope, with their cited text, and
                                  the organisation's determinations (revoked ones included)
    audit/events.jsonl            the audit chain up to its head, one event a line
    audit/head.json               the head (sequence number and hash), signed, and the verification
    catalog/VERSION               the catalog version the reports were built with
    catalog/files/...             the catalog files themselves (built-in and the organisation's)

Nothing per host is held whole: the annex, ``findings.jsonl`` and the audit events are written
to the zip (deflated, ZIP64) as they are read from the store, each hashed on the way, so a
bundle of a million hosts is written in the memory of one page of them.

The audit chain is exported whole, up to the head read before the export began, so it can be
verified again from the bundle alone (:func:`evict.compliance.audit.verify_chain`); the head
hash is the one ``evict audit verify`` prints. A broken chain is exported as it is and recorded
as broken: the bundle is evidence either way.

The manifest is signed with the audit key (``MANIFEST.sig``) and carries the signed head, so
:func:`verify_bundle` (``evict evidence verify BUNDLE --public-key FILE``) can check offline that
no file was changed, added or removed, and that the exported events re-chain to the head the key
signed. The public key inside ``MANIFEST.sig`` is a convenience: only a key obtained from the
server (``evict audit key``) proves who signed.
"""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from evict import __version__
from evict._util import release_memory
from evict.catalog.export import question_json
from evict.catalog.loader import builtin_catalog_dir, catalog_files
from evict.compliance.audit import (
    AuditEvent,
    ChainVerdict,
    SignedHead,
    StoredEvent,
    export_line,
    key_id,
    verify_chain,
)
from evict.compliance.determinations import determination_state
from evict.report.directives import ReportInputs, available, build, found_hosts
from evict.report.directives.common import host_summary
from evict.report.fleet import CSV_COLUMNS, ReportLine, csv_row, jsonl_line, stream_json
from evict.report.interface import (
    Document,
    Field,
    Format,
    ReportError,
    ReportKind,
    Section,
)
from evict.report.render import render

MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
BUNDLE_FORMAT = "evict-evidence/1"
SIGNATURE_FORMAT = "evict-evidence-signature/1"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Largest manifest or signature read when verifying."""
MAX_EVENT_LINE = 64 * 1024 * 1024
"""Longest audit event line read when verifying."""


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
        # zlib's fastest level: a bundle's text (hundreds of MB of listings and audit events at
        # a million hosts) deflates three times faster than at the default level, for output
        # about a fifth larger. ZipInfo takes it as compress_level from Python 3.13 on.
        setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
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
    for host in found_hosts(inputs):
        row = host.row
        for f in host.findings:
            yield _jsonl(
                {
                    "host": row.host,
                    "hostname": row.hostname,
                    "org_unit": row.org_unit,
                    "platform": row.platform,
                    "state": row.state,
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
    audit_events: Iterable[AuditEvent | StoredEvent],
    audit_head: tuple[int, str],
    catalog_files: Sequence[tuple[str, Path]],
    signed_head: SignedHead | None = None,
    key: Ed25519PrivateKey | None = None,
) -> Bundle:
    """Write the evidence bundle of ``inputs`` to ``out`` (atomically: a temporary file renamed).

    :param audit_events: the audit chain in stored order (events past ``audit_head`` are left
        out, so a chain growing meanwhile still ends at the head quoted).
    :param audit_head: the head ``(seq, hash)`` as recorded, read before the events.
    :param catalog_files: ``(name in the bundle, file)`` for each catalog file.
    :param signed_head: ``audit_head`` signed with ``key`` (quoted in the manifest and in
        ``audit/head.json``, so the bundle can serve as an anchor).
    :param key: the audit key that signs the manifest (``MANIFEST.sig``); without it the bundle
        is unsigned and :func:`verify_bundle` fails it.
    """
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            writer = _Writer(archive, inputs.generated_at)
            d = inputs.directive.id
            annex = _write_annex(writer, inputs, out.parent)
            release_memory()  # the fleet was streamed: the layouts start from what is left
            for kind in available(inputs.directive):
                if kind is ReportKind.HOSTS:
                    continue  # the annex is the per-host report
                document = with_annex(build(kind, inputs), annex)
                for fmt in Format:
                    writer.add(f"reports/{d}-{kind.value}.{fmt.value}", render(document, fmt))
            writer.add_lines("findings.jsonl", _encoded_bytes(_findings(inputs)))
            writer.add("determinations.json", _json(_determinations(inputs)))
            verdict = _write_chain(writer, audit_events, audit_head)
            head_doc: dict[str, object] = {
                "seq": audit_head[0],
                "hash": audit_head[1],
                "verification": verdict.to_json(),
            }
            if signed_head is not None:
                head_doc["signed_head"] = signed_head.to_json()
            writer.add("audit/head.json", _json(head_doc))
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
                    "signed_head": signed_head.to_json() if signed_head is not None else None,
                    "files": [e.to_json() for e in writer.entries],
                }
            )
            archive.writestr(writer.info(MANIFEST), manifest)
            if key is not None:
                archive.writestr(writer.info(SIGNATURE), _signature(key, manifest))
        os.replace(tmp, out)
    except OSError as e:
        raise BundleError(f"{out}: cannot write the evidence bundle: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return Bundle(out, tuple(writer.entries), verdict, hashlib.sha256(manifest).hexdigest())


ANNEX_FORMATS: tuple[str, ...] = ("csv", "json", "jsonl")
"""The per-host annex's formats (``reports/DIRECTIVE-hosts.EXT``)."""


PIECE = 1 << 16
"""Bytes written to the zip at a time (each write is a call into zlib and the hash)."""


def _encoded(chunks: Iterable[str], size: int = PIECE) -> Iterator[bytes]:
    """Text chunks as UTF-8, gathered into pieces of about ``size`` bytes."""
    buffer: list[str] = []
    held = 0
    for chunk in chunks:
        buffer.append(chunk)
        held += len(chunk)
        if held >= size:
            yield "".join(buffer).encode()
            buffer.clear()
            held = 0
    if buffer:
        yield "".join(buffer).encode()


def _encoded_bytes(chunks: Iterable[bytes], size: int = PIECE) -> Iterator[bytes]:
    """Byte chunks gathered into pieces of about ``size`` bytes."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _write_annex(
    writer: _Writer, inputs: ReportInputs, spool: Path | None = None
) -> tuple[BundleEntry, ...]:
    """Write the per-host report in each of :data:`ANNEX_FORMATS` from one read of the fleet:
    the JSON streamed into the zip as the lines are read, the CSV and JSON Lines spooled on the
    way to temporary files (in ``spool``) and copied in after, each hashed as it goes in."""
    d = inputs.directive.id
    name = {fmt: f"reports/{d}-{ReportKind.HOSTS.value}.{fmt}" for fmt in ANNEX_FORMATS}
    entries: dict[str, BundleEntry] = {}
    with tempfile.TemporaryFile(dir=spool) as csv_file, tempfile.TemporaryFile(dir=spool) as jl:
        csv_text = io.TextIOWrapper(csv_file, encoding="utf-8", newline="")
        jsonl_text = io.TextIOWrapper(jl, encoding="utf-8", newline="")
        rows = csv.writer(csv_text, lineterminator="\n")
        rows.writerow(CSV_COLUMNS)

        def spooled() -> Iterator[ReportLine]:
            for line in inputs.lines:
                rows.writerow(csv_row(line))
                jsonl_text.write(jsonl_line(line))
                yield line

        chunks = stream_json(
            spooled(),
            host_summary(inputs),
            inputs.directive,
            today=inputs.today,
            generated_at=inputs.generated_at,
        )
        writer.add_lines(name["json"], _encoded(chunks))
        entries["json"] = writer.entries[-1]
        for fmt, text in (("csv", csv_text), ("jsonl", jsonl_text)):
            text.flush()
            raw = text.buffer
            raw.seek(0)
            writer.add_lines(name[fmt], _read_back(raw))
            entries[fmt] = writer.entries[-1]
    return tuple(entries[fmt] for fmt in ANNEX_FORMATS)


def _read_back(raw: IO[bytes]) -> Iterator[bytes]:
    """A spooled file's bytes, a MiB at a time."""
    while chunk := raw.read(1 << 20):
        yield chunk


def with_annex(document: Document, annex: Sequence[BundleEntry]) -> Document:
    """``document`` with a last section naming the per-host annex files and their SHA-256: the
    document counts by org unit and product, the annex holds the hosts."""
    section = Section(
        "host-annex",
        "Per-host annex",
        fields=tuple(Field(e.path, f"SHA-256 {e.sha256}, {e.size} bytes") for e in annex),
        statements=(
            "The hosts behind the counts of this report, one line per host, are in the files "
            "named here (in this evidence bundle), with their SHA-256.",
        ),
    )
    return dataclasses.replace(document, sections=(*document.sections, section))


def _write_chain(
    writer: _Writer, events: Iterable[AuditEvent | StoredEvent], head: tuple[int, str]
) -> ChainVerdict:
    """Export the chain up to ``head`` to ``audit/events.jsonl``, verifying it on the way: each
    event is written from the canonical text its hash was checked against, in pieces of about
    :data:`PIECE` bytes."""
    with writer.stream("audit/events.jsonl") as write:
        pending: list[str] = []
        size = 0

        def export(event: AuditEvent | StoredEvent, body: str | None = None) -> None:
            nonlocal size
            line = export_line(event, body)
            pending.append(line)
            size += len(line)
            if size >= PIECE:
                flush()

        def flush() -> None:
            nonlocal size
            if pending:
                write("".join(pending).encode())
                pending.clear()
                size = 0

        chain = itertools.takewhile(lambda e: e.seq <= head[0], events)
        verdict = verify_chain(chain, head=head, each=export)
        # verify_chain stops at the first break: the rest of the chain is exported as it is
        for event in chain:
            export(event)
        flush()
    return verdict


def _signature(key: Ed25519PrivateKey, manifest: bytes) -> bytes:
    public = key.public_key()
    return _json(
        {
            "format": SIGNATURE_FORMAT,
            "signs": MANIFEST,
            "key": key_id(public),
            "public_key": public.public_bytes(
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii"),
            "signature": base64.b64encode(key.sign(manifest)).decode("ascii"),
        }
    )


@dataclass(frozen=True, slots=True)
class BundleCheck:
    """The result of :func:`verify_bundle`: ``ok`` when ``problems`` is empty."""

    problems: tuple[str, ...]
    files: int
    """Files the manifest lists."""
    key: str
    """The id of the key the manifest is signed with (empty when unsigned)."""
    head_seq: int | None
    """The signed head's sequence number."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.problems


def verify_bundle(path: Path, *, public_key: Ed25519PublicKey | None = None) -> BundleCheck:
    """Check an evidence bundle offline.

    The manifest's signature (with ``public_key``, else the key the bundle carries), every
    file's SHA-256 and size against the manifest, no file added, and the audit events re-chained
    up to the signed head. Raises :class:`BundleError` when the file is not a readable zip.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"{path}: not a readable evidence bundle: {e}") from e
    with archive:
        return _check(archive, public_key)


def _read(archive: zipfile.ZipFile, name: str, problems: list[str]) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        problems.append(f"{name} is missing")
        return None
    if info.file_size > MAX_MANIFEST_BYTES:
        problems.append(f"{name} is too large ({info.file_size} bytes)")
        return None
    with archive.open(info) as handle:
        return handle.read(MAX_MANIFEST_BYTES + 1)[:MAX_MANIFEST_BYTES]


def _check(archive: zipfile.ZipFile, wanted: Ed25519PublicKey | None) -> BundleCheck:
    problems: list[str] = []
    names = archive.namelist()
    if len(names) != len(set(names)):
        problems.append("the zip holds two entries of the same name")
    manifest_bytes = _read(archive, MANIFEST, problems)
    signature_bytes = _read(archive, SIGNATURE, problems)
    key = ""
    if signature_bytes is not None and manifest_bytes is not None:
        key, public = _check_signature(signature_bytes, manifest_bytes, wanted, problems)
    else:
        public = wanted
        if signature_bytes is None:
            problems.append("the manifest is not signed")
    manifest: dict[str, object] = {}
    if manifest_bytes is not None:
        try:
            loaded = json.loads(manifest_bytes)
            manifest = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            problems.append(f"{MANIFEST} is not JSON")
    files = manifest.get("files")
    listed: set[str] = set()
    if not isinstance(files, list):
        problems.append(f"{MANIFEST} lists no files")
        files = []
    for entry in files:
        name = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            problems.append(f"{MANIFEST}: an entry without a path")
            continue
        listed.add(name)
        problems.extend(_check_file(archive, entry, name))
    problems.extend(
        f"{name} is in the bundle but not in the manifest"
        for name in names
        if name not in listed and name not in (MANIFEST, SIGNATURE)
    )
    head_seq = _check_audit(archive, manifest, public, problems)
    return BundleCheck(tuple(problems), len(files), key, head_seq)


def _check_signature(
    signature_bytes: bytes,
    manifest_bytes: bytes,
    wanted: Ed25519PublicKey | None,
    problems: list[str],
) -> tuple[str, Ed25519PublicKey | None]:
    try:
        doc = json.loads(signature_bytes)
        carried = load_pem_public_key(str(doc["public_key"]).encode("ascii"))
        signature = base64.b64decode(str(doc["signature"]), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        problems.append(f"{SIGNATURE} cannot be read")
        return "", wanted
    if not isinstance(carried, Ed25519PublicKey):
        problems.append(f"{SIGNATURE}: not an Ed25519 key")
        return "", wanted
    public = wanted or carried
    if wanted is not None and key_id(carried) != key_id(wanted):
        problems.append(
            f"signed with key {key_id(carried)}, not with the key given ({key_id(wanted)})"
        )
    try:
        public.verify(signature, manifest_bytes)
    except InvalidSignature:
        problems.append(f"the signature of {MANIFEST} does not verify: the manifest was changed")
    return key_id(public), public


def _check_file(archive: zipfile.ZipFile, entry: dict[str, object], name: str) -> list[str]:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return [f"{name} is in the manifest but not in the bundle"]
    size = entry.get("bytes")
    if not isinstance(size, int) or info.file_size != size:
        return [f"{name}: {info.file_size} bytes, the manifest says {size}"]
    digest = hashlib.sha256()
    with archive.open(info) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != entry.get("sha256"):
        return [f"{name}: its SHA-256 differs from the manifest's: the file was changed"]
    return []


def _check_audit(
    archive: zipfile.ZipFile,
    manifest: dict[str, object],
    public: Ed25519PublicKey | None,
    problems: list[str],
) -> int | None:
    try:
        head = SignedHead.from_json(manifest.get("signed_head"))
    except ValueError as e:
        problems.append(f"{MANIFEST}: no signed audit head ({e})")
        return None
    if public is not None and not head.verify(public):
        problems.append(f"{MANIFEST}: the audit head's signature does not verify")
    try:
        # re-chained as it is read: a chain of millions of events is verified in the memory
        # of one
        verdict = verify_chain(_events(archive), head=(head.seq, head.hash))
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        problems.append(f"audit/events.jsonl cannot be read: {e!r}")
        return head.seq
    if not verdict.ok:
        problems.append(
            f"audit/events.jsonl does not re-chain to the signed head (event {head.seq}): "
            f"event {verdict.seq} ({verdict.fault}): {verdict.message}"
        )
    return head.seq


def _events(archive: zipfile.ZipFile) -> Iterator[AuditEvent]:
    with archive.open("audit/events.jsonl") as handle:
        while line := handle.readline(MAX_EVENT_LINE):
            if not line.endswith(b"\n"):
                raise ValueError("a line is too long or does not end")
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("a line is not a JSON object")
            payload = value.get("payload")
            org = value.get("org")
            yield AuditEvent(
                int(value["seq"]),
                str(value["at"]),
                str(value["actor"]),
                str(value["action"]),
                str(value["subject"]),
                org if isinstance(org, int) else None,
                payload if isinstance(payload, dict) else {},
                str(value["prev_hash"]),
                str(value["hash"]),
            )
