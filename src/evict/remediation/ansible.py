"""Plans as an Ansible playbook: one play per host, each step a task and its check a task.

Only ``ansible.builtin`` modules are used, so the playbook runs with ansible-core alone:
``apt``, ``dnf`` and ``package`` for packages, ``shell`` for the other steps on Linux and
macOS, ``raw`` (PowerShell) on Windows. A failing check fails the host, and Ansible runs no
further task on a failed host: the plan stops there.

Ansible templates every string of a playbook with Jinja2, lookups included, on the controller.
Host text is passed as data (see :class:`_Data`), never wrapped in ``{% raw %}``, which a name
holding ``{% endraw %}`` would close. Module arguments are always a mapping (``raw`` gets its
script as ``_raw_params``): a free-form string is split by Ansible into ``key=value`` options, so
a name holding `` chdir=/x`` or `` executable=/x`` would set them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

import yaml

from evict.neutral import is_clean, one_line
from evict.remediation._text import header_lines
from evict.remediation.interface import Op, Plan, PlanRenderer, Shell, Step

_WINDOWS_PRELUDE = "$ErrorActionPreference = 'Stop'\n"

_TEMPLATE_START = re.compile(r"\{[{%#]")
"""Where Jinja (and so Ansible) would start reading code: ``{{``, ``{%`` or ``{#``."""
_OVERRIDE = "#jinja2:"
"""A string that starts with this sets its own template delimiters in Ansible."""

INVENTORY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,252}$")
"""A host name Ansible reads as one host: no pattern characters (``* ? [ ] : , ! & ~``),
no template, no space."""
_RESERVED = {"all", "ungrouped", "localhost", "127.0.0.1"}
"""Names Ansible reads as a group or as the controller itself."""


def inventory_name_problem(name: str) -> str:
    """Why ``name`` cannot be a play's ``hosts:`` (empty when it can)."""
    if not INVENTORY_NAME.fullmatch(name):
        return "Ansible would read it as a host pattern or a template, not as one host"
    if name.lower() in _RESERVED:
        return "Ansible reads it as a group or as the controller itself"
    return ""


def _literal(text: str) -> bool:
    """Whether Ansible takes ``text`` as it is: no template start, no delimiter override, and
    nothing :func:`evict.neutral.neutralise` would change."""
    return (
        not text.startswith(_OVERRIDE) and _TEMPLATE_START.search(text) is None and is_clean(text)
    )


class _Data:
    """Text of one play that Ansible must take as data, never as a template.

    Text that could not be read as a template is written as it is. Any other text (a name a
    host sent with ``{{`` in it, say) goes into the play's ``evict_data`` variable as base64, and
    the playbook refers to it as ``{{ evict_data.tN | b64decode }}``: the template is evict's,
    the base64 alphabet has nothing Jinja reads, and Ansible does not template what a filter
    returns, so the host's text arrives byte for byte and runs nothing on the controller.
    """

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def text(self, value: str) -> str:
        """``value`` as playbook text that Ansible renders back to exactly ``value``."""
        if _literal(value):
            return value
        key = f"t{len(self.values) + 1}"
        self.values[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
        return "{{ evict_data." + key + " | b64decode }}"


def _secrets(step: Step) -> str:
    """PowerShell lines that set a step's secrets from the controller's environment (the names
    are the catalog's environment variable names, checked when the step was planned)."""
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


def _tasks(plan: Plan, step: Step, data: _Data) -> list[dict[str, Any]]:
    label = data.text(f"step {step.number} ({step.phase.value}): {one_line(step.title)}")
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
                + data.text(f"if (-not ({step.check or '$true'})) {{\n{step.command}\n}}\n")
            )
            task = {"name": label, "ansible.builtin.raw": {"_raw_params": script}}
        else:
            script = data.text(f"if {step.check or 'false'}; then exit 0; fi\n{step.command}\n")
            task = {"name": label, "ansible.builtin.shell": {"cmd": script}}
        if step.secrets:
            task["no_log"] = True
        tasks.append(task)
    check_label = data.text(f"step {step.number} check: {one_line(step.title)}")
    if windows:
        check = data.text(f"{_WINDOWS_PRELUDE}if (-not ({step.check or '$true'})) {{ exit 1 }}\n")
        tasks.append(
            {
                "name": check_label,
                "ansible.builtin.raw": {"_raw_params": check},
                "changed_when": False,
            }
        )
    else:
        tasks.append(
            {
                "name": check_label,
                "ansible.builtin.shell": {"cmd": data.text(step.check or "true")},
                "changed_when": False,
            }
        )
    return tasks


def _play(plan: Plan) -> dict[str, Any]:
    host = plan.hostname or plan.host
    data = _Data()
    play: dict[str, Any] = {
        "name": f"evict: remove and replace on {host}",
        "hosts": host,
        "gather_facts": False,
    }
    if plan.shell is Shell.SH:
        play["become"] = True
    tasks = [t for s in plan.steps for t in _tasks(plan, s, data)]
    if plan.refusal:
        tasks.append(
            {
                "name": "evict refuses to remove anything on this host",
                "ansible.builtin.fail": {"msg": data.text(one_line(plan.refusal))},
            }
        )
    variables: dict[str, Any] = {
        name: f"{{{{ lookup('ansible.builtin.env', '{name}') }}}}"
        for name in sorted({name for s in plan.steps for name in s.secrets})
    }
    if data.values:
        variables["evict_data"] = data.values
    if variables:
        play["vars"] = variables
    play["tasks"] = tasks
    return play


class AnsibleRenderer(PlanRenderer):
    """An Ansible playbook with one play per host (inventory names: the hosts' names).

    A host whose name Ansible would read as a pattern, a group or the controller itself
    (``all``, ``web*``, ``localhost``) gets no play: :meth:`refuses` says why.
    """

    name = "ansible"
    shells = frozenset({Shell.SH, Shell.POWERSHELL})
    suffix = ".yml"
    many = True

    def refuses(self, plan: Plan) -> str:
        """Why ``plan`` cannot be a play (its platform, or a host name that is not one host)."""
        if reason := super().refuses(plan):
            return reason
        name = plan.hostname or plan.host
        if problem := inventory_name_problem(name):
            return (
                f"host name {one_line(name)[:200]!r} cannot be a play's hosts: {problem} "
                "(use json, or the sh or powershell plan of that host)"
            )
        return ""

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
