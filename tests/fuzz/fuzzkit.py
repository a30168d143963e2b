"""Every parser evict runs on files from other machines, as a fuzzing target.

A :class:`Target` says how one parser reads one input: where the input's bytes are written in a
scratch folder (beside any valid files the parser expects around them), how the parser is run over
that folder, which errors it documents, and which real samples under ``tests/assets`` seed it.
:func:`feed` runs a target on some bytes and returns what came out, or the documented error;
anything else escapes. The Hypothesis tests in this folder and the atheris harnesses in ``fuzz/``
share these targets, so both fuzz exactly the same entry points.

This module needs nothing but evict: the atheris harnesses import it without pytest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evict.catalog.interface import CatalogValidationError
from evict.errors import InputError
from evict.inventory.interface import (
    Collector,
    InventoryError,
    InventorySource,
    Problems,
    SourceInputError,
)
from evict.model.observations import (
    HostID,
    HostInventory,
    Kind,
    Observation,
    Platform,
    SourceStatus,
)

if TYPE_CHECKING:
    from evict.catalog.interface import Catalog
    from evict.matching.engine import Matcher

ASSETS = Path(__file__).resolve().parent.parent / "assets"
"""The test suite's real-format samples."""

FUZZ_ASSETS = ASSETS / "fuzz"
"""Seeds made for fuzzing, and the inputs that once crashed a parser (``<target>/crash-*``)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a parser made of one input: inventories and statuses, or its documented error."""

    inventories: tuple[HostInventory, ...] = ()
    statuses: tuple[SourceStatus, ...] = ()
    error: Exception | None = None

    @property
    def observations(self) -> list[Observation]:
        """Every observation of every inventory, in order."""
        return [o for inventory in self.inventories for o in inventory.observations]

    @property
    def problems(self) -> list[str]:
        """Every problem of every status, in order."""
        return [p for status in self.statuses for p in status.problems]


@dataclass(frozen=True, slots=True)
class Target:
    """One parser reading one kind of input.

    :param name: the target's name (``reg``, ``cyclonedx-json``); it also names the harness
        ``fuzz/fuzz_<name>.py``, its crash folder and its saved regression inputs.
    :param input: where the fuzzed bytes are written, relative to the scratch folder.
    :param run: reads the scratch folder and returns the outcome, raising only ``errors``.
    :param errors: the errors the parser documents for unreadable input; an empty tuple means
        it promises to turn every bad input into a problem and never raise.
    :param seeds: valid samples, relative to ``tests/assets``.
    :param shape: what the input is: ``json``, ``jsonl``, ``xml``, ``csv``, ``text`` (lines) or
        ``binary``; it picks the structured mutations.
    :param prepare: writes the valid files the input sits among, or None.
    :param reuse: whether one prepared scratch folder serves every input (only the input file
        changes); False when reading leaves files behind (a cache, a journal).
    """

    name: str
    input: str
    run: Callable[[Path], Outcome]
    errors: tuple[type[Exception], ...]
    seeds: tuple[str, ...]
    shape: str
    prepare: Callable[[Path], None] | None = None
    reuse: bool = True

    def seed_bytes(self) -> tuple[bytes, ...]:
        """The contents of every seed sample, in the order listed (read once)."""
        return _read_seeds(self.seeds)

    def regressions(self) -> list[Path]:
        """Saved inputs that once crashed this target (``tests/assets/fuzz/<name>/crash-*``)."""
        folder = FUZZ_ASSETS / self.name
        return sorted(folder.glob("crash-*")) if folder.is_dir() else []


