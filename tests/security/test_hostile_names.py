"""Hostile names through every renderer, checked with the real tools.

Every entry of :mod:`tests.security.hostile_names` goes through the pipeline a fleet's data takes
(a host inventory, the matcher, the planner or the scan and reports) into each output format,
and the output is then run or parsed by the tool that reads it: ``ansible-playbook`` (a syntax
check, then a run on this machine that templates every string of every task), a PowerShell
grammar, ``sh -n`` and a run with stub commands in a throw-away directory, ``named-checkzone``,
``squid -k parse``, an XML parser, the csv module, BeautifulSoup and ``pdftotext``.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from evict.matching.engine import Matcher
from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform
from evict.remediation import Op, Plan, Policy, renderer
from evict.remediation.planner import plan_inventory
from tests.remediation.remedykit import need_tool
from tests.security.hostile_names import HOSTILE, MARKER, raw_unsafe

TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)
NAMES = list(HOSTILE.values())
TYPOGRAPHIC_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b"


def _windows(hostname: str = "ws-hostile-1", names: list[str] = NAMES) -> HostInventory:
    """A Windows host whose Kaspersky programs, services and folders carry every hostile name."""
    observations = [
        Observation.make(Kind.PROGRAM, "Microsoft Defender Antivirus", source="osquery:programs")
    ]
    for i, name in enumerate(names):
        observations += [
            Observation.make(
                Kind.PROGRAM,
                f"Kaspersky Endpoint Security for Windows {name}",
                version="12.1",
                publisher="AO Kaspersky Lab",
                identifiers={Ident.PATH: f"C:\\Program Files\\{name}\\Kaspersky Lab {i}"},
                source="osquery:programs",
            ),
            Observation.make(
                Kind.SERVICE, f"klnagent{name}", publisher="AO Kaspersky Lab", source="osquery:x"
            ),
        ]
    return HostInventory(
        HostID(hostname), hostname, Platform.WINDOWS, NOW, tuple(observations), source="test"
    )


def _linux(hostname: str = "lx-hostile-1", names: list[str] = NAMES) -> HostInventory:
    """A Linux host with Kaspersky's package, ClamAV running, and a Kaspersky folder per name."""
    observations = [
        Observation.make(
            Kind.PACKAGE,
            "kesl",
            version="12.0",
            identifiers={Ident.PURL: "pkg:deb/debian/kesl@12.0"},
            source="osquery:deb_packages",
        ),
        Observation.make(
            Kind.PACKAGE,
            "clamav-daemon",
            version="1.0",
            identifiers={Ident.PURL: "pkg:deb/debian/clamav-daemon@1.0"},
            source="osquery:deb_packages",
        ),
        Observation.make(Kind.SERVICE, "clamav-daemon", source="osquery:systemd_units"),
    ]
    observations += [
        Observation.make(
            Kind.FILE,
            "kesl",
            identifiers={Ident.PATH: f"/opt/kaspersky/{name}/kaspersky {i}"},
            source="osquery:file",
        )
        for i, name in enumerate(names)
    ]
    return HostInventory(
        HostID(hostname), hostname, Platform.LINUX, NOW, tuple(observations), source="test"
    )


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    """The built-in catalog, compiled."""
    from evict.catalog.loader import load_catalog

    return Matcher(load_catalog())


@pytest.fixture(scope="module")
def plans(matcher: Matcher) -> dict[str, Plan]:
    """The plans of both hosts, made by the planner from the matcher's findings."""
    policy = Policy(install=("clamav",))
    return {
        "windows": plan_inventory(_windows(), matcher, policy=policy, today=TODAY),
        "linux": plan_inventory(_linux(), matcher, policy=policy, today=TODAY),
    }


def _hostile_steps(plan: Plan, op: Op) -> list[Any]:
    return [s for s in plan.steps if s.operation.op is op]


