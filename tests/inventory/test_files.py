"""``evict scan --files``: executables found on disk, identified, cached, and never a hang.

The samples in ``tests/assets/files`` are real binaries (built by ``build.py`` there with
mingw-w64, windres, osslsigncode and gcc): a renamed Kaspersky driver, an Authenticode-signed
Kaspersky executable, a third-party program that only mentions Kaspersky, an ELF, thin and
universal Mach-O files, a truncated PE, and damaged copies under ``hostile/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from evict.catalog.interface import Catalog
from evict.catalog.loader import builtin_catalog_dir, load_catalog
from evict.cli import main
from evict.inventory.files import FileScanSource
from evict.inventory.files.formats import Format, identify, read_pe
from evict.inventory.files.rules import CompiledRules
from evict.inventory.interface import SourceInputError
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Ident, Kind, Observation

ASSETS = Path(__file__).parent.parent / "assets" / "files"
YARA = builtin_catalog_dir() / "yara"
KASPERSKY_SIGNER = "CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow, C=RU"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the samples (without their sources), to scan and to change."""
    root = tmp_path / "tree"
    shutil.copytree(ASSETS, root, ignore=shutil.ignore_patterns("src", "*.py", "hostile"))
    return root


Scan = Callable[..., tuple[HostInventory, FileScanSource]]


@pytest.fixture
def scan(catalog: Catalog) -> Scan:
    def run(*paths: Path, **options: object) -> tuple[HostInventory, FileScanSource]:
        source = FileScanSource(list(paths), catalog=catalog, **options)  # type: ignore[arg-type]
        (inventory,) = list(source.collect())
        return inventory, source

    return run


def of(inventory: HostInventory, name: str, source: str | None = None) -> list[Observation]:
    """The observations of the file called ``name`` (optionally from one source)."""
    return [
        o
        for o in inventory.observations
        if os.path.basename(o.ident(Ident.PATH) or "") == name
        and (source is None or o.source == source)
    ]


def test_renamed_kaspersky_driver_is_known_by_its_version_resource(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree)
    (driver,) = of(inventory, "svc32.sys", "files:pe")
    assert driver.kind is Kind.FILE
    assert driver.name == "svc32.sys"
    assert driver.publisher == "AO Kaspersky Lab"
    assert driver.version == "21.3.10.391"
    assert driver.ident(Ident.ORIGINAL_FILENAME) == "klif.sys"
    assert (
        driver.ident(Ident.SHA256) == hashlib.sha256((tree / "svc32.sys").read_bytes()).hexdigest()
    )
    (product,) = of(inventory, "svc32.sys", "files:version_resource")
    assert (product.kind, product.name) == (Kind.PROGRAM, "Kaspersky Anti-Virus")


def test_matcher_reports_kaspersky_for_the_renamed_driver(
    tree: Path, scan: Scan, catalog: Catalog
) -> None:
    inventory, _ = scan(tree)
    findings = Matcher(catalog).match_hosts([inventory])[inventory.host]
    driver_findings = {
        f.product
        for f in findings
        for e in f.evidence
        if (e.observation.ident(Ident.PATH) or "").endswith("/svc32.sys")
    }
    assert driver_findings & {"kaspersky-software", "kaspersky-anti-virus"}
    assert all(catalog.product(p).vendor == "kaspersky" for p in driver_findings)


def test_signed_executable_names_its_authenticode_signer(
    tree: Path, scan: Scan, catalog: Catalog
) -> None:
    inventory, _ = scan(tree)
    (agent,) = of(inventory, "avp.exe", "files:pe")
    assert agent.ident(Ident.SIGNER) == KASPERSKY_SIGNER
    # The catalog's signer rules read the subject in the form the scan writes it.
    signer_only = Observation.make(
        Kind.FILE, "setup.exe", identifiers={Ident.SIGNER: agent.ident(Ident.SIGNER)}
    )
    (hits,) = Matcher(catalog).match_distinct([signer_only])
    assert any(h.field == "signer" for h in hits)
    (product,) = of(inventory, "avp.exe", "files:version_resource")
    assert product.name == "Kaspersky Endpoint Security for Windows"
    assert product.version == "12.3.0.493"


