"""Network-log throughput: ``evict scan --from zeek dns.log`` beside ``grep -F -f endpoints.txt``.

A Zeek dns.log (the default TSV writer, its header and 24 columns) of 10 million lines (20
million with ``--full``) is generated once and kept under ``bench/data/`` (not committed): 5,000
clients asking for names built from the Windows Package Manager catalogue's publishers, one line
in 20,000 a covered vendor's endpoint, as many look-alikes (``notkaspersky-labs.com``,
``tiktok.com.example.net``). Both tools then read the same file from a warm page cache, on one
core each (evict's reader is single-threaded; grep is too):

- ``grep -F -c -f endpoints.txt``: the lines holding any endpoint's domain, case-sensitive, no
  parsing; the floor any log reader is measured against.
- evict: the Zeek source (chunked read, automaton over each lower-cased chunk, bulk field-count
  check, candidate lines parsed) and the matcher, to the per-client devices.

The run checks the answer too: the devices found are exactly the clients that were given an
endpoint, none of the look-alikes'.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DATA = Path(os.environ.get("EVICT_BENCH_DATA", HERE / "data"))
GENERATOR = 1
"""Bump when the generated log changes, so a cached one is not reused."""

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    "#open\t2026-11-27-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\t"
    "qclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\t"
    "rejected\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\t"
    "count\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\t"
    "vector[interval]\tbool\n"
)
COVERED = [
    "dc1.ksn.kaspersky-labs.com",
    "dc1-file.ksn.kaspersky-labs.com",
    "s07.upd.kaspersky.com",
    "dnl-12.geo.kaspersky.com",
    "api16-normal-c-useast1a.tiktokv.com",
    "www.tiktok.com",
    "chat.deepseek.com",
]
LOOKALIKES = [
    "notkaspersky-labs.com",
    "kaspersky-labs.com.example.net",
    "tiktok.com.example.net",
    "mydeepseek.com",
]


def _names() -> list[str]:
    path = Path(str(resources.files("evict.sample_data") / "winget-index.csv"))
    with path.open(encoding="utf-8-sig", newline="") as f:
        publishers = sorted({r["PackageId"].split(".")[0].lower() for r in csv.DictReader(f)})
    words = [p for p in publishers if p.isascii() and p.replace("-", "").isalnum()]
    rng = random.Random(1)
    hosts = ["www", "api", "cdn", "static", "update", "telemetry", "login", "img", "edge"]
    tlds = ["com", "net", "org", "io", "co.uk", "de"]
    return [f"{rng.choice(hosts)}{rng.randint(1, 9)}.{w}.{rng.choice(tlds)}" for w in words]


def generate(path: Path, lines: int) -> dict[str, Any]:
    """Write a dns.log of ``lines`` lines; return which clients were given which names."""
    rng = random.Random(7)
    names = _names()
    clients = [f"10.{i // 250}.{i % 250}.{(i * 7) % 250 + 1}" for i in range(5000)]
    planted: dict[str, str] = {}
    decoys: set[str] = set()
    tmp = path.with_suffix(".tmp")
    start = 1795737600.0
    with tmp.open("w", encoding="ascii", newline="\n") as f:
        f.write(HEADER)
        batch: list[str] = []
        for i in range(lines):
            client = clients[rng.randrange(5000)]
            if i % 20_000 == 10_000:
                name = COVERED[(i // 20_000) % len(COVERED)]
                planted.setdefault(client, name)
            elif i % 20_000 == 0:
                name = LOOKALIKES[(i // 20_000) % len(LOOKALIKES)]
                decoys.add(client)
            else:
                name = names[rng.randrange(len(names))]
            port = 1024 + i % 60000
            batch.append(
                f"{start + i * 0.0086:.6f}\tC{i:017x}\t{client}\t{port}\t10.0.0.1\t53\tudp\t"
                f"{i % 65536}\t0.000512\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t"
                f"192.0.2.{i % 250 + 1}\t300.000000\tF\n"
            )
            if len(batch) == 100_000:
                f.write("".join(batch))
                batch.clear()
        f.write("".join(batch))
        f.write("#close\t2026-11-28-00-00-00\n")
    tmp.replace(path)
    return {"planted": planted, "decoys": sorted(decoys - set(planted))}


def _log(lines: int) -> tuple[Path, dict[str, Any]]:
    import json

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"zeek-dns-{lines}-v{GENERATOR}.log"
    truth = path.with_suffix(".json")
    if not (path.exists() and truth.exists()):
        answer = generate(path, lines)
        truth.write_text(json.dumps(answer))
    return path, json.loads(truth.read_text())


def _grep(log: Path, patterns: Path) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run(
        ["taskset", "-c", "0", "grep", "-F", "-c", "-f", str(patterns), str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    return seconds, int(out.stdout.strip() or 0)


def _evict(log: Path) -> tuple[float, set[str]]:
    from evict.inventory.registry import open_source
    from evict.matching.cache import load_matcher

    matcher = load_matcher()
    started = time.perf_counter()
    source = open_source("zeek", [log], catalog=matcher.catalog)
    inventories = list(source.collect())
    findings = matcher.match_hosts(inventories)
    seconds = time.perf_counter() - started
    return seconds, {h.removeprefix("net:") for h, f in findings.items() if f}


def run(full: bool) -> dict[str, Any]:
    """Generate (once) and read the log with grep and with evict; figures and the check."""
    from evict.catalog.loader import load_catalog
    from evict.matching.domains import DomainIndex

    lines = 20_000_000 if full else 10_000_000
    log, truth = _log(lines)
    size = log.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        patterns = Path(tmp) / "endpoints.txt"
        patterns.write_text("\n".join(DomainIndex.from_catalog(load_catalog()).needles()) + "\n")
        if shutil.which("taskset") is None or shutil.which("grep") is None:
            raise RuntimeError("taskset and grep are needed (util-linux, grep)")
        _grep(log, patterns)  # warm the page cache
        grep_runs = [_grep(log, patterns) for _ in range(3)]
    grep_seconds = min(s for s, _ in grep_runs)
    grep_lines = grep_runs[0][1]
    os.sched_setaffinity(0, {0})  # one core, as grep has
    try:
        evict_runs = [_evict(log) for _ in range(3)]
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    evict_seconds = min(s for s, _ in evict_runs)
    found = evict_runs[0][1]
    expected = set(truth["planted"])
    if found != expected:
        raise AssertionError(
            f"devices found differ from those planted: missing {sorted(expected - found)[:5]}, "
            f"extra {sorted(found - expected)[:5]}"
        )
    evict_rate = lines / evict_seconds
    grep_rate = lines / grep_seconds
    ratio = evict_seconds / grep_seconds
    return {
        "lines": lines,
        "bytes": size,
        "grep_seconds": round(grep_seconds, 2),
        "grep_lines_per_second": round(grep_rate),
        "grep_matching_lines": grep_lines,
        "evict_seconds": round(evict_seconds, 2),
        "evict_lines_per_second": round(evict_rate),
        "evict_mib_per_second": round(size / evict_seconds / 2**20),
        "evict_over_grep": round(ratio, 2),
        "devices_found": len(found),
        "lookalike_clients_not_reported": len(truth["decoys"]),
        "table": [
            ("dns.log lines", f"{lines:,} ({size / 2**30:.1f} GiB)", ""),
            ("grep -F -f endpoints.txt", f"{grep_rate:,.0f} lines/s", ""),
            ("evict scan --from zeek", f"{evict_rate:,.0f} lines/s", ">= 1,000,000 lines/s"),
            ("evict time / grep time", f"{ratio:.2f}x", "<= 2x"),
            ("devices found (all planted, no look-alike)", f"{len(found):,}", ""),
        ],
    }