def test_the_corpus_reaches_the_plans(plans: dict[str, Plan]) -> None:
    windows, linux = plans["windows"], plans["linux"]
    (absent,) = _hostile_steps(windows, Op.PROGRAM_ABSENT)
    assert set(absent.operation.names) >= {
        f"Kaspersky Endpoint Security for Windows {n}" for n in NAMES
    }
    services = {s.operation.names[0] for s in _hostile_steps(windows, Op.SERVICE_REMOVE)}
    assert services >= {f"klnagent{n}" for n in NAMES}
    folders = {p for s in _hostile_steps(linux, Op.PATH_REMOVE) for p in s.operation.paths}
    shown = [(i, n) for i, n in enumerate(NAMES) if not raw_unsafe(n) and "\x00" not in n]
    assert folders == {f"/opt/kaspersky/{n}/kaspersky {i}" for i, n in shown} | {
        "/opt/kaspersky/kesl",
        "/var/opt/kaspersky/kesl",
        "/etc/opt/kaspersky/kesl",
    }
    skipped = [w for w in linux.warnings if "a script cannot show as it is" in w]
    assert len(skipped) == len(NAMES) - len(shown), "a path sh cannot show is left out, said so"


# --- Ansible ------------------------------------------------------------------------------------


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }


def _ansible_playbook(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ansible = Path(sys.executable).parent / "ansible-playbook"
    need(ansible.exists(), "ansible-playbook is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, str(ansible), *args],
        capture_output=True,
        text=True,
        env=_ansible_env(tmp_path),
        cwd=tmp_path,
        timeout=600,
    )


def need(condition: bool, reason: str) -> None:
    from tests.remediation.remedykit import need as _need

    _need(condition, reason)


def _expected_tasks(plan: Plan) -> list[tuple[str, str]]:
    """(name, text) of every task of ``plan``'s play, as the playbook means Ansible to see them:
    the task's label and its script, command or message, byte for byte."""
    from evict.neutral import one_line

    prelude = "$ErrorActionPreference = 'Stop'\n"
    windows = plan.shell.value == "powershell"
    out: list[tuple[str, str]] = []
    for s in plan.steps:
        title = one_line(s.title)
        if s.command or s.operation.op in (Op.PACKAGE_INSTALL, Op.PACKAGE_REMOVE):
            label = f"step {s.number} ({s.phase.value}): {title}"
            if s.operation.op in (Op.PACKAGE_INSTALL, Op.PACKAGE_REMOVE):
                text = ",".join(s.operation.packages)
            elif windows:
                text = f"{prelude}if (-not ({s.check or '$true'})) {{\n{s.command}\n}}\n"
            else:
                text = f"if {s.check or 'false'}; then exit 0; fi\n{s.command}\n"
            out.append((label, text))
        label = f"step {s.number} check: {title}"
        if windows:
            out.append((label, f"{prelude}if (-not ({s.check or '$true'})) {{ exit 1 }}\n"))
        else:
            out.append((label, s.check or "true"))
    if plan.refusal:
        out.append(("evict refuses to remove anything on this host", one_line(plan.refusal)))
    return out


def _harmless(play: dict[str, Any], out: Path) -> dict[str, Any]:
    """The same play, each task's strings templated by ``set_fact`` instead of run on a host,
    then written to ``out`` as JSON: what Ansible made of every string the playbook holds."""
    tasks: list[dict[str, Any]] = []
    for i, task in enumerate(play["tasks"]):
        (module,) = [k for k in task if k.startswith("ansible.builtin.")]
        arg = task[module]
        assert isinstance(arg, dict), "a free-form argument is split into key=value options"
        if "_raw_params" in arg:
            text = arg["_raw_params"]
        elif "cmd" in arg:
            text = arg["cmd"]
        elif "msg" in arg:
            text = arg["msg"]
        else:
            text = ",".join(arg["name"])
        tasks.append(
            {
                "name": task["name"],
                "ansible.builtin.set_fact": {
                    f"evict_name_{i:04d}": task["name"],
                    f"evict_text_{i:04d}": text,
                },
            }
        )
    tasks.append(
        {
            "name": "write what Ansible made of every string",
            "ansible.builtin.copy": {
                "content": "{{ hostvars[inventory_hostname] | dict2items"
                " | selectattr('key', 'match', '^evict_(name|text)_') | items2dict | to_json }}",
                "dest": str(out),
            },
        }
    )
    kept = {k: v for k, v in play.items() if k not in ("tasks", "become")}
    return {**kept, "tasks": tasks}


def test_ansible_playbook_takes_every_hostile_name_as_data(
    plans: dict[str, Plan], tmp_path: Path
) -> None:
    chosen = [plans["windows"], plans["linux"]]
    playbook = tmp_path / "plan.yml"
    playbook.write_text(renderer("ansible").render(chosen), encoding="utf-8")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "".join(
            f"{p.hostname} ansible_connection=local ansible_python_interpreter={sys.executable}\n"
            for p in chosen
        )
    )
    done = _ansible_playbook(tmp_path, "--syntax-check", "-i", str(inventory), str(playbook))
    assert done.returncode == 0, done.stdout + done.stderr

    plays = yaml.safe_load(playbook.read_text(encoding="utf-8"))
    harmless, results = [], {}
    for plan, play in zip(chosen, plays, strict=True):
        assert play["hosts"] == plan.hostname
        results[plan.hostname] = tmp_path / f"{plan.hostname}.json"
        harmless.append(_harmless(play, results[plan.hostname]))
    run = tmp_path / "harmless.yml"
    run.write_text(yaml.safe_dump(harmless, allow_unicode=True, width=1000), encoding="utf-8")
    done = _ansible_playbook(tmp_path, "-i", str(inventory), str(run))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not (tmp_path / MARKER).exists(), "a lookup in a host's name ran on the controller"

    for plan in chosen:
        seen = json.loads(results[plan.hostname].read_text(encoding="utf-8"))
        got = [
            (seen[f"evict_name_{i:04d}"], seen[f"evict_text_{i:04d}"])
            for i in range(len(seen) // 2)
        ]
        assert got == _expected_tasks(plan), "Ansible got every string byte for byte"
    windows_text = "".join(t for _, t in _expected_tasks(plans["windows"]))
    assert "{% endraw %}" in windows_text or "RW5kcmF3" in windows_text


def test_ansible_playbook_strings_hold_no_template_code_from_hosts(plans: dict[str, Plan]) -> None:
    """Every string of the playbook rendered by Jinja2 with recording lookups: only evict's own
    ``b64decode`` references remain, and no lookup fires."""
    import jinja2

    text = renderer("ansible").render([plans["windows"], plans["linux"]])
    fired: list[tuple[Any, ...]] = []

    def record(*args: Any, **kwargs: Any) -> str:
        fired.append(args)
        return ""

    env = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    env.globals.update(lookup=record, query=record, q=record)
    env.filters["b64decode"] = lambda v: ""
    strings: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str):
            strings.append(x)

    walk(yaml.safe_load(text))
    code: list[str] = []
    for s in strings:
        assert not s.startswith("#jinja2:")
        try:
            env.from_string(s).render()
        except jinja2.TemplateError:
            pass  # Ansible fails on such a string; the others still run
        code += re.findall(r"\{[{%#].*?[}%#]\}", s, flags=re.S)
    assert fired == [], "a host's name runs as template code on the Ansible controller"
    ours = re.compile(r"\{\{ evict_data\.t\d+ \| b64decode \}\}")
    assert [c for c in code if not ours.fullmatch(c)] == [], "template code is evict's only"
    assert "{% raw %}" not in text
    assert raw_unsafe(text) == [], "comments and labels show controls and bidi as <U+XXXX>"


