"""A host's removal and replacement plan on its page, when :mod:`evict.remediation` can make one.

The remediation package is optional to the dashboard: without it (or without a planner in it)
the host page simply shows no plan.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evict.server.deps import ServerContext
from evict.server.models import HostDetail
from evict.store.interface import HostInfo

if TYPE_CHECKING:
    from evict.remediation.interface import Plan


def _planner() -> Any | None:
    """The remediation planner module, or None when this installation has none."""
    try:
        return importlib.import_module("evict.remediation.plan")
    except ModuleNotFoundError as e:
        if e.name in ("evict.remediation", "evict.remediation.plan"):
            return None
        raise


def host_plan(ctx: ServerContext, info: HostInfo, detail: HostDetail) -> Plan | None:
    """The plan for ``info`` from its findings, or None (no planner, or nothing to remove)."""
    planner = _planner()
    if planner is None or not detail.findings:
        return None
    make = getattr(planner, "plan_for_host", None)
    if make is None:
        return None
    plan: Plan | None = make(ctx, info, detail)
    return plan
