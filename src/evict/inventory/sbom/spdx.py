"""SPDX 2.x SBOMs: JSON (read directly) and tag-value (read with spdx-tools).

JSON is parsed here rather than with spdx-tools: its JSON parser rejects a whole document over one
field it dislikes, and syft's output (absolute file names, ``CONTAINS`` relationships on packages
with ``filesAnalyzed: false``) is exactly the kind it dislikes. Tag-value goes through spdx-tools'
own grammar, with licence fields blanked first (see :func:`_blank_licences`).

The files section is not read: a file inside an SBOM is covered by the package that owns it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from evict.inventory.interface import Problems
from evict.inventory.sbom._common import (
    Bom,
    SbomInputError,
    SbomLimits,
    SbomSource,
    Skipped,
    actor_name,
    component_observation,
    parse_timestamp,
    platform_of_os,
    platform_of_purls,
    text,
)
from evict.model.observations import Kind, Platform

if TYPE_CHECKING:
    from spdx_tools.spdx.model.document import Document

SUPPORTED_VERSIONS = frozenset({"SPDX-2.0", "SPDX-2.1", "SPDX-2.2", "SPDX-2.3"})
DOCUMENT_ID = "SPDXRef-DOCUMENT"
PURPOSE_AS_PROGRAM = frozenset({"APPLICATION", "FIRMWARE", "INSTALL"})
"""Purposes of a described package that make it the product itself."""
PURPOSE_AS_SUBJECT = frozenset({"CONTAINER", "OPERATING-SYSTEM", "DEVICE", "ARCHIVE", "FILE"})
"""Purposes of a described package that make it the image or device, i.e. the host itself."""
_RELATED = "relatedSpdxElement"
_SYFT_ROOT = "SPDXRef-DocumentRoot-"
"""syft's package for the scanned image or directory (``SPDXRef-DocumentRoot-Image-...``)."""


class SpdxInputError(SbomInputError):
    """An SPDX file that cannot be read."""


@dataclass(frozen=True, slots=True)
class _Package:
    """The fields of one SPDX package that evict reads, from JSON or tag-value alike."""

    spdx_id: str
    name: str
    version: str
    supplier: str
    originator: str
    purpose: str
    """``primaryPackagePurpose`` in its JSON spelling (``OPERATING-SYSTEM``), or empty."""
    purls: tuple[str, ...]
    cpes: tuple[str, ...]
    description: str = ""
    """``description``, else ``summary``."""


@dataclass(slots=True)
class _Document:
    version: str
    name: str
    created: str
    packages: list[_Package]
    described: set[str]