@functools.cache
def _read_seeds(seeds: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple((ASSETS / seed).read_bytes() for seed in seeds)


def feed(target: Target, data: bytes, scratch: Path) -> Outcome:
    """Run ``target`` on ``data`` written into the ``scratch`` folder.

    The folder is prepared afresh unless the target allows reuse and it was prepared for this
    target already. Returns the parser's outcome, with ``error`` set when it raised one of its
    documented errors; any other exception escapes, which is what a fuzzer reports as a crash.
    """
    marker = scratch / f".prepared-{target.name}"
    if not (target.reuse and marker.exists()):
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        if target.prepare is not None:
            target.prepare(scratch)
        marker.touch()
    path = scratch / target.input
    path.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: a new file rather than a truncated one: ext4 flushes a file truncated and rewritten
    # (auto_da_alloc) when it is closed, which costs milliseconds a run.
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    try:
        return target.run(scratch)
    except target.errors as e:
        return Outcome(error=e)


def check(outcome: Outcome, scratch: Path) -> None:
    """Assert what a user relies on whatever the input, and raise ``AssertionError`` if not.

    A documented error must name the input (the file, or the folder it is in). Otherwise every
    status and observation must be well-formed, and the result must go through the rest of
    ``evict scan`` (matching, the JSON and CSV reports) and into the agent's JSON body, all of
    which are written out as UTF-8.
    """
    if outcome.error is not None:
        _check_error(outcome.error, scratch)
        return
    for status in outcome.statuses:
        assert status.state in ("ok", "partial", "failed"), status
        assert all(isinstance(p, str) for p in status.problems), status
        assert len(status.problems) <= MAX_PROBLEMS, f"{len(status.problems)} problems"
    for inventory in outcome.inventories:
        assert isinstance(inventory.host, str) and inventory.host, inventory.host
        assert isinstance(inventory.hostname, str), inventory.hostname
        assert isinstance(inventory.platform, Platform), inventory.platform
        for o in inventory.observations:
            assert isinstance(o.kind, Kind), o
            assert all(isinstance(v, str) for v in (o.name, o.version, o.publisher, o.source)), o
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in o.identifiers), o
    if not outcome.inventories:
        return
    from evict.inventory.evict_json import inventory_to_json
    from evict.report.scan import render_csv, render_json, to_document
    from evict.scanning import scan

    matcher = _matcher()
    result = scan([_Replay(outcome)], matcher, generated_at=_EPOCH)
    document = to_document(result, matcher.catalog, today=_EPOCH.date())
    render_json(document).encode("utf-8")
    render_csv(document).encode("utf-8")
    body = [inventory_to_json(inventory) for inventory in outcome.inventories]
    json.dumps(body, ensure_ascii=False).encode("utf-8")


MAX_PROBLEMS = 120
"""More problems than this in one status would flood a report: sources keep about fifty of each
kind and count the rest."""


def _check_error(error: Exception, scratch: Path) -> None:
    if isinstance(error, InputError):
        assert error.path.startswith(str(scratch)), f"error names {error.path!r}, not the input"
        assert error.message, error
    elif isinstance(error, CatalogValidationError):
        assert str(scratch) in str(error), f"catalog error does not name the file: {error}"
    str(error).encode("utf-8")


class _Replay(InventorySource):
    """A source that yields an outcome read already (to run it through ``scan``)."""

    name = "replay"

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def collect(self) -> Iterator[HostInventory]:
        yield from self.outcome.inventories

    @property
    def statuses(self) -> list[SourceStatus]:
        return list(self.outcome.statuses)


# --- running sources and collectors ---------------------------------------------------------------

_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def drain(source: InventorySource) -> Outcome:
    """Collect every inventory of ``source``; an error it raises goes on to :func:`feed`."""
    inventories = tuple(source.collect())
    return Outcome(inventories, tuple(source.statuses))


def collect_with(collector: Collector) -> Outcome:
    """Run one local collector the way the host source does, keeping its problems."""
    problems = Problems(f"local:{collector.name}")
    observations = tuple(collector.collect(problems))
    inventory = HostInventory(HostID("fuzz"), "fuzz", Platform.LINUX, _EPOCH, observations)
    return Outcome((inventory,), (problems.status(),))


def _copy(relative: str, to: str) -> Callable[[Path], None]:
    """A ``prepare`` that copies the asset file or tree ``relative`` to ``to`` in the scratch."""

    def prepare(scratch: Path) -> None:
        source = ASSETS / relative
        destination = scratch / to
        if source.is_dir():
            shutil.copytree(source, destination, symlinks=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)

    return prepare


# --- the parsers ----------------------------------------------------------------------------------


def _osquery(scratch: Path, entry: str) -> Outcome:
    from evict.inventory.osquery import OsquerySource

    return drain(OsquerySource([scratch / entry]))


def _dpkg(scratch: Path) -> Outcome:
    from evict.inventory.dpkg import DpkgStatusSource

    return drain(DpkgStatusSource([scratch / "web01--status"]))


def _apk(scratch: Path) -> Outcome:
    from evict.inventory.local.packages import ApkCollector

    return collect_with(ApkCollector(scratch / "root"))


def _rpm_header(scratch: Path) -> Outcome:
    from evict.inventory.local.packages import RPMTAG_NAME, parse_rpm_header

    tags = parse_rpm_header((scratch / "header.blob").read_bytes())
    return Outcome(statuses=(SourceStatus(str(tags[RPMTAG_NAME]), "ok"),))


def _rpmdb(scratch: Path) -> Outcome:
    from evict.inventory.local.packages import RpmCollector

    return collect_with(RpmCollector(scratch / "root"))


