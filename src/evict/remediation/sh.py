"""Plans as POSIX sh scripts (Linux and macOS hosts), checked with ``sh -n`` and shellcheck.

Host text reaches a script only as data: single-quoted words (:func:`~evict.remediation.commands.q`)
given to ``printf %s`` or to a command, never inside ``$(...)``, and one-line comments with
control and bidi characters shown as ``<U+XXXX>``.
"""

from __future__ import annotations

from collections.abc import Sequence

from evict.neutral import one_line
from evict.remediation._text import header_lines
from evict.remediation.commands import q
from evict.remediation.interface import Plan, PlanRenderer, Shell, Step

_PRELUDE = """\
set -u

evict_step() {
    printf 'evict: step %s: %s\\n' "$1" "$2"
}

evict_fail() {
    printf 'evict: step %s failed its check, stopping: %s\\n' "$1" "$2" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    echo 'evict: run this plan as root' >&2
    exit 2
fi
"""


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.splitlines())


def _step(step: Step) -> str:
    title = one_line(step.title)
    lines = [f"# Step {step.number} ({step.phase.value}): {title}"]
    if step.source:
        lines.append(f"# source: {one_line(step.source)}")
    lines.append(f"# undo: {step.undo}")
    lines.append(f"evict_step {step.number} {q(title)}")
    check = step.check or "true"
    if step.command:
        lines.append(f"if ! {{ {check}; }} >/dev/null 2>&1; then")
        lines.append(_indent(step.command))
        lines.append("fi")
    lines.append(f"{{ {check}; }} >/dev/null 2>&1 || evict_fail {step.number} {q(title)}")
    return "\n".join(lines)


class ShRenderer(PlanRenderer):
    """A POSIX sh script: run as root on the host the plan is for."""

    name = "sh"
    shells = frozenset({Shell.SH})
    suffix = ".sh"

    def render(self, plans: Sequence[Plan]) -> str:
        """The script of one plan."""
        self.check(plans)
        (plan,) = plans
        out = ["#!/bin/sh"]
        out += [f"# {one_line(line)}" for line in header_lines(plan)]
        out.append(_PRELUDE if plan.steps else "set -u\n")
        out += [_step(s) + "\n" for s in plan.steps]
        name = q(one_line(plan.hostname or plan.host))
        if plan.refusal:
            out.append(f"printf '%s\\n' {q('evict: refused: ' + one_line(plan.refusal))} >&2")
            out.append("exit 3")
        else:
            out.append(f"printf 'evict: plan complete for %s\\n' {name}")
        return "\n".join(out) + "\n"