@pytest.mark.parametrize(
    "hostname",
    [
        "all",
        "localhost",
        "127.0.0.1",
        "web*",
        "db[1:3]",
        "a,b",
        "!x",
        "~.*",
        "{{ lookup('pipe','id') }}",
        "a b",
    ],
)
def test_ansible_refuses_a_host_name_it_would_read_as_a_pattern(
    matcher: Matcher, hostname: str
) -> None:
    from evict.remediation.interface import PlanFormatError

    policy = Policy(install=("clamav",))
    hostile = plan_inventory(_linux(hostname, ["x"]), matcher, policy=policy, today=TODAY)
    fine = plan_inventory(_linux("lx-fine-2", ["x"]), matcher, policy=policy, today=TODAY)
    fmt = renderer("ansible")
    assert not fmt.accepts(hostile) and fmt.accepts(fine)
    assert "cannot be a play's hosts" in fmt.refuses(hostile)
    with pytest.raises(PlanFormatError, match="cannot be a play's hosts"):
        fmt.render([fine, hostile])


# --- PowerShell ---------------------------------------------------------------------------------


def _powershell_tree(text: str) -> Any:
    import tree_sitter
    import tree_sitter_powershell

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    return parser.parse(text.encode("utf-8"))


def _nodes(tree: Any) -> list[Any]:
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _decoded_strings(nodes: list[Any]) -> set[str]:
    """The values of the script's string literals, read as PowerShell reads them: verbatim
    strings with any two single-quote characters standing for one, and the base64 of UTF-16
    text given to ``FromBase64String``."""
    values: set[str] = set()
    for node in nodes:
        if node.type != "string_literal":
            continue
        text = node.text.decode("utf-8")
        if text[:1] not in "'" + TYPOGRAPHIC_SINGLE_QUOTES:
            continue
        value = re.sub(r"(['\u2018-\u201b])['\u2018-\u201b]", r"\1", text[1:-1])
        values.add(value)
        if re.fullmatch(r"[A-Za-z0-9+/]+=*", value) and len(value) % 4 == 0:
            try:
                values.add(base64.b64decode(value).decode("utf-16-le", "surrogatepass"))
            except (ValueError, UnicodeDecodeError):
                pass
    return values


