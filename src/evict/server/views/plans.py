"""A host's removal and replacement plan on its page, when :mod:`evict.remediation` can make one.

The remediation package is optional to the dashboard: without its planner the host page shows
no plan. With it, the plan is made from the host's stored inventory, the server's catalog and
its approved protection products, exactly as ``evict plan`` makes it from a scan.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from evict.catalog.interface import ProductID
from evict.model.observations import HostID, HostInventory, Platform
from evict.model.records import HostInfo
from evict.remediation.interface import RemediationError
from evict.remediation.policy import Policy
from evict.server.deps import ServerContext
from evict.server.models import HostDetail

if TYPE_CHECKING:
    from evict.remediation.interface import Plan


@dataclass(frozen=True, slots=True)
class HostPlan:
    """The plan, or why there is none although there is something to remove."""

    plan: Plan | None
    problem: str = ""


def _planner() -> ModuleType | None:
    """The remediation planner, or None when this installation has none."""
    try:
        return importlib.import_module("evict.remediation.planner")
    except ModuleNotFoundError as e:
        if e.name in ("evict.remediation", "evict.remediation.planner"):
            return None
        raise


def host_plan(ctx: ServerContext, info: HostInfo, detail: HostDetail) -> HostPlan | None:
    """The plan for ``info`` (None without a planner, or with nothing found to remove)."""
    planner = _planner()
    if planner is None or not detail.findings:
        return None

    try:
        platform = Platform(info.platform)
    except ValueError:
        platform = Platform.UNKNOWN
    inventory = HostInventory(
        HostID(info.identifier),
        info.hostname,
        platform,
        info.collected_at or ctx.now(),
        tuple(ctx.fleet.dashboard.host_observations(info.id)),
        "store",
        info.org_unit,
    )
    policy = Policy(approved=tuple(ProductID(p) for p in sorted(ctx.protection)))
    try:
        plan: Plan = planner.plan_inventory(
            inventory, ctx.matcher, policy=policy, today=ctx.today()
        )
    except RemediationError as e:
        return HostPlan(None, str(e))
    return HostPlan(plan)


def hosts_plans(ctx: ServerContext, infos: Sequence[HostInfo]) -> list[Plan] | None:
    """The plans of ``infos`` that remove something (None without a planner): one document of
    many hosts for the hosts page's bulk download. A host whose plan cannot be made, or that
    has nothing to remove, is left out."""
    planner = _planner()
    if planner is None:
        return None

    policy = Policy(approved=tuple(ProductID(p) for p in sorted(ctx.protection)))
    queries = ctx.fleet.dashboard
    today = ctx.today()
    plans: list[Plan] = []
    for info in infos:
        try:
            platform = Platform(info.platform)
        except ValueError:
            platform = Platform.UNKNOWN
        inventory = HostInventory(
            HostID(info.identifier),
            info.hostname,
            platform,
            info.collected_at or ctx.now(),
            tuple(queries.host_observations(info.id)),
            "store",
            info.org_unit,
        )
        try:
            plan: Plan = planner.plan_inventory(inventory, ctx.matcher, policy=policy, today=today)
        except RemediationError:
            continue
        if plan.products:
            plans.append(plan)
    return plans
