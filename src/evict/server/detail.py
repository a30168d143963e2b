"""A host's detail as the API returns it and the dashboard's host page shows it, built once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evict.catalog.interface import CatalogLookupError
from evict.compliance.coverage import assess
from evict.compliance.determinations import determination_state
from evict.model.records import HostInfo
from evict.report.fleet import host_milestone
from evict.server.deps import ServerContext
from evict.server.models import (
    CoverageModel,
    EvidenceModel,
    FindingModel,
    HeldModel,
    HostDetail,
    HostMilestoneModel,
    StateModel,
    TimelineEntry,
)
from evict.service.hosts import host_standing


def host_milestones(
    ctx: ServerContext, org_id: int, states: Mapping[str, str]
) -> dict[str, HostMilestoneModel]:
    """Per directive of ``states``: the milestone the host has not yet met, on the
    organisation's clock (:func:`evict.report.fleet.host_milestone`, as the reports)."""
    starts = ctx.store.adoptions(org_id)
    today = ctx.today()
    out: dict[str, HostMilestoneModel] = {}
    for directive, state in states.items():
        try:
            d = ctx.catalog.directive(directive)
        except CatalogLookupError:
            continue  # a directive the catalog has withdrawn: no clock to show
        m = host_milestone(d, state, today=today, start=starts.get(directive))
        out[directive] = HostMilestoneModel(
            milestone=m.name, due=m.due, days_left=m.days_left, overdue=m.overdue
        )
    return out


def coverage_model(platform: str, kinds: Sequence[str]) -> CoverageModel:
    """The coverage of a host's latest inventory (:mod:`evict.compliance.coverage`)."""
    cov = assess(platform, kinds)
    return CoverageModel(kinds=list(cov.kinds), complete=cov.complete, missing=list(cov.missing))


def host_detail(ctx: ServerContext, info: HostInfo) -> HostDetail:
    """The API's detail of ``info`` (the dashboard's host page shows the same)."""
    standing = host_standing(ctx.store, ctx.matcher, ctx.protection, info)
    findings, protected, states, events = (
        standing.findings,
        standing.protected,
        standing.states,
        standing.events,
    )
    return HostDetail(
        host=info.identifier,
        hostname=info.hostname,
        platform=info.platform,
        org_unit=info.org_unit,
        enrolled_at=info.enrolled_at,
        last_seen=info.last_seen,
        collected_at=info.collected_at,
        observations=info.observations,
        protected=protected,
        held=(
            HeldModel(
                report_id=info.held.report_id,
                received_at=info.held.received_at,
                address=info.held.address,
            )
            if info.held
            else None
        ),
        reenroll_until=info.reenroll_until,
        states={d: StateModel.model_validate(s.to_json()) for d, s in sorted(states.items())},
        milestones=host_milestones(
            ctx, info.org_id, {d: s.state.value for d, s in sorted(states.items())}
        ),
        coverage=coverage_model(info.platform, info.kinds) if info.last_seen else None,
        findings=[
            FindingModel(
                directive=f.directive,
                product=f.product,
                product_name=f.product_name,
                vendor=f.vendor,
                confidence=f.confidence.value,
                embedded=f.embedded,
                evidence=[EvidenceModel.model_validate(e.to_json()) for e in f.evidence],
                determination=determination_state(f),
            )
            for f in findings
        ],
        timeline=[
            TimelineEntry(
                seq=e.seq, at=e.at, actor=e.actor, action=e.action, payload=dict(e.payload)
            )
            for e in events
        ],
    )