class SpdxSource(SbomSource):
    """SPDX 2.x files, JSON or tag-value, each one host (the document's subject).

    :param paths: SPDX files, or directories holding ``*.spdx.json`` / ``*.spdx`` files.
    :param limits: size and count bounds.
    """

    name: ClassVar[str] = "spdx"
    error: ClassVar[type[SbomInputError]] = SpdxInputError
    suffixes: ClassVar[tuple[str, ...]] = (".spdx.json", ".spdx", ".spdx.tv")

    def __init__(self, paths: Sequence[Path], *, limits: SbomLimits | None = None) -> None:
        super().__init__(paths, limits=limits)

    def parse(self, path: Path, data: bytes, problems: Problems) -> Bom:
        """Read one SPDX file: JSON when it opens with ``{``, tag-value otherwise."""
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        skipped = Skipped()
        if head in (b"{", b"["):
            fmt, doc = "json", self._parse_json(path, data, skipped)
        elif head == b"<":
            raise self.error(
                str(path), "SPDX RDF/XML is not supported; export SPDX JSON or tag-value", line=1
            )
        else:
            fmt, doc = "tag-value", self._parse_tagvalue(path, data)
        if len(doc.packages) > self.limits.max_components:
            raise self.error(
                str(path),
                f"more than {self.limits.max_components:,} packages; refusing",
                where="packages",
            )
        bom = self._bom(doc, fmt)
        skipped.report(problems)
        bom.created = parse_timestamp(doc.created)
        if doc.created and bom.created is None:
            problems.add(f"created {doc.created!r} is not an ISO 8601 time; using mtime")
        return bom

    def _bom(self, doc: _Document, fmt: str) -> Bom:
        """Turn packages into observations, the described package into the host's subject."""
        bom = Bom(subject=doc.name)
        source = f"{self.name}:{fmt}"
        os_names: list[str] = []
        purls: list[str] = []
        for package in doc.packages:
            if package.purpose == "OPERATING-SYSTEM":
                os_names.append(package.name)
            purls.extend(package.purls)
            kind = _kind(package, package.spdx_id in doc.described)
            if kind is None or not package.name:
                continue
            bom.observations.append(
                component_observation(
                    kind,
                    name=package.name,
                    version=package.version,
                    publisher=package.supplier or package.originator,
                    supplier=package.supplier or package.originator,
                    purl=package.purls[0] if package.purls else "",
                    cpes=package.cpes[: self.limits.max_cpes],
                    source=source,
                    description=package.description,
                )
            )
        bom.platform = next(
            (p for p in map(platform_of_os, os_names) if p is not Platform.UNKNOWN),
            platform_of_purls(purls),
        )
        return bom

    # JSON

    def _parse_json(self, path: Path, data: bytes, skipped: Skipped) -> _Document:
        try:
            doc = json.loads(data)
        except json.JSONDecodeError as e:
            raise self.error(
                str(path), f"not valid JSON: {e.msg}", line=e.lineno, where=f"column {e.colno}"
            ) from e
        except RecursionError as e:
            raise self.error(str(path), "JSON nested too deeply to read") from e
        except ValueError as e:  # undecodable bytes, an integer with too many digits
            raise self.error(str(path), f"not valid JSON: {e}") from e
        if not isinstance(doc, dict):
            raise self.error(str(path), "not an SPDX document: the top level is not an object")
        if "@context" in doc and "spdxVersion" not in doc:
            raise self.error(
                str(path),
                "SPDX 3 (JSON-LD) is not supported; export SPDX 2.3 JSON or tag-value",
                where="@context",
            )
        version = text(doc.get("spdxVersion"))
        self._check_version(path, version, where="spdxVersion")
        raw_packages = doc.get("packages", [])
        if not isinstance(raw_packages, list):
            raise self.error(str(path), "packages is not a list", where="packages")
        if len(raw_packages) > self.limits.max_components:
            raise self.error(
                str(path),
                f"more than {self.limits.max_components:,} packages; refusing",
                where="packages",
            )
        packages = []
        for i, raw in enumerate(raw_packages):
            if not isinstance(raw, dict):
                skipped.add("a package that is not an object", f"packages[{i}]")
                continue
            packages.append(_json_package(raw, skipped, f"packages[{i}]"))
        describes = doc.get("documentDescribes")
        described = (
            {d for d in describes if isinstance(d, str)} if isinstance(describes, list) else set()
        )
        relationships = doc.get("relationships") or ()
        if isinstance(relationships, list):
            triples = (
                (
                    text(r.get("spdxElementId")),
                    text(r.get("relationshipType")),
                    text(r.get(_RELATED)),
                )
                for r in relationships
                if isinstance(r, dict)
            )
            described.update(_described(triples))
        info = doc.get("creationInfo")
        created = text(info.get("created")) if isinstance(info, dict) else ""
        return _Document(version, text(doc.get("name")), created, packages, described)

    def _check_version(
        self, path: Path, version: str, *, line: int | None = None, where: str
    ) -> None:
        if not version:
            raise self.error(str(path), "not an SPDX document: no spdxVersion", where=where)
        if version not in SUPPORTED_VERSIONS:
            raise self.error(
                str(path),
                f"unsupported SPDX version {version!r}; evict reads SPDX 2.0 to 2.3",
                line=line,
                where=where,
            )

    # Tag-value

    def _parse_tagvalue(self, path: Path, data: bytes) -> _Document:
        from ply import yacc  # type: ignore[import-untyped]
        from spdx_tools.spdx.parser.error import SPDXParsingError
        from spdx_tools.spdx.parser.tagvalue.parser import Parser

        try:
            document = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise self.error(str(path), "not UTF-8 text", where=f"byte {e.start}") from e
        match = _VERSION_LINE.search(document)
        if match is None:
            raise self.error(
                str(path), "not an SPDX tag-value document: no SPDXVersion line", line=1
            )
        line = document.count("\n", 0, match.start()) + 1
        self._check_version(path, match.group(1).strip(), line=line, where="SPDXVersion")
        self._check_text_blocks(path, document)
        parser = Parser(  # type: ignore[no-untyped-call]
            write_tables=False, debug=False, errorlog=yacc.NullLogger()
        )
        try:
            parsed = parser.parse(_blank_licences(document))  # type: ignore[no-untyped-call]
        except SPDXParsingError as e:
            messages: list[str] = e.get_messages()  # type: ignore[no-untyped-call]
            raise self.error(
                str(path), f"not valid SPDX tag-value: {_first(messages)}", line=_line(messages)
            ) from e
        except Exception as e:
            # NOTE: some malformed lines make spdx-tools' grammar actions fail with a KeyError
            # (a "Relationship" tag without its value, in 0.8.x) instead of SPDXParsingError.
            # Where the lexer stopped is the best place there is.
            stopped = getattr(getattr(parser.lex, "lexer", None), "lineno", None)
            raise self.error(
                str(path),
                f"not valid SPDX tag-value (spdx-tools failed with {type(e).__name__}: {e})",
                line=stopped if isinstance(stopped, int) else None,
            ) from e
        return _tagvalue_document(parsed)

    def _check_text_blocks(self, path: Path, document: str) -> None:
        """Refuse a ``<text>`` block that never closes before the lexer crawls to the end."""
        start = document.find("<text>")
        while start != -1:
            end = document.find("</text>", start)
            if end == -1:
                raise self.error(
                    str(path),
                    "a <text> block is never closed (truncated file?)",
                    line=document.count("\n", 0, start) + 1,
                )
            start = document.find("<text>", end)


