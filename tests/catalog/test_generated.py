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
        field = "bundle_id" if app["platform"] in ("ios", "macos") else "package_id"
        samples.append(Observation.make(Kind.APP, "x", identifiers={field: app["id"]}))
    shape = {"service": Kind.SERVICE, "process": Kind.PROCESS, "display": Kind.PROGRAM}
    for row in REGS["kaspersky-products.yaml"]["entries"]:
        if row["kind"] in shape:
            samples += [Observation.make(shape[row["kind"]], v) for v in row["values"]]
    for row in EMB["vendors"]["kaspersky"]["oem_products"]:
        samples += [Observation.make(Kind(row["kinds"][0]), n) for n in row["seen"]]
    samples += [
        Observation.make(Kind.FILE, "x", identifiers={"path": f"C:/Program Files/{folder}/x"})
        for folder in (
            "Kaspersky Lab/Kaspersky Small Office Security 17.0.0",
            "Kaspersky Lab/Kaspersky Safe Kids 23.0",
        )
    ]
    samples += [
        Observation.make(Kind.SBOM_COMPONENT, "deepseek-ai/DeepSeek-R1"),
        Observation.make(Kind.SBOM_COMPONENT, "deepseek-sdk"),
        Observation.make(
            Kind.SBOM_COMPONENT, "x", identifiers={"purl": "pkg:huggingface/deepseek-ai/x@1"}
        ),
        Observation.make(Kind.SBOM_COMPONENT, "x", identifiers={"purl": "pkg:pypi/deepseek-sdk@1"}),
    ]
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


# --- OEM products: other companies' products that ship the engine -----------------------------

OEM_PRODUCT = EMB["vendors"]["kaspersky"]["oem_product"]["id"]
OEM_ROWS = EMB["vendors"]["kaspersky"]["oem_products"]
OEM_SEEN = [
    (row["key"], name, Kind(kind))
    for row in OEM_ROWS
    for name in row["seen"]
    for kind in row["kinds"]
]


@pytest.mark.parametrize(("key", "name", "kind"), OEM_SEEN)
def test_oem_product_is_found_by_the_name_its_source_gives(
    matcher: Matcher, key: str, name: str, kind: Kind
) -> None:
    assert found(matcher, kind, name) == {OEM_PRODUCT}
    assert any(r.startswith(f"gen-oem-{key}") for r in fired(matcher, kind, name))


@pytest.mark.parametrize(
    "row", EMB["vendors"]["kaspersky"]["oem_lookalikes"], ids=lambda r: str(r["name"])
)
def test_same_companys_product_without_the_engine_is_not_reported(
    matcher: Matcher, row: Mapping[str, str]
) -> None:
    """Untangle's ClamAV-based Virus Blocker, Junos's express engine, ZoneAlarm's Sophos-based
    NextGen suite: the same companies' products, which the sources say carry another engine."""
    assert found(matcher, Kind(row["kind"]), row["name"]) == set()
    assert found(matcher, Kind.SBOM_COMPONENT, row["name"]) == set()


@pytest.mark.parametrize(
    "name",
    ["Forefront Endpoint Protection", "ZyWALL USG 100", "Clearswift ARGON for Email", "junos"],
)
def test_other_products_of_an_oem_company_are_not_reported(matcher: Matcher, name: str) -> None:
    """A rule names the product the source names, not every product of its company."""
    for kind in (Kind.PROGRAM, Kind.PACKAGE, Kind.SBOM_COMPONENT):
        assert found(matcher, kind, name) == set()


def test_every_oem_rule_cites_the_page_that_says_the_product_ships_the_engine(
    catalog: Catalog,
) -> None:
    product = catalog.product(OEM_PRODUCT)
    for row in OEM_ROWS:
        assert any(r.id.startswith(f"gen-oem-{row['key']}") for r in product.rules), row["key"]
    for rule in product.rules:
        assert "<http" in rule.source, rule.id
        assert rule.note, rule.id


