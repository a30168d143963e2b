"""File-scan throughput: ``evict scan --files`` (cold and warm cache) against yara and clamscan.

Usage::

    .venv/bin/python bench/files/run.py [--size small|full] [--work DIR]

It builds a reproducible tree (copies of this host's ``/usr/bin`` executables and
``/usr/lib/x86_64-linux-gnu`` libraries, ``/usr/share`` text and data files, and PE files
derived from ``tests/assets/files``: a few Kaspersky ones among many third-party ones, each with
its own overlay), reads it once so every tool starts from a warm page cache, then times each
tool twice and keeps the better run:

- evict cold: a fresh cache file, the catalog's YARA rules, Python start-up included;
- evict warm: the same, with the cache the cold run left;
- yara: ``yara -r -N -p <cores>`` with the same rule files (``import "pe"``);
- clamscan: ``clamscan -r`` with ClamAV logical signatures (``.ldb``) written to match the same
  version-resource and signer strings (ClamAV's YARA support has no ``pe`` module).

``yara`` and ``clamav`` are installed from Debian with ``apt-get`` when missing and running as
root; otherwise that tool's rows say it was not available. Results go to
``bench/results/files-<date>.json`` and a table is printed. ``bench/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = HERE.parent / "results"
ASSETS = ROOT / "tests" / "assets" / "files"
RULES = ROOT / "src" / "evict" / "catalog" / "data" / "yara"
MiB = 1 << 20

SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "executables": [("/usr/bin", 150 * MiB), ("/usr/lib/x86_64-linux-gnu", 150 * MiB)],
        "data": ("/usr/share", 1500, 40 * MiB),
        "pe_files": 400,
        "pe_overlay": (4 << 10, 256 << 10),
    },
    "full": {
        "executables": [
            ("/usr/bin", 600 * MiB),
            ("/usr/sbin", 100 * MiB),
            ("/usr/libexec", 100 * MiB),
            ("/usr/lib", 1200 * MiB),
        ],
        "data": ("/usr/share", 15000, 300 * MiB),
        "pe_files": 3000,
        "pe_overlay": (4 << 10, 512 << 10),
    },
}
"""What each tree is made of: (source folder, byte budget) for executables and libraries, then
(folder, file count, byte budget) of other files, then generated PE files and their overlay
sizes. Files are taken in sorted path order, so one host always gives the same tree."""

MAX_COPIED_FILE = 64 * MiB
PE_SAMPLES = (
    ("probe.exe", "tool-{i:04}.exe"),
    ("probe.exe", "helper-{i:04}.dll"),
    ("probe.exe", "setup-{i:04}.exe"),
    ("probe.exe", "update-{i:04}.exe"),
    ("svc32.sys", "svc{i:04}.sys"),
    ("probe.exe", "agent-{i:04}.exe"),
    ("probe.exe", "plugin-{i:04}.dll"),
    ("probe.exe", "report-{i:04}.exe"),
    ("probe.exe", "sync-{i:04}.exe"),
    ("avp.exe", "avp-{i:04}.exe"),
)
"""Every tenth generated PE is Kaspersky's (alternately the driver and the signed agent)."""


# -- the tree -------------------------------------------------------------------------------


