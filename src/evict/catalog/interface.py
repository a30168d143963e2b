"""The catalog: directives, vendors, covered products and the rules that recognise them.

These are the runtime types, frozen and cheap to load. The YAML files under ``catalog/data`` are
validated against :mod:`evict.catalog.schema` and converted into these by
:func:`evict.catalog.loader.load_catalog`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NewType, Protocol, TypeVar

from evict.errors import EvictError

DirectiveID = NewType("DirectiveID", str)
ProductID = NewType("ProductID", str)
VendorID = NewType("VendorID", str)
RuleID = NewType("RuleID", str)
QuestionID = NewType("QuestionID", str)


class Confidence(enum.StrEnum):
    """How sure a rule is that its match means the product is present."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Order for comparisons: high > medium > low."""
        return {"high": 3, "medium": 2, "low": 1}[self.value]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a fact in the catalog comes from."""

    title: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class Milestone:
    """One dated step of a directive: identify, report, plan, begin removal, ...

    Exactly one of ``offset_days`` (from the directive's or the organisation's start date) and
    ``date`` (a fixed calendar date) is set. ``repeat_days`` makes it recur after its first due
    date (BOD 17-01's status report every 30 days after day 90).
    """

    id: str
    name: str
    action: str
    offset_days: int | None = None
    date: dt.date | None = None
    repeat_days: int | None = None
    report: str = ""
    """The report this milestone asks for (a key understood by :mod:`evict.report`)."""

    def first_due(self, start: dt.date) -> dt.date:
        """The first due date, given the clock's start date."""
        if self.date is not None:
            return self.date
        assert self.offset_days is not None
        return start + dt.timedelta(days=self.offset_days)


@dataclass(frozen=True, slots=True)
class Directive:
    """A ban with a clock: who issued it, what it covers, and its milestones."""

    id: DirectiveID
    title: str
    authority: str
    issued: dt.date
    start: dt.date
    """The day the milestone offsets count from (usually ``issued``)."""
    vendors: tuple[VendorID, ...]
    embedded: bool
    """Whether code embedded in other vendors' products is covered."""
    applies_to: str
    summary: str
    milestones: tuple[Milestone, ...]
    excluded_products: tuple[ProductID, ...] = ()
    exceptions: str = ""
    exception_grounds: tuple[str, ...] = ()
    """The only grounds a waiver may be granted on (OMB M-23-13's three); empty: unrestricted."""
    sources: tuple[SourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Vendor:
    """A company whose software a directive covers, with the names it goes by."""

    id: VendorID
    name: str
    aliases: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    sources: tuple[SourceRef, ...] = ()


class RuleField(enum.StrEnum):
    """The observation field a rule reads (besides the identifiers, which use their own keys)."""

    NAME = "name"
    PUBLISHER = "publisher"


@dataclass(frozen=True, slots=True)
class Rule:
    """One way to recognise a product in an observation.

    ``equals`` values are compared after normalisation (exact-key index); a ``pattern`` is a
    regular expression over the normalised value, tried only where its literal ``anchor`` occurs
    (multi-pattern automaton).
    """

    id: RuleID
    field: str
    """``name``, ``publisher``, or an identifier key (see :class:`evict.inventory.Ident`)."""
    kinds: tuple[str, ...]
    """Observation kinds this rule applies to; empty means any."""
    equals: tuple[str, ...] = ()
    pattern: str = ""
    anchor: str = ""
    confidence: Confidence = Confidence.HIGH
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A known look-alike: when it fires on an observation, the listed products do not."""

    id: RuleID
    rule: Rule
    reason: str
    suppresses_vendors: tuple[VendorID, ...] = ()
    suppresses_products: tuple[ProductID, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkEndpoint:
    """A host name (or ``*.domain``) a product talks to, with what for and where that is known."""

    host: str
    purpose: str
    source: str


@dataclass(frozen=True, slots=True)
class EndpointDecoy:
    """A host name that looks like a covered vendor's but is not: matching must pass it by."""

    name: str
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class Product:
    """A covered product (or product family) and its recognition rules."""

    id: ProductID
    vendor: VendorID
    name: str
    category: str
    platforms: tuple[str, ...]
    rules: tuple[Rule, ...]
    generic: bool = False
    """A catch-all ("Kaspersky software") reported only when no specific product matches."""
    description: str = ""
    sources: tuple[SourceRef, ...] = ()
    aliases: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    """Sections later stages read (removal recipes, leftovers, network endpoints)."""
    network: tuple[NetworkEndpoint, ...] = ()
    """Network endpoints: what DNS, hosts-file and proxy deny lists block."""
    directives: tuple[DirectiveID, ...] = ()
    """When given, the only directives that can reach this product (a product only some of its
    vendor's directives name, or only a scope question raises); empty: every one."""


PROTECTION_CATEGORY = "protection"
"""The category of approved protection products (antivirus, EDR): replacements, not bans."""

PROTECTIVE_CATEGORIES = frozenset({"endpoint-protection", "server-protection", "mobile-security"})
"""Categories of covered products that protect the host: removing one needs a replacement."""


@dataclass(frozen=True, slots=True)
class RecipeStep:
    """One action of a removal recipe or of a replacement's installation.

    ``action`` is ``package-remove``, ``package-install``, ``msi-uninstall``, ``command`` or
    ``mdm-remove`` (see :class:`evict.catalog.schema.RecipeStepModel`).
    """

    action: str
    source: str
    packages: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    """MSI property -> the environment variable that holds its value."""
    run: str = ""
    check: str = ""
    app: str = ""
    managers: tuple[str, ...] = ()
    """Package managers this step applies to (empty: every one)."""
    title: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Leftover:
    """Something a product leaves behind that must be gone after its removal."""

    kind: str
    name: str
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Recipe:
    """How to remove one covered product from one platform, and what to check after."""

    product: ProductID
    platform: str
    remove: tuple[RecipeStep, ...]
    sources: tuple[SourceRef, ...]
    order: int = 50
    """Removal order among the products of one host: lower first."""
    leftovers: tuple[Leftover, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Replacement:
    """How to install or enable an approved protection product, and how to see it protect."""

    product: ProductID
    platform: str
    sources: tuple[SourceRef, ...]
    built_in: bool = False
    install: tuple[RecipeStep, ...] = ()
    services: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    running: str = ""
    takes_over: bool = False
    """Turns itself on once the other antivirus is gone: confirmed right after the removal."""
    enable: str = ""
    """For one that takes over: the command that switches it on if it did not by itself."""


@dataclass(frozen=True, slots=True)
class Publisher:
    """A code-signing subject as AppLocker's publisher conditions name it."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class Blocking:
    """A vendor's code-signing subjects and package globs for "discontinue future use"."""

    vendor: VendorID
    source: str
    publishers: tuple[Publisher, ...] = ()
    packages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Citation:
    """A directive's own words, quoted, with where they were read."""

    directive: DirectiveID
    quote: str
    source: SourceRef


@dataclass(frozen=True, slots=True)
class Question:
    """A question of scope the directive's text does not settle, for an organisation to answer.

    A finding it applies to (a directive, and a product by id or by vendor, optionally only when
    the product is embedded in another vendor's code) is neither ``identified`` nor ``clean``
    but needs a determination: the organisation records once, fleet-wide, whether it is covered.
    """

    id: QuestionID
    title: str
    directives: tuple[DirectiveID, ...]
    question: str
    citations: tuple[Citation, ...]
    products: tuple[ProductID, ...] = ()
    vendors: tuple[VendorID, ...] = ()
    embedded: bool | None = None
    """Only findings whose evidence is (True) or is not (False) embedded code; None: either."""
    covered_means: str = ""
    """What answering "covered" commits the organisation to, in words."""
    not_covered_means: str = ""
    """What answering "not covered" commits the organisation to, in words."""
    note: str = ""

    def applies(self, directive: str, product: Product, *, embedded: bool) -> bool:
        """Whether a finding of ``product`` under ``directive`` raises this question."""
        return (
            directive in self.directives
            and (product.id in self.products or product.vendor in self.vendors)
            and (self.embedded is None or self.embedded == embedded)
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """The whole catalog, with a content hash as its version."""

    version: str
    directives: tuple[Directive, ...]
    vendors: tuple[Vendor, ...]
    products: tuple[Product, ...]
    exclusions: tuple[Exclusion, ...]
    recipes: tuple[Recipe, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    blocking: tuple[Blocking, ...] = ()
    endpoint_decoys: tuple[EndpointDecoy, ...] = ()
    """Look-alike host names the network matcher must not take for an endpoint."""
    questions: tuple[Question, ...] = ()
    """Questions of scope: findings they apply to need an organisation's determination."""

    def recipe(self, product_id: str, platform: str) -> Recipe | None:
        """The removal recipe of a product on a platform, if the catalog has one."""
        for r in self.recipes:
            if r.product == product_id and r.platform == platform:
                return r
        return None

    def replacement(self, product_id: str, platform: str) -> Replacement | None:
        """How to install an approved protection product on a platform, if the catalog says."""
        for r in self.replacements:
            if r.product == product_id and r.platform == platform:
                return r
        return None

    def protection_products(self) -> tuple[Product, ...]:
        """Every approved-protection product (category ``protection``)."""
        return tuple(p for p in self.products if p.category == PROTECTION_CATEGORY)

    def directive(self, directive_id: str) -> Directive:
        """Look a directive up by id, ignoring case; :class:`CatalogLookupError` if unknown."""
        return _lookup(self.directives, directive_id, "directive")

    def product(self, product_id: str) -> Product:
        """Look a product up by id, ignoring case; :class:`CatalogLookupError` if unknown."""
        return _lookup(self.products, product_id, "product")

    def vendor(self, vendor_id: str) -> Vendor:
        """Look a vendor up by id, ignoring case; :class:`CatalogLookupError` if unknown."""
        return _lookup(self.vendors, vendor_id, "vendor")

    def directives_for(self, product: Product, *, embedded: bool) -> list[Directive]:
        """The directives that cover ``product``; embedded-only presence needs ``embedded``."""
        return [
            d
            for d in self.directives
            if product.vendor in d.vendors
            and product.id not in d.excluded_products
            and (d.embedded or not embedded)
            and (not product.directives or d.id in product.directives)
        ]

    def question(self, question_id: str) -> Question:
        """Look a question of scope up by id, ignoring case; :class:`CatalogLookupError` if
        unknown."""
        return _lookup(self.questions, question_id, "question")

    def reach(self, product: Product, *, embedded: bool) -> list[tuple[Directive, Question | None]]:
        """Every directive a finding of ``product`` falls under, with the question it raises.

        A question takes precedence over the catalog's own reading of the scope: it applies
        whether or not :meth:`directives_for` covers the product (a product a directive's scope
        excludes, or embedded code a directive does not address, can still raise one).
        """
        covered = {d.id for d in self.directives_for(product, embedded=embedded)}
        out: list[tuple[Directive, Question | None]] = []
        for d in self.directives:
            if product.vendor not in d.vendors:
                continue
            if product.directives and d.id not in product.directives:
                continue
            asked = next(
                (q for q in self.questions if q.applies(d.id, product, embedded=embedded)), None
            )
            if asked is not None or d.id in covered:
                out.append((d, asked))
        return out


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Entry = TypeVar("_Entry", bound=_HasId)


def _lookup(items: Sequence[_Entry], wanted: str, what: str) -> _Entry:
    """The entry whose id is ``wanted`` (case ignored), or an error that suggests near ids."""
    for item in items:
        if item.id == wanted:
            return item
    folded = wanted.casefold()
    for item in items:
        if item.id.casefold() == folded:
            return item
    raise CatalogLookupError(
        f"no {what} {wanted!r} in the catalog" + did_you_mean(wanted, [i.id for i in items])
    )


def did_you_mean(wanted: str, ids: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the ids closest to ``wanted``, or ``""`` if none is close."""
    ids = list(ids)
    close = difflib.get_close_matches(wanted.casefold(), [i.casefold() for i in ids], n=3)
    by_folded = {i.casefold(): i for i in ids}
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(by_folded[c]) for c in close) + "?"


class CatalogError(EvictError):
    """Base error of the catalog."""


class CatalogLookupError(CatalogError):
    """An id that is not in the catalog."""


class CatalogValidationError(CatalogError):
    """A catalog file with a mistake: names the file, the entry and the field."""
