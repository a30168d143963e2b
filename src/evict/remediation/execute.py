"""Run a plan on this host, step by step, stopping at the first check that fails.

Only ``evict remove --execute`` calls this, for a plan made from this host's own inventory:
evict never runs plans on other hosts. Each step is skipped when its check already passes; after
a step runs, its check must pass or nothing further runs. Every step is recorded (what ran, its
exit code and output, when), and the record is what ``evict remove`` writes to its log.

With ``root`` (``evict remove --root DIR``) the plan is run against a Debian root instead of the
running system: packages are purged with ``dpkg --root``, files are removed below ``DIR``, a
replacement is confirmed by its packages (a root runs no services), and steps that need the
running system (installing from the network, vendor tools) fail with a reason.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from evict.remediation.interface import ExecutionError, Op, Plan, Shell, Step

COMMAND_TIMEOUT = 1800.0
"""Seconds one step's command may run (installing a replacement can take a while)."""

CHECK_TIMEOUT = 300.0
"""Seconds one check may run."""

MAX_OUTPUT = 4000
"""Characters of a command's output kept in the record (the end of it)."""

_UNIT_DIRS = ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system")
_ANCHOR_GLOBS = ("usr/local/share/ca-certificates/*.crt", "etc/pki/ca-trust/source/anchors/*")
_EXTENSION_GLOBS = (
    "home/*/.config/google-chrome/*/Extensions/{id}",
    "home/*/.config/chromium/*/Extensions/{id}",
    "home/*/.config/microsoft-edge/*/Extensions/{id}",
    "home/*/.mozilla/firefox/*/extensions/{id}.xpi",
    "root/.config/google-chrome/*/Extensions/{id}",
)


