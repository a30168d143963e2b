"""What a removal plan is: ordered steps, each with the check that must pass after it.

A :class:`Plan` is pure output for one host. It installs or enables an approved replacement,
confirms it protects, removes the covered products in order, removes what they leave behind and
rescans; every :class:`Step` carries a check, and a plan in any format stops at the first check
that fails. A host with no approved protection that the plan cannot install gets a plan that
*refuses* to remove (:attr:`Plan.refusal`): removing the host's antivirus first would leave it
unprotected.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from evict.catalog.interface import ProductID
from evict.compliance.milestones import MilestoneStatus
from evict.errors import EvictError, InputError
from evict.model.observations import HostID, Platform
from evict.neutral import one_line


class Phase(enum.StrEnum):
    """Where a step sits in a plan; the order of the members is the order of a plan."""

    REPLACE = "replace"
    """Install or enable the approved replacement."""
    CONFIRM = "confirm"
    """Confirm the replacement protects (before the removal, or right after it)."""
    REMOVE = "remove"
    """Remove a covered product."""
    LEFTOVER = "leftover"
    """Remove what a covered product left behind."""
    RESCAN = "rescan"
    """Scan again: nothing covered may be left."""


class Op(enum.StrEnum):
    """The closed set of operations a step performs; each format renders every one."""

    PACKAGE_INSTALL = "package-install"
    PACKAGE_REMOVE = "package-remove"
    MSI_UNINSTALL = "msi-uninstall"
    COMMAND = "command"
    """A vendor's documented command (``run``) and its check, in the platform's shell."""
    PROTECTION_RUNNING = "protection-running"
    """Check only: one of ``names`` (services) runs, or ``check`` holds."""
    SERVICE_REMOVE = "service-remove"
    DRIVER_REMOVE = "driver-remove"
    KERNEL_MODULE_REMOVE = "kernel-module-remove"
    CERTIFICATE_REMOVE = "certificate-remove"
    EXTENSION_REMOVE = "extension-remove"
    SCHEDULED_TASK_REMOVE = "scheduled-task-remove"
    REGISTRY_KEY_REMOVE = "registry-key-remove"
    PATH_REMOVE = "path-remove"
    MDM_REMOVE = "mdm-remove"
    """Manual: ask the device management service to remove an app; the check is the rescan."""
    PROGRAM_ABSENT = "program-absent"
    """Manual removal with no recipe: the check is that the program is no longer registered."""
    RESCAN = "rescan"


class Shell(enum.StrEnum):
    """The language a plan's commands are written in."""

    SH = "sh"
    POWERSHELL = "powershell"
    MDM = "mdm"
    """No shell: the steps are instructions for the device management service."""


SHELL_OF: dict[Platform, Shell] = {
    Platform.LINUX: Shell.SH,
    Platform.MACOS: Shell.SH,
    Platform.WINDOWS: Shell.POWERSHELL,
    Platform.ANDROID: Shell.MDM,
    Platform.IOS: Shell.MDM,
    Platform.UNKNOWN: Shell.SH,
}
"""The shell a plan for each platform is written in."""


@dataclass(frozen=True, slots=True)
class Operation:
    """What a step does, as data: the formats and the executor each render it their own way.

    Which fields matter depends on ``op``: ``packages`` and ``manager`` (``apt``, ``dnf``,
    ``zypper``, or empty when the inventory does not tell) for package operations; ``names``
    for services, drivers, modules, certificates, extensions, tasks, product codes and apps;
    ``paths`` for folders and files; ``run`` and ``check`` for a vendor command; ``properties``
    (MSI property, environment variable) for a password-protected MSI uninstall.
    """

    op: Op
    packages: tuple[str, ...] = ()
    manager: str = ""
    names: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    run: str = ""
    check: str = ""
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a plan: what it does, the command, and the check that must pass after it."""

    number: int
    phase: Phase
    title: str
    operation: Operation
    command: str
    """The command in the plan's shell (empty for a check-only or manual step)."""
    check: str
    """Succeeds (sh), or is true (PowerShell), once the step is done; the plan stops if not."""
    undo: str
    """How to reverse the step, in words: a removal is undone by reinstalling, not by evict."""
    product: ProductID | None = None
    source: str = ""
    """Where the command comes from (the catalog recipe's citation)."""
    secrets: tuple[str, ...] = ()
    """Environment variables the command reads (never written into the plan)."""
    manual: bool = False
    """A person (or the device management service) does this step; the plan only checks."""

    def to_json(self) -> dict[str, object]:
        """Render for the JSON plan."""
        out: dict[str, object] = {
            "number": self.number,
            "phase": self.phase.value,
            "title": self.title,
            "op": self.operation.op.value,
            "command": self.command,
            "check": self.check,
            "undo": self.undo,
        }
        if self.product:
            out["product"] = self.product
        if self.source:
            out["source"] = self.source
        if self.secrets:
            out["secrets"] = list(self.secrets)
        if self.manual:
            out["manual"] = True
        return out


