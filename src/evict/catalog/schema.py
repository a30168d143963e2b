"""The shape of the catalog's YAML files, checked on load.

Every model forbids unknown keys, so a misspelt field is an error rather than a silently ignored
rule. :func:`evict.catalog.loader.load_catalog` turns these into the frozen types of
:mod:`evict.catalog.interface`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evict.model.normalize import normalize
from evict.model.observations import Ident, Kind

_ID = r"^[a-z0-9][a-z0-9.\-]*$"
RULE_FIELDS = {"name", "publisher", *(i.value for i in Ident)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceModel(_Strict):
    """A citation: a title (repository and path, or document name) and an optional URL."""

    title: str = Field(min_length=3)
    url: str = ""


class MilestoneModel(_Strict):
    """A dated step of a directive."""

    id: str = Field(pattern=_ID)
    name: str
    action: str
    offset_days: int | None = Field(default=None, ge=0)
    date: dt.date | None = None
    repeat_days: int | None = Field(default=None, gt=0)
    report: str = ""

    @model_validator(mode="after")
    def _one_clock(self) -> MilestoneModel:
        if (self.offset_days is None) == (self.date is None):
            raise ValueError("give exactly one of offset_days and date")
        return self


class ScopeModel(_Strict):
    """What a directive covers."""

    vendors: list[str] = Field(min_length=1)
    embedded: bool
    excluded_products: list[str] = []
    applies_to: str


class DirectiveModel(_Strict):
    """A directive with its clock."""

    id: str = Field(pattern=_ID)
    title: str
    authority: str
    issued: dt.date
    start: dt.date | None = None
    summary: str
    scope: ScopeModel
    milestones: list[MilestoneModel] = Field(min_length=1)
    exceptions: str = ""
    exception_grounds: list[str] = []
    """The only grounds an exception (waiver) may be granted on; empty: none are listed, and a
    waiver needs none."""
    sources: list[SourceModel] = Field(min_length=1)


class VendorModel(_Strict):
    """A covered vendor."""

    id: str = Field(pattern=_ID)
    name: str
    aliases: list[str] = []
    entities: list[str] = []
    sources: list[SourceModel] = []


class RuleModel(_Strict):
    """One recognition rule."""

    id: str = Field(pattern=_ID)
    field: str
    kinds: list[Kind] = []
    equals: list[str] = []
    pattern: str = ""
    anchor: str = ""
    confidence: Literal["high", "medium", "low"] = "high"
    source: str = Field(min_length=3)
    note: str = ""

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in RULE_FIELDS:
            raise ValueError(f"unknown field {value!r}; one of {', '.join(sorted(RULE_FIELDS))}")
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> RuleModel:
        if bool(self.equals) == bool(self.pattern):
            raise ValueError("give exactly one of equals and pattern")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as e:
                raise ValueError(f"pattern does not compile: {e}") from e
            if not self.anchor:
                raise ValueError("a pattern needs an anchor: a literal every match contains")
            if normalize(self.anchor, self.field) != self.anchor:
                raise ValueError(
                    f"anchor {self.anchor!r} is not normalised "
                    f"(expected {normalize(self.anchor, self.field)!r})"
                )
        for value in self.equals:
            if not normalize(value, self.field):
                raise ValueError(f"equals value {value!r} is empty once normalised")
        return self


class ExclusionModel(_Strict):
    """A decoy that must not be reported as a covered product."""

    id: str = Field(pattern=_ID)
    reason: str
    rule: RuleModel
    suppresses_vendors: list[str] = []
    suppresses_products: list[str] = []

    @model_validator(mode="after")
    def _suppresses_something(self) -> ExclusionModel:
        if not self.suppresses_vendors and not self.suppresses_products:
            raise ValueError("an exclusion must name the vendors or products it suppresses")
        return self


_HOST = r"^(\*\.)?[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)+$"


class NetworkModel(_Strict):
    """A network endpoint a product talks to: what DNS, hosts and proxy deny lists block."""

    host: str = Field(pattern=_HOST)
    """A host name, or ``*.domain`` for every name below a domain."""
    purpose: str = Field(min_length=3)
    source: str = Field(min_length=3)


class ProductModel(_Strict):
    """A covered product with its rules and, for later stages, removal data."""

    id: str = Field(pattern=_ID)
    vendor: str
    name: str
    category: str
    platforms: list[str] = []
    generic: bool = False
    description: str = ""
    aliases: list[str] = []
    sources: list[SourceModel] = []
    rules: list[RuleModel] = Field(min_length=1)
    removal: list[dict[str, Any]] = []
    leftovers: list[dict[str, Any]] = []
    network: list[NetworkModel] = []
    directives: list[str] = []
    """When given, the only directives that can reach this product (its vendor's others do
    not): for a product only a scope question raises."""


class CitationModel(_Strict):
    """A directive's own words, quoted, with the source they were read from."""

    directive: str = Field(pattern=_ID)
    quote: str = Field(min_length=10)
    source: SourceModel


class QuestionScopeModel(_Strict):
    """Which findings raise a question: products by id or by vendor, optionally embedded only."""

    products: list[str] = []
    vendors: list[str] = []
    embedded: bool | None = None

    @model_validator(mode="after")
    def _names_something(self) -> QuestionScopeModel:
        if not self.products and not self.vendors:
            raise ValueError("a question applies to some products or vendors: name them")
        return self


class QuestionModel(_Strict):
    """A question of scope a directive's text leaves open, with the text that leaves it open."""

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=3)
    directives: list[str] = Field(min_length=1)
    applies_to: QuestionScopeModel
    question: str = Field(min_length=20)
    covered_means: str = ""
    not_covered_means: str = ""
    citations: list[CitationModel] = Field(min_length=1)
    note: str = ""


