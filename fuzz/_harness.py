"""Run one fuzzing target of ``tests/fuzz/fuzzkit.py`` under atheris (libFuzzer).

Each ``fuzz_<target>.py`` beside this file is three lines calling :func:`main`. The corpus starts
from the target's valid samples in ``tests/assets`` (copied into ``fuzz/corpus/<target>/``, where
libFuzzer also keeps the inputs it finds interesting); the run lasts ``FUZZ_SECONDS`` (default
60); an input that raises anything but the parser's documented error, breaks an invariant of
:func:`fuzzkit.check`, takes longer than 30 seconds or needs more than 4 GiB is written to
``fuzz/crashes/<target>/``. Extra command-line arguments go to libFuzzer
(``python fuzz/fuzz_reg.py -runs=1000``; a file path replays that one input).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
sys.path.insert(0, str(ROOT))  # for tests.fuzz.fuzzkit

PER_INPUT_TIMEOUT = 30
"""Seconds one input may take before libFuzzer calls it a hang."""

RSS_LIMIT_MB = 4096
"""Memory one run may use before libFuzzer calls it a leak or a bomb."""


def _scratch_parent() -> str | None:
    """A memory-backed folder for the inputs when there is one: they are rewritten each run."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


INSTRUMENTED = (
    "tests.fuzz.fuzzkit",
    "evict",
    "asn1crypto",
    "construct",
    "csv",
    "cyclonedx",
    "defusedxml",
    "packageurl",
    "plistlib",
    "regipy",
    "spdx_tools",
    "tarfile",
    "yaml",
)
"""Modules whose code is instrumented for coverage feedback: evict and the parsers it calls."""


def main(name: str) -> None:
    """Fuzz target ``name`` until ``FUZZ_SECONDS`` have passed or an input crashes it."""
    import atheris  # type: ignore[import-untyped]

    with atheris.instrument_imports(include=list(INSTRUMENTED)):
        from tests.fuzz import fuzzkit

        target = fuzzkit.TARGETS[name]
        scratch = Path(tempfile.mkdtemp(prefix=f"evict-fuzz-{name}-", dir=_scratch_parent()))

        def test_one_input(data: bytes) -> None:
            fuzzkit.check(fuzzkit.feed(target, data, scratch / "input"), scratch / "input")

        # The samples, run once inside the block, load (and so instrument) every module the
        # parser imports lazily.
        for data in target.seed_bytes():
            test_one_input(data)

    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    crashes = FUZZ / "crashes" / name
    corpus = FUZZ / "corpus" / name
    crashes.mkdir(parents=True, exist_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in target.seeds:
        copy = corpus / ("seed-" + seed.replace("/", "_"))
        if not copy.exists():
            shutil.copyfile(fuzzkit.ASSETS / seed, copy)
    replay = [a for a in sys.argv[1:] if not a.startswith("-")]
    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-timeout={PER_INPUT_TIMEOUT}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        *[a for a in sys.argv[1:] if a.startswith("-")],
        *(replay or [str(corpus)]),
    ]
    try:
        atheris.Setup(args, test_one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
