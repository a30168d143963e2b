"""Load the catalog from YAML, validate it, and give it a content hash as its version.

The built-in catalog lives in ``evict/catalog/data``; ``--catalog DIR`` (or ``EVICT_CATALOG``)
adds an organisation's own files on top (local products, replacement policies, extra rules).
Any mistake is reported as ``file:line: entry (id) -> field: problem``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from evict._yaml import first_alias, safe_loader
from evict.catalog.interface import (
    PROTECTION_CATEGORY,
    Blocking,
    Catalog,
    CatalogValidationError,
    Citation,
    Confidence,
    Directive,
    DirectiveID,
    EndpointDecoy,
    Exclusion,
    Leftover,
    Milestone,
    NetworkEndpoint,
    Product,
    ProductID,
    Publisher,
    Question,
    QuestionID,
    Recipe,
    RecipeStep,
    Replacement,
    Rule,
    RuleID,
    SourceRef,
    Vendor,
    VendorID,
)
from evict.catalog.schema import CatalogFileModel
from evict.model.normalize import normalize_many

MAX_FILE_BYTES = 8 * 1024 * 1024
"""A catalog file larger than this is refused: the built-in catalog is a few hundred kilobytes."""


def builtin_catalog_dir() -> Path:
    """The directory of the catalog shipped inside the package."""
    return Path(str(resources.files("evict.catalog") / "data"))


def catalog_files(extra_dirs: Sequence[Path] = ()) -> list[Path]:
    """Every YAML file of the built-in catalog plus ``extra_dirs``, in a stable order."""
    files: list[Path] = []
    for root in (builtin_catalog_dir(), *extra_dirs):
        if root.is_file():
            files.append(root)
            continue
        if not root.is_dir():
            raise CatalogValidationError(f"{root}: no such catalog file or directory")
        files.extend(sorted(p for p in root.rglob("*.y*ml") if p.is_file()))
    return files


def catalog_version(files: Iterable[Path]) -> str:
    """A content hash of the catalog files: same files, same version, on any machine."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def extra_catalog_dirs() -> list[Path]:
    """Directories named by ``EVICT_CATALOG`` (``os.pathsep``-separated)."""
    value = os.environ.get("EVICT_CATALOG", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def load_catalog(extra_dirs: Sequence[Path] = ()) -> Catalog:
    """Read, validate and cross-check the catalog; raise :class:`CatalogValidationError`."""
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml
    from pydantic import ValidationError

    files = catalog_files(extra_dirs)
    models: list[tuple[Path, CatalogFileModel]] = []
    nodes: dict[Path, Any] = {}
    for path in files:
        text = _read_text(path)
        try:
            _refuse_aliases(path, text)
            node = yaml.compose(text, Loader=safe_loader())
            data = yaml.load(text, Loader=safe_loader())
            nodes[path] = node
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise CatalogValidationError(f"{path}{line}: not valid YAML: {e}") from e
        except (ValueError, RecursionError) as e:
            # PyYAML's constructors let Python's own errors through: an integer of more digits
            # than Python converts, or nesting past the interpreter's recursion limit.
            raise CatalogValidationError(f"{path}: not valid YAML: {str(e)[:200]}") from e
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CatalogValidationError(f"{path}:1: the top level must be a mapping")
        try:
            models.append((path, CatalogFileModel.model_validate(data)))
        except ValidationError as e:
            err = e.errors()[0]
            raise CatalogValidationError(
                _describe(path, node, data, tuple(err["loc"]), err["msg"])
            ) from e
    return _build(models, catalog_version(files), nodes)


def _read_text(path: Path) -> str:
    """Read one catalog file as UTF-8, refusing one that is too large or not text."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CatalogValidationError(
                f"{path}: {size} bytes is more than a catalog file may hold ({MAX_FILE_BYTES})"
            )
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CatalogValidationError(f"{path}: not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise CatalogValidationError(f"{path}: cannot be read: {e.strerror or e}") from e


def _refuse_aliases(path: Path, text: str) -> None:
    """Refuse YAML aliases: catalog files never need them, and nested ones expand exponentially
    in anything that walks the loaded data."""
    event = first_alias(text)
    if event is not None:
        line = f":{event.start_mark.line + 1}" if event.start_mark is not None else ""
        raise CatalogValidationError(
            f"{path}{line}: YAML aliases (*{event.anchor}) are not allowed in catalog files"
        )


def _describe(path: Path, node: Any, data: Any, loc: tuple[Any, ...], msg: str) -> str:
    """Say where a validation error is: file, line, entry id and field."""
    line = node.start_mark.line + 1 if node is not None else 1
    entry = ""
    cursor_node, cursor = node, data
    for depth, key in enumerate(loc):
        if isinstance(cursor, dict) and key in cursor:
            cursor = cursor[key]
            cursor_node = _child(cursor_node, key)
        elif isinstance(cursor, list) and isinstance(key, int) and key < len(cursor):
            cursor = cursor[key]
            cursor_node = _child(cursor_node, key)
            if depth == 1 and isinstance(cursor, dict) and "id" in cursor:
                entry = f" ({cursor['id']})"
        else:
            break
        if cursor_node is not None:
            line = cursor_node.start_mark.line + 1
    where = ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in loc).replace(".[", "[")
    if entry:
        head, _, rest = where.partition("].")
        where = f"{head}]{entry} -> {rest}" if rest else f"{where}{entry}"
    return f"{path}:{line}: {where}: {msg}"


def _child(node: Any, key: Any) -> Any:
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    return None


def _sources(items: Sequence[Any]) -> tuple[SourceRef, ...]:
    return tuple(SourceRef(s.title, s.url) for s in items)


def _rule(model: Any) -> Rule:

    return Rule(
        id=RuleID(model.id),
        field=model.field,
        kinds=tuple(k.value for k in model.kinds),
        equals=tuple(normalize_many(model.equals, model.field)) if model.equals else (),
        pattern=model.pattern,
        anchor=model.anchor,
        confidence=Confidence(model.confidence),
        source=model.source,
        note=model.note,
    )


def _step(model: Any) -> RecipeStep:
    return RecipeStep(
        action=model.action,
        source=model.source,
        packages=tuple(model.packages),
        properties=tuple(model.properties.items()),
        run=model.run,
        check=model.check,
        app=model.app,
        managers=tuple(model.managers),
        title=model.title,
        note=model.note,
    )


def _build(
    models: Sequence[tuple[Path, Any]], version: str, nodes: Mapping[Path, Any] | None = None
) -> Catalog:
    seen: dict[str, str] = {}

    def at(path: Path, *loc: str | int) -> str:
        """``file:line`` of the entry at ``loc`` in ``path``, or just the file."""
        node = (nodes or {}).get(path)
        for key in loc:
            node = _child(node, key)
        return f"{path}:{node.start_mark.line + 1}" if node is not None else str(path)

    def unique(kind: str, ident: str, where: str) -> None:
        key = f"{kind}:{ident}"
        if key in seen:
            raise CatalogValidationError(
                f"{where}: {kind} {ident!r} is defined twice (also in {seen[key]})"
            )
        seen[key] = where

    directives: list[Directive] = []
    vendors: list[Vendor] = []
    products: list[Product] = []
    exclusions: list[Exclusion] = []
    recipes: list[Recipe] = []
    replacements: list[Replacement] = []
    blocking: list[Blocking] = []
    extra_rules: list[tuple[str, str, tuple[Rule, ...]]] = []
    extra_endpoints: list[tuple[str, Any]] = []
    decoys: list[EndpointDecoy] = []
    questions: list[Question] = []
    origin: dict[str, str] = {}
    for path, m in models:
        for i, v in enumerate(m.vendors):
            unique("vendor", v.id, at(path, "vendors", i))
            vendors.append(
                Vendor(
                    VendorID(v.id), v.name, tuple(v.aliases), tuple(v.entities), _sources(v.sources)
                )
            )
        for i, d in enumerate(m.directives):
            origin[f"directive:{d.id}"] = at(path, "directives", i)
            unique("directive", d.id, origin[f"directive:{d.id}"])
            directives.append(
                Directive(
                    id=DirectiveID(d.id),
                    title=d.title,
                    authority=d.authority,
                    issued=d.issued,
                    start=d.start or d.issued,
                    vendors=tuple(VendorID(x) for x in d.scope.vendors),
                    embedded=d.scope.embedded,
                    applies_to=d.scope.applies_to,
                    summary=d.summary,
                    milestones=tuple(
                        Milestone(
                            ms.id,
                            ms.name,
                            ms.action,
                            ms.offset_days,
                            ms.date,
                            ms.repeat_days,
                            ms.report,
                        )
                        for ms in d.milestones
                    ),
                    excluded_products=tuple(ProductID(x) for x in d.scope.excluded_products),
                    exceptions=d.exceptions,
                    exception_grounds=tuple(d.exception_grounds),
                    sources=_sources(d.sources),
                )
            )
        for i, p in enumerate(m.products):
            origin[f"product:{p.id}"] = at(path, "products", i)
            unique("product", p.id, origin[f"product:{p.id}"])
            for j, r in enumerate(p.rules):
                unique("rule", r.id, at(path, "products", i, "rules", j))
            products.append(
                Product(
                    id=ProductID(p.id),
                    vendor=VendorID(p.vendor),
                    name=p.name,
                    category=p.category,
                    platforms=tuple(p.platforms),
                    rules=tuple(_rule(r) for r in p.rules),
                    generic=p.generic,
                    description=p.description,
                    sources=_sources(p.sources),
                    aliases=tuple(p.aliases),
                    extra={
                        "removal": p.removal,
                        "leftovers": p.leftovers,
                        "network": [n.model_dump() for n in p.network],
                    },
                    network=tuple(NetworkEndpoint(n.host, n.purpose, n.source) for n in p.network),
                    directives=tuple(DirectiveID(x) for x in p.directives),
                )
            )
        for i, pr in enumerate(m.product_rules):
            where = at(path, "product_rules", i)
            for j, r in enumerate(pr.rules):
                unique("rule", r.id, at(path, "product_rules", i, "rules", j))
            extra_rules.append((where, pr.product, tuple(_rule(r) for r in pr.rules)))
        for i, e in enumerate(m.endpoints):
            extra_endpoints.append((at(path, "endpoints", i), e))
        decoys.extend(EndpointDecoy(d.name, d.reason, d.source) for d in m.endpoint_decoys)
        for i, x in enumerate(m.exclusions):
            origin[f"exclusion:{x.id}"] = at(path, "exclusions", i)
            unique("rule", x.id, origin[f"exclusion:{x.id}"])
            exclusions.append(
                Exclusion(
                    id=RuleID(x.id),
                    rule=_rule(x.rule),
                    reason=x.reason,
                    suppresses_vendors=tuple(VendorID(v) for v in x.suppresses_vendors),
                    suppresses_products=tuple(ProductID(p) for p in x.suppresses_products),
                )
            )

        for i, r in enumerate(m.remediation):
            where = at(path, "remediation", i)
            unique("recipe", f"{r.product}@{r.platform}", where)
            origin[f"recipe:{r.product}@{r.platform}"] = where
            recipes.append(
                Recipe(
                    product=ProductID(r.product),
                    platform=r.platform,
                    remove=tuple(_step(s) for s in r.remove),
                    sources=_sources(r.sources),
                    order=r.order,
                    leftovers=tuple(
                        Leftover(x.kind, x.name, x.source, x.note) for x in r.leftovers
                    ),
                    warnings=tuple(r.warnings),
                )
            )
        for i, r in enumerate(m.replacements):
            where = at(path, "replacements", i)
            unique("replacement", f"{r.product}@{r.platform}", where)
            origin[f"replacement:{r.product}@{r.platform}"] = where
            replacements.append(
                Replacement(
                    product=ProductID(r.product),
                    platform=r.platform,
                    sources=_sources(r.sources),
                    built_in=r.built_in,
                    install=tuple(_step(s) for s in r.install),
                    services=tuple(r.services),
                    packages=tuple(r.packages),
                    running=r.running,
                    takes_over=r.takes_over,
                    enable=r.enable,
                )
            )
        for i, b in enumerate(m.blocking):
            where = at(path, "blocking", i)
            unique("blocking", b.vendor, where)
            origin[f"blocking:{b.vendor}"] = where
            blocking.append(
                Blocking(
                    vendor=VendorID(b.vendor),
                    source=b.source,
                    publishers=tuple(Publisher(x.name, x.source) for x in b.publishers),
                    packages=tuple(b.packages),
                )
            )

        for i, q in enumerate(m.questions):
            origin[f"question:{q.id}"] = at(path, "questions", i)
            unique("question", q.id, origin[f"question:{q.id}"])
            questions.append(
                Question(
                    id=QuestionID(q.id),
                    title=q.title,
                    directives=tuple(DirectiveID(x) for x in q.directives),
                    question=q.question,
                    citations=tuple(
                        Citation(DirectiveID(c.directive), c.quote, _sources([c.source])[0])
                        for c in q.citations
                    ),
                    products=tuple(ProductID(x) for x in q.applies_to.products),
                    vendors=tuple(VendorID(x) for x in q.applies_to.vendors),
                    embedded=q.applies_to.embedded,
                    covered_means=q.covered_means,
                    not_covered_means=q.not_covered_means,
                    note=q.note,
                )
            )

    products = _with_endpoints(products, extra_endpoints)
    vendor_ids = {v.id for v in vendors}
    product_ids = {p.id for p in products}
    if extra_rules:
        added: dict[str, list[Rule]] = {}
        for where, pid, rules in extra_rules:
            if pid not in product_ids:
                raise CatalogValidationError(
                    f"{where}: product_rules ({pid}) -> product: unknown product {pid!r}"
                )
            added.setdefault(pid, []).extend(rules)
        products = [
            dataclasses.replace(p, rules=p.rules + tuple(added[p.id])) if p.id in added else p
            for p in products
        ]
    category = {p.id: p.category for p in products}
    for r in recipes:
        if r.product not in product_ids:
            raise CatalogValidationError(
                f"{origin[f'recipe:{r.product}@{r.platform}']}: remediation ({r.product}) -> "
                f"product: unknown product {r.product!r}"
            )
    for rp in replacements:
        if category.get(rp.product) != PROTECTION_CATEGORY:
            raise CatalogValidationError(
                f"{origin[f'replacement:{rp.product}@{rp.platform}']}: replacements "
                f"({rp.product}) -> product: not a product of category {PROTECTION_CATEGORY!r}"
            )
    for b in blocking:
        if b.vendor not in vendor_ids:
            raise CatalogValidationError(
                f"{origin[f'blocking:{b.vendor}']}: blocking ({b.vendor}) -> vendor: "
                f"unknown vendor {b.vendor!r}"
            )
    for p in products:
        if p.vendor not in vendor_ids:
            raise CatalogValidationError(
                f"{origin['product:' + p.id]}: products ({p.id}) -> vendor: "
                f"unknown vendor {p.vendor!r}"
            )
    for d in directives:
        for vid in d.vendors:
            if vid not in vendor_ids:
                raise CatalogValidationError(
                    f"{origin['directive:' + d.id]}: directives ({d.id}) -> scope.vendors: "
                    f"unknown vendor {vid!r}"
                )
        for pid in d.excluded_products:
            if pid not in product_ids:
                raise CatalogValidationError(
                    f"{origin['directive:' + d.id]}: directives ({d.id}) -> "
                    f"scope.excluded_products: unknown product {pid!r}"
                )
    for x in exclusions:
        for vid in x.suppresses_vendors:
            if vid not in vendor_ids:
                raise CatalogValidationError(
                    f"{origin['exclusion:' + x.id]}: exclusions ({x.id}) -> suppresses_vendors: "
                    f"unknown vendor {vid!r}"
                )
        for pid in x.suppresses_products:
            if pid not in product_ids:
                raise CatalogValidationError(
                    f"{origin['exclusion:' + x.id]}: exclusions ({x.id}) -> "
                    f"suppresses_products: unknown product {pid!r}"
                )
    _check_questions(questions, origin, directives, vendor_ids, product_ids)
    for p in products:
        for did in p.directives:
            if did not in {d.id for d in directives}:
                raise CatalogValidationError(
                    f"{origin['product:' + p.id]}: products ({p.id}) -> directives: "
                    f"unknown directive {did!r}"
                )
    return Catalog(
        version,
        tuple(directives),
        tuple(vendors),
        tuple(products),
        tuple(exclusions),
        recipes=tuple(recipes),
        replacements=tuple(replacements),
        blocking=tuple(blocking),
        endpoint_decoys=tuple(decoys),
        questions=tuple(questions),
    )


def _with_endpoints(products: list[Product], extra: Sequence[tuple[str, Any]]) -> list[Product]:
    """``products`` with the endpoints of ``endpoints:`` sections added to their products."""
    if not extra:
        return products
    by_id = {p.id: i for i, p in enumerate(products)}
    added: dict[int, list[NetworkEndpoint]] = {}
    for where, e in extra:
        index = by_id.get(ProductID(e.product))
        if index is None:
            raise CatalogValidationError(
                f"{where}: endpoints ({e.host}) -> product: unknown product {e.product!r}"
            )
        added.setdefault(index, []).append(NetworkEndpoint(e.host, e.purpose, e.source))
    out = list(products)
    for index, endpoints in added.items():
        p = out[index]
        known = {n.host for n in p.network}
        new = [n for n in endpoints if n.host not in known]
        extra_section = dict(p.extra)
        extra_section["network"] = [
            *p.extra.get("network", []),  # type: ignore[misc]
            *({"host": n.host, "purpose": n.purpose, "source": n.source} for n in new),
        ]
        out[index] = dataclasses.replace(p, network=p.network + tuple(new), extra=extra_section)
    return out


def _check_questions(
    questions: Sequence[Question],
    origin: Mapping[str, str],
    directives: Sequence[Directive],
    vendor_ids: set[VendorID],
    product_ids: set[ProductID],
) -> None:
    """Cross-check questions: known ids, citations of their own directives, no two questions
    answering for the same finding."""
    directive_ids = {d.id for d in directives}
    asked: dict[tuple[str, str, bool | None], str] = {}
    for q in questions:
        where = f"{origin['question:' + q.id]}: questions ({q.id})"
        for did in q.directives:
            if did not in directive_ids:
                raise CatalogValidationError(f"{where} -> directives: unknown directive {did!r}")
        for vid in q.vendors:
            if vid not in vendor_ids:
                raise CatalogValidationError(
                    f"{where} -> applies_to.vendors: unknown vendor {vid!r}"
                )
        for pid in q.products:
            if pid not in product_ids:
                raise CatalogValidationError(
                    f"{where} -> applies_to.products: unknown product {pid!r}"
                )
        for c in q.citations:
            if c.directive not in q.directives:
                raise CatalogValidationError(
                    f"{where} -> citations: {c.directive!r} is not one of the question's "
                    f"directives ({', '.join(q.directives)})"
                )
        missing = set(q.directives) - {c.directive for c in q.citations}
        if missing:
            raise CatalogValidationError(
                f"{where} -> citations: no quoted text for {', '.join(sorted(missing))}"
            )
        for did in q.directives:
            for subject in (*q.products, *(f"vendor:{v}" for v in q.vendors)):
                for embedded in (True, False) if q.embedded is None else (q.embedded,):
                    other = asked.setdefault((did, subject, embedded), q.id)
                    if other != q.id:
                        raise CatalogValidationError(
                            f"{where}: {other} already asks about {subject} under {did}"
                        )