def test_unsigned_executables_have_no_signer(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree)
    (driver,) = of(inventory, "svc32.sys", "files:pe")
    assert driver.ident(Ident.SIGNER) is None


def test_elf_is_reported_with_its_hash_and_matched(
    tree: Path, scan: Scan, catalog: Catalog
) -> None:
    inventory, _ = scan(tree)
    (elf,) = of(inventory, "kesl-control")
    assert (elf.kind, elf.name, elf.source) == (Kind.FILE, "kesl-control", "files:elf")
    expected = hashlib.sha256((tree / "kesl-control").read_bytes()).hexdigest()
    assert elf.ident(Ident.SHA256) == expected
    findings = Matcher(catalog).match_hosts([inventory])[inventory.host]
    assert any(e.observation == elf for f in findings for e in f.evidence)


@pytest.mark.parametrize("name", ["kav", "kav-universal"])
def test_macho_reports_team_id_and_signing_identifier(tree: Path, scan: Scan, name: str) -> None:
    inventory, _ = scan(tree)
    (macho,) = of(inventory, name)
    assert macho.source == "files:macho"
    assert macho.ident(Ident.TEAM_ID) == "2Y8XE5CQ94"
    assert macho.ident(Ident.BUNDLE_ID) == "com.kaspersky.kav"


def test_catalog_named_bundle_folder_is_reported(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree)
    (kext,) = of(inventory, "klif.kext")
    assert (kext.kind, kext.source) == (Kind.FILE, "files:name")
    assert kext.ident(Ident.PATH) == str(tree / "klif.kext")


def test_text_mentioning_kaspersky_is_skipped_after_one_small_read(tree: Path, scan: Scan) -> None:
    inventory, source = scan(tree)
    assert of(inventory, "README.txt") == []
    assert (source.stats.files, source.stats.opened) == (10, 10)
    # Only the eight executables are read in full; README.txt and Info.plist give 64 bytes each.
    executables = [p for p in tree.rglob("*") if p.is_file() and p.suffix not in (".txt", ".plist")]
    assert source.stats.executables == len(executables) == 8
    assert source.stats.bytes_read == sum(p.stat().st_size for p in executables)


def test_program_that_only_mentions_kaspersky_is_not_kaspersky(
    tree: Path, scan: Scan, catalog: Catalog
) -> None:
    inventory, _ = scan(tree, yara_rules=YARA)
    probe = of(inventory, "probe.exe")
    assert {o.source for o in probe} == {"files:pe", "files:version_resource"}  # no YARA match
    findings = Matcher(catalog).match_hosts([inventory])[inventory.host]
    assert not any(e.observation in probe for f in findings for e in f.evidence)


def test_yara_rules_fire_on_kaspersky_files_only(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree, yara_rules=YARA)
    fired = {
        (os.path.basename(o.ident(Ident.PATH) or ""), o.source.removeprefix("files:yara:"))
        for o in inventory.observations
        if o.source.startswith("files:yara:")
    }
    assert fired == {
        ("svc32.sys", "Kaspersky_Driver"),
        ("svc32.sys", "Kaspersky_PE_Version_Resource"),
        ("avp.exe", "Kaspersky_PE_Version_Resource"),
        ("avp.exe", "Kaspersky_Authenticode_Signer"),
    }
    yara_hits = [o for o in inventory.observations if o.source.startswith("files:yara:")]
    assert {o.publisher for o in yara_hits} == {"AO Kaspersky Lab"}


def test_catalog_yara_rules_target_pe_files_only() -> None:
    assert CompiledRules(YARA).formats == {Format.PE}


