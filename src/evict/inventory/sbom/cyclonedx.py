"""CycloneDX SBOMs, JSON (1.2-1.6) and XML (any ``http://cyclonedx.org/schema/bom/1.x``).

Parsing does not depend on schema validation: syft and trivy output sometimes strays from the
schema in ways that do not matter for finding software (an unknown component type, a number where
a string belongs), so the reader takes what it can use and ignores the rest. Ask for validation
with ``validate=True`` and schema deviations become problems on the file's status, never failures.

XML is read with defusedxml and refuses any DTD, so entity expansion (billion laughs) and external
entities (XXE) stop before they start. Element names are compared without their namespace.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from xml.etree.ElementTree import ParseError

from evict.inventory.interface import Problems
from evict.inventory.sbom._common import (
    Bom,
    SbomInputError,
    SbomLimits,
    SbomSource,
    Skipped,
    component_observation,
    parse_timestamp,
    platform_of_os,
    platform_of_purls,
    text,
)
from evict.model.observations import Kind, Platform

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_Node = TypeVar("_Node")

SUBJECT_AS_PROGRAM = frozenset({"application", "firmware"})
"""Subject types that are the product itself: a Kaspersky product's own SBOM is the product."""
SUBJECT_AS_COMPONENT = frozenset({"library", "framework"})
"""Subject types that are code meant to be built into something else."""
_NAMESPACE = "http://cyclonedx.org/schema/bom/"


class CycloneDxInputError(SbomInputError):
    """A CycloneDX file that cannot be read."""


@dataclass(frozen=True, slots=True)
class _Fields:
    """The fields of one component that evict reads, from JSON or XML alike."""

    type: str
    name: str
    version: str
    supplier: str
    manufacturer: str
    publisher: str
    author: str
    purl: str
    cpe: str
    description: str = ""

    @property
    def publisher_name(self) -> str:
        """Who published the component, as the ``publisher`` of its observation."""
        return self.supplier or self.manufacturer or self.publisher or self.author

    @property
    def supplier_name(self) -> str:
        """The organisation (or author) that supplied it, as the ``supplier`` identifier."""
        return self.supplier or self.manufacturer or self.author


class _Budget:
    """Counts components across one file's walks and refuses the file past ``limit``."""

    def __init__(self, limit: int, error: type[SbomInputError], path: Path) -> None:
        self.limit = limit
        self.count = 0
        self._error = error
        self._path = path

    def take(self, where: str) -> None:
        """Count one more component, raising once there are more than the limit."""
        self.count += 1
        if self.count > self.limit:
            raise self._error(
                str(self._path), f"more than {self.limit:,} components; refusing", where=where
            )


