"""Remediation: removal and replacement plans, their formats, and running one on this host."""

from __future__ import annotations

import importlib

from evict.remediation.interface import (
    ExecutionError,
    Op,
    Operation,
    Phase,
    Plan,
    PlanFormatError,
    PlanRenderer,
    PolicyError,
    RemediationError,
    Shell,
    Step,
)
from evict.remediation.policy import Policy, coverage_gap, load_policy, protection_present

FORMATS: dict[str, str] = {
    "ansible": "evict.remediation.ansible:AnsibleRenderer",
    "powershell": "evict.remediation.powershell:PowerShellRenderer",
    "sh": "evict.remediation.sh:ShRenderer",
    "json": "evict.remediation.json:JsonRenderer",
}
"""Plan formats by ``--format`` name, imported when asked for."""


def renderer(name: str) -> PlanRenderer:
    """The renderer of plan format ``name``; raises :class:`PlanFormatError` if unknown."""
    target = FORMATS.get(name)
    if target is None:
        raise PlanFormatError(f"unknown plan format {name!r}; one of: {', '.join(FORMATS)}")
    module_name, _, class_name = target.partition(":")
    cls: type[PlanRenderer] = getattr(importlib.import_module(module_name), class_name)
    return cls()


__all__ = [
    "FORMATS",
    "ExecutionError",
    "Op",
    "Operation",
    "Phase",
    "Plan",
    "PlanFormatError",
    "PlanRenderer",
    "Policy",
    "PolicyError",
    "RemediationError",
    "Shell",
    "Step",
    "coverage_gap",
    "load_policy",
    "protection_present",
    "renderer",
]