def _walk_sorted(top: str) -> Iterator[Path]:
    """Regular files below ``top`` in sorted path order, symlinks skipped."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        files = []
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                files.append(entry.path)
        for path in reversed(files):
            yield Path(path)


def _copy(source: Path, target: Path) -> int:
    try:
        size = source.stat().st_size
        if size > MAX_COPIED_FILE or not os.access(source, os.R_OK):
            return -1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return size
    except OSError:
        return -1


def build_tree(size: str, work: Path) -> dict[str, Any]:
    """Build (or reuse) the tree for ``size`` under ``work``; return its manifest summary."""
    spec = SIZES[size]
    tree = work / size
    marker = work / f"{size}.manifest.json"
    if marker.exists() and tree.exists():
        return dict(json.loads(marker.read_text()))
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    manifest: list[tuple[str, int]] = []
    for top, budget in spec["executables"]:
        used = 0
        for path in _walk_sorted(top):
            target = tree / "usr" / path.relative_to("/usr")
            copied = _copy(path, target)
            if copied < 0:
                continue
            manifest.append((str(target.relative_to(tree)), copied))
            used += copied
            if used >= budget:
                break
    top, count, budget = spec["data"]
    used = taken = 0
    for path in _walk_sorted(top):
        target = tree / "usr" / path.relative_to("/usr")
        copied = _copy(path, target)
        if copied < 0:
            continue
        manifest.append((str(target.relative_to(tree)), copied))
        used += copied
        taken += 1
        if taken >= count or used >= budget:
            break
    low, high = spec["pe_overlay"]
    rng = random.Random(17)  # the overlays are part of the tree's identity
    samples = {name: (ASSETS / name).read_bytes() for name in {s for s, _ in PE_SAMPLES}}
    kaspersky = 0
    for i in range(spec["pe_files"]):
        sample, pattern = PE_SAMPLES[i % len(PE_SAMPLES)]
        target = tree / "pe" / f"{i // 100:02}" / pattern.format(i=i)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = samples[sample] + rng.randbytes(rng.randint(low, high))
        target.write_bytes(data)
        manifest.append((str(target.relative_to(tree)), len(data)))
        kaspersky += sample != "probe.exe"
    digest = hashlib.sha256("\n".join(f"{p}\t{s}" for p, s in sorted(manifest)).encode())
    summary = {
        "size": size,
        "path": str(tree),
        "files": len(manifest),
        "bytes": sum(s for _, s in manifest),
        "kaspersky_pe_files": kaspersky,
        "manifest_sha256": digest.hexdigest(),
    }
    marker.write_text(json.dumps(summary, indent=2))
    return summary


def planted(path: str) -> bool:
    """Whether ``path`` is one of the Kaspersky PE files :func:`build_tree` planted."""
    return Path(path).name.startswith(("svc", "avp-"))


def warm_page_cache(tree: Path) -> None:
    """Read every file once, so no tool pays for the first read from disk."""
    for path in _walk_sorted(str(tree)):
        with path.open("rb") as f:
            while f.read(4 * MiB):
                pass


# -- the tools --------------------------------------------------------------------------------


def ensure_tool(command: str, package: str) -> str | None:
    """The tool's path, installing its Debian package first when missing and running as root."""
    found = shutil.which(command)
    if found:
        return found
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"{command} not found: apt-get install -y --no-install-recommends {package}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        return shutil.which(command)
    print(f"{command} not found and not root: its rows are skipped")
    return None


def _wide(text: str) -> str:
    """Hex of ``text`` as UTF-16LE, as a version resource stores it."""
    return text.encode("utf-16-le").hex()


