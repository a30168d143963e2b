"""Plans as JSON: every host's plan, with each step's command, check and source."""

from __future__ import annotations

import json
from collections.abc import Sequence

from evict import __version__
from evict.remediation.interface import Plan, PlanRenderer, Shell


class JsonRenderer(PlanRenderer):
    """One JSON document with the plans of any number of hosts, any platform."""

    name = "json"
    shells = frozenset(Shell)
    suffix = ".json"
    many = True

    def render(self, plans: Sequence[Plan]) -> str:
        """``{"evict_version", "plans": [...]}``."""
        self.check(plans)
        document = {"evict_version": __version__, "plans": [p.to_json() for p in plans]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