class CycloneDxSource(SbomSource):
    """CycloneDX files, JSON or XML, each one host (the product or image the SBOM describes).

    :param paths: CycloneDX files, or directories holding ``*.json`` / ``*.xml`` files.
    :param limits: size, depth and count bounds.
    :param validate: also check each file against its CycloneDX schema (needs
        ``cyclonedx-python-lib[validation]``); deviations are reported as problems.
    """

    name: ClassVar[str] = "cyclonedx"
    error: ClassVar[type[SbomInputError]] = CycloneDxInputError
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".xml")

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        limits: SbomLimits | None = None,
        validate: bool = False,
    ) -> None:
        super().__init__(paths, limits=limits)
        self.validate = validate

    def parse(self, path: Path, data: bytes, problems: Problems) -> Bom:
        """Read one CycloneDX file, JSON or XML by its first character."""
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head in (b"{", b"["):
            return self._parse_json(path, data, problems)
        if head == b"<":
            return self._parse_xml(path, data, problems)
        raise self.error(str(path), "neither JSON nor XML; not a CycloneDX BOM", line=1)

    # JSON

    def _parse_json(self, path: Path, data: bytes, problems: Problems) -> Bom:
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
            raise self.error(str(path), "not a CycloneDX BOM: the top level is not an object")
        bom_format = doc.get("bomFormat")
        if bom_format is not None and bom_format != "CycloneDX":
            raise self.error(
                str(path), f"not a CycloneDX BOM: bomFormat is {bom_format!r}", where="bomFormat"
            )
        spec = text(doc.get("specVersion"))
        if bom_format is None and not spec:
            raise self.error(str(path), "not a CycloneDX BOM: no bomFormat or specVersion")
        if spec and not spec.startswith("1."):
            raise self.error(
                str(path), f"unsupported CycloneDX specVersion {spec!r}", where="specVersion"
            )
        components = doc.get("components", [])
        if not isinstance(components, list):
            raise self.error(str(path), "components is not a list", where="components")
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict):
            metadata = {}
        if self.validate:
            self._validate("json", spec or "1.6", data.decode("utf-8", "replace"), problems)
        subject = metadata.get("component")
        return self._read(
            path,
            problems,
            source=f"{self.name}:json",
            subject=subject if isinstance(subject, dict) else None,
            components=components,
            timestamp=text(metadata.get("timestamp")),
            fields=_json_fields,
            children=_json_children,
        )

    # XML

    def _parse_xml(self, path: Path, data: bytes, problems: Problems) -> Bom:
        # only when an XML file is read
        import defusedxml.ElementTree as SafeET
        from defusedxml import DefusedXmlException, DTDForbidden

        try:
            root = SafeET.fromstring(data, forbid_dtd=True)
        except DTDForbidden as e:
            raise self.error(
                str(path),
                "XML declares a DTD, which CycloneDX never needs and which can hide entity "
                "expansion (billion laughs) or external entities (XXE); refused",
                where="DOCTYPE",
            ) from e
        except DefusedXmlException as e:
            raise self.error(str(path), f"XML refused: {e}") from e
        except ParseError as e:
            line, column = e.position
            raise self.error(
                str(path), f"not well-formed XML: {e.msg}", line=line, where=f"column {column}"
            ) from e
        except (LookupError, ValueError) as e:
            # The XML declaration names an encoding expat cannot use (unknown, or UTF-7 and
            # other multi-byte ones): LookupError or ValueError, not ParseError.
            raise self.error(str(path), f"not readable XML: {e}", line=1) from e
        namespace, _, local = root.tag[1:].partition("}") if root.tag[:1] == "{" else ("", "", "")
        if local != "bom" or not namespace.startswith(_NAMESPACE):
            raise self.error(
                str(path),
                f"not a CycloneDX BOM: root element is {root.tag!r}",
                where="root element",
            )
        spec = namespace[len(_NAMESPACE) :]
        if not spec.startswith("1."):
            raise self.error(str(path), f"unsupported CycloneDX namespace {namespace!r}")
        if self.validate:
            self._validate("xml", spec, data.decode("utf-8", "replace"), problems)
        metadata = _child(root, "metadata")
        subject = _child(metadata, "component")
        components = _child(root, "components")
        return self._read(
            path,
            problems,
            source=f"{self.name}:xml",
            subject=subject,
            components=_xml_components(components),
            timestamp=_child_text(metadata, "timestamp"),
            fields=_xml_fields,
            children=_xml_children,
        )

    # Shared

    def _read(
        self,
        path: Path,
        problems: Problems,
        *,
        source: str,
        subject: _Node | None,
        components: Sequence[_Node],
        timestamp: str,
        fields: Callable[[_Node], _Fields | None],
        children: Callable[[_Node], Sequence[_Node]],
    ) -> Bom:
        """Turn the subject and the component tree into a :class:`Bom`."""
        bom = Bom()
        budget = _Budget(self.limits.max_components, self.error, path)
        skipped = Skipped()
        os_names: list[str] = []
        purls: list[str] = []

        def emit(f: _Fields, kind: Kind) -> None:
            if f.type == "operating-system":
                os_names.append(f.name)
            if f.purl:
                purls.append(f.purl)
            bom.observations.append(
                component_observation(
                    kind,
                    name=f.name,
                    version=f.version,
                    publisher=f.publisher_name,
                    supplier=f.supplier_name,
                    purl=f.purl,
                    cpes=(f.cpe,),
                    source=source,
                    description=f.description,
                )
            )

        if subject is not None:
            s = fields(subject)
            # `trivy fs .` names its subject "."; that names neither a product nor a host.
            if s is not None and s.name.strip("./\\"):
                bom.subject, bom.subject_version = s.name, s.version
                if s.type in SUBJECT_AS_PROGRAM:
                    emit(s, Kind.PROGRAM)
                elif s.type in SUBJECT_AS_COMPONENT:
                    emit(s, Kind.SBOM_COMPONENT)
                elif s.type == "operating-system":
                    os_names.append(s.name)
            if s is not None:
                nested = children(subject)
                self._walk(
                    path, nested, "metadata.component", fields, children, emit, budget, skipped
                )
        self._walk(path, components, "", fields, children, emit, budget, skipped)
        skipped.report(problems)
        stamp = parse_timestamp(timestamp)
        if timestamp and stamp is None:
            problems.add(f"metadata.timestamp {timestamp!r} is not an ISO 8601 time; using mtime")
        bom.created = stamp
        bom.platform = _platform(os_names, purls)
        return bom

    def _walk(
        self,
        path: Path,
        roots: Sequence[_Node],
        prefix: str,
        fields: Callable[[_Node], _Fields | None],
        children: Callable[[_Node], Sequence[_Node]],
        emit: Callable[[_Fields, Kind], None],
        budget: _Budget,
        skipped: Skipped,
    ) -> None:
        """Visit every component depth first, without recursion, bounded in depth and count."""
        base = f"{prefix}.components" if prefix else "components"
        stack: list[tuple[_Node, int, int]] = [(n, 1, i) for i, n in enumerate(roots)][::-1]
        while stack:
            node, depth, top = stack.pop()
            where = f"{base}[{top}]" if depth == 1 else f"{base}[{top}], {depth} levels down"
            if depth > self.limits.max_depth:
                raise self.error(
                    str(path),
                    f"components nested more than {self.limits.max_depth} deep; refusing",
                    where=where,
                )
            budget.take(where)
            f = fields(node)
            if f is None:
                skipped.add("a component that is not an object", where)
                continue
            # A "file" component is a file on disk (syft wraps a directory scan in one); its
            # children are software, the file itself is not.
            if f.type != "file":
                if f.name:
                    emit(f, Kind.SBOM_COMPONENT)
                else:
                    skipped.add("a component without a name", where)
            kids = children(node)
            stack.extend((k, depth + 1, top) for k in reversed(kids))

    def _validate(self, fmt: str, spec: str, document: str, problems: Problems) -> None:
        """Check ``document`` against the CycloneDX ``spec`` schema; deviations become problems."""
        # cyclonedx-python-lib and its schemas: only when a CycloneDX file is read
        from cyclonedx.exception import MissingOptionalDependencyException
        from cyclonedx.schema import OutputFormat, SchemaVersion
        from cyclonedx.validation import make_schemabased_validator

        try:
            version = SchemaVersion.from_version(spec)
        except ValueError:
            problems.add(f"not validated: no schema for CycloneDX {spec}")
            return
        output = OutputFormat.JSON if fmt == "json" else OutputFormat.XML
        try:
            error = make_schemabased_validator(output, version).validate_str(document)
        except MissingOptionalDependencyException:
            problems.add("not validated: install cyclonedx-python-lib[validation]")
            return
        if error is not None:
            problems.add(f"does not conform to the CycloneDX {spec} schema: {_describe(error)}")