def clamav_signatures(path: Path) -> Path:
    """ClamAV logical signatures (``.ldb``) for the strings the catalog's YARA rules read.

    ``Target:1`` limits them to PE files, as ``import "pe"`` does. Version-resource strings are
    UTF-16LE, the key and its value separated by up to 4 bytes of padding (and, for the
    company, an optional ``AO ``); the signer is the DER encoding of ``O=AO Kaspersky Lab``.
    """
    company = _wide("CompanyName") + "0000{0-10}" + _wide("Kaspersky Lab")
    product = _wide("ProductName") + "0000{0-4}" + _wide("Kaspersky ")
    original = _wide("OriginalFilename") + "0000{0-4}" + _wide("kl")
    sys_ext = _wide(".sys") + "0000"
    signer = "0603550 40a(0c|13)10".replace(" ", "") + b"AO Kaspersky Lab".hex()
    lines = [
        f"Evict.Kaspersky.PE.VersionResource;Engine:51-255,Target:1;0&1;{company};{product}",
        f"Evict.Kaspersky.Driver;Engine:51-255,Target:1;0&1&2;{company};{original};{sys_ext}",
        f"Evict.Kaspersky.AuthenticodeSigner;Engine:51-255,Target:1;0;{signer}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[0]} exited {done.returncode}: {done.stderr[-800:]}")
    return elapsed, done.stdout


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def time_evict(tree: Path, cache: Path, *, warm: bool) -> tuple[float, dict[str, Any]]:
    """One evict scan in a fresh process; a cold run starts from an empty cache file."""
    if not warm:
        for suffix in ("", "-wal", "-shm"):
            Path(str(cache) + suffix).unlink(missing_ok=True)
    command = [_python(), str(HERE / "scan_once.py"), str(tree), str(cache), str(RULES)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    elapsed, out = _timed(command, env=env)
    return elapsed, json.loads(out)


def best_of_two(measure: Any) -> tuple[float, Any]:
    """Run ``measure()`` twice; keep the faster run's (seconds, detail)."""
    runs = [measure(), measure()]
    return min(runs, key=lambda r: float(r[0]))


def _tool_version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# -- the benchmark ----------------------------------------------------------------------------


def measure(size: str, work: Path) -> dict[str, Any]:
    """Build the tree, time every tool, and return the figures."""
    tree_info = build_tree(size, work)
    tree = Path(tree_info["path"])
    files, total = tree_info["files"], tree_info["bytes"]
    print(f"tree: {tree} — {files:,} files, {total / 1e6:,.0f} MB")
    warm_page_cache(tree)
    cores = os.cpu_count() or 1
    results: dict[str, dict[str, Any]] = {}

    def row(name: str, seconds: float, detail: dict[str, Any], command: str) -> None:
        results[name] = {
            "seconds": round(seconds, 3),
            "mb_per_s": round(total / seconds / 1e6, 1),
            "files_per_s": round(files / seconds),
            "command": command,
            **detail,
        }
        print(f"  {name:12} {seconds:8.3f} s  {total / seconds / 1e6:9.1f} MB/s")

    cache = work / f"{size}.files.sqlite"
    seconds, detail = best_of_two(lambda: time_evict(tree, cache, warm=False))
    row("evict cold", seconds, detail, "FileScanSource(tree, cache_path=<empty>, yara_rules=yara/)")
    seconds, detail = best_of_two(lambda: time_evict(tree, cache, warm=True))
    row(
        "evict warm", seconds, detail, "FileScanSource(tree, cache_path=<filled>, yara_rules=yara/)"
    )

    yara = ensure_tool("yara", "yara")
    if yara:
        rule_files = [str(p) for p in sorted(RULES.glob("*.yar"))]
        command = [yara, "-r", "-N", "-w", "-p", str(cores), *rule_files, str(tree)]

        def run_yara() -> tuple[float, dict[str, Any]]:
            seconds, out = _timed(command)
            lines = [line for line in out.splitlines() if line.strip()]
            files = {line.split(" ", 1)[1] for line in lines}
            return seconds, {
                "matches": len(lines),
                "files_matched": len(files),
                "other_files_matched": sum(not planted(f) for f in files),
            }

        seconds, detail = best_of_two(run_yara)
        detail["version"] = _tool_version([yara, "--version"])
        row("yara", seconds, detail, " ".join(command[:6] + ["<rules>", "<tree>"]))

    clamscan = ensure_tool("clamscan", "clamav")
    if clamscan:
        database = clamav_signatures(work / "kaspersky.ldb")
        command = [
            clamscan, "--no-summary", "--infected", "--recursive", f"--database={database}",
            "--max-filesize=256M", "--max-scansize=256M", str(tree),
        ]  # fmt: skip

        def run_clamscan() -> tuple[float, dict[str, Any]]:
            seconds, out = _timed(command)
            found = [line for line in out.splitlines() if line.endswith(" FOUND")]
            files = {line.rsplit(": ", 1)[0] for line in found}
            return seconds, {
                "matches": len(found),
                "files_matched": len(files),
                "other_files_matched": sum(not planted(f) for f in files),
            }

        seconds, detail = best_of_two(run_clamscan)
        detail["version"] = _tool_version([clamscan, "--version"])
        row("clamscan", seconds, detail, " ".join(command[:5] + ["<tree>"]))

    return {"tree": tree_info, "results": results}


def table(figures: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """The rows ``bench/run.py`` prints: (metric, value, target)."""
    results = figures["results"]
    rows: list[tuple[str, Any, str]] = []
    for name, r in results.items():
        rows.append((f"{name} MB/s", r["mb_per_s"], ""))
        rows.append((f"{name} files/s", r["files_per_s"], ""))
    yara = results.get("yara")
    if yara:
        cold = results["evict cold"]["mb_per_s"] / yara["mb_per_s"]
        warm = results["evict warm"]["mb_per_s"] / yara["mb_per_s"]
        rows.append(("evict cold / yara throughput", f"{cold:.2f}x", ">= 1x"))
        rows.append(("evict warm / yara throughput", f"{warm:.1f}x", ">= 10x"))
    return rows


def run(full: bool, work: Path | None = None) -> dict[str, Any]:
    """Measure, write ``bench/results/files-<date>.json``, and return the figures."""
    size = "full" if full else "small"
    work = work or Path(os.environ.get("EVICT_BENCH_WORK", "/tmp/evict-bench-files"))
    work.mkdir(parents=True, exist_ok=True)
    figures = measure(size, work)
    figures["table"] = table(figures)
    document = {
        "benchmark": "files",
        "size": size,
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if size == "small" else "-full"
    out = RESULTS / f"files-{dt.date.today().isoformat()}{suffix}.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Command line: build the tree, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--work", type=Path, help="where trees and caches live")
    args = parser.parse_args(argv)
    figures = run(args.size == "full", args.work)
    rows = [("metric", "value", "target"), *figures["table"]]
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