def test_an_installed_oem_product_asks_bod_17_01_and_is_covered_by_ndaa_and_bis(
    matcher: Matcher,
) -> None:
    """Not embedded (a program on a server), so the white-label question of SBOM components
    does not apply; the product's own question does, under BOD 17-01 only."""
    obs = Observation.make(
        Kind.PROGRAM, "Microsoft Forefront Threat Management Gateway", source="windows:programs"
    )
    (hits,) = matcher.match_distinct([obs])
    findings = matcher.findings(HostID("mail-gw-01"), [(obs, hits)])
    asked = {f.directive: f.question for f in findings if f.needs_determination}
    assert asked == {"bod-17-01": "kaspersky-oem-products-bod-17-01"}
    covered = {f.directive for f in findings if not f.needs_determination}
    assert covered == {"ndaa-fy18-1634", "bis-kaspersky-2024"}
    question = matcher.catalog.question("kaspersky-oem-products-bod-17-01")
    assert any("does not address Kaspersky code embedded" in c.quote for c in question.citations)


def test_sbom_of_gateways_shipping_the_engine_reports_them_as_embedded_code(
    matcher: Matcher,
) -> None:
    """A CycloneDX 1.6 inventory of a branch's edge devices (device, firmware and operating
    system components, nested), in the shape such inventories take. No vendor was found to
    publish an SBOM that names Kaspersky's engine, so the file is written for the test from
    the product names the OEM sources give, with their look-alikes beside them."""
    (inv,) = CycloneDxSource([ASSETS / "cyclonedx" / "branch-gateways-oem-av.cdx.json"]).collect()
    findings = [f for f in matcher.match_hosts([inv])[inv.host] if f.product == OEM_PRODUCT]
    assert findings and all(f.embedded for f in findings)
    named = {e.observation.name for f in findings for e in f.evidence}
    assert named == {
        "DFL-860E",
        "NetDefendOS",
        "kaspersky-lab-engine",
        "Clearswift SECURE Email Gateway",
        "Kaspersky Virus Blocker",
    }
    assert {f.directive for f in findings if f.needs_determination} == {"bod-17-01"}
    assert {f.directive for f in findings if not f.needs_determination} == {
        "ndaa-fy18-1634",
        "bis-kaspersky-2024",
    }


# --- DeepSeek -------------------------------------------------------------------------------

DS = NS["vendors"]["deepseek"]
SBOM = Kind.SBOM_COMPONENT
WEIGHTS = "deepseek-open-weights"
CLIENTS = "deepseek-api-clients"


@pytest.mark.parametrize(
    ("kind", "ids", "product", "asked"),
    [
        (Kind.APP, {"package_id": "com.deepseek.chat"}, "deepseek", False),
        (Kind.APP, {"bundle_id": "com.deepseek.chat"}, "deepseek", False),
        (SBOM, {"purl": "pkg:huggingface/deepseek-ai/DeepSeek-V3@e815299"}, WEIGHTS, True),
        (SBOM, {"purl": "pkg:pypi/deepseek-sdk@0.1.0"}, CLIENTS, True),
        (Kind.PACKAGE, {"purl": "pkg:pypi/deepseekapi@1.0.0"}, CLIENTS, True),
        (SBOM, {"purl": "pkg:composer/deepseek-php/deepseek-php-client@2.0.0"}, CLIENTS, True),
        (SBOM, {"purl": "pkg:npm/%40ai-toolkit/deepseek@0.1.13"}, CLIENTS, True),
    ],
)  # fmt: skip
def test_deepseek_identifier_names_its_product_and_asks_only_where_the_law_is_open(
    matcher: Matcher, kind: Kind, ids: Mapping[str, str], product: str, asked: bool
) -> None:
    """The app is DeepSeek's own (identified); weights and third parties' client libraries
    raise the state bans' question of scope (needs determination), never a silent finding."""
    obs = Observation.make(kind, "component", identifiers=ids)
    (hits,) = matcher.match_distinct([obs])
    assert {h.product for h in hits} == {product}
    findings = matcher.findings(HostID("analyst-laptop"), [(obs, hits)])
    assert findings
    assert all(f.needs_determination == asked for f in findings)
    assert {f.directive for f in findings} == {
        "tx-2025-deepseek",
        "va-eo-46-deepseek",
        "ny-its-2025-deepseek",
    }


