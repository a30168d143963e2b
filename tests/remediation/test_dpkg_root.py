"""Remove and replace for real, against throw-away dpkg roots.

Real .deb packages named like the covered Linux products (``kesl``, its GUI ``kesl-gui`` that
depends on it, and ``klnagent64``) and a stand-in for the approved replacement (``clamav``,
``clamav-daemon``) are installed with ``dpkg --root``. evict finds them, plans the removal after
the replacement, runs the plan against the root, and finds nothing left; a root without the
replacement is a coverage gap whose plan refuses to remove anything.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from evict.cli import main
from evict.inventory.local import LocalHostSource
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory
from evict.remediation import ExecutionError, Phase, Policy
from evict.remediation.execute import execute
from evict.remediation.planner import plan_inventory
from evict.report.scan import to_document
from evict.scanning import scan
from tests.remediation.remedykit import NOW, TODAY

COVERED = ("kesl", "kesl-gui", "klnagent64")
REPLACEMENT = ("clamav", "clamav-daemon")


def inventory(root: Path) -> HostInventory:
    (found,) = LocalHostSource(root, hostname="test-host").collect()
    return found


def installed(root: Path) -> set[str]:
    done = subprocess.run(
        ["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f=${Package} ${Status}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.endswith("install ok installed")
    }


def scan_document(root: Path, matcher: Matcher) -> dict[str, object]:
    result = scan([LocalHostSource(root, hostname="test-host")], matcher, generated_at=NOW)
    return to_document(result, matcher.catalog, today=TODAY)


def _now():  # type: ignore[no-untyped-def]
    return NOW


def test_kesl_is_found_and_the_replacement_is_seen(
    dpkg_root: Callable[..., Path], matcher: Matcher
) -> None:
    root = dpkg_root(*COVERED, *REPLACEMENT)
    (host,) = scan_document(root, matcher)["hosts"]  # type: ignore[misc]
    products = {f["product"] for f in host["findings"]}
    assert {"kaspersky-endpoint-security", "kaspersky-network-agent"} <= products
    assert host["protection"] == ["clamav"]
    assert host["coverage_gap"] is False


def test_plan_removes_after_the_replacement_is_confirmed_and_nothing_is_left(
    dpkg_root: Callable[..., Path], matcher: Matcher
) -> None:
    root = dpkg_root(*COVERED, *REPLACEMENT)
    plan = plan_inventory(inventory(root), matcher, policy=Policy(), today=TODAY)
    assert not plan.refusal and not plan.coverage_gap
    assert plan.replacement == "clamav"
    phases = [s.phase for s in plan.steps]
    assert phases[0] is Phase.CONFIRM, "the replacement is confirmed before anything is removed"
    assert phases.index(Phase.REMOVE) > phases.index(Phase.CONFIRM)
    assert phases[-1] is Phase.RESCAN
    removals = [s.operation.packages for s in plan.steps if s.phase is Phase.REMOVE]
    assert removals == [("kesl-gui", "kesl"), ("klnagent64",)], (
        "the endpoint product (GUI first) goes before its management agent"
    )

    def rescan() -> tuple[bool, str]:
        again = inventory(root)
        findings = matcher.match_hosts([again])[again.host]
        return not findings, ", ".join(sorted({f.product for f in findings}))

    records = []
    log = execute(plan, rescan=rescan, clock=_now, root=root, on_step=records.append)
    assert log.completed, [r.to_json() for r in log.records if r.status == "failed"]
    assert [r.number for r in records] == [s.number for s in plan.steps]
    assert installed(root) == set(REPLACEMENT)
    assert not (root / "opt/kaspersky").exists()
    (host,) = scan_document(root, matcher)["hosts"]  # type: ignore[misc]
    assert host["findings"] == [] and host["protection"] == ["clamav"]


def test_root_without_replacement_is_a_coverage_gap_and_its_plan_refuses(
    dpkg_root: Callable[..., Path], matcher: Matcher
) -> None:
    root = dpkg_root(*COVERED, name="bare")
    (host,) = scan_document(root, matcher)["hosts"]  # type: ignore[misc]
    assert host["coverage_gap"] is True and host["protection"] == []
    plan = plan_inventory(inventory(root), matcher, policy=Policy(), today=TODAY)
    assert plan.coverage_gap and "coverage gap" in plan.refusal
    assert not plan.removes
    with pytest.raises(ExecutionError, match="refuses"):
        execute(plan, rescan=lambda: (False, ""), clock=_now, root=root)
    assert installed(root) == set(COVERED), "nothing was removed"


def test_a_policy_that_installs_clamav_puts_it_first_but_a_root_cannot_fetch_it(
    dpkg_root: Callable[..., Path], matcher: Matcher
) -> None:
    root = dpkg_root(*COVERED, name="bare")
    plan = plan_inventory(inventory(root), matcher, policy=Policy(install=("clamav",)), today=TODAY)
    assert not plan.refusal and plan.coverage_gap and plan.replacement == "clamav"
    first = plan.steps[0]
    assert first.phase is Phase.REPLACE and "clamav" in first.operation.packages
    log = execute(plan, rescan=lambda: (False, ""), clock=_now, root=root)
    assert not log.completed and log.stopped_at == 1
    assert "running system" in log.records[0].output
    assert installed(root) == set(COVERED), "the plan stopped before removing anything"


def test_evict_remove_executes_against_the_root_and_logs_each_step(
    dpkg_root: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = dpkg_root(*COVERED, *REPLACEMENT)
    log = tmp_path / "remove-log.json"
    assert main(["remove", "--root", str(root)]) == 0
    assert "dry run" in capsys.readouterr().out
    assert installed(root) >= set(COVERED), "a dry run changes nothing"
    code = main(["remove", "--root", str(root), "--execute", "--yes", "--log", str(log)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "plan complete" in out
    record = json.loads(log.read_text())
    assert record["completed"] is True and record["root"] == str(root)
    statuses = {s["title"]: s["status"] for s in record["steps"]}
    assert statuses["purge Kaspersky Endpoint Security for Linux (the GUI package first)"] == "done"
    assert installed(root) == set(REPLACEMENT)


def test_evict_remove_refuses_on_a_root_without_replacement(
    dpkg_root: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = dpkg_root(*COVERED, name="bare")
    assert main(["remove", "--root", str(root), "--execute", "--yes"]) == 1
    assert "coverage gap" in capsys.readouterr().err
    assert installed(root) == set(COVERED)