_VERSION_LINE = re.compile(r"^[ \t]*SPDXVersion[ \t]*:(.*)$", re.MULTILINE)
_LICENCE_LINE = re.compile(
    r"^([ \t]*(?:PackageLicenseConcluded|PackageLicenseDeclared|PackageLicenseInfoFromFiles"
    r"|LicenseConcluded|LicenseInfoInFile|SnippetLicenseConcluded|LicenseInfoInSnippet)"
    r"[ \t]*:)[^\n]*$",
    re.MULTILINE,
)
_LINE_NUMBER = re.compile(r"\b[Ll]ine:? (\d+)")


def _blank_licences(document: str) -> str:
    """Replace every licence expression with ``NOASSERTION``, keeping the lines where they were.

    evict does not read licences, and spdx-tools builds license_expression's whole SPDX licence
    index again for every expression it parses (tens of milliseconds each): a host image with
    five thousand packages would take minutes on licences alone.
    """
    return _LICENCE_LINE.sub(r"\1 NOASSERTION", document)


def _first(messages: Sequence[str]) -> str:
    return str(messages[0])[:300] if messages else "unknown error"


def _line(messages: Iterable[str]) -> int | None:
    for message in messages:
        match = _LINE_NUMBER.search(str(message))
        if match:
            return int(match.group(1))
    return None