def test_powershell_typographic_single_quotes_cannot_end_a_string(matcher: Matcher) -> None:
    """PowerShell ends a verbatim string at any of ' U+2018 U+2019 U+201A U+201B; a name with
    any of them stays one string, and the grammar (which knows only ') reads what PowerShell
    reads because none of them is left in the code."""
    quoted = [n for n in NAMES if set(n) & set(TYPOGRAPHIC_SINGLE_QUOTES + "'")]
    plan = plan_inventory(_windows(names=quoted), matcher, policy=Policy(), today=TODAY)
    text = renderer("powershell").render([plan])
    code = "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )
    left = sorted(set(code) & set(TYPOGRAPHIC_SINGLE_QUOTES))
    assert left == [], f"a name's {left} would end its string and run the rest"
    nodes = _nodes(_powershell_tree(text))
    assert [n for n in nodes if n.type == "ERROR"] == []
    (absent,) = _hostile_steps(plan, Op.PROGRAM_ABSENT)
    assert set(absent.operation.names) <= _decoded_strings(nodes)


def test_powershell_plan_keeps_every_hostile_name_inside_strings(plans: dict[str, Plan]) -> None:
    text = renderer("powershell").render([plans["windows"]])
    tree = _powershell_tree(text)
    nodes = _nodes(tree)
    errors = [n for n in nodes if n.type == "ERROR" or n.is_missing]
    assert errors == [], [e.text[:80] for e in errors[:3]]
    code = "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )
    # PowerShell ends a verbatim string at any of ' U+2018 U+2019 U+201A U+201B (the language
    # specification's single-quote-character); the grammar above knows only '. With none of
    # the others in the code, both read the same strings.
    assert not set(code) & set(TYPOGRAPHIC_SINGLE_QUOTES), "a typographic quote in the code"
    commands = [n.text.decode() for n in nodes if n.type == "command_name"]
    assert all(MARKER not in c for c in commands) and "New-Item" not in commands
    literals = _decoded_strings(nodes)
    (absent,) = _hostile_steps(plans["windows"], Op.PROGRAM_ABSENT)
    missing = [n[:60] for n in absent.operation.names if n not in literals]
    assert missing == [], "every name reaches the script exactly, as a string"
    services = {s.operation.names[0] for s in _hostile_steps(plans["windows"], Op.SERVICE_REMOVE)}
    assert services <= literals
    assert raw_unsafe(text) == [], "no control or bidi character in the script"


def test_powershell_plan_of_a_host_with_a_hostile_name_parses(matcher: Matcher) -> None:
    for name in NAMES:
        plan = plan_inventory(_windows(name, ["x"]), matcher, policy=Policy(), today=TODAY)
        text = renderer("powershell").render([plan])
        nodes = _nodes(_powershell_tree(text))
        assert [n for n in nodes if n.type == "ERROR" or n.is_missing] == [], repr(name[:60])
        code = "".join(
            line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
        )
        assert not set(code) & set(TYPOGRAPHIC_SINGLE_QUOTES)
        assert raw_unsafe(text) == []


