"""osquery results logs and ``osqueryi --json`` directories, read as a user's fleet would be."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from evict.catalog.loader import load_catalog
from evict.inventory.interface import SourceInputError
from evict.inventory.osquery import (
    OsquerySource,
    detect_table,
    parse_subject,
    rfc4514,
    table_from_name,
)
from evict.inventory.registry import open_source
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Kind, Observation, Platform

ASSETS = Path(__file__).parent.parent / "assets" / "osquery"


def read(*paths: Path, **kwargs: Any) -> tuple[dict[str, HostInventory], OsquerySource]:
    source = OsquerySource(list(paths), **kwargs)
    hosts = {inv.host: inv for inv in source.collect()}
    return hosts, source


def find(inv: HostInventory, source: str, name: str) -> Observation:
    matches = [o for o in inv.observations if o.source == source and o.name == name]
    assert len(matches) == 1, f"{source} {name!r} in {[o.name for o in inv.observations]}"
    return matches[0]


def names(inv: HostInventory, source: str) -> set[str]:
    return {o.name for o in inv.observations if o.source == source}


def rows_of(query: str, path: Path = ASSETS / "tables.log") -> list[dict[str, str]]:
    """The rows a query logged in a sample log, to build new logs from real rows."""
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event["name"] == query:
            return list(event["snapshot"])
    raise AssertionError(f"no {query} in {path}")


def event(name: str, host: str, **body: Any) -> str:
    out = {"name": name, "hostIdentifier": host, "calendarTime": "Tue Nov 24 08:00:00 2026 UTC",
           "unixTime": 1795507200, "epoch": 0, "counter": 0, "numerics": False}  # fmt: skip
    out.update(body)
    return json.dumps(out)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


# --- one table at a time, with osquery's exact columns ------------------------------------------


@pytest.fixture(scope="module")
def tables() -> dict[str, HostInventory]:
    return read(ASSETS / "tables.log")[0]


# (host, observation source, name, expected kind, version, publisher, identifiers)
MAPPINGS = [
    ("win-lab-01", "osquery:programs", "Kaspersky Endpoint Security for Windows", Kind.PROGRAM,
     "12.3.0.493", "AO Kaspersky Lab",
     {"product_code": "{9EE91037-F015-4120-ACC8-C673D5134034}",
      "path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\"}),
    ("win-lab-01", "osquery:services", "AVP.KES.12.3", Kind.SERVICE, "", "",
     {"path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\avp.exe"}),
    ("win-lab-01", "osquery:drivers", "klif.sys", Kind.DRIVER, "12.3.0.493", "AO Kaspersky Lab",
     {"path": "C:\\Windows\\system32\\DRIVERS\\klif.sys"}),
    ("win-lab-01", "osquery:certificates", "Kaspersky Anti-Virus Personal Root Certificate",
     Kind.CERTIFICATE, "", "AO Kaspersky Lab",
     {"cert_subject": "CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab,C=RU",
      "cert_fingerprint": "1eac5410d0c34b8f1d9f5b5bfb4dba35853b1582"}),
    ("win-lab-01", "osquery:chrome_extensions", "Kaspersky Protection", Kind.BROWSER_EXTENSION,
     "2.4.33.0", "AO Kaspersky Lab",
     {"extension_id": "ahkjpbeeocnddjkakilopmfdlnjdpcdm",
      "path": "C:\\Users\\j.alvarez\\AppData\\Local\\Google\\Chrome\\User Data\\Default"
              "\\Extensions\\ahkjpbeeocnddjkakilopmfdlnjdpcdm\\2.4.33.0_0"}),
    ("win-lab-01", "osquery:firefox_addons", "Kaspersky Protection", Kind.BROWSER_EXTENSION,
     "2.4.33.0", "AO Kaspersky Lab",
     {"extension_id": "light_plugin_F6F079488B53499DB99380A7E11A93F6@kaspersky.com",
      "path": "C:\\Users\\j.alvarez\\AppData\\Roaming\\Mozilla\\Firefox\\Profiles"
              "\\x1y2z3.default-release\\extensions"
              "\\light_plugin_F6F079488B53499DB99380A7E11A93F6@kaspersky.com.xpi"}),
    ("win-lab-01", "osquery:processes", "avp.exe", Kind.PROCESS, "", "",
     {"path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\avp.exe"}),
    ("win-lab-01", "osquery:windows_security_products", "Kaspersky Endpoint Security for Windows",
     Kind.PROGRAM, "", "", {}),
    ("win-lab-01", "osquery:chocolatey_packages", "7zip.install", Kind.PACKAGE, "23.1.0",
     "Igor Pavlov", {"path": "C:\\ProgramData\\chocolatey\\lib\\7zip.install\\7zip.install.nupkg"}),
    ("lnx-lab-01", "osquery:deb_packages", "kesl", Kind.PACKAGE, "12.1.0-1297",
     "AO Kaspersky Lab <support@kaspersky.com>",
     {"purl": "pkg:deb/ubuntu/kesl@12.1.0-1297?arch=amd64"}),
    ("lnx-lab-01", "osquery:systemd_units", "kesl", Kind.SERVICE, "", "",
     {"path": "/usr/lib/systemd/system/kesl.service"}),
    ("lnx-lab-01", "osquery:kernel_modules", "nf_tables", Kind.KERNEL_MODULE, "", "", {}),
    ("lnx-lab-01", "osquery:python_packages", "requests", Kind.PACKAGE, "2.25.1", "Kenneth Reitz",
     {"purl": "pkg:pypi/requests@2.25.1",
      "path": "/usr/lib/python3/dist-packages/requests-2.25.1.dist-info/"}),
    ("lnx-lab-01", "osquery:npm_packages", "@angular/cli", Kind.PACKAGE, "17.3.8",
     "Angular Authors",
     {"purl": "pkg:npm/%40angular/cli@17.3.8", "path": "/usr/lib/node_modules/@angular/cli"}),
    ("rhel-lab-01", "osquery:rpm_packages", "openssl", Kind.PACKAGE, "3.0.7-27.el9",
     "Red Hat, Inc.", {"purl": "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1"}),
    ("mac-lab-01", "osquery:apps", "Kaspersky Internet Security", Kind.APP, "21.0.29", "",
     {"bundle_id": "com.kaspersky.kav", "path": "/Applications/Kaspersky Internet Security.app"}),
    ("mac-lab-01", "osquery:launchd", "com.kaspersky.kav", Kind.SERVICE, "", "",
     {"bundle_id": "com.kaspersky.kav",
      "path": "/Library/Application Support/Kaspersky Lab/KAV/Binaries/kav"}),
    ("mac-lab-01", "osquery:kernel_extensions", "com.kaspersky.kext.klif", Kind.DRIVER,
     "3.1.0d45", "",
     {"bundle_id": "com.kaspersky.kext.klif", "path": "/Library/Extensions/klif.kext"}),
    ("mac-lab-01", "osquery:system_extensions", "com.kaspersky.kav.sysext", Kind.DRIVER,
     "21.0.29", "",
     {"bundle_id": "com.kaspersky.kav.sysext", "team_id": "2Y8XE5CQ94",
      "path": "/Applications/Kaspersky Internet Security.app/Contents/Library/SystemExtensions"
              "/com.kaspersky.kav.sysext.systemextension"}),
    ("mac-lab-01", "osquery:safari_extensions", "Kaspersky Security Extension",
     Kind.BROWSER_EXTENSION, "21.0.29", "AO Kaspersky Lab",
     {"extension_id": "com.kaspersky.kav.safari-extension", "team_id": "2Y8XE5CQ94",
      "path": "/Applications/Kaspersky Internet Security.app/Contents/PlugIns"
              "/Kaspersky Security Extension.appex"}),
    ("mac-lab-01", "osquery:package_receipts", "com.kaspersky.kav.core", Kind.PACKAGE, "21.0.29",
     "", {"bundle_id": "com.kaspersky.kav.core",
          "path": "/private/var/db/receipts/com.kaspersky.kav.core.plist"}),
    ("mac-lab-01", "osquery:browser_plugins", "Silverlight Plug-In", Kind.BROWSER_EXTENSION,
     "5.1.50918.0", "",
     {"bundle_id": "com.microsoft.SilverlightPlugin",
      "path": "/Library/Internet Plug-Ins/Silverlight.plugin"}),
    ("win-lab-01", "osquery:ie_extensions", "Java(tm) Plug-In SSV Helper", Kind.BROWSER_EXTENSION,
     "11.401.2.10", "Oracle Corporation",
     {"extension_id": "{761497BB-D6F0-462C-B6EB-D4DAF1D92D43}",
      "registry_key": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer"
                      "\\Browser Helper Objects\\{761497BB-D6F0-462C-B6EB-D4DAF1D92D43}",
      "path": "C:\\Program Files\\Java\\jre1.8.0_401\\bin\\ssv.dll"}),
    ("win-lab-01", "osquery:registry:services", "klif.sys", Kind.DRIVER, "", "",
     {"path": "system32\\DRIVERS\\klif.sys",
      "registry_key": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\klif"}),
    ("win-lab-01", "osquery:registry:kasperskylab", "Kaspersky Endpoint Security for Windows",
     Kind.PROGRAM, "12.3.0.493", "",
     {"path": "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\",
      "registry_key": "HKLM\\SOFTWARE\\WOW6432Node\\KasperskyLab\\protected\\KES\\environment"}),
    ("lnx-lab-01", "osquery:snap_packages", "firefox", Kind.PACKAGE, "133.0-2", "",
     {"package_id": "firefox", "path": "/snap/firefox"}),
    ("lnx-lab-01", "osquery:flatpak_packages", "org.telegram.desktop", Kind.PACKAGE, "5.8.3",
     "Telegram FZ-LLC", {"package_id": "org.telegram.desktop"}),
    ("mac-lab-01", "osquery:homebrew_packages", "wget", Kind.PACKAGE, "1.24.5", "",
     {"path": "/opt/homebrew/Cellar/wget"}),
    ("mac-lab-01", "osquery:certificates", "Kaspersky Anti-Virus Personal Root Certificate",
     Kind.CERTIFICATE, "", "AO Kaspersky Lab",
     {"cert_subject": "CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab,C=RU",
      "cert_fingerprint": "4a0f5c3d6e8b2190c7d3e5f61a2b3c4d5e6f7081"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("host", "source", "name", "kind", "version", "publisher", "identifiers"),
    MAPPINGS,
    ids=[m[1].removeprefix("osquery:") + "@" + m[0] for m in MAPPINGS],
)
def test_each_table_maps_to_its_observation(
    tables, host, source, name, kind, version, publisher, identifiers
):
    # One row per observation, except where one extension sits in several browsers' profiles.
    found = [o for o in tables[host].observations if o.source == source and o.name == name]
    assert (kind, version, publisher, identifiers) in [
        (o.kind, o.version, o.publisher, dict(o.identifiers)) for o in found
    ], found


def test_every_table_of_the_sample_log_is_read(tables):
    sources = {o.source for inv in tables.values() for o in inv.observations}
    assert sources == {m[1] for m in MAPPINGS}


def test_chrome_extensions_are_read_from_every_chromium_browser(tables):
    rows = rows_of("evict-chrome-extensions")
    assert {r["browser_type"] for r in rows} == {"chrome", "edge", "brave"}
    extensions = [
        o for o in tables["win-lab-01"].observations if o.source == "osquery:chrome_extensions"
    ]
    paths = {o.ident("path") for o in extensions}
    assert paths == {r["path"] for r in rows}
    kaspersky = [o for o in extensions if o.ident("extension_id") == rows[0]["identifier"]]
    assert len(kaspersky) == 2  # in Chrome's profile and in Edge's


def test_kernel_drivers_osquery_lists_only_in_the_registry_are_read(tables, matcher):
    # osquery's services table enumerates Win32 services only, and drivers only PnP device
    # drivers in use: a kernel driver that drives no device (klhk, klflt) is in neither, only in
    # the registry.
    win = tables["win-lab-01"]
    listed = names(win, "osquery:drivers") | names(win, "osquery:services")
    assert not {"klhk.sys", "klflt.sys"} & listed
    registry = {o.name: o for o in win.observations if o.source == "osquery:registry:services"}
    assert set(registry) == {"klif.sys", "klflt.sys", "klhk.sys", "tcpip.sys", "Dnscache"}
    assert registry["Dnscache"].kind is Kind.SERVICE  # Type 0x20: a shared-process service
    hits = matcher.match_distinct([registry[n] for n in ("klif.sys", "klhk.sys", "tcpip.sys")])
    assert [bool(h) for h in hits] == [True, True, False]


def test_registry_rows_of_a_differential_log_are_applied_per_value(tmp_path):
    rows = rows_of("pack_evict_registry_services")
    klif = [r for r in rows if r["key"].endswith("\\klif")]
    klhk = [r for r in rows if r["key"].endswith("\\klhk")]
    added = [event("registry_services", "win-9", action="added", columns=r) for r in klif + klhk]
    removed = [
        event("registry_services", "win-9", action="removed", columns=r, counter=1) for r in klif
    ]
    hosts, source = read(write(tmp_path, "registry.log", *added, *removed))
    assert names(hosts["win-9"], "osquery:registry:services") == {"klhk.sys"}
    assert hosts["win-9"].platform is Platform.WINDOWS
    assert source.statuses[0].state == "ok"


def test_package_receipts_are_read_not_refused(tables):
    hosts, source = read(ASSETS / "tables.log")
    [status] = source.statuses
    assert not any("package_receipts" in p for p in status.problems)
    receipts = names(hosts["mac-lab-01"], "osquery:package_receipts")
    assert receipts == {
        "com.kaspersky.kav.core",
        "com.kaspersky.kav.webav",
        "com.microsoft.package.Microsoft_Word.app",
        "com.apple.pkg.XProtectPlistConfigData_10_15.16U4393",
    }


def test_receipts_system_extensions_and_launchd_from_an_osqueryi_directory(matcher):
    hosts, source = read(ASSETS / "mac-lab-02")
    [host] = hosts.values()
    assert host.host == "mac-lab-02" and host.platform is Platform.MACOS
    assert source.statuses[0].state == "ok"
    receipt = find(host, "osquery:package_receipts", "com.kaspersky.kav.oas")
    assert receipt.kind is Kind.PACKAGE and receipt.ident("bundle_id") == "com.kaspersky.kav.oas"
    sysext = find(host, "osquery:system_extensions", "com.kaspersky.kav.sysext")
    assert (sysext.kind, sysext.ident("team_id")) == (Kind.DRIVER, "2Y8XE5CQ94")
    job = find(host, "osquery:launchd", "com.kaspersky.kav")
    assert (job.kind, job.ident("bundle_id")) == (Kind.SERVICE, "com.kaspersky.kav")
    # The catalog's bundle-id rules see the receipts; munki's receipt is not the vendor's.
    hits = matcher.match_distinct(list(host.observations))
    matched = {o.name for o, h in zip(host.observations, hits, strict=True) if h}
    assert {"com.kaspersky.kav.core", "com.kaspersky.kav.oas"} <= matched
    assert "com.googlecode.munki.core" not in matched


def test_pacman_packages_from_an_osqueryi_directory():
    hosts, _ = read(ASSETS / "arch-lab-02")
    host = hosts["arch-lab-02"]
    assert host.platform is Platform.LINUX
    openssl = find(host, "osquery:pacman_packages", "openssl")
    assert openssl.ident("purl") == "pkg:alpm/arch/openssl@3.4.0-1?arch=x86_64"
    assert openssl.publisher == "Pierre Schmitz <pierre@archlinux.org>"


def test_a_receipt_removed_in_a_differential_log_is_gone(tmp_path):
    rows = rows_of("pack_evict_package_receipts")
    log = write(
        tmp_path,
        "receipts.log",
        event("pack_evict_package_receipts", "mac-9", action="added", columns=rows[0]),
        event("pack_evict_package_receipts", "mac-9", action="added", columns=rows[2]),
        event(
            "pack_evict_package_receipts", "mac-9", action="removed", columns=rows[0], counter=1
        ),  # fmt: skip
    )
    hosts, source = read(log)
    assert names(hosts["mac-9"], "osquery:package_receipts") == {rows[2]["package_id"]}
    assert hosts["mac-9"].platform is Platform.MACOS
    assert source.statuses[0].state == "ok"


def test_program_product_code_is_the_logged_identifying_number(tables):
    row = next(r for r in rows_of("pack_evict_programs") if r["name"].startswith("Kaspersky"))
    kes = find(tables["win-lab-01"], "osquery:programs", row["name"])
    assert kes.ident("product_code") == row["identifying_number"]


def test_a_command_line_naming_a_product_is_not_evidence_of_it(tables):
    # powershell.exe running Invoke-KasperskyUninstall.ps1 is about Kaspersky, not Kaspersky.
    shell = find(tables["win-lab-01"], "osquery:processes", "powershell.exe")
    assert "kaspersky" not in json.dumps(shell.to_json()).lower()


def test_removed_deb_package_with_only_config_files_is_not_installed(tables):
    debs = names(tables["lnx-lab-01"], "osquery:deb_packages")
    assert debs == {"kesl", "openssh-server"}, "apache2 is 'deinstall ok config-files'"


def test_windows_subject_with_more_than_country_org_and_name_keeps_no_guessed_types(tables):
    digicert = find(tables["win-lab-01"], "osquery:certificates", "DigiCert Global Root G2")
    assert digicert.publisher == ""
    assert digicert.ident("cert_subject") is None
    assert digicert.ident("cert_fingerprint") == "df3c24f9bfd666761b268073fe06d1cc8d4f82a4"


def test_platform_comes_from_decorations_os_version_or_the_tables_read(tables):
    assert tables["rhel-lab-01"].platform is Platform.LINUX  # decorations.platform = rhel
    assert tables["lnx-lab-01"].platform is Platform.LINUX  # os_version.platform = ubuntu
    assert tables["win-lab-01"].platform is Platform.WINDOWS  # only Windows tables
    assert tables["mac-lab-01"].platform is Platform.MACOS


def test_unknown_query_is_skipped_and_reported_not_fatal():
    hosts, source = read(ASSETS / "tables.log")
    assert len(hosts) == 4
    [status] = source.statuses
    assert status.source == f"osquery:{ASSETS / 'tables.log'}"
    assert status.state == "partial"
    assert status.problems == (
        "query 'pack_it-ops_uptime': not a table evict reads; 1 event(s) skipped",
    )


# --- which table a query read -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "table"),
    [
        ("programs", "programs"),
        ("pack_evict_programs", "programs"),
        ("pack/evict/deb_packages", "deb_packages"),
        ("windows_programs_snapshot", "programs"),
        ("evict-chrome-extensions", "chrome_extensions"),
        ("pack_apps-inventory_deb_packages", "deb_packages"),
        ("pack_programs-team_processes", "processes"),
        ("programs_and_features", "programs"),
        ("pack_it-ops_uptime", None),
        ("process_snapshot", None),
    ],
)
def test_table_from_query_name(query, table):
    assert table_from_name(query) == table


def test_distinctive_columns_win_over_a_misleading_query_name():
    # osquery's old Windows "apps" table had programs' columns.
    columns = ["name", "version", "publisher", "identifying_number", "install_source"]
    assert detect_table("apps", columns) == "programs"
    assert detect_table("q17", rows_of("pack_evict_deb_packages")[0]) == "deb_packages"
    assert detect_table("inventory", ["name", "version"]) is None


def test_query_named_freely_is_read_by_its_columns(tmp_path):
    log = write(tmp_path, "r.log", event("q17", "lnx-lab-02", action="snapshot",
                                         snapshot=rows_of("pack_evict_rpm_packages")))  # fmt: skip
    hosts, _ = read(log)
    assert names(hosts["lnx-lab-02"], "osquery:rpm_packages") == {"openssl", "bash"}
    assert hosts["lnx-lab-02"].platform is Platform.LINUX


# --- snapshots, differentials, hosts -------------------------------------------------------------


def test_event_differential_removed_row_disappears():
    hosts, source = read(ASSETS / "differential.log")
    programs = names(hosts["hq-it-ws-0311"], "osquery:programs")
    assert "Kaspersky Endpoint Security for Windows" not in programs
    assert programs == {"7-Zip 23.01 (x64)", "Google Chrome", "CrowdStrike Windows Sensor"}
    assert source.statuses[0].state == "ok"


def test_new_epoch_starts_over_from_its_first_run():
    hosts, _ = read(ASSETS / "differential.log")
    assert names(hosts["hq-it-ws-0312"], "osquery:programs") == {"7-Zip 23.01 (x64)"}


def test_counter_going_back_starts_over(tmp_path):
    a, b = rows_of("pack_evict_programs")
    q = "pack_evict_programs"
    log = write(
        tmp_path, "r.log",
        event(q, "h", action="added", columns=a), event(q, "h", action="added", columns=b),
        event(q, "h", counter=4, action="removed", columns=b),
        event(q, "h", counter=0, action="added", columns=b),
    )  # fmt: skip
    hosts, _ = read(log)
    assert names(hosts["h"], "osquery:programs") == {b["name"]}


def test_batched_diff_results_apply_removals_and_additions():
    hosts, _ = read(ASSETS / "batched.log")
    inv = hosts["dc1-web-lx-004"]
    nginx = find(inv, "osquery:deb_packages", "nginx")
    assert nginx.version == "1.18.0-6ubuntu14.5"
    assert nginx.ident("purl") == "pkg:deb/ubuntu/nginx@1.18.0-6ubuntu14.5?arch=amd64"
    assert len(inv.observations) == 6, "a removal of a row never seen is ignored"
    assert inv.collected_at == dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_a_later_snapshot_replaces_the_earlier_one(tmp_path):
    rows = rows_of("pack_evict_programs")
    q = "pack_evict_programs"
    log = write(
        tmp_path, "r.log",
        event(q, "h", action="snapshot", snapshot=rows),
        event(q, "h", action="snapshot", snapshot=rows[:1], unixTime=1795510800),
    )  # fmt: skip
    hosts, _ = read(log)
    assert names(hosts["h"], "osquery:programs") == {rows[0]["name"]}


def test_many_hosts_in_one_log_are_split_by_host_identifier():
    hosts, _ = read(ASSETS / "tables.log")
    assert set(hosts) == {"win-lab-01", "lnx-lab-01", "rhel-lab-01", "mac-lab-01"}
    holders = {h for h, inv in hosts.items() if "kesl" in names(inv, "osquery:deb_packages")}
    assert holders == {"lnx-lab-01"}


def test_uuid_host_identifier_takes_its_hostname_from_decorations():
    fleet = Path(str(resources.files("evict.sample_data") / "fleet.osquery.log"))
    hosts, source = read(fleet)
    inv = hosts["4C4C4544-0038-4A10-8052-B8C04F4E3732"]
    assert inv.hostname == "br-chi-ws-0058"
    assert inv.platform is Platform.WINDOWS
    assert source.statuses[0].state == "ok"


def test_calendar_time_is_used_when_unix_time_is_missing(tmp_path):
    row = rows_of("pack_evict_programs")[0]
    body = {"action": "snapshot", "snapshot": [row], "unixTime": None,
            "calendarTime": "Mon May  2 22:27:32 2016 UTC"}  # fmt: skip
    hosts, _ = read(write(tmp_path, "r.log", event("programs", "h", **body)))
    assert hosts["h"].collected_at == dt.datetime(2016, 5, 2, 22, 27, 32, tzinfo=dt.UTC)


def test_host_with_only_unknown_queries_is_not_reported_as_clean(tmp_path):
    log = write(tmp_path, "r.log", event("uptime", "h", action="added", columns={"days": "3"}))
    hosts, source = read(log)
    assert hosts == {}
    assert "host 'h': no query evict reads; not reported" in source.statuses[0].problems


def test_empty_log_has_no_hosts_and_is_ok():
    hosts, source = read(ASSETS / "empty.log")
    assert hosts == {}
    assert source.statuses[0].state == "ok"


# --- osqueryi --json directories ----------------------------------------------------------------


def test_directory_of_osqueryi_outputs_is_one_host_named_after_it():
    hosts, source = read(ASSETS / "hq-lab-ws-0019")
    inv = hosts["hq-lab-ws-0019"]
    assert inv.hostname == "HQ-LAB-WS-0019"  # system_info.json
    assert inv.platform is Platform.WINDOWS
    assert "Kaspersky Security Center Network Agent" in names(inv, "osquery:programs")
    assert "klnagent" in names(inv, "osquery:services")
    cert = find(inv, "osquery:certificates", "Kaspersky Anti-Virus Personal Root Certificate")
    assert cert.publisher == "AO Kaspersky Lab"
    [status] = source.statuses
    assert status.state == "partial"
    assert status.problems == ("users.json: not a table evict reads; skipped",)


def test_directory_without_a_known_table_is_an_error(tmp_path):
    folder = tmp_path / "host-7"
    folder.mkdir()
    (folder / "users.json").write_text('[{"uid": "0", "username": "root"}]')
    with pytest.raises(SourceInputError, match="no osqueryi --json output") as e:
        read(folder)
    assert e.value.path == str(folder)


def test_directory_with_malformed_json_names_file_and_line(tmp_path):
    folder = tmp_path / "host-8"
    folder.mkdir()
    good = (ASSETS / "hq-lab-ws-0019" / "programs.json").read_text()
    (folder / "programs.json").write_text(good.replace('"version":', '"version"', 1))
    with pytest.raises(SourceInputError) as e:
        read(folder)
    assert e.value.path == str(folder / "programs.json")
    assert e.value.line == 2


def test_osqueryi_output_that_is_not_an_array_is_an_error(tmp_path):
    folder = tmp_path / "host-9"
    folder.mkdir()
    (folder / "programs.json").write_text('{"name": "7-Zip"}')
    with pytest.raises(SourceInputError, match="expected an array of rows"):
        read(folder)


# --- input that cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset", "line", "message"),
    [
        ("malformed.log", 3, "not JSON"),  # a syslog-prefixed line
        ("truncated.log", 5, "not JSON: Unterminated string"),
        ("wrong-shape.log", 2, "'snapshot' must be a list of rows"),
        ("hostile.log", 1, "not JSON"),  # 200,000 nested arrays
    ],
)
def test_unreadable_log_names_file_and_line(asset, line, message):
    path = ASSETS / asset
    with pytest.raises(SourceInputError, match=message) as e:
        read(path)
    assert (e.value.path, e.value.line) == (str(path), line)
    assert str(e.value).startswith(f"{path}:{line}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["programs"]', "each line must be a JSON object"),
        ('{"hostIdentifier": "h", "action": "snapshot", "snapshot": []}', "no query 'name'"),
        ('{"name": "programs", "action": "snapshot", "snapshot": []}', "no 'hostIdentifier'"),
        ('{"name": "programs", "hostIdentifier": "h", "action": "changed", "columns": {}}',
         "unknown result form"),
        ('{"name": "programs", "hostIdentifier": "h", "action": "added", "columns": ["a"]}',
         "a result row must be a JSON object"),
        ('{"name": "programs", "hostIdentifier": "h", "diffResults": {"added": {}}}',
         "'diffResults.added' must be a list"),
        ('{"name": "programs", "hostIdentifier": "h", "action": "snapshot",'
         ' "snapshot": [{"name": {"nested": 1}}]}', "column 'name' holds a dict"),
    ],
)  # fmt: skip
def test_wrong_shapes_name_the_line(tmp_path, text, message):
    path = write(tmp_path, "r.log", event("programs", "h", action="snapshot", snapshot=[]), text)
    with pytest.raises(SourceInputError, match=message) as e:
        read(path)
    assert e.value.line == 2


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "r.log"
    path.write_bytes(b'{"name": "programs", "hostIdentifier": "h\xff\xfe"}\n')
    with pytest.raises(SourceInputError, match="not JSON") as e:
        read(path)
    assert e.value.line == 1


def test_a_line_over_the_limit_is_rejected_without_reading_it_whole(tmp_path):
    row = rows_of("pack_evict_programs")[0]
    huge = event("programs", "h", action="snapshot", snapshot=[row] * 400)
    path = write(tmp_path, "r.log", event("programs", "h", action="snapshot", snapshot=[row]), huge)
    with pytest.raises(SourceInputError, match="line longer than 4096 bytes") as e:
        read(path, max_line_bytes=4096)
    assert e.value.line == 2


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SourceInputError, match="no such file") as e:
        read(tmp_path / "osqueryd.results.log")
    assert e.value.path == str(tmp_path / "osqueryd.results.log")


def test_one_bad_log_does_not_hide_the_others_and_leaves_no_partial_state(tmp_path):
    kes = rows_of("pack_evict_programs")
    # Valid lines that would remove KES from win-lab-01, then a broken line: none of it counts.
    bad = write(
        tmp_path, "bad.log",
        event("pack_evict_programs", "win-lab-01", action="snapshot", snapshot=kes[:1],
              unixTime=1795600000),
        "{broken",
    )  # fmt: skip
    good = ASSETS / "tables.log"
    source = OsquerySource([good, bad])
    seen = []
    with pytest.raises(SourceInputError) as e:
        seen.extend(source.collect())
    assert e.value.path == str(bad) and e.value.line == 2
    hosts = {inv.host: inv for inv in seen}
    assert set(hosts) == {"win-lab-01", "lnx-lab-01", "rhel-lab-01", "mac-lab-01"}
    assert "Kaspersky Endpoint Security for Windows" in names(
        hosts["win-lab-01"], "osquery:programs"
    )
    states = {s.source: s.state for s in source.statuses}
    assert states == {f"osquery:{good}": "partial", f"osquery:{bad}": "failed"}


def test_registered_as_osquery():
    source = open_source("osquery", [ASSETS / "acceptance.log"])
    assert isinstance(source, OsquerySource)
    assert source.name == "osquery"


# --- certificate subjects -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "common_name", "expected"),
    [
        ("/C=US/O=Foo, Inc./CN=Foo Root", "Foo Root", "CN=Foo Root,O=Foo\\, Inc.,C=US"),
        ("CN=Foo Root, O=Foo Inc, S=Texas, C=US", "", "CN=Foo Root,O=Foo Inc,ST=Texas,C=US"),
        ("RU, AO Kaspersky Lab, X", "X", "CN=X,O=AO Kaspersky Lab,C=RU"),
        ("US, Acme Root", "Acme Root", "CN=Acme Root,C=US"),
        ("US, Texas, Acme, Acme Root", "Acme Root", None),  # types cannot be known
        ("RU, AO Kaspersky Lab, X", "Y", None),  # the last value is not the common name
    ],
)
def test_subject_formats(subject, common_name, expected):
    attributes = parse_subject(subject, common_name)
    assert (rfc4514(attributes) if attributes else None) == expected


# --- the bundled sample fleet and the acceptance log --------------------------------------------


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_catalog())


def products_by_hostname(matcher: Matcher, path: Path) -> dict[str, set[str]]:
    inventories = list(OsquerySource([path]).collect())
    findings = matcher.match_hosts(inventories)
    return {inv.hostname: {f.product for f in findings[inv.host]} for inv in inventories}


def test_acceptance_log_finds_kaspersky_on_the_first_host_only(matcher):
    found = products_by_hostname(matcher, ASSETS / "acceptance.log")
    assert found == {
        "hq-fin-ws-0142": {
            "kaspersky-endpoint-security",
            "kaspersky-network-agent",
            "kaspersky-software",  # the root CA
        },
        "hq-hr-ws-0077": set(),  # klist.exe, kavnsi.sys, K7Sentry.sys, Kaspa Wallet, Kingsoft...
    }


def test_sample_fleet_mixes_platforms_and_has_findings_where_expected(matcher):
    fleet = Path(str(resources.files("evict.sample_data") / "fleet.osquery.log"))
    inventories = list(OsquerySource([fleet]).collect())
    platforms = [inv.platform for inv in inventories]
    assert len(inventories) == 12
    assert {p: platforms.count(p) for p in set(platforms)} == {
        Platform.WINDOWS: 6, Platform.LINUX: 3, Platform.MACOS: 3,
    }  # fmt: skip
    found = products_by_hostname(matcher, fleet)
    affected = {host for host, products in found.items() if products}
    assert affected == {"hq-fin-ws-0142", "dc1-app-lx-017", "lgl-mbp-0231", "mktg-mbp-0419"}
    assert {"kaspersky-endpoint-security", "kaspersky-network-agent"} <= found["hq-fin-ws-0142"]
    assert {"kaspersky-endpoint-security", "kaspersky-network-agent"} <= found["dc1-app-lx-017"]
    assert "tiktok" in found["mktg-mbp-0419"]


def test_a_rotated_gzip_log_reads_as_the_plain_one(matcher, tmp_path):
    import gzip

    plain = ASSETS / "acceptance.log"
    rotated = tmp_path / "osqueryd.results.log.1.gz"
    rotated.write_bytes(gzip.compress(plain.read_bytes()))
    assert products_by_hostname(matcher, rotated) == products_by_hostname(matcher, plain)


def test_a_truncated_gzip_log_names_the_file_and_line(tmp_path):
    import gzip

    data = gzip.compress((ASSETS / "acceptance.log").read_bytes())
    cut = tmp_path / "osqueryd.results.log.2.gz"
    cut.write_bytes(data[: len(data) // 2])
    source = OsquerySource([cut])
    with pytest.raises(
        SourceInputError, match=r"osqueryd\.results\.log\.2\.gz:\d+: read failed: truncated gzip"
    ):
        list(source.collect())


def test_interface_addresses_become_the_hosts_addresses(tmp_path):
    # osquery's interface_addresses columns (osquery/specs/interface_addresses.table).
    def row(interface: str, address: str, mask: str) -> dict[str, str]:
        empty = dict.fromkeys(("broadcast", "point_to_point", "friendly_name"), "")
        return {"interface": interface, "address": address, "mask": mask, "type": "dhcp", **empty}

    snapshot = [row("lo", "127.0.0.1", "255.0.0.0"), row("eth0", "10.0.0.5", "255.255.255.0"),
                row("eth0", "fe80::1%eth0", "ffff:ffff:ffff:ffff::")]  # fmt: skip
    programs = rows_of("pack_evict_programs")[:1]
    log = write(
        tmp_path,
        "osqueryd.results.log",
        event("pack_evict_programs", "win-9", action="snapshot", snapshot=programs),
        event("pack_evict_interface_addresses", "win-9", action="snapshot", snapshot=snapshot),
        event(
            "pack_evict_interface_addresses",
            "win-9",
            action="added",
            columns=row("eth1", "10.0.0.77", "255.255.255.0"),
            counter=1,
        ),  # fmt: skip
    )
    hosts, source = read(log)
    assert set(hosts["win-9"].addresses) == {"127.0.0.1", "10.0.0.5", "fe80::1%eth0", "10.0.0.77"}
    assert not any("interface_addresses" in p for p in source.statuses[0].problems)
