"""Plans as PowerShell scripts (Windows hosts), parsed in tests with a PowerShell grammar.

Host text reaches a script only as data: a single-quoted string with every single-quote form
doubled, or, when it holds anything but plain printable text, its UTF-16 bytes in base64 decoded
at run time (:func:`~evict.remediation.commands.ps`); comments and step titles are one line with
control and bidi characters shown as ``<U+XXXX>``.
"""

from __future__ import annotations

from collections.abc import Sequence

from evict.neutral import one_line
from evict.remediation._text import header_lines
from evict.remediation.commands import ps
from evict.remediation.interface import Plan, PlanRenderer, Shell, Step

_PRELUDE = """\
Set-StrictMode -Version 1.0
$ErrorActionPreference = 'Stop'

function Invoke-EvictStep {
    param(
        [Parameter(Mandatory = $true)][int]$Number,
        [Parameter(Mandatory = $true)][string]$Title,
        [scriptblock]$Run,
        [Parameter(Mandatory = $true)][scriptblock]$Check
    )
    Write-Host ('evict: step {0}: {1}' -f $Number, $Title)
    if ($null -ne $Run -and -not (& $Check)) {
        & $Run
    }
    if (-not (& $Check)) {
        throw ('evict: step {0} failed its check, stopping: {1}' -f $Number, $Title)
    }
}
"""


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.splitlines())


def _step(step: Step) -> str:
    title = one_line(step.title)
    lines = [f"# Step {step.number} ({step.phase.value}): {title}"]
    if step.source:
        lines.append(f"# source: {one_line(step.source)}")
    if step.secrets:
        lines.append(f"# reads the environment variables {', '.join(step.secrets)} if set")
    lines.append(f"# undo: {step.undo}")
    call = f"Invoke-EvictStep -Number {step.number} -Title {ps(title)}"
    if step.command:
        call += " -Run {\n" + _indent(step.command) + "\n}"
    call += " -Check {\n" + _indent(step.check or "$true") + "\n}"
    lines.append(call)
    return "\n".join(lines)


class PowerShellRenderer(PlanRenderer):
    """A PowerShell script: run elevated on the Windows host the plan is for."""

    name = "powershell"
    shells = frozenset({Shell.POWERSHELL})
    suffix = ".ps1"

    def render(self, plans: Sequence[Plan]) -> str:
        """The script of one plan."""
        self.check(plans)
        (plan,) = plans
        out = ["#Requires -RunAsAdministrator"]
        out += [f"# {one_line(line)}" for line in header_lines(plan)]
        out.append("")
        out.append(_PRELUDE)
        out += [_step(s) + "\n" for s in plan.steps]
        if plan.refusal:
            out.append(f"throw {ps('evict: refused: ' + one_line(plan.refusal))}")
        else:
            host = one_line(plan.hostname or plan.host)
            out.append(f"Write-Host {ps('evict: plan complete for ' + host)}")
        return "\n".join(out) + "\n"