class Runner(Protocol):
    """Runs a command and returns its exit code and (merged) output."""

    def __call__(self, argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
        """Run ``argv``; a command that cannot start or times out returns a non-zero code."""
        ...


def run_command(argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
    """Run ``argv`` with a plain environment, capturing its output."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LC_ALL": "C",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    for name in ("KLLOGIN", "KLPASSWD", "KLNAGENT_UNINSTALL_PASSWORD", "HOME"):
        if name in os.environ:
            env[name] = os.environ[name]
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f}s"
    except OSError as e:
        return 127, f"cannot run {argv[0]}: {e.strerror or e}"
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    return done.returncode, output[-MAX_OUTPUT:]


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What happened to one step."""

    number: int
    title: str
    phase: str
    status: str
    """``already`` (its check passed before), ``done``, ``failed``."""
    command: str = ""
    returncode: int | None = None
    output: str = ""
    started_at: str = ""
    finished_at: str = ""

    def to_json(self) -> dict[str, object]:
        """Render for the log."""
        return {
            "number": self.number,
            "title": self.title,
            "phase": self.phase,
            "status": self.status,
            "command": self.command,
            "returncode": self.returncode,
            "output": self.output,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class ExecutionLog:
    """The record of running one plan."""

    host: str
    hostname: str
    root: str | None
    started_at: str
    records: list[StepRecord] = field(default_factory=list)
    finished_at: str = ""
    completed: bool = False
    stopped_at: int | None = None
    """The step whose check failed, if one did."""

    def to_json(self) -> dict[str, object]:
        """Render as the JSON log ``evict remove`` writes."""
        return {
            "host": self.host,
            "hostname": self.hostname,
            "root": self.root,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "completed": self.completed,
            "stopped_at": self.stopped_at,
            "steps": [r.to_json() for r in self.records],
        }


class _Unsupported(Exception):
    """A step that cannot run against a root."""


def _inside(root: Path, path: str) -> Path:
    """``path`` (absolute on the host) below ``root``, refusing anything that leaves it."""
    target = root / path.lstrip("/")
    parent = target.parent.resolve()
    if not parent.is_relative_to(root.resolve()):
        raise _Unsupported(f"{path} leaves the root {root}")
    return parent / target.name


def _dpkg_installed(root: Path, package: str, run: Runner) -> bool:
    code, out = run(
        [
            "dpkg-query",
            f"--admindir={root / 'var/lib/dpkg'}",
            "-W",
            "-f=${Status}",
            package,
        ],
        timeout=CHECK_TIMEOUT,
    )
    return code == 0 and "install ok installed" in out


def _unit_files(root: Path, name: str) -> list[Path]:
    names = {name, name if name.endswith(".service") else name + ".service"}
    return [
        root / d / n
        for d in _UNIT_DIRS
        for n in names
        if (root / d / n).is_file() or (root / d / n).is_symlink()
    ]


def _anchors(root: Path, subject: str) -> list[Path]:
    # cryptography: only when a signature is checked
    from cryptography import x509

    found: list[Path] = []
    for pattern in _ANCHOR_GLOBS:
        for path in root.glob(pattern):
            if not path.is_file() or path.stat().st_size > 1024 * 1024:
                continue
            data = path.read_bytes()
            try:
                cert = (
                    x509.load_pem_x509_certificate(data)
                    if b"-----BEGIN" in data
                    else x509.load_der_x509_certificate(data)
                )
            except ValueError:
                continue
            if subject in cert.subject.rfc4514_string():
                found.append(path)
    return found


def _extensions(root: Path, ident: str) -> list[Path]:
    return [p for pattern in _EXTENSION_GLOBS for p in root.glob(pattern.format(id=ident))]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class _Rooted:
    """A plan's steps done against a Debian root instead of the running system."""

    def __init__(self, root: Path, run: Runner) -> None:
        self.root = root
        self.run = run

    def check(self, step: Step) -> bool:
        o, root = step.operation, self.root
        match o.op:
            case Op.PACKAGE_REMOVE:
                return not any(_dpkg_installed(root, p, self.run) for p in o.packages)
            case Op.PACKAGE_INSTALL:
                return all(_dpkg_installed(root, p, self.run) for p in o.packages)
            case Op.PROTECTION_RUNNING:
                if not o.packages:
                    raise _Unsupported("a root runs no services: nothing to confirm it by")
                return any(_dpkg_installed(root, p, self.run) for p in o.packages)
            case Op.SERVICE_REMOVE:
                return not any(_unit_files(root, n) for n in o.names)
            case Op.KERNEL_MODULE_REMOVE:
                return True  # a root has no running kernel: nothing is loaded
            case Op.PATH_REMOVE:
                return not any(_inside(root, p).exists() for p in o.paths)
            case Op.CERTIFICATE_REMOVE:
                return not any(_anchors(root, n) for n in o.names)
            case Op.EXTENSION_REMOVE:
                return not any(_extensions(root, n) for n in o.names)
            case _:
                raise _Unsupported(f"{o.op.value} needs the running system, not a root")

    def act(self, step: Step) -> tuple[int, str, str]:
        o, root = step.operation, self.root
        match o.op:
            case Op.PACKAGE_REMOVE:
                installed = [p for p in o.packages if _dpkg_installed(root, p, self.run)]
                argv = ["dpkg", f"--root={root}", "--purge", *installed]
                code, out = self.run(argv, timeout=COMMAND_TIMEOUT)
                return code, out, " ".join(argv)
            case Op.SERVICE_REMOVE:
                for n in o.names:
                    for path in _unit_files(root, n):
                        _remove(path)
                return 0, "", f"remove unit files of {', '.join(o.names)} below {root}"
            case Op.PATH_REMOVE:
                for p in o.paths:
                    _remove(_inside(root, p))
                return 0, "", f"remove {', '.join(o.paths)} below {root}"
            case Op.CERTIFICATE_REMOVE:
                anchors = [a for n in o.names for a in _anchors(root, n)]
                for anchor in anchors:
                    anchor.unlink()
                listed = "\n".join(str(a) for a in anchors)
                return 0, listed, f"remove trust anchors naming {', '.join(o.names)}"
            case Op.EXTENSION_REMOVE:
                for n in o.names:
                    for found in _extensions(root, n):
                        _remove(found)
                return 0, "", f"remove browser extension {', '.join(o.names)} below {root}"
            case Op.PROTECTION_RUNNING | Op.KERNEL_MODULE_REMOVE:
                return 0, "", ""
            case _:
                raise _Unsupported(f"{o.op.value} needs the running system, not a root")


def execute(
    plan: Plan,
    *,
    rescan: Callable[[], tuple[bool, str]],
    clock: Callable[[], dt.datetime],
    root: Path | None = None,
    run: Runner = run_command,
    on_step: Callable[[StepRecord], None] | None = None,
    require_root_user: bool = True,
) -> ExecutionLog:
    """Run ``plan`` on this host (or against ``root``) and return its record.

    :param rescan: scans again in process; returns whether nothing covered is left, and what
        is (for the record).
    :param clock: the time for the record's timestamps.
    :param on_step: called with each step's record as soon as it is made (progress output).
    :param require_root_user: refuse to run unless evict runs as root (the default).
    """
    if plan.refusal:
        raise ExecutionError(f"the plan refuses to remove anything: {plan.refusal}")
    if plan.shell is not Shell.SH:
        raise ExecutionError(
            f"a {plan.platform.value} plan cannot run here: evict remove runs Linux plans on "
            "this host only"
        )
    if require_root_user and os.geteuid() != 0:
        raise ExecutionError("evict remove --execute must run as root")
    rooted = _Rooted(root, run) if root is not None else None

    def stamp() -> str:
        return clock().isoformat(timespec="seconds")

    def check(step: Step) -> bool:
        if step.operation.op is Op.RESCAN:
            return rescan()[0]
        if rooted is not None:
            return rooted.check(step)
        return run(["sh", "-c", step.check or "true"], timeout=CHECK_TIMEOUT)[0] == 0

    log = ExecutionLog(plan.host, plan.hostname, str(root) if root else None, stamp())
    for step in plan.steps:
        started = stamp()
        command, code, output = "", None, ""
        try:
            if check(step):
                record = StepRecord(
                    step.number, step.title, step.phase.value, "already", started_at=started,
                    finished_at=stamp(),
                )  # fmt: skip
            else:
                if step.operation.op is Op.RESCAN:
                    output = rescan()[1]
                elif rooted is not None:
                    code, output, command = rooted.act(step)
                elif step.command:
                    command = step.command
                    code, output = run(["sh", "-c", step.command], timeout=COMMAND_TIMEOUT)
                ok = check(step)
                record = StepRecord(
                    step.number, step.title, step.phase.value, "done" if ok else "failed",
                    command, code, output[-MAX_OUTPUT:], started, stamp(),
                )  # fmt: skip
        except (_Unsupported, OSError) as e:
            record = StepRecord(
                step.number, step.title, step.phase.value, "failed", command, code,
                f"{type(e).__name__}: {e}" if isinstance(e, OSError) else str(e), started, stamp(),
            )  # fmt: skip
        log.records.append(record)
        if on_step is not None:
            on_step(record)
        if record.status == "failed":
            log.stopped_at = step.number
            break
    else:
        log.completed = True
    log.finished_at = stamp()
    return log
