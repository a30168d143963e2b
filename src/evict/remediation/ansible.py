"""Plans as an Ansible playbook: one play per host, each step a task and its check a task.

Only ``ansible.builtin`` modules are used, so the playbook runs with ansible-core alone:
``apt``, ``dnf`` and ``package`` for packages, ``shell`` for the other steps on Linux and
macOS, ``raw`` (PowerShell) on Windows. A failing check fails the host, and Ansible runs no
further task on a failed host: the plan stops there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from evict.remediation._text import header_lines, one_line
from evict.remediation.interface import Op, Plan, PlanRenderer, Shell, Step

_WINDOWS_PRELUDE = "$ErrorActionPreference = 'Stop'\n"


def _raw(text: str) -> str:
    """``text`` kept from Jinja templating (a plan's commands are literal)."""
    return "{% raw %}" + text + "{% endraw %}"


def _secrets(step: Step) -> str:
    """PowerShell lines that set a step's secrets from the controller's environment."""
    return "".join(
        f"$env:{name} = [Text.Encoding]::UTF8.GetString("
        f"[Convert]::FromBase64String('{{{{ {name} | b64encode }}}}'))\n"
        for name in step.secrets
    )


def _package_task(step: Step, state: str) -> dict[str, Any]:
    o = step.operation
    names = list(o.packages)
    if o.manager == "apt":
        args: dict[str, Any] = {"name": names, "state": state}
        if state == "absent":
            args["purge"] = True
        return {"ansible.builtin.apt": args}
    if o.manager == "dnf":
        return {"ansible.builtin.dnf": {"name": names, "state": state}}
    return {"ansible.builtin.package": {"name": names, "state": state}}


def _tasks(plan: Plan, step: Step) -> list[dict[str, Any]]:
    label = f"step {step.number} ({step.phase.value}): {one_line(step.title)}"
    windows = plan.shell is Shell.POWERSHELL
    tasks: list[dict[str, Any]] = []
    if step.command or step.operation.op in (Op.PACKAGE_INSTALL, Op.PACKAGE_REMOVE):
        if step.operation.op is Op.PACKAGE_REMOVE:
            task = {"name": label, **_package_task(step, "absent")}
        elif step.operation.op is Op.PACKAGE_INSTALL:
            task = {"name": label, **_package_task(step, "present")}
        elif windows:
            script = (
                _WINDOWS_PRELUDE
                + _secrets(step)
                + _raw(f"if (-not ({step.check or '$true'})) {{\n{step.command}\n}}\n")
            )
            task = {"name": label, "ansible.builtin.raw": script}
        else:
            script = _raw(f"if {step.check or 'false'}; then exit 0; fi\n{step.command}\n")
            task = {"name": label, "ansible.builtin.shell": {"cmd": script}}
        if step.secrets:
            task["no_log"] = True
        tasks.append(task)
    check_label = f"step {step.number} check: {one_line(step.title)}"
    if windows:
        check = _raw(f"{_WINDOWS_PRELUDE}if (-not ({step.check or '$true'})) {{ exit 1 }}\n")
        tasks.append({"name": check_label, "ansible.builtin.raw": check, "changed_when": False})
    else:
        tasks.append(
            {
                "name": check_label,
                "ansible.builtin.shell": {"cmd": _raw(step.check or "true")},
                "changed_when": False,
            }
        )
    return tasks


def _play(plan: Plan) -> dict[str, Any]:
    host = plan.hostname or plan.host
    play: dict[str, Any] = {
        "name": f"evict: remove and replace on {host}",
        "hosts": host,
        "gather_facts": False,
    }
    if plan.shell is Shell.SH:
        play["become"] = True
    secrets = sorted({name for s in plan.steps for name in s.secrets})
    if secrets:
        play["vars"] = {
            name: f"{{{{ lookup('ansible.builtin.env', '{name}') }}}}" for name in secrets
        }
    tasks = [t for s in plan.steps for t in _tasks(plan, s)]
    if plan.refusal:
        tasks.append(
            {
                "name": "evict refuses to remove anything on this host",
                "ansible.builtin.fail": {"msg": _raw(one_line(plan.refusal))},
            }
        )
    play["tasks"] = tasks
    return play


class AnsibleRenderer(PlanRenderer):
    """An Ansible playbook with one play per host (inventory names: the hosts' names)."""

    name = "ansible"
    shells = frozenset({Shell.SH, Shell.POWERSHELL})
    suffix = ".yml"
    many = True

    def render(self, plans: Sequence[Plan]) -> str:
        """The playbook of ``plans``."""
        self.check(plans)
        head: list[str] = []
        for plan in plans:
            head += [f"# {one_line(line)}" for line in header_lines(plan)]
            head.append("#")
        body = yaml.dump(
            [_play(p) for p in plans],
            Dumper=_Dumper,
            sort_keys=False,
            width=100,
            allow_unicode=True,
        )
        return "---\n" + "\n".join(head) + "\n" + body


class _Dumper(yaml.SafeDumper):
    """A safe YAML dumper that writes multi-line strings as literal blocks."""


def _str(dumper: Any, data: str) -> Any:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)