# --- sh -----------------------------------------------------------------------------------------

STUB = """#!/bin/sh
printf '%s\\0' "$#" "${0##*/}" "$@" >> "$STUB_LOG"
case "${0##*/}" in
  id) echo 0 ;;
  touch) for f; do : > "$f"; done ;;
  systemctl) case "$*" in *clamav*) exit 0 ;; *is-active*|*is-enabled*) exit 1 ;; esac ;;
  dpkg|rpm|grep|kextstat|launchctl|security) exit 1 ;;
esac
exit 0
"""
STUBBED = (
    "id touch systemctl dpkg rpm grep apt-get dnf zypper rm modprobe rmmod openssl "
    "update-ca-certificates update-ca-trust launchctl kextunload kextstat security evict "
    "freshclam cat ls sh bash"
).split()


def _stubs(root: Path) -> tuple[dict[str, str], Path]:
    """A PATH of stub commands that log their arguments (``touch`` also creates its files)."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in STUBBED:
        stub = bin_dir / name
        stub.write_text(STUB)
        stub.chmod(0o755)
    log = root / "calls.log"
    log.touch()
    return {"PATH": str(bin_dir), "STUB_LOG": str(log), "LC_ALL": "C"}, log


def _calls(log: Path) -> list[list[str]]:
    fields = log.read_bytes().split(b"\0")
    calls, i = [], 0
    while i < len(fields) - 1:
        n = int(fields[i])
        calls.append([f.decode("utf-8", "surrogateescape") for f in fields[i + 1 : i + 2 + n]])
        i += n + 2
    return calls


def test_sh_plan_passes_sh_n_and_runs_no_hostile_name(
    plans: dict[str, Plan], tmp_path: Path
) -> None:
    plan = plans["linux"]
    script = tmp_path / "plan.sh"
    text = renderer("sh").render([plan])
    script.write_text(text, encoding="utf-8")
    done = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shellcheck = need_tool("shellcheck")
    # SC1112 says a typographic quote is not a quote: in sh it is a literal character, which is
    # what the host's name holds (single-quoted here, it cannot end the word).
    done = subprocess.run(
        [shellcheck, "--shell=sh", "--severity=warning", "--exclude=SC1112", str(script)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[:3000]
    comments = "".join(line for line in text.splitlines(True) if line.startswith("#"))
    assert raw_unsafe(comments) == []

    env, log = _stubs(tmp_path)
    done = subprocess.run(
        ["/bin/sh", str(script)], capture_output=True, env=env, cwd=tmp_path, timeout=120
    )
    out = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, out[-2000:] + done.stderr.decode("utf-8", "replace")[-2000:]
    assert "evict: plan complete for lx-hostile-1" in out
    assert raw_unsafe(out) == [], "step titles print with controls and bidi neutralised"
    assert not (tmp_path / MARKER).exists()
    assert not [c for c in _calls(log) if c[0] == "touch"], "no injected command ran"

    # Each folder step's command, run on its own: the folder arrives as one argument, exactly.
    for step in _hostile_steps(plan, Op.PATH_REMOVE):
        log.write_bytes(b"")
        done = subprocess.run(
            ["/bin/sh", "-c", step.command], capture_output=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert _calls(log) == [["rm", "-rf", "--", *step.operation.paths]]
    assert not (tmp_path / MARKER).exists()


def test_sh_plan_of_a_host_with_a_hostile_name(matcher: Matcher, tmp_path: Path) -> None:
    env, log = _stubs(tmp_path)
    for name in NAMES:
        plan = plan_inventory(
            _linux(name, ["x"]), matcher, policy=Policy(install=("clamav",)), today=TODAY
        )
        text = renderer("sh").render([plan])
        script = tmp_path / "host.sh"
        script.write_text(text, encoding="utf-8")
        done = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, (name[:60], done.stderr)
        done = subprocess.run(["/bin/sh", str(script)], capture_output=True, env=env, cwd=tmp_path)
        assert done.returncode == 0, name[:60]
        assert raw_unsafe(done.stdout.decode("utf-8", "replace")) == []
        assert raw_unsafe(text) == []
    assert not (tmp_path / MARKER).exists()


# --- JSON plans ---------------------------------------------------------------------------------


def test_json_plan_keeps_names_exact_and_shows_nothing_raw(plans: dict[str, Plan]) -> None:
    text = renderer("json").render(list(plans.values()))
    assert raw_unsafe(text) == [], "controls and bidi written as \\u escapes"
    document = json.loads(text)
    (windows,) = [p for p in document["plans"] if p["platform"] == "windows"]
    (absent,) = [s for s in windows["steps"] if s["op"] == "program-absent"]
    (step,) = _hostile_steps(plans["windows"], Op.PROGRAM_ABSENT)
    assert absent["check"] == step.check, "the JSON holds the command exactly"


# --- deny lists (catalog text) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_block(matcher: Matcher) -> Any:
    from evict.catalog.interface import Publisher
    from evict.remediation.block import block_list

    block = block_list(matcher.catalog, "bod-17-01")
    printable = [n for n in NAMES if n.isprintable()]
    return dataclasses.replace(
        block,
        title=" ".join(NAMES[:-1]),
        vendors=(*block.vendors, "evil\nvendor\u202e"),
        publishers=(*block.publishers, *(Publisher(n, f"source {n}") for n in printable)),
    )


def test_rpz_zone_with_hostile_catalog_text_loads(hostile_block: Any, tmp_path: Path) -> None:
    from evict.remediation.block import render_block

    checkzone = need_tool("named-checkzone")
    zone = tmp_path / "evict.rpz"
    zone.write_text(render_block(hostile_block, "dns-rpz", serial=2026112701), encoding="utf-8")
    done = subprocess.run(
        [checkzone, "rpz.evict.example", str(zone)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert raw_unsafe(zone.read_text(encoding="utf-8")) == []


def test_squid_acl_with_hostile_catalog_text_parses(hostile_block: Any, tmp_path: Path) -> None:
    from evict.remediation.block import render_block

    squid = need_tool("squid")
    acl = tmp_path / "evict.conf"
    acl.write_text(render_block(hostile_block, "squid"), encoding="utf-8")
    conf = tmp_path / "squid.conf"
    conf.write_text(
        f"include {acl}\nhttp_access allow localhost\nhttp_access deny all\n"
        f"http_port 127.0.0.1:3128\npid_filename {tmp_path}/squid.pid\n"
        f"cache_log {tmp_path}/cache.log\naccess_log none\n"
    )
    done = subprocess.run([squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "ERROR" not in output and "FATAL" not in output, output
    rules = [line for line in acl.read_text().splitlines() if not line.startswith("#")]
    assert rules[-1] == "http_access deny evict_blocked"
    assert all(re.fullmatch(r"acl evict_blocked dstdomain \.[a-z0-9.-]+", r) for r in rules[:-1])
    assert raw_unsafe(acl.read_text()) == []


def test_hosts_and_applocker_with_hostile_catalog_text(hostile_block: Any) -> None:
    import defusedxml.ElementTree as ET

    from evict.remediation.block import BlockError, render_block

    hosts = render_block(hostile_block, "hosts")
    for line in hosts.splitlines():
        assert line.startswith("#") or re.fullmatch(r"0\.0\.0\.0 [a-z0-9.-]+", line), line
    root = ET.fromstring(render_block(hostile_block, "applocker").encode("utf-8"))
    subjects = [c.get("PublisherName") for c in root.iter("FilePublisherCondition")]
    assert set(subjects) >= {n for n in NAMES if n.isprintable()}, "XML keeps names exact"
    for rule in root.iter("FilePublisherRule"):
        assert raw_unsafe(rule.get("Name") + rule.get("Description")) == []
    from evict.catalog.interface import Publisher

    bad = dataclasses.replace(hostile_block, publishers=(Publisher("a\x00b\u202e", "x"),))
    with pytest.raises(BlockError, match="cannot hold"):
        render_block(bad, "applocker")


# --- scan CSV, JSON and terminal table ----------------------------------------------------------


def _osquery_log(path: Path) -> None:
    """An osquery results log of one Windows host per name: the name is its host name (in the
    decorations) and in its Kaspersky program's name."""
    with path.open("w", encoding="utf-8") as f:
        for i, name in enumerate(NAMES):
            row = {
                "name": f"Kaspersky Endpoint Security for Windows {name}",
                "version": "12.1",
                "publisher": "AO Kaspersky Lab",
                "install_location": "",
                "identifying_number": "",
            }
            event = {
                "name": "programs",
                "hostIdentifier": f"hostile-{i}",
                "decorations": {"hostname": name},
                "calendarTime": "Fri Nov 27 09:00:00 2026 UTC",
                "unixTime": 1795770000,
                "action": "snapshot",
                "snapshot": [row],
            }
            f.write(json.dumps(event) + "\n")