def test_yara_rules_that_do_not_compile_name_the_file(
    tmp_path: Path, tree: Path, catalog: Catalog
) -> None:
    rules = tmp_path / "broken.yar"
    rules.write_text("rule broken { condition: and }\n")
    with pytest.raises(SourceInputError) as error:
        list(FileScanSource([tree], catalog=catalog, yara_rules=rules).collect())
    assert "broken.yar" in str(error.value)


def test_symlink_out_of_the_tree_is_not_followed_and_is_reported(
    tmp_path: Path, tree: Path, scan: Scan
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(ASSETS / "avp.exe", outside / "elsewhere.exe")
    (tree / "escape").symlink_to(outside)
    (tree / "escape.exe").symlink_to(outside / "elsewhere.exe")
    inventory, source = scan(tree)
    assert not any("outside" in (o.ident(Ident.PATH) or "") for o in inventory.observations)
    assert source.stats.skipped_links == 2
    (problem,) = [p for p in source.statuses[0].problems if "symbolic link" in p]
    assert problem.startswith("did not follow 2 symbolic link(s) pointing outside")
    assert f"{tree / 'escape'} -> {outside}" in problem


def test_symlink_within_the_tree_is_skipped_quietly(tree: Path, scan: Scan) -> None:
    (tree / "alias.sys").symlink_to(tree / "svc32.sys")
    inventory, source = scan(tree)
    assert of(inventory, "alias.sys") == []
    assert len(of(inventory, "svc32.sys", "files:pe")) == 1
    assert source.stats.skipped_links == 0
    assert not any("symbolic link" in p for p in source.statuses[0].problems)


@pytest.mark.timeout(20)
def test_fifo_is_skipped_without_being_opened(tree: Path, scan: Scan) -> None:
    os.mkfifo(tree / "pipe.exe")
    inventory, source = scan(tree)
    assert source.stats.skipped_special == 1
    assert of(inventory, "pipe.exe") == []
    assert not any("pipe.exe" in p for p in source.statuses[0].problems)


def test_truncated_pe_is_hashed_and_reported(tree: Path, scan: Scan) -> None:
    inventory, source = scan(tree)
    (truncated,) = of(inventory, "truncated.exe")
    assert (
        truncated.ident(Ident.SHA256)
        == hashlib.sha256((tree / "truncated.exe").read_bytes()).hexdigest()
    )
    assert truncated.publisher == "" and truncated.version == ""
    status = source.statuses[0]
    assert status.state == "partial"
    (problem,) = status.problems
    assert "1 executable(s) only partly readable" in problem
    assert "truncated.exe (truncated: section .rsrc" in problem


def test_hostile_files_are_reported_not_raised(scan: Scan) -> None:
    inventory, source = scan(ASSETS / "hostile")
    names = {os.path.basename(o.ident(Ident.PATH) or "") for o in inventory.observations}
    # far-lfanew.exe points its PE header 4 GiB away and empty.exe is empty: neither is a PE.
    assert names == {
        "corrupt-signature.exe",
        "huge-cert-table.exe",
        "many-sections.exe",
        "zero-load-command",
    }
    (problem,) = source.statuses[0].problems
    assert problem.startswith("4 executable(s) only partly readable")
    assert problem.count(str(ASSETS / "hostile")) == 3  # three examples, not every file
    (damaged,) = of(inventory, "corrupt-signature.exe", "files:pe")
    assert damaged.publisher == "AO Kaspersky Lab"  # what could be read is still reported
    assert damaged.ident(Ident.SIGNER) is None


def test_large_executables_are_skipped_and_reported(tree: Path, scan: Scan) -> None:
    inventory, source = scan(tree, max_file_size=5000)
    assert of(inventory, "avp.exe") == []
    assert of(inventory, "svc32.sys") != []
    assert source.stats.skipped_large == 3  # avp.exe, kesl-control, kav-universal
    problems = source.statuses[0].problems
    assert any(p.startswith("skipped 3 executable(s) larger than 5,000 bytes") for p in problems)


def test_unreadable_files_are_counted_with_a_few_examples(
    tree: Path, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        shutil.copy(tree / "kesl-control", tree / f"locked-{i}")
    real_open = os.open

    def deny(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if os.path.basename(path).startswith("locked-"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    inventory, source = scan(tree)
    assert of(inventory, "kesl-control") != []
    unreadable = [p for p in source.statuses[0].problems if p.startswith("could not read")]
    assert len(unreadable) == 1
    assert unreadable[0].startswith("could not read 20 file(s)")
    assert unreadable[0].count("Permission denied") == 3


def count_opens(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[str]:
    """Record every ``os.open`` of a path below ``under``."""
    opened: list[str] = []
    real_open = os.open

    def counting(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if str(path).startswith(str(under)):
            opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting)
    return opened


def test_second_scan_answers_from_the_cache_without_opening_files(
    tmp_path: Path, tree: Path, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache" / "files.sqlite"
    opened = count_opens(monkeypatch, tree)
    first, cold = scan(tree, cache_path=cache, yara_rules=YARA)
    assert len(opened) == 10
    opened.clear()
    second, warm = scan(tree, cache_path=cache, yara_rules=YARA)
    assert opened == []
    assert warm.stats.cached == 10
    assert second.observations == first.observations
    assert warm.statuses == cold.statuses  # the truncated PE is still reported


def test_changed_file_is_read_again(
    tmp_path: Path, tree: Path, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "files.sqlite"
    scan(tree, cache_path=cache)
    shutil.copy(tree / "avp.exe", tree / "svc32.sys")
    (tree / "new.exe").write_bytes((tree / "probe.exe").read_bytes())
    opened = count_opens(monkeypatch, tree)
    inventory, _ = scan(tree, cache_path=cache)
    assert sorted(os.path.basename(p) for p in opened) == ["new.exe", "svc32.sys"]
    (replaced,) = of(inventory, "svc32.sys", "files:pe")
    assert replaced.ident(Ident.ORIGINAL_FILENAME) == "avp.exe"
    assert of(inventory, "new.exe", "files:pe") != []


def test_deleted_files_leave_the_cache(tmp_path: Path, tree: Path, scan: Scan) -> None:
    cache = tmp_path / "files.sqlite"
    scan(tree, cache_path=cache)
    (tree / "avp.exe").unlink()
    inventory, _ = scan(tree, cache_path=cache)
    assert of(inventory, "avp.exe") == []
    with sqlite3.connect(cache) as db:
        names = {name for (name,) in db.execute("SELECT name FROM entries")}
    assert "avp.exe" not in names and "svc32.sys" in names


def test_deleted_folders_leave_the_cache(tmp_path: Path, tree: Path, scan: Scan) -> None:
    cache = tmp_path / "files.sqlite"
    scan(tree, cache_path=cache)
    shutil.rmtree(tree / "klif.kext")
    scan(tree, cache_path=cache)
    with sqlite3.connect(cache) as db:
        folders = {folder for (folder,) in db.execute("SELECT DISTINCT dir FROM entries")}
    assert folders == {str(tree)}


def test_new_rules_make_the_cache_read_executables_again(
    tmp_path: Path, tree: Path, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "files.sqlite"
    scan(tree, cache_path=cache)
    opened = count_opens(monkeypatch, tree)
    inventory, _ = scan(tree, cache_path=cache, yara_rules=YARA)
    assert len(opened) == 10
    assert any(o.source.startswith("files:yara:") for o in inventory.observations)


def test_unusable_cache_file_does_not_stop_the_scan(tmp_path: Path, tree: Path, scan: Scan) -> None:
    cache = tmp_path / "files.sqlite"
    cache.write_bytes(b"this is not a SQLite database" * 100)
    inventory, source = scan(tree, cache_path=cache)
    assert of(inventory, "svc32.sys") != []
    assert any("file-scan cache unusable" in p for p in source.statuses[0].problems)


def test_progress_is_throttled_and_ends_with_the_totals(tree: Path, scan: Scan) -> None:
    for i in range(300):
        (tree / f"note-{i}.txt").write_text("not an executable")
    calls: list[tuple[int, int]] = []
    scan(tree, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (310, 310)
    assert all(done <= total for done, total in calls)
    assert len(calls) < 30  # ten a second at most, not one per file


def test_a_single_file_can_be_scanned(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree / "svc32.sys")
    assert {o.source for o in inventory.observations} == {"files:pe", "files:version_resource"}


def test_missing_path_is_an_input_error(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(SourceInputError) as error:
        list(FileScanSource([tmp_path / "nowhere"], catalog=catalog).collect())
    assert str(tmp_path / "nowhere") in str(error.value)


def test_kernel_pseudo_filesystems_are_not_entered(scan: Scan) -> None:
    inventory, source = scan(Path("/proc/self"))
    assert inventory.observations == ()
    (problem,) = source.statuses[0].problems
    assert "kernel pseudo-filesystem" in problem


def test_inventory_names_this_host(tree: Path, scan: Scan) -> None:
    inventory, _ = scan(tree, hostname="ws-0042")
    assert inventory.hostname == "ws-0042"
    assert inventory.source == "files"
    machine_id = Path("/etc/machine-id")
    if machine_id.exists() and machine_id.read_text().strip():
        assert inventory.host == machine_id.read_text().strip()
    else:
        assert inventory.host == "ws-0042"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"\x7fELF\x02\x01\x01" + bytes(57), Format.ELF),
        (b"\xcf\xfa\xed\xfe" + bytes(60), Format.MACHO),  # 64-bit, little-endian
        (b"\xfe\xed\xfa\xce" + bytes(60), Format.MACHO),  # 32-bit, big-endian
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(56), Format.MACHO),  # universal, 2 archs
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(56), None),  # a Java class file (v52)
        (b"MZ" + bytes(58) + b"\x40\x00\x00\x00" + b"PE\x00\x00", Format.PE),
        (b"MZ" + bytes(58) + b"\x40\x00\x00\x00" + b"NE\x00\x00", None),  # 16-bit Windows
        (b"%PDF-1.7\n" + bytes(55), None),
        (b"", None),
    ],
)
def test_formats_are_told_apart_by_their_first_bytes(
    header: bytes, expected: Format | None
) -> None:
    assert identify(header) is expected


@pytest.mark.parametrize("name", ["svc32.sys", "avp.exe", "probe.exe"])
def test_version_resource_reader_agrees_with_pefile(name: str) -> None:
    import pefile

    data = (ASSETS / name).read_bytes()
    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(
        directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]
    )
    expected = {
        key.decode(): value.decode()
        for info in pe.FileInfo
        for entry in info
        if entry.Key == b"StringFileInfo"
        for table in entry.StringTable
        for key, value in table.entries.items()
    }
    ours = read_pe(data, len(data))
    assert dict(ours.strings) == expected
    fixed = pe.VS_FIXEDFILEINFO[0]
    assert ours.fixed_version == ".".join(
        str(n)
        for n in (
            fixed.FileVersionMS >> 16,
            fixed.FileVersionMS & 0xFFFF,
            fixed.FileVersionLS >> 16,
            fixed.FileVersionLS & 0xFFFF,
        )
    )


def test_evict_scan_files_reads_for_the_built_in_catalog(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVICT_CACHE_DIR", str(tmp_path / "user-cache"))
    main(["scan", "--files", str(tree), "--no-file-cache", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    # Each finding that cites klif.kext (one per directive) cites it once, by its name.
    cited = [
        [e["source"] for e in f["evidence"] if e["name"] == "klif.kext"]
        for h in document["hosts"]
        for f in h["findings"]
    ]
    assert [c for c in cited if c] and all(c == ["files:name"] for c in cited if c)
