"""Plans for the sample fleet's Windows, macOS and Linux hosts, checked by real parsers:
``ansible-playbook --syntax-check``, ``sh -n`` and shellcheck, and a PowerShell grammar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evict.inventory.osquery import OsquerySource
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory
from evict.remediation import Op, Phase, Plan, PlanFormatError, Policy, renderer
from evict.remediation.planner import plan_inventory
from tests.remediation.remedykit import ASSETS, REMEDIATION_ASSETS, TODAY, need_tool

WINDOWS, LINUX, MAC, MAC_FALCON = "hq-fin-ws-0142", "dc1-app-lx-017", "lgl-mbp-0231", "lgl-mbp-0232"


@pytest.fixture(scope="module")
def plans(matcher: Matcher, fleet: dict[str, HostInventory]) -> dict[str, Plan]:
    """Plans of the sample hosts; the Linux host may install ClamAV, the policy says."""
    (mac_falcon,) = OsquerySource([REMEDIATION_ASSETS / "mac-falcon.osquery.log"]).collect()
    hosts = {**fleet, MAC_FALCON: mac_falcon}
    policy = Policy(install=("clamav",))
    return {
        h: plan_inventory(hosts[h], matcher, policy=policy, today=TODAY)
        for h in (WINDOWS, LINUX, MAC, MAC_FALCON)
    }


def powershell_errors(text: str) -> list[str]:
    """ERROR and MISSING nodes a PowerShell grammar finds in ``text``."""
    import tree_sitter
    import tree_sitter_powershell

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    data = text.encode("utf-8")
    tree = parser.parse(data)
    errors: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            line = node.start_point[0] + 1
            errors.append(f"line {line}: {data[node.start_byte : node.end_byte][:80]!r}")
        stack.extend(node.children)
    return errors


def test_the_grammar_catches_a_broken_script() -> None:
    assert powershell_errors("if ($x -eq 1 { Write-Host 'unclosed'\n")
    assert powershell_errors("$a = @('x', 'y')\nif ($a) { Write-Host $a }\n") == []


def test_windows_plan_confirms_defender_then_uninstalls_by_product_code(
    plans: dict[str, Plan],
) -> None:
    plan = plans[WINDOWS]
    assert plan.protection == ("microsoft-defender",) and not plan.coverage_gap
    phases = [s.phase for s in plan.steps]
    # Defender is off while KES is registered: installed before, protecting right after.
    assert phases[:4] == [Phase.CONFIRM, Phase.REMOVE, Phase.REMOVE, Phase.CONFIRM]
    kes, agent = plan.steps[1], plan.steps[2]
    assert kes.operation.names == ("{9EE91037-F015-4120-ACC8-C673D5134034}",)
    assert agent.operation.names == ("{D29747EE-9CD9-475C-8A69-C719235EB719}",)
    assert "'/x', '{9EE91037-F015-4120-ACC8-C673D5134034}'" in kes.command
    assert kes.secrets == ("KLLOGIN", "KLPASSWD") and "$env:KLPASSWD" in kes.command
    leftovers = {s.title for s in plan.steps if s.phase is Phase.LEFTOVER}
    assert "remove driver klif if still there" in leftovers
    assert any("Kaspersky Anti-Virus Personal Root Certificate" in t for t in leftovers)
    assert any("ahkjpbeeocnddjkakilopmfdlnjdpcdm" in t for t in leftovers)
    assert plan.steps[-1].phase is Phase.RESCAN


def test_powershell_plan_parses_without_errors(plans: dict[str, Plan], tmp_path: Path) -> None:
    text = renderer("powershell").render([plans[WINDOWS]])
    assert powershell_errors(text) == []
    assert text.startswith("#Requires -RunAsAdministrator")
    assert text.count("Invoke-EvictStep -Number") == len(plans[WINDOWS].steps)
    assert "('KLPASSWD=' + $env:KLPASSWD)" in text, "the password is read at run time, not written"


@pytest.mark.parametrize("host", [LINUX, MAC, MAC_FALCON])
def test_sh_plans_pass_sh_n_and_shellcheck(
    plans: dict[str, Plan], tmp_path: Path, host: str
) -> None:
    shellcheck = need_tool("shellcheck")
    script = tmp_path / f"{host}.sh"
    script.write_text(renderer("sh").render([plans[host]]))
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([shellcheck, "--shell=sh", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_mac_plan_with_falcon_runs_the_vendor_uninstaller_and_the_bare_mac_refuses(
    plans: dict[str, Plan],
) -> None:
    falcon = plans[MAC_FALCON]
    assert falcon.protection == ("crowdstrike-falcon",) and not falcon.refusal
    assert falcon.steps[0].check == "launchctl print system/com.crowdstrike.falcond >/dev/null 2>&1"
    (remove,) = [s for s in falcon.steps if s.phase is Phase.REMOVE]
    assert "Kaspersky Lab/KAV/Binaries/UninstallScript" in remove.command
    leftovers = " ".join(s.command for s in falcon.steps if s.phase is Phase.LEFTOVER)
    assert "kextunload -b com.kaspersky.kext.klif" in leftovers
    assert "security delete-certificate -c 'Kaspersky Anti-Virus Personal Root Certificate'" in (
        leftovers
    )
    bare = plans[MAC]
    assert bare.coverage_gap and "coverage gap" in bare.refusal and not bare.removes


def test_linux_plan_installs_clamav_before_removing_kesl(plans: dict[str, Plan]) -> None:
    plan = plans[LINUX]
    assert plan.coverage_gap and plan.replacement == "clamav" and not plan.refusal
    phases = [s.phase for s in plan.steps]
    assert phases[:3] == [Phase.REPLACE, Phase.REPLACE, Phase.CONFIRM]
    assert plan.steps[0].command.startswith(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y clamav"
    )
    removals = [s.operation.packages for s in plan.steps if s.phase is Phase.REMOVE]
    assert removals == [("kesl",), ("klnagent64",)]


def test_ansible_playbook_passes_syntax_check(plans: dict[str, Plan], tmp_path: Path) -> None:
    playbook = tmp_path / "plan.yml"
    chosen = [plans[h] for h in (WINDOWS, LINUX, MAC_FALCON, MAC)]
    playbook.write_text(renderer("ansible").render(chosen))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("\n".join(p.hostname for p in chosen) + "\n")
    env = {
        **os.environ,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
    }
    ansible = Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run(
        [str(ansible), "--syntax-check", "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    import yaml

    plays = yaml.safe_load(playbook.read_text())
    assert [p["hosts"] for p in plays] == [p.hostname for p in chosen]
    refused = plays[-1]["tasks"][-1]
    assert "ansible.builtin.fail" in refused, "a refused plan fails its host in the playbook"
    windows_tasks = plays[0]["tasks"]
    assert all("ansible.builtin.raw" in t for t in windows_tasks)
    assert any(t.get("no_log") for t in windows_tasks), "tasks that read a password log nothing"


def test_a_format_refuses_a_platform_it_cannot_express(plans: dict[str, Plan]) -> None:
    with pytest.raises(PlanFormatError, match="windows host"):
        renderer("sh").render([plans[WINDOWS]])
    with pytest.raises(PlanFormatError, match="linux host"):
        renderer("powershell").render([plans[LINUX]])
    document = json.loads(renderer("json").render(list(plans.values())))
    assert {p["host"] for p in document["plans"]} == set(plans)
    assert document["plans"][0]["steps"][0]["check"]


WINDOWS_ASSETS = [
    ("reg", ASSETS / "windows" / "reg" / "wks-fin-0042"),
    ("hive", ASSETS / "windows" / "hive" / "wks-fin-0042"),
    ("powershell", ASSETS / "windows" / "powershell" / "wks-fin-0042"),
]


@pytest.mark.parametrize(("kind", "path"), WINDOWS_ASSETS, ids=[k for k, _ in WINDOWS_ASSETS])
def test_windows_assets_get_defender_enabled_first_and_a_parsable_plan(
    matcher: Matcher, kind: str, path: Path
) -> None:
    from evict.inventory.registry import open_source

    (inventory,) = open_source(kind, [path]).collect()
    plan = plan_inventory(inventory, matcher, policy=Policy(), today=TODAY)
    assert plan.coverage_gap and plan.replacement == "microsoft-defender" and not plan.refusal
    assert plan.steps[0].phase is Phase.REPLACE
    assert [s.operation.op for s in plan.steps if s.phase is Phase.REMOVE].count(
        Op.MSI_UNINSTALL
    ) >= 2
    assert powershell_errors(renderer("powershell").render([plan])) == []


def test_macos_folder_asset_plan_passes_shellcheck(matcher: Matcher, tmp_path: Path) -> None:
    from evict.inventory.registry import open_source

    shellcheck = need_tool("shellcheck")
    (inventory,) = open_source("macos", [ASSETS / "macos" / "kav-mac"]).collect()
    plan = plan_inventory(inventory, matcher, policy=Policy(), today=TODAY)
    assert plan.refusal, "no approved protection on this Mac: the plan refuses"
    script = tmp_path / "mac.sh"
    script.write_text(renderer("sh").render([plan]))
    done = subprocess.run([shellcheck, "--shell=sh", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
