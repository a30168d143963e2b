"""One host as every interface shows it: findings with evidence, protection, states, timeline.

The API's host detail and the dashboard's host page both read a host through
:func:`host_standing`, so what a host carries is decided in one place.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from evict.compliance.audit import AuditEvent
from evict.compliance.determinations import apply_determinations
from evict.matching.engine import Matcher
from evict.matching.interface import Finding, linked_findings
from evict.model.observations import HostID
from evict.model.records import HostInfo
from evict.model.states import HostState
from evict.store.store import Store

TIMELINE = 1000
"""Audit events shown on a host's timeline, newest first."""


@dataclass(frozen=True, slots=True)
class HostStanding:
    """What one host carries now, and what happened to it."""

    info: HostInfo
    findings: tuple[Finding, ...]
    """Its current findings, as the organisation's determinations leave them."""
    protected: bool
    """Whether an approved protection product is present."""
    states: dict[str, HostState]
    """Its state per directive."""
    events: tuple[AuditEvent, ...]
    """Its audit timeline, newest first."""


def host_standing(
    store: Store, matcher: Matcher, protection: Collection[str], info: HostInfo
) -> HostStanding:
    """Read ``info``'s findings from its stored inventory, with its states and timeline."""
    matched = store.matched_software(matcher.catalog.version)
    pairs = linked_findings(store.host_software(info.id, matched), matched)
    protected = any(h.product in protection for _, hits in pairs for h in hits)
    answers = {d.question: d for d in store.determinations(info.org_id)}
    findings = apply_determinations(matcher.findings(HostID(info.identifier), pairs), answers)
    states = store.states([info.id]).get(info.id, {})
    events = store.audit_events(
        org_id=info.org_id, subject=f"host:{info.identifier}", limit=TIMELINE
    )
    return HostStanding(info, tuple(findings), protected, states, tuple(events))