@dataclass(frozen=True, slots=True)
class PlannedMilestone:
    """The next milestone of one directive whose findings the plan removes."""

    directive: str
    status: MilestoneStatus


@dataclass(frozen=True, slots=True)
class Plan:
    """The removal and replacement plan of one host."""

    host: HostID
    hostname: str
    platform: Platform
    shell: Shell
    catalog_version: str
    directives: tuple[str, ...]
    """The directives whose findings the plan removes."""
    products: tuple[ProductID, ...]
    """Covered products to remove, in removal order."""
    protection: tuple[ProductID, ...]
    """Approved protection products the inventory shows on the host."""
    replacement: ProductID | None
    """The protection product the plan installs, enables or relies on."""
    coverage_gap: bool
    """The host has (or will have, once the plan removes its antivirus) no approved protection."""
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()
    refusal: str = ""
    """Why the plan will not remove anything (empty when it will)."""
    milestones: tuple[PlannedMilestone, ...] = ()
    """The next milestone of each directive, as of the ``today`` the plan was made for."""

    @property
    def removes(self) -> bool:
        """Whether the plan removes anything."""
        return any(s.phase is Phase.REMOVE for s in self.steps)

    def to_json(self) -> dict[str, object]:
        """Render as the JSON plan (also the ``--format json`` output, one per host)."""
        return {
            "host": self.host,
            "hostname": self.hostname,
            "platform": self.platform.value,
            "shell": self.shell.value,
            "catalog_version": self.catalog_version,
            "directives": list(self.directives),
            "products": list(self.products),
            "protection": list(self.protection),
            "replacement": self.replacement,
            "coverage_gap": self.coverage_gap,
            "refusal": self.refusal or None,
            "milestones": {m.directive: m.status.to_json() for m in self.milestones},
            "warnings": list(self.warnings),
            "steps": [s.to_json() for s in self.steps],
        }


class RemediationError(EvictError):
    """Base error of remediation: planning, rendering and executing plans."""


class PlanFormatError(RemediationError):
    """A plan asked for in a format that cannot express it (PowerShell for a Linux host)."""


class PolicyError(RemediationError, InputError):
    """A replacement policy file that cannot be read or names unknown products."""


class ExecutionError(RemediationError):
    """A plan that cannot be run here (another host's plan, a refused plan, no privileges)."""


class PlanRenderer(ABC):
    """One output format of plans (``--format``): a script, a playbook or JSON."""

    name: ClassVar[str]
    """The ``--format`` value."""
    shells: ClassVar[frozenset[Shell]]
    """The plan shells this format can express."""
    suffix: ClassVar[str]
    """File name suffix of one rendered plan (``.sh``, ``.ps1``, ``.yml``, ``.json``)."""
    many: ClassVar[bool] = False
    """Whether one document can hold the plans of many hosts."""

    def accepts(self, plan: Plan) -> bool:
        """Whether this format can express ``plan``."""
        return not self.refuses(plan)

    def refuses(self, plan: Plan) -> str:
        """Why this format cannot express ``plan``, as a message (empty when it can)."""
        if plan.shell in self.shells:
            return ""
        return (
            f"{one_line(plan.hostname or plan.host)} is a {plan.platform.value} host: its plan "
            f"cannot be written as {self.name} (its plans are {plan.shell.value}; json always "
            "works)"
        )

    @abstractmethod
    def render(self, plans: Sequence[Plan]) -> str:  # pragma: no cover
        """Render ``plans`` (one, unless :attr:`many`); raise :class:`PlanFormatError` if a plan
        is for a platform this format cannot express."""
        raise NotImplementedError

    def check(self, plans: Sequence[Plan]) -> None:
        """Raise :class:`PlanFormatError` unless every plan can be rendered here."""
        if len(plans) > 1 and not self.many:
            raise PlanFormatError(
                f"a {self.name} plan is for one host; give --output DIR for {len(plans)} hosts"
            )
        for plan in plans:
            if reason := self.refuses(plan):
                raise PlanFormatError(reason)
