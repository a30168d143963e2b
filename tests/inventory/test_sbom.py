"""SBOMs as inventories: CycloneDX JSON and XML, SPDX JSON and tag-value, hostile files refused."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.inventory.interface import SourceInputError
from evict.inventory.registry import open_source
from evict.inventory.sbom import (
    CycloneDxInputError,
    CycloneDxSource,
    SbomLimits,
    SpdxInputError,
    SpdxSource,
)
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Ident, Kind, Observation

ASSETS = Path(__file__).parent.parent / "assets"
CDX = ASSETS / "cyclonedx"
SPDX = ASSETS / "spdx"
APPLIANCE_JSON = CDX / "secureedge-ngfw-7.2.1.cdx.json"
APPLIANCE_XML = CDX / "secureedge-ngfw-7.2.1.cdx.xml"
HOST_JSON = SPDX / "ops-jumphost-debian12.spdx.json"
HOST_TV = SPDX / "ops-jumphost-debian12.spdx"
KAV_SDK_CPE = "cpe:2.3:a:kaspersky:anti-virus_sdk:8.9:*:*:*:*:*:*:*"
KESL_PURL = "pkg:deb/debian/kesl@12.1.0.1297?arch=amd64&distro=debian-12"


def read_one(source: CycloneDxSource | SpdxSource) -> HostInventory:
    (inventory,) = source.collect()
    return inventory


def by_name(inventory: HostInventory) -> dict[str, Observation]:
    return {o.name: o for o in inventory.observations}


def content(inventory: HostInventory) -> set[tuple[object, ...]]:
    """What two readings of the same SBOM must agree on (the ``source`` names the format)."""
    return {(o.kind, o.name, o.version, o.publisher, o.identifiers) for o in inventory.observations}


# -- CycloneDX JSON ----------------------------------------------------------------------------


def test_registry_names_open_the_sbom_sources() -> None:
    assert isinstance(open_source("cyclonedx", [APPLIANCE_JSON]), CycloneDxSource)
    assert isinstance(open_source("spdx", [HOST_JSON]), SpdxSource)


def test_appliance_sbom_is_one_host_named_after_its_subject() -> None:
    source = CycloneDxSource([APPLIANCE_JSON])
    inv = read_one(source)
    assert (inv.host, inv.hostname, inv.platform.value) == (
        "secureedge-ngfw@7.2.1",
        "secureedge-ngfw@7.2.1",
        "linux",
    )
    assert inv.collected_at == dt.datetime(2024, 6, 11, 9, 12, 44, tzinfo=dt.UTC)
    assert inv.source == "cyclonedx"
    assert [(s.source, s.state) for s in source.statuses] == [(f"cyclonedx:{APPLIANCE_JSON}", "ok")]


def test_every_component_is_an_sbom_component_and_the_container_subject_is_not_one() -> None:
    inv = read_one(CycloneDxSource([APPLIANCE_JSON]))
    assert len(inv.observations) == 49
    assert {o.kind for o in inv.observations} == {Kind.SBOM_COMPONENT}
    assert "secureedge-ngfw" not in by_name(inv)
    assert {o.source for o in inv.observations} == {"cyclonedx:json"}


def test_kaspersky_sdk_component_carries_purl_cpe_and_supplier() -> None:
    sdk = by_name(read_one(CycloneDxSource([APPLIANCE_JSON])))["Kaspersky Anti-Virus SDK"]
    assert (sdk.kind, sdk.version, sdk.publisher) == (
        Kind.SBOM_COMPONENT,
        "8.9.2.1005",
        "AO Kaspersky Lab",
    )
    assert dict(sdk.identifiers) == {
        "purl": "pkg:generic/kaspersky/kavsdk@8.9.2.1005",
        "cpe": KAV_SDK_CPE,
        "supplier": "AO Kaspersky Lab",
        "description": "Anti-virus engine SDK licensed for OEM integration",
    }


def test_components_nested_inside_components_are_found() -> None:
    seen = by_name(read_one(CycloneDxSource([APPLIANCE_JSON])))
    # secureedge-avd > Kaspersky Anti-Virus SDK > KAV SDK, and secureedge-webui > react.
    kav = seen["KAV SDK"]
    assert kav.ident(Ident.PURL) == "pkg:generic/kaspersky/kavsdk-updater@8.9.2.1005"
    assert kav.ident(Ident.SUPPLIER) == "AO Kaspersky Lab"
    assert seen["react"].version == "18.2.0"


def test_publisher_falls_back_from_supplier_to_publisher_to_author() -> None:
    seen = by_name(read_one(CycloneDxSource([APPLIANCE_JSON])))
    openssl = seen["openssl"]  # a deb: syft writes the maintainer as publisher
    assert openssl.publisher == "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>"
    assert openssl.ident(Ident.SUPPLIER) is None
    assert openssl.ident(Ident.CPE) == "cpe:2.3:a:openssl:openssl:3.0.11-1\\~deb12u2:*:*:*:*:*:*:*"
    react = seen["react"]  # only an author
    assert (react.publisher, react.ident(Ident.SUPPLIER)) == ("Meta Platforms, Inc.",) * 2
    avd = seen["secureedge-avd"]
    assert avd.publisher == "Acme Networks, Inc."


def test_kaspersky_products_own_sbom_makes_the_subject_a_program() -> None:
    inv = read_one(CycloneDxSource([CDX / "kesl-12.1.cdx.json"]))
    assert inv.host == "Kaspersky Endpoint Security for Linux@12.1.0.1297"
    product = by_name(inv)["Kaspersky Endpoint Security for Linux"]
    assert (product.kind, product.version, product.publisher) == (
        Kind.PROGRAM,
        "12.1.0.1297",
        "AO Kaspersky Lab",
    )
    assert product.ident(Ident.PURL) == "pkg:deb/kaspersky/kesl@12.1.0.1297?arch=amd64"
    others = [o for o in inv.observations if o is not product]
    assert [o.name for o in others] == ["boost", "openssl", "zlib"]
    assert {o.kind for o in others} == {Kind.SBOM_COMPONENT}


def test_syft_directory_wrapper_is_skipped_but_what_it_holds_is_read() -> None:
    inv = read_one(CycloneDxSource([CDX / "syft-dir-secureedge-avd.cdx.json"]))
    assert inv.host == "secureedge-avd@7.2.1"
    assert inv.collected_at == dt.datetime(2024, 6, 10, 14, 22, 5, tzinfo=dt.UTC)
    assert [(o.kind.value, o.name) for o in inv.observations] == [
        ("program", "secureedge-avd"),
        ("sbom_component", "github.com/spf13/cobra"),
        ("sbom_component", "golang.org/x/crypto"),
        ("sbom_component", "github.com/prometheus/client_golang"),
    ]
    assert inv.platform.value == "unknown"


def test_trivy_image_sbom_reads_despite_its_schema_deviation() -> None:
    source = CycloneDxSource([CDX / "trivy-jumphost-2024.06.cdx.json"])
    inv = read_one(source)
    assert inv.host == "registry.corp.example/ops/jumphost:2024.06"
    assert inv.platform.value == "linux"
    kesl = by_name(inv)["kesl"]
    assert kesl.publisher == "AO Kaspersky Lab <support@kaspersky.com>"
    assert kesl.ident(Ident.PURL) == "pkg:deb/debian/kesl@12.1.0.1297?arch=amd64&distro=debian-12.7"
    assert source.statuses[0].state == "ok"


def test_validation_reports_schema_deviations_as_a_partial_status() -> None:
    source = CycloneDxSource([CDX / "trivy-jumphost-2024.06.cdx.json"], validate=True)
    inv = read_one(source)
    assert "kesl" in by_name(inv)
    (status,) = source.statuses
    assert status.state == "partial"
    (problem,) = status.problems
    assert problem.startswith("does not conform to the CycloneDX 1.6 schema")
    assert "$.components[2].licenses" in problem
    assert len(problem) < 500


@pytest.mark.parametrize("name", [APPLIANCE_JSON.name, APPLIANCE_XML.name])
def test_validation_passes_a_conforming_sbom(name: str) -> None:
    source = CycloneDxSource([CDX / name], validate=True)
    read_one(source)
    assert source.statuses[0].state == "ok"


def test_empty_sbom_is_a_host_with_nothing_on_it() -> None:
    source = CycloneDxSource([CDX / "empty.cdx.json"])
    inv = read_one(source)
    assert (inv.host, inv.observations, inv.platform.value) == ("empty-rootfs", (), "unknown")
    assert source.statuses[0].state == "ok"


def test_sbom_without_subject_or_timestamp_is_named_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "edge-gw.cdx.json"
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1}))
    inv = read_one(CycloneDxSource([path]))
    assert inv.host == "edge-gw"
    assert inv.collected_at == dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def test_trivy_filesystem_subject_named_dot_is_neither_host_name_nor_program(
    tmp_path: Path,
) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": {
            "timestamp": "2024-02-01T15:14:54+00:00",
            "tools": [{"vendor": "aquasecurity", "name": "trivy", "version": "0.49.1"}],
            "component": {"bom-ref": "7a718bdf", "type": "application", "name": "."},
        },
        "components": [{"bom-ref": "pkg:npm/axios@1.6.8", "type": "library", "name": "axios"}],
    }
    path = tmp_path / "build-agent.cdx.json"
    path.write_text(json.dumps(bom))
    inv = read_one(CycloneDxSource([path]))
    assert inv.host == "build-agent"
    assert [(o.kind, o.name) for o in inv.observations] == [(Kind.SBOM_COMPONENT, "axios")]


def test_nameless_and_non_object_components_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "odd.cdx.json"
    components = [{"type": "library", "version": "1"}, "zlib", {"type": "library", "name": "ok"}]
    path.write_text(
        json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components})
    )
    source = CycloneDxSource([path])
    assert [o.name for o in read_one(source).observations] == ["ok"]
    (status,) = source.statuses
    assert status.state == "partial"
    assert sorted(status.problems) == [
        "skipped 1 entry: a component that is not an object (first at components[1])",
        "skipped 1 entry: a component without a name (first at components[0])",
    ]


# -- CycloneDX XML -----------------------------------------------------------------------------


def test_xml_reads_the_same_components_as_json() -> None:
    xml = read_one(CycloneDxSource([APPLIANCE_XML]))
    js = read_one(CycloneDxSource([APPLIANCE_JSON]))
    assert (xml.host, xml.platform, xml.collected_at) == (js.host, js.platform, js.collected_at)
    assert content(xml) == content(js)
    assert {o.source for o in xml.observations} == {"cyclonedx:xml"}
    sdk = by_name(xml)["Kaspersky Anti-Virus SDK"]
    assert sdk.ident(Ident.CPE) == KAV_SDK_CPE


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.5", "1.6"])
def test_xml_of_any_1x_namespace_is_read(tmp_path: Path, version: str) -> None:
    text = APPLIANCE_XML.read_text().replace("schema/bom/1.4", f"schema/bom/{version}")
    path = tmp_path / "bom.xml"
    path.write_text(text)
    assert len(read_one(CycloneDxSource([path])).observations) == 49


def test_xml_from_another_namespace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_text('<?xml version="1.0"?><bom xmlns="http://example.com/bom"><components/></bom>')
    with pytest.raises(CycloneDxInputError, match="not a CycloneDX BOM") as caught:
        read_one(CycloneDxSource([path]))
    assert caught.value.path == str(path)


def test_malformed_xml_names_the_line() -> None:
    path = CDX / "malformed.cdx.xml"
    with pytest.raises(CycloneDxInputError, match="not well-formed XML") as caught:
        read_one(CycloneDxSource([path]))
    assert (caught.value.path, caught.value.line) == (str(path), 9)


# -- hostile and broken CycloneDX ---------------------------------------------------------------


@pytest.mark.timeout(10)
def test_billion_laughs_is_refused_at_once() -> None:
    path = CDX / "billion-laughs.cdx.xml"
    start = time.monotonic()
    with pytest.raises(CycloneDxInputError, match="DTD") as caught:
        read_one(CycloneDxSource([path]))
    assert time.monotonic() - start < 1
    assert (caught.value.path, caught.value.where) == (str(path), "DOCTYPE")


def test_external_entity_is_refused_and_never_resolved() -> None:
    path = CDX / "xxe.cdx.xml"
    with pytest.raises(CycloneDxInputError, match="external entities") as caught:
        read_one(CycloneDxSource([path]))
    assert "root:" not in str(caught.value)
    assert str(caught.value).startswith(f"{path} (DOCTYPE): ")


def test_truncated_json_names_the_line() -> None:
    path = CDX / "truncated.cdx.json"
    with pytest.raises(CycloneDxInputError, match="not valid JSON") as caught:
        read_one(CycloneDxSource([path]))
    assert caught.value.path == str(path)
    assert caught.value.line == len(path.read_text().splitlines())


def test_components_nested_too_deep_are_refused() -> None:
    path = CDX / "deep-nesting.cdx.json"
    with pytest.raises(CycloneDxInputError, match="nested more than 64 deep") as caught:
        read_one(CycloneDxSource([path]))
    assert caught.value.where == "components[0], 65 levels down"


def test_depth_limit_is_adjustable() -> None:
    inv = read_one(
        CycloneDxSource([CDX / "deep-nesting.cdx.json"], limits=SbomLimits(max_depth=100))
    )
    assert [o.name for o in inv.observations][-1] == "layer-100"
    assert by_name(inv)["nested-firmware"].kind is Kind.PROGRAM


@pytest.mark.timeout(10)
def test_json_nested_beyond_the_parser_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.cdx.json"
    path.write_text(
        '{"bomFormat": "CycloneDX", "components": ' + "[" * 200_000 + "]" * 200_000 + "}"
    )
    with pytest.raises(CycloneDxInputError, match="nested too deeply") as caught:
        read_one(CycloneDxSource([path]))
    assert caught.value.path == str(path)


def test_too_many_components_are_refused() -> None:
    with pytest.raises(CycloneDxInputError, match="more than 40 components") as caught:
        read_one(CycloneDxSource([APPLIANCE_JSON], limits=SbomLimits(max_components=40)))
    assert caught.value.where is not None and caught.value.where.startswith("components[")


def test_file_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(CycloneDxInputError, match="the limit is 1,000") as caught:
        read_one(CycloneDxSource([APPLIANCE_JSON], limits=SbomLimits(max_bytes=1000)))
    assert caught.value.path == str(APPLIANCE_JSON)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "file is empty"),
        (b"  \n", "file is empty"),
        (b"PK\x03\x04 not an sbom", "neither JSON nor XML"),
        (b"[1, 2]", "top level is not an object"),
        (b'{"bomFormat": "SPDX"}', "bomFormat is 'SPDX'"),
        (b'{"spdxVersion": "SPDX-2.3", "packages": []}', "no bomFormat or specVersion"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "2.0"}', "unsupported CycloneDX specVersion"),
        (b'{"bomFormat": "CycloneDX", "components": {"name": "x"}}', "components is not a list"),
        (b'{"bomFormat": "CycloneDX", "n": 1' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"bomFormat": "CycloneDX", "x": "\xff\xfe\xfa"}', "not valid JSON"),
    ],
)
def test_unusable_files_raise_an_input_error_naming_the_file(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "bad.cdx.json"
    path.write_bytes(body)
    with pytest.raises(CycloneDxInputError, match=message) as caught:
        read_one(CycloneDxSource([path]))
    assert isinstance(caught.value, SourceInputError)
    assert caught.value.path == str(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(CycloneDxInputError, match="no such file"):
        read_one(CycloneDxSource([tmp_path / "nowhere.cdx.json"]))


def test_directory_yields_one_host_per_sbom_file(tmp_path: Path) -> None:
    for name in (APPLIANCE_JSON.name, "kesl-12.1.cdx.json"):
        shutil.copy(CDX / name, tmp_path / name)
    (tmp_path / "nested").mkdir()
    shutil.copy(APPLIANCE_XML, tmp_path / "nested" / APPLIANCE_XML.name)
    (tmp_path / "README.txt").write_text("not an SBOM")
    source = CycloneDxSource([tmp_path])
    hosts = [inv.host for inv in source.collect()]
    assert hosts == [
        "Kaspersky Endpoint Security for Linux@12.1.0.1297",
        "secureedge-ngfw@7.2.1",
        "secureedge-ngfw@7.2.1",
    ]
    assert [s.state for s in source.statuses] == ["ok", "ok", "ok"]


def test_unreadable_file_found_in_a_directory_fails_alone(tmp_path: Path) -> None:
    shutil.copy(APPLIANCE_JSON, tmp_path / APPLIANCE_JSON.name)
    shutil.copy(SPDX / "empty.spdx.json", tmp_path / "empty.spdx.json")
    source = CycloneDxSource([tmp_path])
    assert [inv.host for inv in source.collect()] == ["secureedge-ngfw@7.2.1"]
    failed, ok = source.statuses
    assert (failed.source, failed.state) == (f"cyclonedx:{tmp_path / 'empty.spdx.json'}", "failed")
    assert failed.problems == (
        f"{tmp_path / 'empty.spdx.json'}: not a CycloneDX BOM: no bomFormat or specVersion",
    )
    assert ok.state == "ok"


def test_directory_without_sboms_is_a_failed_status(tmp_path: Path) -> None:
    source = CycloneDxSource([tmp_path])
    assert list(source.collect()) == []
    (status,) = source.statuses
    assert (status.source, status.state) == (f"cyclonedx:{tmp_path}", "failed")


# -- SPDX --------------------------------------------------------------------------------------


def test_spdx_json_host_image_is_one_linux_host() -> None:
    source = SpdxSource([HOST_JSON])
    inv = read_one(source)
    assert (inv.host, inv.platform.value) == ("ops-jumphost-debian12", "linux")
    assert inv.collected_at == dt.datetime(2024, 6, 12, 7, 41, 9, tzinfo=dt.UTC)
    # 26 debs, kesl, klnagent64 and the OS; the scanned directory itself is not an observation.
    assert len(inv.observations) == 29
    assert {o.kind for o in inv.observations} == {Kind.SBOM_COMPONENT}
    assert "ops-jumphost-debian12" not in by_name(inv)
    assert source.statuses[0].state == "ok"


def test_spdx_kesl_package_carries_purl_cpes_and_supplier() -> None:
    kesl = by_name(read_one(SpdxSource([HOST_JSON])))["kesl"]
    assert (kesl.version, kesl.publisher, kesl.source) == (
        "12.1.0.1297",
        "AO Kaspersky Lab",
        "spdx:json",
    )
    assert kesl.ident(Ident.PURL) == KESL_PURL
    assert kesl.ident(Ident.SUPPLIER) == "AO Kaspersky Lab"
    assert sorted(v for k, v in kesl.identifiers if k == Ident.CPE) == [
        "cpe:2.3:a:kaspersky:kesl:12.1.0.1297:*:*:*:*:*:*:*",
        "cpe:2.3:a:kesl:kesl:12.1.0.1297:*:*:*:*:*:*:*",
    ]


def test_spdx_person_supplier_loses_its_email() -> None:
    openssl = by_name(read_one(SpdxSource([HOST_JSON])))["openssl"]
    assert openssl.publisher == "Debian OpenSSL Team"


def test_spdx_tag_value_reads_the_same_packages_as_json() -> None:
    source = SpdxSource([HOST_TV])
    tv = read_one(source)
    js = read_one(SpdxSource([HOST_JSON]))
    assert (tv.host, tv.platform, tv.collected_at) == (js.host, js.platform, js.collected_at)
    assert content(tv) == content(js)
    assert {o.source for o in tv.observations} == {"spdx:tag-value"}
    assert source.statuses[0].state == "ok"


@pytest.mark.timeout(30)
def test_spdx_tag_value_with_thousands_of_packages_reads_in_seconds(tmp_path: Path) -> None:
    text = HOST_TV.read_text()
    head, _, rest = text.partition("##### Package: ")
    package = "##### Package: " + rest.split("##### Package: ", 1)[0]
    body = "".join(
        package.replace("SPDXRef-Package-deb-base-files-", f"SPDXRef-Package-{i}-")
        for i in range(3000)
    )
    path = tmp_path / "big.spdx"
    path.write_text(head + body)
    start = time.monotonic()
    inv = read_one(SpdxSource([path]))
    assert len(inv.observations) == 3000
    assert time.monotonic() - start < 10


def test_spdx_described_application_is_a_program(tmp_path: Path) -> None:
    doc = json.loads(HOST_JSON.read_text())
    doc["name"] = "kesl-12.1.0.1297"
    kesl = next(p for p in doc["packages"] if p["name"] == "kesl")
    kesl["primaryPackagePurpose"] = "APPLICATION"
    doc["documentDescribes"] = [kesl["SPDXID"]]
    doc["relationships"] = []
    path = tmp_path / "kesl.spdx.json"
    path.write_text(json.dumps(doc))
    inv = read_one(SpdxSource([path]))
    assert inv.host == "kesl-12.1.0.1297"
    seen = by_name(inv)
    assert seen["kesl"].kind is Kind.PROGRAM
    # Without DESCRIBES, syft's root package is just another component.
    assert seen["ops-jumphost-debian12"].kind is Kind.SBOM_COMPONENT


def test_empty_spdx_document_is_a_host_with_nothing_on_it() -> None:
    inv = read_one(SpdxSource([SPDX / "empty.spdx.json"]))
    assert (inv.host, inv.observations, inv.platform.value) == ("empty-rootfs", (), "unknown")


@pytest.mark.parametrize(
    ("name", "line", "where"),
    [("wrong-version.spdx.json", None, "spdxVersion"), ("wrong-version.spdx", 1, "SPDXVersion")],
)
def test_wrong_spdx_version_is_refused(name: str, line: int | None, where: str) -> None:
    path = SPDX / name
    with pytest.raises(SpdxInputError, match="unsupported SPDX version") as caught:
        read_one(SpdxSource([path]))
    assert (caught.value.path, caught.value.line, caught.value.where) == (str(path), line, where)


def test_truncated_spdx_json_names_the_line() -> None:
    path = SPDX / "truncated.spdx.json"
    with pytest.raises(SpdxInputError, match="not valid JSON") as caught:
        read_one(SpdxSource([path]))
    assert caught.value.line == len(path.read_text().splitlines()) + 1


def test_malformed_tag_value_names_the_line() -> None:
    path = SPDX / "malformed.spdx"
    with pytest.raises(SpdxInputError, match="PackageVersion") as caught:
        read_one(SpdxSource([path]))
    assert (caught.value.path, caught.value.line) == (str(path), 31)


def test_tag_value_that_trips_spdx_tools_is_still_an_input_error(tmp_path: Path) -> None:
    text = HOST_TV.read_text()
    broken = text.replace("Relationship: SPDXRef-DOCUMENT ", "Relationship SPDXRef-DOCUMENT ")
    path = tmp_path / "broken.spdx"
    path.write_text(broken)
    with pytest.raises(SpdxInputError, match="not valid SPDX tag-value") as caught:
        read_one(SpdxSource([path]))
    lines = broken.splitlines()
    expected = next(n for n, x in enumerate(lines, 1) if x.startswith("Relationship SPDXRef-DOC"))
    assert caught.value.line == expected


@pytest.mark.timeout(10)
def test_unclosed_text_block_is_refused_before_parsing() -> None:
    path = SPDX / "unclosed-text.spdx"
    with pytest.raises(SpdxInputError, match="never closed") as caught:
        read_one(SpdxSource([path]))
    assert caught.value.line == 39


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"garbage\x00\x01", "no SPDXVersion line"),
        (b"SPDXVersion: SPDX-2.3\n\xff\xfe", "not UTF-8"),
        (b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n", "not valid SPDX tag-value"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "RDF/XML"),
        (b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}', "SPDX 3"),
        (b'{"name": "x"}', "no spdxVersion"),
        (b'{"spdxVersion": "SPDX-2.3", "packages": {}}', "packages is not a list"),
    ],
)
def test_unusable_spdx_files_raise_an_input_error(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "bad.spdx"
    path.write_bytes(body)
    with pytest.raises(SpdxInputError, match=message) as caught:
        read_one(SpdxSource([path]))
    assert caught.value.path == str(path)


def test_too_many_spdx_packages_are_refused() -> None:
    with pytest.raises(SpdxInputError, match="more than 10 packages"):
        read_one(SpdxSource([HOST_JSON], limits=SbomLimits(max_components=10)))


# -- matching: embedded code and the directives that cover it -----------------------------------


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_catalog())


def findings(matcher: Matcher, inventory: HostInventory) -> dict[str, bool]:
    """Directive -> embedded, for every finding on the host that does not wait for a scope
    determination."""
    out: dict[str, bool] = {}
    for f in matcher.match_hosts([inventory])[inventory.host]:
        if f.question is None:
            out[f.directive] = f.embedded
    return out


@pytest.mark.parametrize("path", [APPLIANCE_JSON, APPLIANCE_XML])
def test_kaspersky_sdk_in_an_appliance_is_embedded_ndaa_and_bis_not_bod(
    matcher: Matcher, path: Path
) -> None:
    inv = read_one(CycloneDxSource([path]))
    found = matcher.match_hosts([inv])[inv.host]
    assert {f.directive for f in found if f.question is None} == {
        "ndaa-fy18-1634",
        "bis-kaspersky-2024",
    }
    # white-labelled ("supplied indirectly") or embedded ("not addressed")? BOD 17-01 asks
    assert {(f.directive, f.question) for f in found if f.question is not None} == {
        ("bod-17-01", "kaspersky-white-label-bod-17-01")
    }
    assert all(f.embedded for f in found)
    evidence = {e.observation.name for f in found for e in f.evidence}
    assert {"Kaspersky Anti-Virus SDK", "KAV SDK"} <= evidence


def test_kaspersky_products_own_sbom_counts_under_bod_17_01(matcher: Matcher) -> None:
    inv = read_one(CycloneDxSource([CDX / "kesl-12.1.cdx.json"]))
    assert findings(matcher, inv) == {
        "bod-17-01": False,
        "ndaa-fy18-1634": False,
        "bis-kaspersky-2024": False,
    }


@pytest.mark.parametrize("path", [HOST_JSON, HOST_TV])
def test_kesl_in_a_host_image_is_found_and_left_to_the_operator(
    matcher: Matcher, path: Path
) -> None:
    found = findings(matcher, read_one(SpdxSource([path])))
    assert found == {"ndaa-fy18-1634": True, "bis-kaspersky-2024": True}


def test_a_component_description_naming_the_engine_is_found_embedded() -> None:
    """A mail gateway's SBOM: its own scanning library says it is powered by Kaspersky's SDK
    (NDAA s.1634 and BIS cover that); its migration tool only names a Kaspersky product it
    uninstalls, which is nothing."""
    from evict.inventory.sbom import CycloneDxSource
    from evict.matching.engine import Matcher

    (inv,) = CycloneDxSource([ASSETS / "cyclonedx" / "mailgate-9.4.cdx.json"]).collect()
    avscan = next(o for o in inv.observations if o.name == "mg-avscan")
    assert "powered by Kaspersky Anti-Virus SDK 8" in dict(avscan.identifiers)["description"]
    findings = Matcher(load_catalog()).match_hosts([inv])[inv.host]
    covered = {(f.product, f.directive) for f in findings if not f.needs_determination}
    assert covered == {
        ("kaspersky-scan-engine", "ndaa-fy18-1634"),
        ("kaspersky-scan-engine", "bis-kaspersky-2024"),
    }
    assert all(f.embedded for f in findings)
    evidence = {e.observation.name for f in findings for e in f.evidence}
    assert evidence == {"mg-avscan"}, "the uninstaller that names a product is not evidence"