class RecipeStepModel(_Strict):
    """One action of a removal recipe or a replacement's installation.

    ``package-remove`` and ``package-install`` name packages the host's package manager (apt,
    dnf, zypper) handles; ``msi-uninstall`` removes a Windows Installer product by the product
    code read from the host's own inventory, passing ``properties`` (MSI property -> the name
    of the environment variable holding its value, for password-protected uninstalls);
    ``command`` runs a vendor's documented tool (``run``) and is done when ``check`` succeeds
    (POSIX sh on Linux and macOS, PowerShell on Windows); ``mdm-remove`` asks the device
    management service to remove a mobile app.
    """

    action: Literal["package-remove", "package-install", "msi-uninstall", "command", "mdm-remove"]
    packages: list[str] = []
    properties: dict[str, str] = {}
    run: str = ""
    check: str = ""
    app: str = ""
    """``mdm-remove``: the app's package name or bundle id."""
    managers: list[Literal["apt", "dnf", "zypper"]] = []
    """Package managers this step applies to (empty: every one)."""
    title: str = ""
    note: str = ""
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _complete(self) -> RecipeStepModel:
        if self.action in ("package-remove", "package-install") and not self.packages:
            raise ValueError(f"{self.action} needs packages")
        if self.action == "command" and not (self.run and self.check):
            raise ValueError("a command needs run and check")
        if self.action == "mdm-remove" and not self.app:
            raise ValueError("mdm-remove needs app")
        for name, variable in self.properties.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or not re.fullmatch(
                r"[A-Z][A-Z0-9_]*", variable
            ):
                raise ValueError(
                    f"property {name!r}: MSI property and environment variable names are "
                    "upper-case words"
                )
        return self


class LeftoverModel(_Strict):
    """Something a product leaves behind that must be gone after its removal."""

    kind: Literal[
        "service", "driver", "kernel_module", "certificate", "browser_extension",
        "scheduled_task", "path",
    ]  # fmt: skip
    name: str = Field(min_length=1)
    """Service or unit name, driver or module name, certificate common name, extension id,
    task name, or an absolute path."""
    note: str = ""
    source: str = Field(min_length=3)


class RecipeModel(_Strict):
    """How to remove one covered product from one platform, and what it leaves behind."""

    product: str = Field(pattern=_ID)
    platform: Literal["windows", "linux", "macos", "android", "ios"]
    order: int = Field(default=50, ge=0, le=100)
    """Removal order among the products on one host: lower first (an endpoint product before
    the management agent that administers it)."""
    remove: list[RecipeStepModel] = Field(min_length=1)
    leftovers: list[LeftoverModel] = []
    warnings: list[str] = []
    sources: list[SourceModel] = Field(min_length=1)


class ReplacementModel(_Strict):
    """How to install (or enable) an approved protection product, and how to see it running."""

    product: str = Field(pattern=_ID)
    platform: Literal["windows", "linux", "macos", "android", "ios"]
    built_in: bool = False
    """Part of the operating system: a plan may enable it without the policy naming it."""
    install: list[RecipeStepModel] = []
    services: list[str] = []
    """Services (units, Windows services, launchd labels) that run while it protects."""
    packages: list[str] = []
    """Packages whose presence shows it installed (used where services cannot be asked)."""
    running: str = ""
    """A command that succeeds only while it protects (overrides the service check)."""
    takes_over: bool = False
    """Turns itself on once the other antivirus is gone (Defender on Windows): a plan checks it
    is installed before the removal and protecting right after it."""
    enable: str = ""
    """For one that takes over: the command that switches it on if it did not by itself."""
    sources: list[SourceModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _checkable(self) -> ReplacementModel:
        if not self.services and not self.running:
            raise ValueError("give services or running: how to confirm it protects")
        return self


class PublisherModel(_Strict):
    """A code-signing subject as AppLocker's publisher conditions name it."""

    name: str = Field(pattern=r"^(CN|O)=.+")
    source: str = Field(min_length=3)


class BlockingModel(_Strict):
    """What a vendor's "discontinue future use" outputs need beyond the product rules."""

    vendor: str = Field(pattern=_ID)
    publishers: list[PublisherModel] = []
    packages: list[str] = []
    """Extra package names or globs (``kesl*``) to pin away and exclude."""
    source: str = Field(min_length=3)


class ProductRulesModel(_Strict):
    """Rules added to a product defined in another file (the generated rules, an
    organisation's local additions)."""

    product: str = Field(pattern=_ID)
    rules: list[RuleModel] = Field(min_length=1)


class EndpointModel(NetworkModel):
    """A network endpoint kept apart from its product (``endpoints/*.yaml``)."""

    product: str = Field(pattern=_ID)


class EndpointDecoyModel(_Strict):
    """A host name that looks like a vendor's but is not one: it must never match."""

    name: str = Field(min_length=3)
    reason: str = Field(min_length=3)
    source: str = Field(min_length=3)


class CatalogFileModel(_Strict):
    """One YAML file of the catalog: any of its sections."""

    directives: list[DirectiveModel] = []
    vendors: list[VendorModel] = []
    products: list[ProductModel] = []
    product_rules: list[ProductRulesModel] = []
    exclusions: list[ExclusionModel] = []
    remediation: list[RecipeModel] = []
    replacements: list[ReplacementModel] = []
    blocking: list[BlockingModel] = []
    endpoints: list[EndpointModel] = []
    endpoint_decoys: list[EndpointDecoyModel] = []
    questions: list[QuestionModel] = []
