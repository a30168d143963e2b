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

from evict.inventory.interface import Ident, Kind
from evict.matching.normalize import normalize

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
    network: list[dict[str, Any]] = []


class CatalogFileModel(_Strict):
    """One YAML file of the catalog: any of the four sections."""

    directives: list[DirectiveModel] = []
    vendors: list[VendorModel] = []
    products: list[ProductModel] = []
    exclusions: list[ExclusionModel] = []