def _source(module: str, cls: str, entry: str) -> Callable[[Path], Outcome]:
    """A ``run`` that drains source ``module:cls`` over the scratch path ``entry``."""

    def run(scratch: Path) -> Outcome:
        import importlib

        source_class = getattr(importlib.import_module(module), cls)
        return drain(source_class([scratch / entry]))

    return run


def _network(kind: str, entry: str) -> Callable[[Path], Outcome]:
    """A ``run`` that drains the network-log source ``kind`` over the scratch path ``entry``."""

    def run(scratch: Path) -> Outcome:
        from evict.inventory.registry import open_source

        source = open_source(kind, [scratch / entry], catalog=_catalog())
        return drain(source)

    return run


def _pe(scratch: Path) -> Outcome:
    from evict.inventory.files.formats import identify, read_pe

    data = (scratch / "avp.exe").read_bytes()
    identify(data[:64], size=len(data))
    info = read_pe(data, len(data))
    return Outcome(statuses=(SourceStatus("pe", "partial" if info.problem else "ok"),))


def _macho(scratch: Path) -> Outcome:
    from evict.inventory.files.formats import identify, read_macho

    data = (scratch / "kav").read_bytes()
    identify(data[:64], size=len(data))
    signing = read_macho(data, len(data))
    return Outcome(statuses=(SourceStatus("macho", "partial" if signing.problem else "ok"),))


def _file_scan(scratch: Path) -> Outcome:
    from evict.inventory.files import FileScanSource

    return drain(
        FileScanSource(
            [scratch / "disk"], hostname="fuzz", catalog=_catalog(), workers=1, now=_EPOCH
        )
    )


def _file_cache(scratch: Path) -> Outcome:
    """Scan with the cache, put the input in every cached row, and scan again from the cache."""
    import sqlite3

    from evict.inventory.files import FileScanSource

    def scan() -> Outcome:
        return drain(
            FileScanSource(
                [scratch / "disk"],
                cache_path=scratch / "cache" / "files.sqlite",
                hostname="fuzz",
                catalog=_catalog(),
                workers=1,
                now=_EPOCH,
            )
        )

    scan()
    text = (scratch / "cached-row.json").read_bytes().decode("utf-8", "replace")
    with contextlib.closing(sqlite3.connect(scratch / "cache" / "files.sqlite")) as db, db:
        db.execute("UPDATE entries SET observations = ? WHERE observations IS NOT NULL", (text,))
    return scan()


def _certs(scratch: Path) -> Outcome:
    from evict.inventory.local.certs import TrustStoreCollector

    return collect_with(TrustStoreCollector(scratch / "root"))


def _catalog_run(scratch: Path) -> Outcome:
    from evict.catalog.loader import load_catalog

    catalog = load_catalog([scratch / "catalog" / "organisation.yaml"])
    return Outcome(statuses=(SourceStatus(f"catalog:{len(catalog.products)}", "ok"),))


@functools.cache
def _catalog() -> Catalog:
    """The built-in catalog, loaded once (the file scan wants its file-name rules)."""
    from evict.catalog.loader import load_catalog

    return load_catalog()


@functools.cache
def _matcher() -> Matcher:
    """A matcher of the built-in catalog, built once."""
    from evict.matching.engine import Matcher

    return Matcher(_catalog())


def _mac_tree(scratch: Path) -> None:
    _copy("macos/kav-mac", "mac")(scratch)