def test_scan_csv_json_and_table_show_hostile_names_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evict.cli import main

    log = tmp_path / "hostile.log"
    _osquery_log(log)
    outputs = {}
    for fmt in ("csv", "json", "table"):
        target = tmp_path / f"scan.{fmt}"
        main(["scan", "--from", "osquery", str(log), "--format", fmt, "-o", str(target)])
        outputs[fmt] = target.read_text(encoding="utf-8")
    capsys.readouterr()
    for fmt, text in outputs.items():
        assert raw_unsafe(text) == [], fmt

    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    hostnames = [r["hostname"] for r in rows]
    assert len(rows) >= len(NAMES)
    for cell in (c for r in rows for c in r.values()):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell.startswith("'")
        assert not re.match(r"-(?!\d+(\.\d+)?$)", cell), cell
    assert '\'=HYPERLINK("https://evil.example","x")' in hostnames
    assert "Kaspersky<U+202E>gpj.exe" in hostnames

    document = json.loads(outputs["json"])
    assert {h["hostname"] for h in document["hosts"]} == set(NAMES), "JSON keeps names exact"

    table = outputs["table"]
    assert "[bold red]alarm[/bold red]" in table and "[link=https://evil.example]" in table
    assert ":warning:" in table and "\u26a0" not in table
    assert "Kaspersky<U+202E>gpj.exe" in table


