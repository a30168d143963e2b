"""Plans as JSON: every host's plan, with each step's command, check and source.

Names are kept exact; control and bidi characters are written as ``\\uXXXX`` escapes, so the file
shows none of them raw (:func:`evict.neutral.json_dumps`).
"""

from __future__ import annotations

from collections.abc import Sequence

from evict import __version__
from evict.neutral import json_dumps
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
        return json_dumps(document) + "\n"
