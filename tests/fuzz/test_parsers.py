"""Every parser, fed hostile input: only its documented error escapes, and what it reads is usable.

For each target of :mod:`tests.fuzz.fuzzkit` (one per parser and input format):

- its valid samples, read cleanly;
- every prefix of its smallest valid sample (a file cut short at each byte);
- structured mutations of its valid samples (:mod:`tests.fuzz.mutators`): flipped bytes,
  extreme header fields, deleted or repeated lines, JSON values of the wrong type, huge strings,
  deep nesting, XML entities and encodings, CSV formulas and open quotes;
- arbitrary bytes;
- the saved inputs that once crashed it (``tests/assets/fuzz/<target>/crash-*``);
- for JSON inputs, a lone surrogate at the end of every string.

Each input must end in the parser's documented error naming the file, or in inventories that go
through matching and the JSON and CSV reports and encode as UTF-8 (:func:`fuzzkit.check`). The
last tests keep the list complete: every ``--from`` source and every format it reads has a
target, and every target a harness in ``fuzz/`` and a line in ``docs/security.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.fuzzkit import TARGETS, Target, check, feed
from tests.fuzz.mutators import fuzz_settings, prefix_offsets, structured


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_valid_samples_are_read_cleanly(name: str, scratch: Callable[[str], Path]) -> None:
    """The seeds themselves: the fuzzing starts from input the parser fully accepts."""
    target = TARGETS[name]
    for data in target.seed_bytes():
        outcome = feed(target, data, scratch(name))
        check(outcome, scratch(name))
        assert outcome.error is None, outcome.error
        assert all(s.state != "failed" for s in outcome.statuses), outcome.statuses


CUTS: dict[str, int] = {
    "apk": 800,
    "certs": 400,
    "hive": 160,
    "amcache": 160,
    "macos-plist": 100,
    "macos-tar": 100,
    "file-scan": 200,
    "rpmdb": 300,
    "file-cache": 4,
    "spdx-tv": 3,
    "catalog": 8,
    "zeek-tsv": 400,
    "zeek-json": 400,
    "suricata-eve": 400,
    "squid": 400,
    "bind": 400,
    "windows-dns": 400,
    "dnsmasq": 400,
}
"""Prefixes tried per target where cutting at every byte would be slow (spread evenly)."""

DEFAULT_CUTS = 2400
"""Samples up to this size are cut at every byte."""


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_sample_cut_short_at_every_byte(name: str, scratch: Callable[[str], Path]) -> None:
    """A file truncated anywhere (a copy interrupted, a disk full) is read or refused by name."""
    target = TARGETS[name]
    sample = min(target.seed_bytes(), key=len)
    for offset in prefix_offsets(len(sample), CUTS.get(name, DEFAULT_CUTS)):
        check(feed(target, sample[:offset], scratch(name)), scratch(name))


EXAMPLES: dict[str, tuple[int, int]] = {
    "hive": (60, 30),
    "amcache": (60, 30),
    "macos-plist": (30, 15),
    "macos-tar": (50, 20),
    "file-scan": (50, 20),
    "file-cache": (8, 4),
    "spdx-tv": (6, 3),
    "catalog": (6, 3),
}
"""(structured, arbitrary) examples per target; the rest draw :data:`DEFAULT_EXAMPLES`."""

DEFAULT_EXAMPLES = (100, 40)


def _examples(name: str) -> tuple[int, int]:
    return EXAMPLES.get(name, DEFAULT_EXAMPLES)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_structured_mutations_are_read_or_refused(
    name: str, scratch: Callable[[str], Path]
) -> None:
    """Valid samples damaged the way hostile or broken files are, all the way down."""
    target = TARGETS[name]

    @fuzz_settings(_examples(name)[0])
    @given(data=structured(target))
    def run(data: bytes) -> None:
        check(feed(target, data, scratch(name)), scratch(name))

    run()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_arbitrary_bytes_are_read_or_refused(name: str, scratch: Callable[[str], Path]) -> None:
    """Bytes that are not the format at all: binary noise, another format, nothing."""
    target = TARGETS[name]

    @fuzz_settings(_examples(name)[1])
    @given(data=st.binary(max_size=4096))
    def run(data: bytes) -> None:
        check(feed(target, data, scratch(name)), scratch(name))

    run()


def _regressions() -> list[tuple[str, Path]]:
    return [(t.name, path) for t in TARGETS.values() for path in t.regressions()]


@pytest.mark.parametrize(
    ("name", "path"), _regressions(), ids=[f"{n}/{p.name}" for n, p in _regressions()]
)
def test_inputs_that_once_crashed_a_parser_are_read_or_refused(
    name: str, path: Path, scratch: Callable[[str], Path]
) -> None:
    """Each crash the fuzzers found, kept with its input under tests/assets/fuzz/<target>/."""
    target: Target = TARGETS[name]
    check(feed(target, path.read_bytes(), scratch(name)), scratch(name))


SOURCE_TARGETS: dict[str, set[str]] = {
    "osquery": {"osquery-log", "osquery-json"},
    "dpkg-status": {"dpkg-status"},
    "reg": {"reg"},
    "hive": {"hive", "amcache"},
    "powershell": {"powershell-json", "powershell-csv"},
    "macos": {"macos-plist", "macos-tar", "macos-profiler"},
    "intune": {"intune-csv", "intune-json"},
    "jamf": {"jamf-csv", "jamf-xml"},
    "cyclonedx": {"cyclonedx-json", "cyclonedx-xml"},
    "spdx": {"spdx-json", "spdx-tv"},
    "evict": {"evict-json"},
    "zeek": {"zeek-tsv", "zeek-json"},
    "suricata": {"suricata-eve"},
    "squid": {"squid"},
    "bind": {"bind"},
    "windows-dns": {"windows-dns"},
    "dnsmasq": {"dnsmasq"},
}
"""The targets that fuzz each ``--from`` source, one per input format it reads."""


def test_every_offline_source_and_every_format_it_reads_is_fuzzed() -> None:
    from evict.inventory.registry import SOURCES

    assert set(SOURCE_TARGETS) == set(SOURCES), "a --from source has no fuzzing target"
    assert set().union(*SOURCE_TARGETS.values()) <= set(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_has_an_atheris_harness_and_a_line_in_the_security_doc(name: str) -> None:
    root = Path(__file__).resolve().parents[2]
    harness = root / "fuzz" / f"fuzz_{name.replace('-', '_')}.py"
    assert f'main("{name}")' in harness.read_text()
    assert f"| `{name}` |" in (root / "docs" / "security.md").read_text()


def _with_surrogates(value: object) -> object:
    """``value`` with a lone surrogate at the end of every string in it."""
    if isinstance(value, str):
        return value + "\udcff"
    if isinstance(value, list):
        return [_with_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: _with_surrogates(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    "name", sorted(n for n, t in TARGETS.items() if t.shape in ("json", "jsonl"))
)
def test_lone_surrogates_in_every_json_string_still_make_a_report(
    name: str, scratch: Callable[[str], Path]
) -> None:
    """JSON may escape half a surrogate pair (``"\\udcff"``); reports must still be written."""
    target = TARGETS[name]
    for sample in target.seed_bytes():
        lines = sample.splitlines() if target.shape == "jsonl" else [sample]
        damaged = b"\n".join(
            json.dumps(_with_surrogates(json.loads(line))).encode() for line in lines if line
        )
        outcome = feed(target, damaged, scratch(name))
        check(outcome, scratch(name))
        assert outcome.error is None or target.errors, outcome.error
