"""The generated catalog rules: regenerated from the pinned registries, cited, and tested family by
family on the shapes inventory sources give (service names, driver files with their version
forms, PE version resources, image paths, bundle and package ids, launchd labels, SBOM
components), with every look-alike listed beside a broad rule shown not to match."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pytest

from evict.catalog.generate import OUTPUT, REGISTRIES, differences, generate, load_registries
from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.inventory.sbom.cyclonedx import CycloneDxSource
from evict.matching.engine import Matcher
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform

ASSETS = Path(__file__).parent.parent / "assets"
REGS = load_registries()
ALT = REGS["microsoft-filter-altitudes.yaml"]
DRV = REGS["kaspersky-drivers.yaml"]
NS = REGS["namespaces.yaml"]
EMB = REGS["embedded-code.yaml"]
ANY = "kaspersky-software"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> Matcher:
    return Matcher(catalog)


def found(matcher: Matcher, kind: Kind, name: str, **ids: str) -> set[str]:
    obs = Observation.make(kind, name, identifiers=ids)
    return {h.product for h in matcher.match_distinct([obs])[0]}


def fired(matcher: Matcher, kind: Kind, name: str, **ids: str) -> set[str]:
    obs = Observation.make(kind, name, identifiers=ids)
    return {h.rule for h in matcher.match_distinct([obs])[0]}


# --- regeneration and citations --------------------------------------------------------------


def test_checked_in_rules_are_what_the_registries_generate() -> None:
    assert differences() == [], "run `make catalog` and commit the result"


def test_a_changed_registry_shows_as_a_changed_rule_file(tmp_path: Path) -> None:
    for path in REGISTRIES.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    alt = tmp_path / "microsoft-filter-altitudes.yaml"
    alt.write_text(
        alt.read_text(encoding="utf-8").replace("klboot.sys", "klbootx.sys"), encoding="utf-8"
    )
    assert differences(OUTPUT, tmp_path) == ["kaspersky.yaml"]
    assert "klbootx" in generate(tmp_path)["kaspersky.yaml"]


def test_every_registry_names_its_source_date_and_licence() -> None:
    for name, reg in REGS.items():
        assert reg["retrieved"], name
        assert reg["licence"], name
        titles = [s["title"] for s in reg.get("sources", {}).values()]
        assert titles or reg.get("url"), f"{name}: no source"


def test_every_generated_rule_cites_its_registry(catalog: Catalog) -> None:
    generated = [r for p in catalog.products for r in p.rules if r.id.startswith("gen-")]
    assert len(generated) > 100
    for rule in generated:
        assert rule.source.startswith("registries/"), rule.id
        assert "retrieved 2026-12-05" in rule.source, rule.id


def test_altitude_rows_all_name_the_vendor() -> None:
    vendor = ALT["vendors"]["kaspersky"]
    assert {row["company"] for row in vendor["entries"]} == set(vendor["spellings_seen"])
    assert len({row["minifilter"].lower() for row in vendor["entries"]}) == 21


# --- drivers ----------------------------------------------------------------------------------

ALTITUDE_DRIVERS = sorted({row["minifilter"] for row in ALT["vendors"]["kaspersky"]["entries"]})
OTHER_DRIVERS = sorted(f"{row['stem']}.sys" for row in DRV["drivers"])


@pytest.mark.parametrize("driver", ALTITUDE_DRIVERS + OTHER_DRIVERS)
def test_driver_is_recognised_as_service_driver_file_and_image_path(
    matcher: Matcher, driver: str
) -> None:
    stem = driver.removesuffix(".sys")
    if stem in ("klim", "klkbdflt"):
        stem, driver = stem + "6", stem + "6.sys"
    assert found(matcher, Kind.SERVICE, stem) == {ANY}
    assert found(matcher, Kind.DRIVER, driver.upper()) == {ANY}
    assert found(matcher, Kind.FILE, driver, original_filename=driver) == {ANY}
    path = rf"C:\Windows\System32\drivers\{driver}"
    assert found(matcher, Kind.DRIVER, "Kaspersky driver", path=path) == {ANY}


@pytest.mark.parametrize(
    "name",
    [
        "KLIF.KES-21-9.sys",  # a driver copy named after the product version
        "klbackupflt.KES-21-9.sys",
        "klim5.sys",  # the NDIS generation as a number suffix
        "klkbdflt2.sys",
        "klupd_klif_arkmon.sys",  # update-module drivers
        "klupd_klif_mark.sys",
        "klupd_21.3.10.391_arkmon.sys",
    ],
)
def test_versioned_driver_file_names_are_recognised(matcher: Matcher, name: str) -> None:
    assert found(matcher, Kind.DRIVER, name) == {ANY}
    assert found(matcher, Kind.DRIVER, "x", path=rf"\SystemRoot\System32\drivers\{name}") == {ANY}


def test_versioned_driver_folder_is_recognised(matcher: Matcher) -> None:
    path = r"C:\Windows\System32\DRIVERS\K4W-21-25\klwtp.sys"
    assert "gen-drv-folder-k4w" in fired(matcher, Kind.FILE, "klwtp.sys", path=path)


@pytest.mark.parametrize(
    ("kind", "name", "ids"),
    [
        *[(Kind.DRIVER, x["minifilter"], {}) for x in ALT["lookalikes"]],
        *[(Kind.DRIVER, x["name"], {}) for x in DRV["lookalikes"] if x["name"].endswith(".sys")],
        (Kind.PROCESS, "klist.exe", {}),
        (Kind.DRIVER, "klim", {}),  # a command-line tool's name: Kaspersky's NDIS driver is klim6
        (Kind.SERVICE, "klim", {}),
        (Kind.PROCESS, "klboot", {}),  # driver stems are not process names
        (Kind.DRIVER, "kavbase64.sys", {"path": r"C:\Windows\System32\drivers\kavbase64.sys"}),
        (Kind.FILE, "klif.exe", {}),  # not a driver form: a version infix carries a digit
        (Kind.FILE, "klifx.sys", {"original_filename": "klifx.sys"}),
        (Kind.SERVICE, "klupd_", {}),
        (Kind.PROGRAM, "K-Lite Codec Pack 18.6.0 Full", {}),
        (Kind.PACKAGE, "klite", {}),
        (Kind.FILE, "readme.txt", {"path": r"C:\Users\a\klif.sys.txt"}),
    ],
)
def test_driver_lookalike_is_not_reported(
    matcher: Matcher, kind: Kind, name: str, ids: Mapping[str, str]
) -> None:
    assert found(matcher, kind, name, **ids) == set()


# --- documented services and folders ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "ids", "product"),
    [
        (Kind.SERVICE, "kladminserver", {}, "kaspersky-security-center"),
        (Kind.SERVICE, "klfocsvc_klfoc", {}, "kaspersky-security-center"),
        (Kind.SERVICE, "ksnproxy", {}, "kaspersky-security-center"),
        (Kind.SERVICE, "klnagent_klfoc", {}, "kaspersky-network-agent"),
        (Kind.SERVICE, "KAVFSSLP", {}, "kaspersky-security-windows-server"),
        (
            Kind.FILE,
            "kavfs.exe",
            {"path": r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Security for Windows Server"},
            "kaspersky-security-windows-server",
        ),
        (
            Kind.FILE,
            "agent.exe",
            {"path": r"C:\Program Files (x86)\Kaspersky Lab\Endpoint Agent\agent.exe"},
            "kaspersky-anti-targeted-attack",
        ),
        (Kind.PROCESS, "klScanEngineUI", {}, "kaspersky-scan-engine"),
        (Kind.PROGRAM, "Kaspersky Scan Engine 2.1", {}, "kaspersky-scan-engine"),
        (
            Kind.PROGRAM,
            "Kaspersky Security Center 14 Administration Server",
            {},
            "kaspersky-security-center",
        ),
    ],
)
def test_documented_service_or_folder_names_its_product(
    matcher: Matcher, kind: Kind, name: str, ids: Mapping[str, str], product: str
) -> None:
    assert found(matcher, kind, name, **ids) == {product}


# --- namespaces and app ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "ids"),
    [
        (Kind.APP, "x", {"bundle_id": "com.kaspersky.kav.gui"}),
        (Kind.DRIVER, "sysext", {"bundle_id": "2Y8XE5CQ94.com.kaspersky.kav.sysext"}),
        (Kind.PACKAGE, "com.kaspersky.kav.core", {"bundle_id": "com.kaspersky.kav.core"}),
        (Kind.SERVICE, "com.kaspersky.kav", {}),  # a launchd label
        (Kind.APP, "Some app", {"package_id": "com.kaspersky.someapp"}),
        (Kind.APP, "Some app", {"bundle_id": "com.kaspersky.someapp"}),
    ],
)
def test_id_in_the_vendors_namespace_is_kaspersky_software(
    matcher: Matcher, kind: Kind, name: str, ids: Mapping[str, str]
) -> None:
    assert found(matcher, kind, name, **ids) == {ANY}
    assert any(r.startswith("gen-ns-") for r in fired(matcher, kind, name, **ids))


LOOKALIKE_IDS = [
    *NS["vendors"]["kaspersky"]["namespaces"][0]["lookalikes"],
    *NS["vendors"]["kaspersky"]["not_namespaces"][0]["lookalikes"],
    *NS["vendors"]["bytedance"]["lookalikes"],
]


@pytest.mark.parametrize("ident", LOOKALIKE_IDS)
@pytest.mark.parametrize("field", ["bundle_id", "package_id"])
def test_namespace_lookalike_is_not_reported(matcher: Matcher, ident: str, field: str) -> None:
    assert found(matcher, Kind.APP, "Some app", **{field: ident}) == set()


@pytest.mark.parametrize(
    "ident",
    [
        "com.kaspersky.kaspresso.alluresupport.sample",
        "com.kaspersky.components.kautomator",
    ],
)
def test_vendors_test_framework_in_its_namespace_stays_a_lookalike(
    matcher: Matcher, ident: str
) -> None:
    """The namespace rule never reports the test framework as a Kaspersky product; only the
    question of scope it raises (is vendor-authored open source covered?) remains."""
    excluded: dict[int, object] = {}
    obs = Observation.make(Kind.APP, "sample", identifiers={"package_id": ident})
    (hits,) = matcher.match_distinct([obs], lookalikes=excluded)
    asked = {p for q in matcher.catalog.questions for p in q.products}
    assert {h.product for h in hits} <= asked
    assert not any(h.rule.startswith("gen-") for h in hits), "the namespace rule set aside"


@pytest.mark.parametrize(
    ("ident", "product"),
    [
        ("com.zhiliaoapp.musically.go", "tiktok"),
        ("com.zhiliaoapp.musically", "tiktok"),
        ("com.ss.android.ugc.trill", "tiktok"),
        ("com.kaspersky.secure.connection", "kaspersky-vpn-secure-connection"),
        ("com.kaspersky.security.cloud", "kaspersky-security-cloud"),
        ("com.kms.free", "kaspersky-for-android"),
        ("com.kaspersky.kes", "kaspersky-endpoint-security"),
        ("com.kaspersky.qrscanner", ANY),
    ],
)
def test_app_id_under_a_developer_account_names_its_product(
    matcher: Matcher, ident: str, product: str
) -> None:
    assert found(matcher, Kind.APP, "app", package_id=ident) == {product}


# --- SBOM components ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ids", "product"),
    [
        ("engine", {"cpe": "cpe:2.3:o:kaspersky:kasperskyos:-:*:*:*:*:*:*:*"}, ANY),
        ("engine", {"cpe": "cpe:/h:kaspersky_lab:device:1"}, ANY),
        ("avlib", {"purl": "pkg:generic/kaspersky/avlib@8.0"}, ANY),
        ("avlib", {"supplier": "AO Kaspersky Lab"}, ANY),
        ("kaspersky-updater-plugin", {}, ANY),
        ("Kaspersky Anti-Virus SDK", {"supplier": "Acme Networks, Inc."}, "kaspersky-scan-engine"),
        ("kavsdk", {}, "kaspersky-scan-engine"),
        ("KAV SDK", {}, "kaspersky-scan-engine"),
    ],
)
def test_sbom_component_naming_or_supplied_by_the_vendor(
    matcher: Matcher, name: str, ids: Mapping[str, str], product: str
) -> None:
    assert found(matcher, Kind.SBOM_COMPONENT, name, **ids) == {product}


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("kaspa", {"purl": "pkg:npm/kaspa@0.13.0"}),
        ("kaspa-wallet", {}),
        ("kasprzak", {"supplier": "Kasprzak GmbH"}),
        ("kaspresso", {"purl": "pkg:maven/com.kaspersky.android-components/kaspresso@1.5.3"}),
        ("uif", {"purl": "pkg:github/KasperskyLab/uif@1.0"}),
        ("libfoo", {"cpe": "cpe:2.3:a:kasperskyfake:libfoo:1:*:*:*:*:*:*:*"}),
        ("libfoo", {"purl": "pkg:generic/kasperskyfake/libfoo@1"}),
        ("kasperskyfake", {}),
    ],
)
def test_sbom_lookalike_is_not_reported(
    matcher: Matcher, name: str, ids: Mapping[str, str]
) -> None:
    """No covered product (Kaspresso still raises its question of scope, nothing more)."""
    asked = {p for q in matcher.catalog.questions for p in q.products}
    assert found(matcher, Kind.SBOM_COMPONENT, name, **ids) - asked == set()


def test_vendor_sbom_file_with_embedded_engine_is_an_embedded_finding(matcher: Matcher) -> None:
    (inv,) = CycloneDxSource([ASSETS / "cyclonedx" / "secureedge-ngfw-7.2.1.cdx.json"]).collect()
    findings = matcher.match_hosts([inv])[inv.host]
    engine = [f for f in findings if f.product == "kaspersky-scan-engine"]
    assert engine and all(f.embedded for f in engine)
    # Embedded code falls under NDAA s.1634 and BIS; under BOD 17-01 it is a question of scope
    # (supplied "indirectly", or "code embedded in the products of other companies"?).
    covered = {f.directive for f in engine if not f.needs_determination}
    assert covered == {"ndaa-fy18-1634", "bis-kaspersky-2024"}
    assert {f.directive for f in engine if f.needs_determination} <= {"bod-17-01"}


def test_every_generated_rule_fires_on_a_sample_of_its_family(catalog: Catalog) -> None:
    """Each generated rule matches at least one observation shaped like its family's samples."""
    samples: list[Observation] = []
    for stem in {r["minifilter"].lower()[:-4] for r in ALT["vendors"]["kaspersky"]["entries"]} | {
        r["stem"] for r in DRV["drivers"]
    }:
        driver = f"{stem}6.sys" if stem in ("klim", "klkbdflt") else f"{stem}.sys"
        samples += [
            Observation.make(Kind.SERVICE, driver[:-4]),
            Observation.make(
                Kind.FILE,
                driver,
                identifiers={
                    "original_filename": driver,
                    "path": rf"C:\Windows\System32\DRIVERS\K4W-21-25\{driver}",
                },
            ),
        ]
    samples += [
        Observation.make(
            Kind.DRIVER, "klupd_klif_arkmon.sys", identifiers={"path": "/klupd_a.sys"}
        ),
        Observation.make(Kind.SERVICE, "com.kaspersky.kav"),
        Observation.make(Kind.APP, "x", identifiers={"bundle_id": "com.kaspersky.kav"}),
        Observation.make(Kind.APP, "x", identifiers={"package_id": "com.kaspersky.x"}),
        Observation.make(Kind.SERVICE, "kladminserver"),
        Observation.make(Kind.SERVICE, "klnagent"),
        Observation.make(Kind.SERVICE, "KAVFS"),
        Observation.make(Kind.PROGRAM, "Kaspersky Security Center Network Agent"),
        Observation.make(Kind.PROGRAM, "Kaspersky Security Center Administration Server"),
        Observation.make(Kind.PROCESS, "klScanEngineUI"),
        Observation.make(Kind.PROGRAM, "Kaspersky Scan Engine"),
        Observation.make(Kind.SBOM_COMPONENT, "kaspersky scan engine"),
        Observation.make(Kind.SBOM_COMPONENT, "kavsdk"),
        Observation.make(
            Kind.SBOM_COMPONENT,
            "kaspersky lib",
            identifiers={
                "supplier": "Kaspersky Lab",
                "cpe": "cpe:2.3:a:kaspersky:x:1:*:*:*:*:*:*:*",
                "purl": "pkg:generic/kaspersky/x@1",
            },
        ),
        Observation.make(Kind.SBOM_COMPONENT, "x", publisher="AO Kaspersky Lab"),
        Observation.make(
            Kind.SBOM_COMPONENT,
            "av-scanner",
            identifiers={"description": "Malware scanning, powered by Kaspersky Anti-Virus SDK"},
        ),
        Observation.make(
            Kind.FILE, "x", identifiers={"path": "C:/Program Files/Kaspersky Lab/Endpoint Agent/x"}
        ),
        Observation.make(
            Kind.FILE,
            "x",
            identifiers={
                "path": "C:/Program Files/Kaspersky Lab/Kaspersky Security for Windows Server/x"
            },
        ),
    ]
    for app in [a for v in NS["vendors"].values() for a in v.get("app_ids", [])]:
        samples.append(Observation.make(Kind.APP, "x", identifiers={"package_id": app["id"]}))
    # Count rules on their own (generic ones hide behind specific products on one observation).
    hit: set[str] = set()
    for product in catalog.products:
        one = Matcher(dataclasses.replace(catalog, products=(product,), exclusions=()))
        hit |= {h.rule for hits in one.match_distinct(samples) for h in hits}
    every = {r.id for p in catalog.products for r in p.rules if r.id.startswith("gen-")}
    assert sorted(every - hit) == []


