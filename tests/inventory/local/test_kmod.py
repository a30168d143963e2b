"""Loaded kernel modules from /proc/modules."""

from __future__ import annotations

from pathlib import Path

from evict.inventory.local.kmod import KernelModuleCollector
from evict.model.observations import Kind

from ._helpers import ASSETS, run


def test_loaded_modules_by_name() -> None:
    observations, status = run(KernelModuleCollector, ASSETS / "debian")
    names = [o.name for o in observations]
    assert status.state == "ok"
    assert len(names) == 10
    assert names[:3] == ["nls_utf8", "isofs", "vboxsf"]  # out-of-tree (OE) modules included
    assert all(o.kind is Kind.KERNEL_MODULE for o in observations)


def test_empty_module_list() -> None:
    observations, status = run(KernelModuleCollector, ASSETS / "empty")
    assert (observations, status.state) == ([], "ok")


def test_malformed_line_is_a_problem_and_the_rest_is_read() -> None:
    observations, status = run(KernelModuleCollector, ASSETS / "malformed")
    assert [o.name for o in observations] == ["ext4", "jbd2"]
    assert status.state == "partial"
    assert "modules:2" in status.problems[0]


def test_not_available_without_proc_modules(tmp_path: Path) -> None:
    assert KernelModuleCollector(tmp_path).available() is False


def test_a_flood_of_bad_lines_is_summarised(tmp_path: Path) -> None:
    modules = tmp_path / "proc/modules"
    modules.parent.mkdir()
    modules.write_text("!!\n" * 500 + "ext4 987136 2 - Live 0x0000000000000000\n")
    observations, status = run(KernelModuleCollector, tmp_path)
    assert [o.name for o in observations] == ["ext4"]
    assert len(status.problems) == 51
    assert status.problems[-1] == "more problems were found and not listed"
