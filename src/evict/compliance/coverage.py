"""Whether an inventory shows enough of a host to conclude "nothing covered is here".

A finding needs one observation; a negative answer needs the places covered software lives.
Security software, the first case evict was written for, lives in kernel drivers and services,
and is often installed without an entry in the installed-programs list (a managed deployment, a
remnant, a component of another product). A host seen only through one list can look empty while
the product runs. So each platform has a rule, :data:`REQUIREMENTS`: the groups of observation
kinds an inventory must show, at least one kind of every group. A host that meets its rule is
``complete``; one that does not is never reported ``clean`` (in a scan, the fleet lifecycle or a
report's "none found"), but as incomplete, naming what is ``missing``.

=========  =====================================================================================
platform   required (every line; any kind of a line)
=========  =====================================================================================
windows    ``program`` (installed programs) — and ``service`` or ``driver`` (the product's
           services and kernel drivers: minifilters, network filters, self-protection)
macos      ``app`` (application bundles) — and ``service`` (launchd jobs), ``driver`` (system
           and kernel extensions) or ``package`` (installer receipts): daemons and extensions
           installed without a bundle in /Applications
linux      ``package`` (dpkg, rpm, …) — and ``service`` (systemd units), ``process`` or
           ``kernel_module``: products installed from a tarball or a vendor script, and their
           running daemons and kernel modules
android    ``app``: a mobile platform's software is its apps
ios        ``app``
unknown    nothing concludes: the platform decides what is required
=========  =====================================================================================

An SBOM (``sbom_component``) describes one product's parts, not a host: it is complete for the
embedded-code question (a directive whose scope covers code embedded in other products) and only
for that — see :func:`concludes`.

A kind counts as seen when the inventory holds at least one observation of it. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evict.model.observations import Kind, Platform

Requirement = frozenset[Kind]
"""A group of observation kinds, any one of which meets the requirement."""

REQUIREMENTS: Mapping[Platform, tuple[Requirement, ...]] = {
    Platform.WINDOWS: (
        frozenset({Kind.PROGRAM}),
        frozenset({Kind.SERVICE, Kind.DRIVER}),
    ),
    Platform.MACOS: (
        frozenset({Kind.APP}),
        frozenset({Kind.SERVICE, Kind.DRIVER, Kind.PACKAGE}),
    ),
    Platform.LINUX: (
        frozenset({Kind.PACKAGE}),
        frozenset({Kind.SERVICE, Kind.PROCESS, Kind.KERNEL_MODULE}),
    ),
    Platform.ANDROID: (frozenset({Kind.APP}),),
    Platform.IOS: (frozenset({Kind.APP}),),
}
"""Per platform, the kinds an inventory must show to conclude (see the module's table)."""

UNKNOWN_PLATFORM = "platform"
"""The ``missing`` entry of a host whose platform is unknown: nothing can be required of it."""


def requirement_text(requirement: Requirement) -> str:
    """A requirement as ``missing`` lists it: its kinds joined by ``|`` (``service|driver``)."""
    return "|".join(sorted(k.value for k in requirement))


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one host's inventory showed, and whether that is enough to conclude."""

    kinds: tuple[str, ...]
    """The observation kinds seen, sorted."""
    complete: bool
    """Whether the kinds meet the platform's :data:`REQUIREMENTS`."""
    missing: tuple[str, ...] = ()
    """The requirements not met (:func:`requirement_text`), or ``platform`` when unknown."""

    def to_json(self) -> dict[str, object]:
        """Render as the ``coverage`` object of the scan contract."""
        return {"kinds": list(self.kinds), "complete": self.complete, "missing": list(self.missing)}

    def describe(self) -> str:
        """In words, for a person: what an incomplete inventory lacks."""
        if self.complete:
            return "complete"
        if UNKNOWN_PLATFORM in self.missing:
            return "platform unknown"
        needs = "; ".join(m.replace("|", " or ") for m in self.missing)
        return f"no {needs}"


def assess(platform: Platform | str, kinds: Iterable[Kind | str]) -> Coverage:
    """The coverage of an inventory of ``platform`` holding observations of ``kinds``.

    Unknown kind names (a newer agent's) are kept in ``kinds`` and meet no requirement.
    """
    seen = sorted({str(k) for k in kinds})
    try:
        plat = Platform(str(platform))
    except ValueError:
        plat = Platform.UNKNOWN
    requirements = REQUIREMENTS.get(plat)
    if requirements is None:
        return Coverage(tuple(seen), False, (UNKNOWN_PLATFORM,))
    have = set(seen)
    missing = tuple(
        requirement_text(r) for r in requirements if not any(k.value in have for k in r)
    )
    return Coverage(tuple(seen), not missing, missing)


def concludes(coverage: Coverage, *, embedded: bool) -> bool:
    """Whether ``coverage`` is enough to say "nothing covered" for a directive.

    :param embedded: whether the directive covers code embedded in other vendors' products; an
        SBOM answers that question (and only that one) even where a host inventory is lacking.
    """
    return coverage.complete or (embedded and Kind.SBOM_COMPONENT.value in coverage.kinds)


def kinds_text(kinds: Iterable[Kind | str]) -> str:
    """Kinds as stored with a host: sorted, comma-separated (``""`` before any inventory)."""
    return ",".join(sorted({str(k) for k in kinds}))


def kinds_from_text(text: str) -> tuple[str, ...]:
    """Inverse of :func:`kinds_text`."""
    return tuple(k for k in text.split(",") if k)


def source_family(source: str) -> str:
    """The inventory method a source belongs to: its name up to the first ``:``
    (``osquery:programs`` -> ``osquery``)."""
    return source.split(":", 1)[0]


def families_text(sources: Iterable[str]) -> str:
    """The source families of an inventory as stored with a host: a sorted JSON list (exact
    whatever characters an agent put in a source name)."""
    return json.dumps(sorted({source_family(s) for s in sources}))


def families_from_text(text: str) -> tuple[str, ...]:
    """Inverse of :func:`families_text` (``()`` for an empty or unreadable value)."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    return tuple(str(f) for f in value) if isinstance(value, list) else ()
