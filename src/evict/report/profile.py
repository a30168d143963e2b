"""The organisation profile: what only the organisation knows and its reports must state.

BOD 17-01's plan of action asks for a point of contact, the mission functions of the endpoints
affected, the agreements with Kaspersky, costs; FAR 52.204-23 asks for contract and order
numbers; M-23-13 lets only the agency head or a designee approve an exception. None of that is in
an inventory, so it comes from a YAML file (``--profile agency.yaml``; every key is optional and
documented in docs/reports.md). A key left out is reported as ``NOT PROVIDED``; an empty list
(``vendor_agreements: []``) is an answer: there are none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from evict._yaml import read_small_yaml, safe_loader
from evict.report.interface import ProfileError

MAX_PROFILE_BYTES = 1024 * 1024
"""A profile larger than this is refused: a real one is a page of text."""

MAX_TEXT = 20_000
"""The longest text one profile value may hold."""


@dataclass(frozen=True, slots=True)
class Contact:
    """A point of contact (BOD 17-01 §2.b)."""

    name: str | None = None
    telephone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    """A contract, service-level agreement or other agreement with the banned vendor (§2.h)."""

    description: str
    kind: str = "contract"
    reference: str = ""
    ends: str = ""


@dataclass(frozen=True, slots=True)
class Costs:
    """Costs of licences, maintenance and replacement (§2.n), as the organisation states them."""

    licenses: str | None = None
    maintenance: str | None = None
    replacement: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract with FAR 52.204-23 in it: where a covered article must be reported."""

    number: str
    orders: tuple[str, ...] = ()
    contracting_officer: str = ""
    org_units: tuple[str, ...] = ()
    """The org units working under it; empty means every one."""


@dataclass(frozen=True, slots=True)
class FarNotes:
    """What a contractor's FAR 52.204-23 reports say beyond the items found."""

    mitigation: str | None = None
    further_mitigation: str | None = None
    prevention_efforts: str | None = None
    reasons_for_use: str | None = None
    additional_prevention: str | None = None
    initial_reported: dt.date | None = None
    """The day the initial report was made; the follow-up is due 10 business days after."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything an organisation states for its reports; every field optional."""

    agency: str | None = None
    poc: Contact = Contact()
    mission_functions: Mapping[str, str] = field(default_factory=dict)
    """Per org unit: the mission function of its endpoints and systems (§2.g)."""
    vendor_agreements: tuple[Agreement, ...] | None = None
    """None: not stated; empty: there are none."""
    removal_timeline: str | None = None
    replacements: str | None = None
    replacement_timeline: str | None = None
    challenges: tuple[str, ...] | None = None
    costs: Costs = Costs()
    exception_approvers: tuple[str, ...] | None = None
    """The agency head and designees who may approve an exception (M-23-13)."""
    contractor: str | None = None
    contracts: tuple[Contract, ...] | None = None
    far: FarNotes = FarNotes()

    def to_json(self) -> dict[str, object]:
        """Render as the data :func:`profile_from_data` reads (a server request's body)."""

        return dict(json.loads(json.dumps(dataclasses.asdict(self), default=str)))


# -- validation -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """Numbers are text here (a cost, a telephone number); text is bounded."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, dt.date):
        value = value.isoformat()
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    return value


class _Texts(_Model):
    @field_validator("*", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_text(v) for v in value]
        if isinstance(value, dict):
            return value
        return _text(value)


class _Contact(_Texts):
    name: str | None = None
    telephone: str | None = None
    email: str | None = None


class _Agreement(_Texts):
    description: str
    kind: str = "contract"
    reference: str = ""
    ends: str = ""


class _Costs(_Texts):
    licenses: str | None = None
    maintenance: str | None = None
    replacement: str | None = None
    notes: str | None = None


class _Contract(_Texts):
    number: str
    orders: list[str] = []
    contracting_officer: str = ""
    org_units: list[str] = []


class _Far(_Texts):
    mitigation: str | None = None
    further_mitigation: str | None = None
    prevention_efforts: str | None = None
    reasons_for_use: str | None = None
    additional_prevention: str | None = None
    initial_reported: dt.date | None = None

    @field_validator("initial_reported", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value


class _Profile(_Texts):
    agency: str | None = None
    poc: _Contact = _Contact()
    mission_functions: dict[str, str] = {}
    vendor_agreements: list[_Agreement] | None = None
    removal_timeline: str | None = None
    replacements: str | None = None
    replacement_timeline: str | None = None
    challenges: list[str] | None = None
    costs: _Costs = _Costs()
    exception_approvers: list[str] | None = None
    contractor: str | None = None
    contracts: list[_Contract] | None = None
    far: _Far = _Far()

    @field_validator("mission_functions", mode="before")
    @classmethod
    def _units(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _text(v) for k, v in value.items()}
        return value


def _build(m: _Profile) -> Profile:
    return Profile(
        agency=m.agency,
        poc=Contact(m.poc.name, m.poc.telephone, m.poc.email),
        mission_functions=dict(m.mission_functions),
        vendor_agreements=None
        if m.vendor_agreements is None
        else tuple(
            Agreement(a.description, a.kind, a.reference, a.ends) for a in m.vendor_agreements
        ),
        removal_timeline=m.removal_timeline,
        replacements=m.replacements,
        replacement_timeline=m.replacement_timeline,
        challenges=None if m.challenges is None else tuple(m.challenges),
        costs=Costs(m.costs.licenses, m.costs.maintenance, m.costs.replacement, m.costs.notes),
        exception_approvers=None if m.exception_approvers is None else tuple(m.exception_approvers),
        contractor=m.contractor,
        contracts=None
        if m.contracts is None
        else tuple(
            Contract(c.number, tuple(c.orders), c.contracting_officer, tuple(c.org_units))
            for c in m.contracts
        ),
        far=FarNotes(
            m.far.mitigation,
            m.far.further_mitigation,
            m.far.prevention_efforts,
            m.far.reasons_for_use,
            m.far.additional_prevention,
            m.far.initial_reported,
        ),
    )


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in loc).replace(".[", "[")


def profile_from_data(data: object, origin: str = "profile") -> Profile:
    """Validate already-parsed profile data (the server's JSON body); raise :class:`ProfileError`.

    :param origin: how to name the input in an error.
    """
    if data is None:
        return Profile()
    if not isinstance(data, dict):
        raise ProfileError(origin, "the top level must be a mapping")
    try:
        return _build(_Profile.model_validate(data))
    except ValidationError as e:
        err = e.errors()[0]
        raise ProfileError(origin, err["msg"], where=_where(tuple(err["loc"]))) from e


def load_profile(path: Path) -> Profile:
    """Read a profile YAML file; raise :class:`ProfileError` naming the file, line and key."""
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml

    text, data = read_small_yaml(
        path, max_bytes=MAX_PROFILE_BYTES, error=ProfileError, what="a profile"
    )
    node = yaml.compose(text, Loader=safe_loader())
    if data is not None and not isinstance(data, dict):
        raise ProfileError(str(path), "the top level must be a mapping", line=1)
    try:
        return _build(_Profile.model_validate(data or {}))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        raise ProfileError(str(path), err["msg"], line=_line(node, loc), where=_where(loc)) from e


def _line(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node at ``loc`` (or of the deepest one that exists)."""
    # PyYAML: only when YAML is read (catalogs load from their cache)
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == key), None)
            if child is None:
                # an unknown key: point at the key itself
                child = next((k for k, _ in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line