# --- HTML and PDF reports -----------------------------------------------------------------------


def _document() -> Any:
    from evict.report.interface import Document, Field, ReportKind, Section, Table

    rows = tuple((f"host-{i}", name, i) for i, name in enumerate(NAMES))
    return Document(
        kind=ReportKind.HOSTS,
        title="Hosts",
        directive="bod-17-01",
        directive_title="Kaspersky",
        authority="DHS",
        organisation="Agency \u202eevil",
        scope="all org units",
        today=TODAY,
        generated_at=NOW,
        milestone="Status",
        due=TODAY,
        catalog_version="test",
        submit_to="CISA",
        sections=(
            Section(
                "1",
                "Hosts",
                fields=(Field("Named by a host", NAMES[0]),),
                statements=(NAMES[1],),
                tables=(Table("hosts", "Hosts", ("host", "hostname", "n"), rows),),
            ),
        ),
    )


def test_html_report_shows_hostile_names_as_text() -> None:
    from bs4 import BeautifulSoup

    from evict.report.render_html import render_html

    html = render_html(_document())
    assert raw_unsafe(html) == [], "bidi and control characters reach the page raw"
    from evict.neutral import neutralise

    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all("script") == [] and soup.find_all("a") == []
    cells = [tr.find_all("td") for tr in soup.select("table.data tbody tr")]
    shown = [c[1].get_text() for c in cells]
    assert shown == [neutralise(n) for n in NAMES]
    assert "Kaspersky<U+202E>gpj.exe" in shown


def test_pdf_report_shows_hostile_names_as_text(tmp_path: Path) -> None:
    from evict.report.render_pdf import render_pdf

    pdftotext = need_tool("pdftotext")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_pdf(_document()))
    done = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    assert "Kaspersky<U+202E>gpj.exe" in text.replace(" ", "")
    assert "\u202e" not in text and "\x9b" not in text
