"""Partly damaged input: what is damaged becomes a problem, and the valid rest still comes through.

Where a parser promises to read past a bad record (a plist of a Mac, a row of an export, a
certificate of a bundle, a package of a database, one file among many), a fuzzed record must not
take the valid records around it down with it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evict.inventory.evict_json import EvictJsonSource
from evict.inventory.interface import Problems, SourceInputError
from evict.inventory.osquery import OsquerySource
from evict.inventory.sbom import CycloneDxSource
from evict.model.observations import HostInventory, Ident
from tests.fuzz.fuzzkit import ASSETS, TARGETS, Outcome, check, feed
from tests.fuzz.mutators import (
    MUTATIONS,
    Mutation,
    extreme_integer,
    flip_bytes,
    fuzz_settings,
    structured,
)

Scratch = Callable[[str], Path]


_BASELINES: dict[str, Outcome] = {}


def _baseline(name: str, scratch: Scratch) -> Outcome:
    """What target ``name`` reads from its first valid sample (read once)."""
    if name not in _BASELINES:
        target = TARGETS[name]
        _BASELINES[name] = feed(target, target.seed_bytes()[0], scratch(name))
    return _BASELINES[name]


def _collect_until_error(
    source: OsquerySource | EvictJsonSource,
) -> tuple[list[HostInventory], SourceInputError | None]:
    """What a source yields before it raises (the scan keeps it), and what it raised."""
    read: list[HostInventory] = []
    inventories: Iterator[HostInventory] = source.collect()
    try:
        for inventory in inventories:  # one by one: an error comes mid-way
            read.append(inventory)  # noqa: PERF402
    except SourceInputError as e:
        return read, e
    return read, None


@fuzz_settings(30)
@given(damaged=structured(TARGETS["osquery-log"]))
def test_a_damaged_osquery_log_does_not_hide_the_hosts_of_the_others(
    damaged: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("osquery")
    good = folder / "good.log"
    shutil.copyfile(ASSETS / "osquery/differential.log", good)
    alone = OsquerySource([good])
    expected = {i.host: set(i.observations) for i in alone.collect()}
    bad = folder / "bad.log"
    bad.write_bytes(damaged)

    source = OsquerySource([bad, good])
    read, error = _collect_until_error(source)

    hosts = {i.host: set(i.observations) for i in read}
    for host, observations in expected.items():
        assert observations <= hosts[host], f"{host} lost observations to the damaged log"
    states = [s.state for s in source.statuses]
    assert states[1] == alone.statuses[0].state
    if error is not None:
        assert error.path == str(bad)
        assert states[0] == "failed"


@fuzz_settings(25)
@given(damaged=structured(TARGETS["macos-plist"]))
def test_a_damaged_plist_is_a_problem_and_the_rest_of_the_mac_is_read(
    damaged: bytes, scratch: Scratch
) -> None:
    baseline = _baseline("macos-plist", scratch)
    damaged_app = "/Applications/Kaspersky Internet Security.app"
    others = {o for o in baseline.observations if damaged_app not in (o.ident(Ident.PATH) or "")}

    outcome = feed(TARGETS["macos-plist"], damaged, scratch("macos-plist"))

    check(outcome, scratch("macos-plist"))
    assert outcome.error is None
    assert others <= set(outcome.observations)


_ROW_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='"\r\n\x00'),
    max_size=200,
)


@fuzz_settings(60)
@given(row=_ROW_TEXT, at=st.integers(min_value=1, max_value=20))
def test_a_damaged_export_row_is_a_problem_and_the_other_rows_are_read(
    row: str, at: int, scratch: Scratch
) -> None:
    target = TARGETS["intune-csv"]
    sample = (ASSETS / "intune/AppInvRawData.csv").read_bytes()
    baseline = set(feed(target, sample, scratch("intune-csv")).observations)
    lines = sample.splitlines(keepends=True)
    at = min(at, len(lines))
    damaged = b"".join([*lines[:at], row.encode("utf-8") + b"\r\n", *lines[at:]])

    outcome = feed(target, damaged, scratch("intune-csv"))

    check(outcome, scratch("intune-csv"))
    assert outcome.error is None
    assert baseline <= set(outcome.observations)
    if row.strip() and row.count(",") != lines[0].count(b","):
        assert any(f"line {at + 1}:" in p for p in outcome.problems), outcome.problems


def _pem_blocks(bundle: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----\n"
    return [block + end for block in bundle.split(end) if block.strip()]


@fuzz_settings(60)
@given(data=st.data())
def test_a_corrupt_certificate_in_a_bundle_leaves_the_others_trusted(
    data: st.DataObject, scratch: Scratch
) -> None:
    target = TARGETS["certs"]
    isrg, digicert = _pem_blocks((ASSETS / "fuzz/certs/ca-certificates.crt").read_bytes())
    expected = feed(target, digicert, scratch("certs")).observations
    begin = len(b"-----BEGIN CERTIFICATE-----\n")
    body = isrg[begin : -len(b"-----END CERTIFICATE-----\n")]
    mutation = data.draw(st.sampled_from((flip_bytes, extreme_integer)))
    damaged = isrg[:begin] + mutation(data.draw, body) + b"-----END CERTIFICATE-----\n"

    outcome = feed(target, damaged + digicert, scratch("certs"))

    check(outcome, scratch("certs"))
    assert set(expected) <= set(outcome.observations)


@fuzz_settings(40)
@given(damaged=structured(TARGETS["file-scan"]))
def test_a_damaged_executable_leaves_the_others_identified(
    damaged: bytes, scratch: Scratch
) -> None:
    baseline = _baseline("file-scan", scratch)
    others = {o for o in baseline.observations if "/avp.exe" not in (o.ident(Ident.PATH) or "")}

    outcome = feed(TARGETS["file-scan"], damaged, scratch("file-scan"))

    check(outcome, scratch("file-scan"))
    assert others <= set(outcome.observations)


@fuzz_settings(60)
@given(data=st.data())
def test_a_damaged_rpm_header_is_a_problem_and_the_other_packages_are_read(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from evict.inventory.local.packages import RpmCollector

    root = tmp_path_factory.mktemp("rpm")
    db = root / "usr/lib/sysimage/rpm/rpmdb.sqlite"
    db.parent.mkdir(parents=True)
    shutil.copyfile(ASSETS / "fuzz/rpm/rpmdb.sqlite", db)
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT blob FROM Packages WHERE hnum = 2").fetchone()
        mutation = data.draw(st.sampled_from(MUTATIONS["binary"]))
        conn.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (mutation(data.draw, blob), 2))
    conn.close()

    problems = Problems("local:rpm")
    packages = {o.name: o for o in RpmCollector(root).collect(problems)}

    assert packages["openssl-libs"].ident(Ident.PURL) == (
        "pkg:rpm/rpm/openssl-libs@3.2.1-2.fc40?arch=x86_64&epoch=1"
    )
    if len(packages) == 1:  # the damaged header was refused, not read as some other package
        assert any("package 2:" in p for p in problems.problems), problems.problems


@fuzz_settings(60)
@given(data=st.data())
def test_a_malformed_sbom_component_is_skipped_and_the_others_are_read(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    document = json.loads((ASSETS / "cyclonedx/kesl-12.1.cdx.json").read_bytes())
    expected = _components(CycloneDxSource([ASSETS / "cyclonedx/kesl-12.1.cdx.json"]))
    index = data.draw(st.integers(0, len(document["components"]) - 1))
    component = document["components"][index]
    key = data.draw(st.sampled_from(sorted(component)))
    component[key] = data.draw(
        st.sampled_from((None, 7, 2.5, True, [], {}, ["x"], {"name": 1}, "", " "))
    )
    path = tmp_path_factory.mktemp("sbom") / "bom.cdx.json"
    path.write_text(json.dumps(document))

    read = _components(CycloneDxSource([path]))

    untouched = {name for i, name in enumerate(expected) if i != index}
    assert untouched <= set(read)


def _components(source: CycloneDxSource) -> list[str]:
    (inventory,) = source.collect()
    return [o.name for o in inventory.observations if o.source.startswith("cyclonedx")][1:]


@fuzz_settings(60)
@given(mutation=st.sampled_from(MUTATIONS["jsonl"]), data=st.data())
def test_hosts_before_a_damaged_line_of_an_evict_file_are_read(
    mutation: Mutation, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    sample = ASSETS / "fuzz/evict/hosts.jsonl"
    first, second = sample.read_bytes().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("evict") / "hosts.jsonl"
    path.write_bytes(first + mutation(data.draw, second))
    expected = next(EvictJsonSource([sample]).collect())

    read, error = _collect_until_error(EvictJsonSource([path]))

    assert read and read[0] == _with_source(expected, read[0])
    if error is not None:
        assert error.path == str(path)
        assert error.line is not None and error.line >= 2


def _with_source(expected: HostInventory, actual: HostInventory) -> HostInventory:
    """``expected`` as read from the file of ``actual`` (the source names the file)."""
    from dataclasses import replace

    return replace(expected, source=actual.source)


_VALUE_DATA = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=200
)


@fuzz_settings(60)
@given(data=_VALUE_DATA)
def test_a_damaged_value_in_a_regedit_export_costs_that_value_alone(
    data: str, scratch: Scratch
) -> None:
    # A value line whose data is anything at all, set on 7-Zip's key before a value evict does
    # not read (so even a trailing backslash, which joins the next line, takes nothing used).
    target = TARGETS["reg"]
    sample = (ASSETS / "windows/reg/wks-fin-0042/software.reg").read_bytes()
    text = sample[2:].decode("utf-16-le")
    baseline = set(feed(target, sample, scratch("reg")).observations)
    anchor = '"NoRepair"=dword:00000001'
    assert text.count(anchor) == 1
    damaged_text = text.replace(anchor, f'"EvictFuzz"={data}\r\n{anchor}')
    damaged = b"\xff\xfe" + damaged_text.encode("utf-16-le", "surrogatepass")

    outcome = feed(target, damaged, scratch("reg"))

    check(outcome, scratch("reg"))
    assert outcome.error is None, outcome.error
    assert baseline <= set(outcome.observations)
