"""The scan pipeline: sources -> distinct observations -> matcher -> findings per host.

This is the library behind ``evict scan`` and ``evict demo``; it reads through the sources it is
given and matches with the matcher it is given, and reads no clock (``generated_at`` is passed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from evict.catalog.interface import Directive, Exclusion, ProductID
from evict.compliance.coverage import Coverage, assess, concludes
from evict.compliance.determinations import Determination, apply_determinations
from evict.errors import InputError
from evict.inventory.interface import InventorySource
from evict.inventory.registry import wrong_kind_hint
from evict.matching.engine import Matcher
from evict.matching.interface import Finding
from evict.model.observations import HostID, HostInventory, Observation, Platform, SourceStatus


@dataclass(frozen=True, slots=True)
class HostResult:
    """One host's inventory and what was found on it."""

    inventory: HostInventory
    findings: tuple[Finding, ...]
    lookalikes: tuple[tuple[Observation, Exclusion], ...] = ()
    """Observations a known look-alike rule set aside, with the rule: shown, not counted."""
    present: frozenset[ProductID] = frozenset()
    """Every catalog product recognised on the host, covered or not (protection among them)."""

    @property
    def coverage(self) -> Coverage:
        """Whether the inventory shows enough of the host to conclude (see
        :mod:`evict.compliance.coverage`)."""
        inv = self.inventory
        return assess(inv.platform, {o.kind for o in inv.observations})

    def concludes(self, directive: Directive) -> bool:
        """Whether "nothing found" on this host is an answer for ``directive``."""
        return concludes(self.coverage, embedded=directive.embedded)


@dataclass
class ScanResult:
    """Everything one scan produced, ready to render."""

    catalog_version: str
    generated_at: dt.datetime
    hosts: list[HostResult] = field(default_factory=list)
    statuses: list[SourceStatus] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    """Inputs that could not be read at all; the scan exits 2 when there are any."""

    @property
    def found(self) -> bool:
        """Whether any host carries a covered product."""
        return any(h.findings for h in self.hosts)

    def inconclusive(self, directives: Sequence[Directive]) -> list[HostResult]:
        """Hosts without a finding for some of ``directives`` whose inventory cannot conclude it.

        Such a host is not clean: its "nothing found" may only mean "not looked where it lives".
        """
        out = []
        for h in self.hosts:
            with_findings = {f.directive for f in h.findings}
            if any(d.id not in with_findings and not h.concludes(d) for d in directives):
                out.append(h)
        return out


class NoHostError(InputError):
    """A scan (or a plan, or an agent run) that read no host at all from its inputs.

    An empty answer is not a clean one: "nothing found on 0 hosts" attests nothing.
    """

    def __str__(self) -> str:
        return self.message


def read_nothing(sources: Iterable[InventorySource]) -> bool:
    """Whether ``sources`` read no input at all. A network log yields devices only for vendor
    traffic, so one that read lines (``lines_read``) has answered even with no device."""
    return not any(getattr(s, "lines_read", 0) for s in sources)


def no_host_error(sources: Iterable[InventorySource]) -> NoHostError:
    """The error for ``sources`` having yielded no host, naming their paths."""
    paths = [str(p) for s in sources for p in getattr(s, "paths", ())]
    where = ", ".join(paths) or "this host"
    return NoHostError(where, f"no host read from {where}")


def merge_by_host(inventories: Iterable[HostInventory]) -> list[HostInventory]:
    """Join inventories that describe the same host (several sources, or several files)."""
    merged: dict[str, HostInventory] = {}
    for inv in inventories:
        prior = merged.get(inv.host)
        if prior is None:
            merged[inv.host] = inv
            continue
        platform = prior.platform if prior.platform != Platform.UNKNOWN else inv.platform
        merged[inv.host] = HostInventory(
            host=prior.host,
            hostname=prior.hostname or inv.hostname,
            platform=platform,
            collected_at=max(prior.collected_at, inv.collected_at),
            observations=prior.observations + inv.observations,
            source=", ".join(dict.fromkeys(s for s in (prior.source, inv.source) if s)),
            addresses=tuple(sorted({*prior.addresses, *inv.addresses})),
        )
    return list(merged.values())


def scan(
    sources: Iterable[InventorySource],
    matcher: Matcher,
    *,
    generated_at: dt.datetime,
    directives: Sequence[Directive] | None = None,
    determinations: Mapping[str, Determination] | None = None,
) -> ScanResult:
    """Read every source, match distinct observations once, and collect findings per host.

    A source whose input cannot be read (:class:`InputError`) is recorded as failed and the scan
    goes on with the others, so one bad file never hides what the rest show.

    :param determinations: an organisation's answers to questions of scope, by question id
        (:func:`evict.compliance.determinations.load_determinations`): a finding of a question
        answered ``covered`` is kept as an ordinary one, one answered ``not-covered`` is dropped.
    """
    result = ScanResult(matcher.catalog.version, generated_at)
    inventories: list[HostInventory] = []
    for source in sources:
        try:
            inventories.extend(source.collect())
        except InputError as e:
            e.message += wrong_kind_hint(source.name, e.path)
            result.errors.append(e)
            result.statuses.append(SourceStatus(f"{source.name}:{e.path}", "failed", (str(e),)))
            statuses = [s for s in source.statuses if s.state != "failed"]
            result.statuses.extend(statuses)
            continue
        result.statuses.extend(source.statuses)
    inventories = merge_by_host(inventories)
    lookalikes: dict[HostID, list[tuple[Observation, Exclusion]]] = {}
    present: dict[HostID, set[ProductID]] = {}
    findings = matcher.match_hosts(
        inventories, directives=directives, lookalikes=lookalikes, present=present
    )
    answers = determinations or {}
    result.hosts = [
        HostResult(
            inv,
            tuple(apply_determinations(findings.get(inv.host, ()), answers)),
            tuple(lookalikes.get(inv.host, ())),
            frozenset(present.get(inv.host, ())),
        )
        for inv in inventories
    ]
    return result