@pytest.mark.parametrize("name", ["deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3-Base"])
def test_a_model_named_in_deepseeks_namespace_is_its_open_weights(
    matcher: Matcher, name: str
) -> None:
    assert found(matcher, Kind.SBOM_COMPONENT, name) == {"deepseek-open-weights"}
    assert "gen-name-deepseek-deepseek-open-weights" in fired(matcher, Kind.SBOM_COMPONENT, name)


@pytest.mark.parametrize("purl", DS["lookalike_purls"])
def test_the_library_deepseeks_docs_point_to_is_not_deepseek(matcher: Matcher, purl: str) -> None:
    """DeepSeek's API docs say to install OpenAI's SDK: that library is OpenAI's."""
    for name in DS["lookalikes"]:
        assert found(matcher, Kind.SBOM_COMPONENT, name, purl=purl) == set()
        assert found(matcher, Kind.PACKAGE, name, purl=purl) == set()


@pytest.mark.parametrize(
    "ident", ["deepseek-aix/model", "notdeepseek-ai/DeepSeek-R1x", "com.deepseek.chatx"]
)
def test_deepseek_namespace_lookalikes_are_not_reported(matcher: Matcher, ident: str) -> None:
    assert found(matcher, Kind.SBOM_COMPONENT, ident) == set()
    assert found(matcher, Kind.APP, "app", package_id=ident, bundle_id=ident) == set()


# --- older generations' executables, services and folders --------------------------------------

KSOS = r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Small Office Security 17.0.0"

PRODUCTS = REGS["kaspersky-products.yaml"]
LEGACY = [
    (row["product"], value)
    for row in PRODUCTS["entries"]
    if row["kind"] == "process" and row["source"] in ("fscan-av-map", "labelled-process-map")
    for value in row["values"]
]


@pytest.mark.parametrize(("product", "name"), LEGACY)
def test_older_generations_executable_names_its_product(
    matcher: Matcher, product: str, name: str
) -> None:
    assert found(matcher, Kind.PROCESS, name.upper()) == {product}
    assert found(matcher, Kind.FILE, name) == {product}


@pytest.mark.parametrize("row", PRODUCTS["lookalikes"], ids=lambda r: str(r["name"]))
def test_other_vendors_executable_listed_beside_kasperskys_is_not_reported(
    matcher: Matcher, row: Mapping[str, str]
) -> None:
    """eScan's avpmapp.exe, ZoneAlarm's vsmon.exe, Kingsoft's kav32.exe and kastray.exe."""
    assert found(matcher, Kind.PROCESS, row["name"]) == set()


@pytest.mark.parametrize(
    ("kind", "name", "ids", "product"),
    [
        (Kind.SERVICE, "kavehost", {}, "kaspersky-scan-engine"),
        (Kind.SERVICE, "kavhttpd", {}, "kaspersky-scan-engine"),
        (Kind.PROCESS, "klserver", {}, "kaspersky-security-center"),
        (
            Kind.FILE,
            "avp.com",
            {"path": KSOS + r"\avp.com"},
            "kaspersky-small-office-security",
        ),
        (
            Kind.FILE,
            "kidsafe.exe",
            {"path": r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Safe Kids 23.0\x.exe"},
            "kaspersky-safe-kids",
        ),
    ],
)  # fmt: skip
def test_documented_service_or_folder_of_a_side_product_names_it(
    matcher: Matcher, kind: Kind, name: str, ids: Mapping[str, str], product: str
) -> None:
    assert found(matcher, kind, name, **ids) == {product}