def _describe(error: object) -> str:
    """One short line for a schema error from jsonschema or lxml (their str() runs to pages)."""
    data: Any = getattr(error, "data", error)
    message = str(getattr(data, "message", "") or data).splitlines()[0][:300]
    if getattr(data, "json_path", None):
        return f"{message} (at {data.json_path})"
    if getattr(data, "line", None):
        return f"{message} (line {data.line})"
    return message


def _platform(os_names: Iterable[str], purls: Iterable[str]) -> Platform:
    for name in os_names:
        platform = platform_of_os(name)
        if platform is not Platform.UNKNOWN:
            return platform
    return platform_of_purls(purls)


def _entity_name(value: object) -> str:
    """``supplier`` / ``manufacturer`` (an organizational entity) -> its name."""
    return text(value.get("name")) if isinstance(value, dict) else ""


def _first_author(value: object) -> str:
    """CycloneDX 1.6 ``authors`` (organizational contacts) -> the first name given."""
    if isinstance(value, list):
        for author in value:
            name = _entity_name(author)
            if name:
                return name
    return ""


def _json_fields(node: object) -> _Fields | None:
    if not isinstance(node, dict):
        return None
    return _Fields(
        type=text(node.get("type")),
        name=text(node.get("name")),
        version=text(node.get("version")),
        supplier=_entity_name(node.get("supplier")),
        manufacturer=_entity_name(node.get("manufacturer")),
        publisher=text(node.get("publisher")),
        author=text(node.get("author")) or _first_author(node.get("authors")),
        purl=text(node.get("purl")),
        cpe=text(node.get("cpe")),
        description=text(node.get("description")),
    )


def _json_children(node: object) -> Sequence[object]:
    if isinstance(node, dict):
        kids = node.get("components")
        if isinstance(kids, list):
            return kids
    return ()


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _child_text(element: Element | None, name: str) -> str:
    child = _child(element, name)
    return (child.text or "").strip() if child is not None else ""


def _xml_components(container: Element | None) -> list[Element]:
    if container is None:
        return []
    return [c for c in container if _local(c.tag) == "component"]


def _xml_fields(node: Element) -> _Fields | None:
    if _local(node.tag) != "component":
        return None
    authors = _child(node, "authors")
    first_author = ""
    if authors is not None:
        first_author = next(
            (t for a in authors if (t := _child_text(a, "name"))),
            "",
        )
    return _Fields(
        type=(node.get("type") or "").strip(),
        name=_child_text(node, "name"),
        version=_child_text(node, "version"),
        supplier=_child_text(_child(node, "supplier"), "name"),
        manufacturer=_child_text(_child(node, "manufacturer"), "name"),
        publisher=_child_text(node, "publisher"),
        author=_child_text(node, "author") or first_author,
        purl=_child_text(node, "purl"),
        cpe=_child_text(node, "cpe"),
        description=_child_text(node, "description"),
    )


def _xml_children(node: Element) -> Sequence[Element]:
    return _xml_components(_child(node, "components"))