def _described(relationships: Iterable[tuple[str, str, str]]) -> set[str]:
    """The SPDX ids the document describes, from ``DESCRIBES`` / ``DESCRIBED_BY`` relationships."""
    out: set[str] = set()
    for element, kind, related in relationships:
        if kind == "DESCRIBES" and element == DOCUMENT_ID:
            out.add(related)
        elif kind == "DESCRIBED_BY" and related == DOCUMENT_ID:
            out.add(element)
    return out


def _kind(package: _Package, described: bool) -> Kind | None:
    """What a package is on this host: the product, the host itself (None), or a component."""
    if described:
        if package.purpose in PURPOSE_AS_PROGRAM:
            return Kind.PROGRAM
        if package.purpose in PURPOSE_AS_SUBJECT or package.spdx_id.startswith(_SYFT_ROOT):
            return None
    return Kind.SBOM_COMPONENT


def _reference_type(value: str) -> str:
    """``cpe23Type``, or its long form ``http://spdx.org/rdf/references/cpe23Type``, -> key."""
    return value.rpartition("/")[2].casefold()


def _refs(refs: Iterable[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    purls: list[str] = []
    cpes: list[str] = []
    for kind, locator in refs:
        key = _reference_type(kind)
        if not locator:
            continue
        if key == "purl":
            purls.append(locator)
        elif key in ("cpe23type", "cpe22type"):
            cpes.append(locator)
    return tuple(purls), tuple(cpes)


def _json_package(raw: dict[str, object], skipped: Skipped, where: str) -> _Package:
    refs = raw.get("externalRefs") or ()
    pairs: list[tuple[str, str]] = []
    if isinstance(refs, list):
        for ref in refs:
            if isinstance(ref, dict):
                pairs.append((text(ref.get("referenceType")), text(ref.get("referenceLocator"))))
            else:
                skipped.add("an external reference that is not an object", where)
    purls, cpes = _refs(pairs)
    return _Package(
        spdx_id=text(raw.get("SPDXID")),
        name=text(raw.get("name")),
        version=text(raw.get("versionInfo")),
        supplier=actor_name(text(raw.get("supplier"))),
        originator=actor_name(text(raw.get("originator"))),
        purpose=text(raw.get("primaryPackagePurpose")).upper().replace("_", "-"),
        purls=purls,
        cpes=cpes,
        description=text(raw.get("description")) or text(raw.get("summary")),
    )


def _plain_text(value: object) -> str:
    """A tag-value text field (NOASSERTION and NONE are no text)."""
    return value.strip() if isinstance(value, str) else ""


def _tagvalue_document(document: Document) -> _Document:
    # spdx-tools loads its whole model: only when an SPDX file is read
    from spdx_tools.spdx.model.actor import Actor
    from spdx_tools.spdx.model.relationship import RelationshipType

    def actor(value: object) -> str:
        return actor_name(value.name) if isinstance(value, Actor) else ""

    packages = []
    for p in document.packages:
        purls, cpes = _refs((r.reference_type, r.locator) for r in p.external_references)
        purpose = p.primary_package_purpose
        packages.append(
            _Package(
                spdx_id=p.spdx_id,
                name=(p.name or "").strip(),
                version=(p.version or "").strip(),
                supplier=actor(p.supplier),
                originator=actor(p.originator),
                purpose=purpose.name.replace("_", "-") if purpose is not None else "",
                purls=purls,
                cpes=cpes,
                description=_plain_text(p.description) or _plain_text(p.summary),
            )
        )
    names = {
        RelationshipType.DESCRIBES: "DESCRIBES",
        RelationshipType.DESCRIBED_BY: "DESCRIBED_BY",
    }
    described = _described(
        (str(r.spdx_element_id), names.get(r.relationship_type, ""), str(r.related_spdx_element_id))
        for r in document.relationships
    )
    info = document.creation_info
    return _Document(
        version=info.spdx_version,
        name=(info.name or "").strip(),
        created=info.created.isoformat() if info.created else "",
        packages=packages,
        described=described,
    )