def _disk(scratch: Path) -> None:
    _copy("files/probe.exe", "disk/probe.exe")(scratch)
    _copy("files/kesl-control", "disk/bin/kesl-control")(scratch)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "osquery-log",
            "results.log",
            lambda s: _osquery(s, "results.log"),
            (SourceInputError,),
            (
                "osquery/differential.log",
                "osquery/batched.log",
                "server/day1.osquery.log",
            ),
            "jsonl",
        ),
        Target(
            "osquery-json",
            "hq-lab-ws-0019/programs.json",
            lambda s: _osquery(s, "hq-lab-ws-0019"),
            (SourceInputError,),
            (
                "osquery/hq-lab-ws-0019/programs.json",
                "osquery/hq-lab-ws-0019/certificates.json",
                "osquery/hq-lab-ws-0019/services.json",
            ),
            "json",
        ),
        Target(
            "zeek-tsv",
            "dns.log",
            _network("zeek", "dns.log"),
            (SourceInputError,),
            ("network/zeek-dns.log", "network/zeek-baseline-ssl.log"),
            "text",
        ),
        Target(
            "zeek-json",
            "dns.log",
            _network("zeek", "dns.log"),
            (SourceInputError,),
            ("network/zeek-dns.json", "network/zeek-docs-http.json"),
            "jsonl",
        ),
        Target(
            "suricata-eve",
            "eve.json",
            _network("suricata", "eve.json"),
            (SourceInputError,),
            ("network/suricata-eve.json", "network/fever-eve.json"),
            "jsonl",
        ),
        Target(
            "squid",
            "access.log",
            _network("squid", "access.log"),
            (SourceInputError,),
            ("network/squid-access.log",),
            "text",
        ),
        Target(
            "bind",
            "queries.log",
            _network("bind", "queries.log"),
            (SourceInputError,),
            ("network/bind-query.log",),
            "text",
        ),
        Target(
            "windows-dns",
            "dns.log",
            _network("windows-dns", "dns.log"),
            (SourceInputError,),
            ("network/windows-dns.log",),
            "text",
        ),
        Target(
            "dnsmasq",
            "pihole.log",
            _network("dnsmasq", "pihole.log"),
            (SourceInputError,),
            ("network/dnsmasq.log",),
            "text",
        ),
        Target(
            "dpkg-status",
            "web01--status",
            _dpkg,
            (SourceInputError,),
            ("fuzz/dpkg/status", "linux/debian/var/lib/dpkg/status"),
            "text",
        ),
        Target(
            "apk",
            "root/lib/apk/db/installed",
            _apk,
            (SourceInputError,),
            ("linux/alpine/lib/apk/db/installed",),
            "text",
        ),
        Target(
            "rpm-header",
            "header.blob",
            _rpm_header,
            (InventoryError,),
            ("fuzz/rpm/kesl.hdr", "fuzz/rpm/openssl-libs.hdr"),
            "binary",
        ),
        Target(
            "rpmdb",
            "root/usr/lib/sysimage/rpm/rpmdb.sqlite",
            _rpmdb,
            (InventoryError,),
            ("fuzz/rpm/rpmdb.sqlite",),
            "binary",
        ),
        Target(
            "reg",
            "wks-fin-0042.reg",
            _source("evict.inventory.windows.reg", "RegExportSource", "wks-fin-0042.reg"),
            (SourceInputError,),
            (
                "windows/reg/laptop-7.reg",
                "windows/reg/legacy-xp.reg",
                "windows/reg/wks-fin-0042/software.reg",
            ),
            "text",
        ),
        Target(
            "hive",
            "SOFTWARE",
            _source("evict.inventory.windows.hive", "HiveSource", "SOFTWARE"),
            (SourceInputError,),
            (
                "windows/hive/wks-fin-0042/SOFTWARE",
                "windows/hive/wks-fin-0042/SYSTEM",
                "windows/hive/wks-fin-0042/Users/alice/NTUSER.DAT",
            ),
            "binary",
        ),
        Target(
            "amcache",
            "Amcache.hve",
            _source("evict.inventory.windows.hive", "HiveSource", "Amcache.hve"),
            (SourceInputError,),
            ("windows/hive/wks-fin-0077/Windows/AppCompat/Programs/Amcache.hve",),
            "binary",
        ),
        Target(
            "powershell-json",
            "uninstall.json",
            _source("evict.inventory.windows.powershell", "PowerShellSource", "uninstall.json"),
            (SourceInputError,),
            (
                "windows/powershell/fleet-uninstall.json",
                "windows/powershell/wks-fin-0042/drivers.json",
                "windows/powershell/wks-fin-0042/appx.json",
            ),
            "json",
        ),
        Target(
            "powershell-csv",
            "services.csv",
            _source("evict.inventory.windows.powershell", "PowerShellSource", "services.csv"),
            (SourceInputError,),
            (
                "windows/powershell/wks-fin-0042/services.csv",
                "windows/powershell/wks-fin-0042/rootcerts.csv",
            ),
            "csv",
        ),
        Target(
            "macos-plist",
            "mac/Applications/Kaspersky Internet Security.app/Contents/Info.plist",
            _source("evict.inventory.macos", "MacosSource", "mac"),
            (),
            (
                "macos/kav-mac/Applications/Kaspersky Internet Security.app/Contents/Info.plist",
                "macos/kav-mac/Applications/Google Chrome.app/Contents/Info.plist",
                "macos/kav-mac/Library/LaunchDaemons/com.kaspersky.kav.plist",
            ),
            "xml",
            prepare=_mac_tree,
        ),
        Target(
            "macos-tar",
            "kav-mac.tar",
            _source("evict.inventory.macos", "MacosSource", "kav-mac.tar"),
            (SourceInputError,),
            ("fuzz/macos/kav-mac.tar", "macos/kav-mac.tgz"),
            "binary",
        ),
        Target(
            "macos-profiler",
            "profiler.json",
            _source("evict.inventory.macos", "MacosSource", "profiler.json"),
            (SourceInputError,),
            ("macos/kav-mac-profiler.json", "macos/with-software.json"),
            "json",
        ),
        Target(
            "intune-csv",
            "AppInvRawData.csv",
            _source("evict.inventory.mdm", "IntuneSource", "AppInvRawData.csv"),
            (SourceInputError,),
            (
                "intune/AppInvRawData.csv",
                "intune/AppInvByDevice.csv",
                "intune/AppInvRawData-unicode.txt",
            ),
            "csv",
        ),
        Target(
            "intune-json",
            "detectedApps.json",
            _source("evict.inventory.mdm", "IntuneSource", "detectedApps.json"),
            (SourceInputError,),
            ("intune/detectedApps-expanded.json", "intune/managedDevice-detectedApps.json"),
            "json",
        ),
        Target(
            "jamf-csv",
            "computer-search.csv",
            _source("evict.inventory.mdm", "JamfSource", "computer-search.csv"),
            (SourceInputError,),
            ("jamf/computer-search.csv", "jamf/mobile-search.txt"),
            "csv",
        ),
        Target(
            "jamf-xml",
            "computer.xml",
            _source("evict.inventory.mdm", "JamfSource", "computer.xml"),
            (SourceInputError,),
            ("jamf/computer-42.xml", "jamf/mobiledevice-7.xml"),
            "xml",
        ),
        Target(
            "cyclonedx-json",
            "bom.cdx.json",
            _source("evict.inventory.sbom", "CycloneDxSource", "bom.cdx.json"),
            (SourceInputError,),
            (
                "cyclonedx/kesl-12.1.cdx.json",
                "cyclonedx/syft-dir-secureedge-avd.cdx.json",
                "cyclonedx/trivy-jumphost-2024.06.cdx.json",
            ),
            "json",
        ),
        Target(
            "cyclonedx-xml",
            "bom.cdx.xml",
            _source("evict.inventory.sbom", "CycloneDxSource", "bom.cdx.xml"),
            (SourceInputError,),
            ("fuzz/cyclonedx/kesl-12.1.cdx.xml", "cyclonedx/secureedge-ngfw-7.2.1.cdx.xml"),
            "xml",
        ),
        Target(
            "spdx-json",
            "host.spdx.json",
            _source("evict.inventory.sbom", "SpdxSource", "host.spdx.json"),
            (SourceInputError,),
            ("fuzz/spdx/kesl.spdx.json", "spdx/ops-jumphost-debian12.spdx.json"),
            "json",
        ),
        Target(
            "spdx-tv",
            "host.spdx",
            _source("evict.inventory.sbom", "SpdxSource", "host.spdx"),
            (SourceInputError,),
            ("fuzz/spdx/kesl.spdx", "spdx/ops-jumphost-debian12.spdx"),
            "text",
        ),
        Target(
            "pe",
            "avp.exe",
            _pe,
            (),
            ("files/avp.exe", "files/probe.exe", "files/svc32.sys"),
            "binary",
        ),
        Target(
            "macho",
            "kav",
            _macho,
            (),
            ("files/kav", "files/kav-universal", "files/klif.kext/Contents/MacOS/klif"),
            "binary",
        ),
        Target(
            "file-scan",
            "disk/avp.exe",
            _file_scan,
            (),
            ("files/avp.exe", "files/kav-universal", "files/kesl-control", "files/svc32.sys"),
            "binary",
            prepare=_disk,
        ),
        Target(
            "file-cache",
            "cached-row.json",
            _file_cache,
            (),
            ("fuzz/files/cached-row.json",),
            "json",
            prepare=_disk,
            reuse=False,
        ),
        Target(
            "certs",
            "root/etc/ssl/certs/ca-certificates.crt",
            _certs,
            (),
            ("fuzz/certs/ca-certificates.crt", "fuzz/certs/ISRG_Root_X1.der"),
            "text",
        ),
        Target(
            "evict-json",
            "hosts.jsonl",
            _source("evict.inventory.evict_json", "EvictJsonSource", "hosts.jsonl"),
            (SourceInputError,),
            ("fuzz/evict/hosts.jsonl",),
            "jsonl",
        ),
        Target(
            "catalog",
            "catalog/organisation.yaml",
            _catalog_run,
            (CatalogValidationError,),
            ("catalog/valid/organisation.yaml",),
            "text",
        ),
    )
}
"""Every fuzzing target, by name."""
