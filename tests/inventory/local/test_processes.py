"""Running processes from /proc: name, executable, and what is skipped."""

from __future__ import annotations

import os
from pathlib import Path

from evict.inventory.local.processes import ProcessCollector
from evict.model.observations import Ident, Kind

from ._helpers import run


def add_process(
    proc: Path, pid: int, comm: str, cmdline: list[str], exe: str | None = None
) -> None:
    """Write /proc/<pid> as the kernel shows it: comm with a newline, NUL-separated cmdline."""
    folder = proc / str(pid)
    folder.mkdir(parents=True)
    (folder / "comm").write_text(comm + "\n")
    (folder / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in cmdline))
    if exe is not None:
        os.symlink(exe, folder / "exe")


def fake_proc(root: Path) -> Path:
    proc = root / "proc"
    add_process(proc, 1, "systemd", ["/sbin/init", "splash"], "/usr/lib/systemd/systemd")
    add_process(proc, 2, "kthreadd", [])  # kernel thread: no command line, no exe
    add_process(
        proc,
        812,
        "kesl",
        ["/opt/kaspersky/kesl/libexec/kesl", "-d"],
        "/opt/kaspersky/kesl/libexec/kesl",
    )
    add_process(
        proc,
        813,
        "kesl",
        ["/opt/kaspersky/kesl/libexec/kesl", "-d"],
        "/opt/kaspersky/kesl/libexec/kesl",
    )
    add_process(
        proc,
        900,
        "kladminserver_s",
        ["/opt/kaspersky/ksc64/sbin/kladminserver_srv"],
        "/opt/kaspersky/ksc64/sbin/kladminserver_srv",
    )
    add_process(proc, 901, "python3", ["python3", "x.py"], "/usr/bin/python3.11 (deleted)")
    # another user's process seen without privileges: exe cannot be read
    add_process(proc, 950, "klnagent", ["/opt/kaspersky/klnagent/bin/klnagent", "-d"])
    (proc / "self").mkdir()
    (proc / "modules").write_text("")
    return root


def test_processes_by_name_and_executable(tmp_path: Path) -> None:
    observations, status = run(ProcessCollector, fake_proc(tmp_path))
    seen = {(o.name, o.ident(Ident.PATH)) for o in observations}
    assert status.state == "ok"
    assert seen == {
        ("systemd", "/usr/lib/systemd/systemd"),
        ("kesl", "/opt/kaspersky/kesl/libexec/kesl"),  # two processes, one observation
        ("kladminserver_srv", "/opt/kaspersky/ksc64/sbin/kladminserver_srv"),  # comm cut at 15
        ("python3", "/usr/bin/python3.11"),  # a deleted executable keeps its path
        ("klnagent", "/opt/kaspersky/klnagent/bin/klnagent"),  # path from argv[0]
    }
    assert all(o.kind is Kind.PROCESS and o.source == "local:processes" for o in observations)


def test_proc_where_nothing_can_be_read_is_a_problem(tmp_path: Path) -> None:
    for pid in (1, 2, 3):
        (tmp_path / "proc" / str(pid)).mkdir(parents=True)
    observations, status = run(ProcessCollector, tmp_path)
    assert observations == []
    assert status.state == "partial"
    assert "none of 3 processes" in status.problems[0]


def test_empty_proc(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    observations, status = run(ProcessCollector, tmp_path)
    assert (observations, status.state) == ([], "ok")


def test_this_test_process_is_seen_on_the_real_host() -> None:
    observations, status = run(ProcessCollector, Path("/"))
    assert status.state == "ok"
    assert os.readlink("/proc/self/exe") in {o.ident(Ident.PATH) for o in observations}


def test_not_available_without_proc(tmp_path: Path) -> None:
    assert ProcessCollector(tmp_path).available() is False