def test_host_with_only_an_unlisted_driver_is_found_under_bod_17_01(matcher: Matcher) -> None:
    inv = HostInventory(
        host=HostID("ws-042"),
        hostname="ws-042",
        platform=Platform.WINDOWS,
        collected_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        observations=(
            Observation.make(
                Kind.DRIVER,
                "klwfp",
                identifiers={"path": r"\SystemRoot\system32\DRIVERS\klwfp.sys"},
                source="osquery:drivers",
            ),
        ),
    )
    findings = matcher.match_hosts([inv])[HostID("ws-042")]
    assert {f.directive for f in findings} >= {"bod-17-01"}


@pytest.mark.parametrize(
    ("description", "hit"),
    [
        ("Anti-malware scanning library based on the Kaspersky Anti-Virus SDK 8", True),
        ("On-access scanner, powered by Kaspersky.", True),
        ("ICAP gateway using the Kaspersky Scan Engine in HTTP mode", True),
        ("Uninstalls Kaspersky Endpoint Security before the agent is installed", False),
        ("Reads Kaspersky Security Center reports into the SIEM", False),
        ("Compatible with Kaspersky, Sophos and ESET antivirus products", False),
    ],
)
def test_an_sbom_description_naming_the_engine_is_embedded_code(
    matcher: Matcher, description: str, hit: bool
) -> None:
    """Another company's component whose description says it embeds the engine or SDK is the
    engine (embedded); a description that only mentions the vendor is nothing."""
    got = found(matcher, Kind.SBOM_COMPONENT, "scanner-lib", description=description)
    assert got == ({"kaspersky-scan-engine"} if hit else set())
