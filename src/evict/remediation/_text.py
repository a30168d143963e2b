"""Text shared by the plan formats: the header every plan opens with."""

from __future__ import annotations

from evict import __version__
from evict.remediation.interface import Phase, Plan


def header_lines(plan: Plan) -> list[str]:
    """The plan's summary as comment lines (without the comment marker)."""
    lines = [
        f"evict {__version__} removal plan for {plan.hostname or plan.host} "
        f"({plan.host}, {plan.platform.value})",
        f"catalog {plan.catalog_version}; directives: {', '.join(plan.directives) or 'none'}",
    ]
    for m in plan.milestones:
        status = m.status.to_json()
        left = m.status.days_left
        when = f"{left} days left" if left >= 0 else f"overdue by {-left} days"
        lines.append(
            f"{m.directive}: next milestone {status['name']}, due {status['due']} ({when})"
        )
    if plan.products:
        lines.append("covered products, in removal order: " + ", ".join(plan.products))
    protection = ", ".join(plan.protection) or "none"
    lines.append(f"approved protection present: {protection}")
    if plan.replacement:
        installs = any(s.phase is Phase.REPLACE for s in plan.steps)
        how = "installed or enabled first by this plan" if installs else "relied on"
        lines.append(f"replacement: {plan.replacement} ({how})")
    if plan.coverage_gap:
        lines.append("COVERAGE GAP: no approved protection on this host yet")
    if plan.refusal:
        lines.append("REFUSED: " + plan.refusal)
    lines.extend("warning: " + w for w in plan.warnings)
    lines.append(
        "Every step is skipped when its check already passes; the plan stops at the first "
        "check that fails after its step."
    )
    return lines
