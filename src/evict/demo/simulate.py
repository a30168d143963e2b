"""A realistic synthetic fleet, for demos and benchmarks: ``evict simulate``.

Hosts are generated one at a time from ``(seed, index)``, so any host can be regenerated alone
and memory stays flat whatever the fleet size. The software is real: Windows programs from the
Windows Package Manager catalogue (14,586 packages, MIT, shipped in ``sample_data``), Debian
packages from a real installation, and hand-picked lists of real Windows services, drivers and
processes, macOS launchd jobs and Android packages. Popularity is long-tailed (Zipf), as in real
fleets: a few titles are on every machine, most are on very few.

A few percent of hosts carry covered products in the forms they take in the field: Kaspersky
Endpoint Security with its Network Agent, services, drivers and root certificate; consumer
Kaspersky suites, some with localised names; Kaspersky for Linux packages and units; Kaspersky on
macOS and Android; TikTok and DeepSeek on phones. Later snapshots (``snapshot=1, 2, …``) remove
covered products from a growing share of those hosts and install an approved replacement, so a
fleet moves through the directive lifecycle. A few desktops (``INCOMPLETE_SHARE``) report only
their installed-programs list, so a fleet also shows hosts nothing can be concluded about.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import hashlib
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from evict.model.observations import HostID, HostInventory, Ident, Kind, Observation, Platform

ORG_UNITS = (
    "HQ/Office of the Secretary",
    "HQ/Finance",
    "HQ/Human Resources",
    "HQ/CIO",
    "Bureau of Statistics",
    "Bureau of Field Operations/East",
    "Bureau of Field Operations/West",
    "Bureau of Field Operations/Central",
    "Inspector General",
    "Regional Office/Atlanta",
    "Regional Office/Denver",
    "Regional Office/Seattle",
    "Research Laboratory",
)

WINDOWS_SERVICES = (
    "AudioEndpointBuilder",
    "Audiosrv",
    "BFE",
    "BITS",
    "BrokerInfrastructure",
    "CDPSvc",
    "CertPropSvc",
    "CoreMessagingRegistrar",
    "CryptSvc",
    "DcomLaunch",
    "Dhcp",
    "DiagTrack",
    "DispBrokerDesktopSvc",
    "Dnscache",
    "DoSvc",
    "DPS",
    "DusmSvc",
    "EventLog",
    "EventSystem",
    "FontCache",
    "gpsvc",
    "iphlpsvc",
    "LanmanServer",
    "LanmanWorkstation",
    "LicenseManager",
    "lmhosts",
    "LSM",
    "mpssvc",
    "NcbService",
    "netprofm",
    "NlaSvc",
    "nsi",
    "PcaSvc",
    "PlugPlay",
    "Power",
    "ProfSvc",
    "RasMan",
    "RpcEptMapper",
    "RpcSs",
    "SamSs",
    "Schedule",
    "SENS",
    "SgrmBroker",
    "ShellHWDetection",
    "Spooler",
    "SSDPSRV",
    "SstpSvc",
    "StateRepository",
    "StorSvc",
    "SysMain",
    "SystemEventsBroker",
    "TabletInputService",
    "Themes",
    "TimeBrokerSvc",
    "TokenBroker",
    "TrkWks",
    "UserManager",
    "UsoSvc",
    "VaultSvc",
    "W32Time",
    "WdiServiceHost",
    "WinHttpAutoProxySvc",
    "Winmgmt",
    "WinRM",
    "WlanSvc",
    "WpnService",
    "wscsvc",
    "WSearch",
    "wuauserv",
    "gupdate",
    "gupdatem",
    "edgeupdate",
    "edgeupdatem",
    "AdobeARMservice",
    "ZoomCptService",
    "OneSyncSvc",
    "ClickToRunSvc",
    "TeamViewer",
    "VMTools",
    "CiscoAnyConnect",
)
WINDOWS_DRIVERS = (
    "acpi.sys",
    "afd.sys",
    "ahcache.sys",
    "bam.sys",
    "beep.sys",
    "bowser.sys",
    "cdrom.sys",
    "cng.sys",
    "disk.sys",
    "dxgkrnl.sys",
    "fltmgr.sys",
    "hdaudbus.sys",
    "http.sys",
    "i8042prt.sys",
    "iastorav.sys",
    "intelppm.sys",
    "kbdclass.sys",
    "ksecdd.sys",
    "mouclass.sys",
    "mountmgr.sys",
    "mrxsmb.sys",
    "msrpc.sys",
    "ndis.sys",
    "netbt.sys",
    "npfs.sys",
    "ntfs.sys",
    "partmgr.sys",
    "pci.sys",
    "rdbss.sys",
    "spaceport.sys",
    "srv2.sys",
    "storahci.sys",
    "stornvme.sys",
    "tcpip.sys",
    "tdx.sys",
    "usbhub3.sys",
    "usbxhci.sys",
    "volmgr.sys",
    "volsnap.sys",
    "wdfilter.sys",
    "wdnisdrv.sys",
    "wfplwfs.sys",
    "wof.sys",
    "vmci.sys",
    "e1i63x64.sys",
)
WINDOWS_PROCESSES = (
    "System",
    "smss.exe",
    "csrss.exe",
    "wininit.exe",
    "services.exe",
    "lsass.exe",
    "svchost.exe",
    "winlogon.exe",
    "explorer.exe",
    "dwm.exe",
    "taskhostw.exe",
    "RuntimeBroker.exe",
    "SearchHost.exe",
    "StartMenuExperienceHost.exe",
    "ctfmon.exe",
    "sihost.exe",
    "fontdrvhost.exe",
    "spoolsv.exe",
    "OneDrive.exe",
    "Teams.exe",
    "msedge.exe",
    "chrome.exe",
    "OUTLOOK.EXE",
    "WINWORD.EXE",
    "EXCEL.EXE",
    "conhost.exe",
    "powershell.exe",
    "SecurityHealthService.exe",
    "audiodg.exe",
    "WmiPrvSE.exe",
    "dllhost.exe",
    "Zoom.exe",
    "AcroRd32.exe",
    "klist.exe",
)
LINUX_UNITS = (
    "ssh",
    "cron",
    "rsyslog",
    "systemd-journald",
    "systemd-logind",
    "systemd-networkd",
    "systemd-resolved",
    "systemd-timesyncd",
    "dbus",
    "polkit",
    "unattended-upgrades",
    "auditd",
    "chrony",
    "nginx",
    "postgresql",
    "docker",
    "containerd",
    "snapd",
    "networkd-dispatcher",
    "apparmor",
    "getty@tty1",
    "multipathd",
    "udisks2",
    "packagekit",
    "fwupd",
    "osqueryd",
)
LINUX_MODULES = (
    "ext4",
    "xfs",
    "btrfs",
    "nf_tables",
    "nf_conntrack",
    "overlay",
    "br_netfilter",
    "bridge",
    "tls",
    "ip_tables",
    "x_tables",
    "nvme",
    "nvme_core",
    "virtio_net",
    "virtio_blk",
    "e1000e",
    "ahci",
    "libahci",
    "crc32c_intel",
    "aesni_intel",
    "kvm",
    "kvm_intel",
    "intel_rapl_msr",
    "sd_mod",
    "sg",
    "usbhid",
    "hid_generic",
    "drm",
    "i2c_core",
    "dm_mod",
    "loop",
    "autofs4",
)
MACOS_JOBS = (
    "com.apple.mdworker.shared",
    "com.apple.Spotlight",
    "com.google.keystone.daemon",
    "com.google.keystone.agent",
    "com.microsoft.update.agent",
    "com.microsoft.autoupdate.helper",
    "us.zoom.ZoomDaemon",
    "com.docker.vmnetd",
    "com.adobe.ARMDCHelper",
    "com.dropbox.DropboxMacUpdate.agent",
    "com.crowdstrike.falcond",
    "com.jamf.management.daemon",
    "com.openssh.sshd",
)
MOBILE_APPS = (
    ("Gmail", "com.google.android.gm"),
    ("Chrome", "com.android.chrome"),
    ("WhatsApp", "com.whatsapp"),
    ("Microsoft Teams", "com.microsoft.teams"),
    ("Outlook", "com.microsoft.office.outlook"),
    ("Slack", "com.Slack"),
    ("Zoom", "us.zoom.videomeetings"),
    ("Google Maps", "com.google.android.apps.maps"),
    ("Authenticator", "com.azure.authenticator"),
    ("Signal", "org.thoughtcrime.securesms"),
    ("YouTube", "com.google.android.youtube"),
    ("Spotify", "com.spotify.music"),
    ("Duo Mobile", "com.duosecurity.duomobile"),
    ("Intune Company Portal", "com.microsoft.windowsintune.companyportal"),
    ("Waze", "com.waze"),
    ("LinkedIn", "com.linkedin.android"),
    ("Webex", "com.cisco.webex.meetings"),
)
ROOT_CAS = (
    ("DigiCert Global Root G2", "DigiCert Inc"),
    ("ISRG Root X1", "Internet Security Research Group"),
    ("GlobalSign Root CA", "GlobalSign nv-sa"),
    ("USERTrust RSA Certification Authority", "The USERTRUST Network"),
    ("Baltimore CyberTrust Root", "Baltimore"),
    ("Amazon Root CA 1", "Amazon"),
    ("Microsoft Root Certificate Authority 2011", "Microsoft Corporation"),
    ("Entrust Root Certification Authority - G2", "Entrust, Inc."),
    ("Go Daddy Root Certificate Authority - G2", "GoDaddy.com, Inc."),
    ("Federal Common Policy CA G2", "U.S. Government"),
    ("QuoVadis Root CA 2 G3", "QuoVadis Limited"),
)

PLATFORM_MIX = (
    (Platform.WINDOWS, 0.62),
    (Platform.MACOS, 0.13),
    (Platform.LINUX, 0.15),
    (Platform.ANDROID, 0.05),
    (Platform.IOS, 0.05),
)
COVERED_SHARE = 0.04
REMOVAL_PER_SNAPSHOT = 0.35
INCOMPLETE_SHARE = 0.03
"""Desktops seen only through their installed-programs (or apps) list, as an MDM export shows
them: not enough to conclude they are clean (:mod:`evict.compliance.coverage`)."""
LISTS_ONLY = {
    Platform.WINDOWS: Kind.PROGRAM,
    Platform.MACOS: Kind.APP,
    Platform.LINUX: Kind.PACKAGE,
}

KL = "AO Kaspersky Lab"
KASPERSKY_ROOT = ("Kaspersky Anti-Virus Personal Root Certificate", KL)


@dataclass(frozen=True, slots=True)
class _Sw:
    kind: Kind
    name: str
    version: str = ""
    publisher: str = ""
    ident: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def observe(self) -> Observation:
        return Observation(
            self.kind, self.name, self.version, self.publisher, self.ident, self.source
        )


def _prog(name: str, version: str, publisher: str, code: str = "") -> _Sw:
    ident = ((Ident.PRODUCT_CODE.value, code),) if code else ()
    return _Sw(Kind.PROGRAM, name, version, publisher, ident, "osquery:programs")


# Covered products as the field shows them. Each profile: (platforms, observations).
PROFILES: tuple[tuple[tuple[Platform, ...], tuple[_Sw, ...], tuple[_Sw, ...]], ...] = (
    (
        (Platform.WINDOWS,),
        (
            _prog(
                "Kaspersky Endpoint Security for Windows",
                "12.3.0.493",
                KL,
                "{9A017278-F7F4-4DF9-A482-0B97B70DD7ED}",
            ),
            _prog(
                "Kaspersky Security Center Network Agent",
                "14.2.0.26967",
                KL,
                "{2924BEDA-E0D7-4DAF-A224-50D2E0B12F5B}",
            ),
            _Sw(Kind.SERVICE, "AVP.KES.12.3.0.493", source="osquery:services"),
            _Sw(Kind.SERVICE, "klnagent", source="osquery:services"),
            _Sw(Kind.DRIVER, "klif.sys", publisher="Kaspersky Lab", source="osquery:drivers"),
            _Sw(Kind.DRIVER, "klhk.sys", publisher="Kaspersky Lab", source="osquery:drivers"),
            _Sw(Kind.PROCESS, "avp.exe", source="osquery:processes"),
            _Sw(
                Kind.CERTIFICATE,
                KASPERSKY_ROOT[0],
                publisher=KASPERSKY_ROOT[1],
                source="osquery:certificates",
            ),
        ),
        (
            _Sw(Kind.SERVICE, "WinDefend", source="osquery:services"),
            _Sw(Kind.PROCESS, "MsMpEng.exe", source="osquery:processes"),
        ),
    ),
    (
        (Platform.WINDOWS,),
        (
            _prog("Kaspersky Total Security", "21.3.10.391", "Kaspersky"),
            _Sw(Kind.SERVICE, "AVP21.3", source="osquery:services"),
            _Sw(Kind.PROCESS, "avpui.exe", source="osquery:processes"),
            _Sw(
                Kind.BROWSER_EXTENSION,
                "Kaspersky Protection",
                "2.4.33.0",
                ident=((Ident.EXTENSION_ID.value, "ahkjpbeeocnddjkakilopmfdlnjdpcdm"),),
                source="osquery:chrome_extensions",
            ),
            _Sw(
                Kind.CERTIFICATE,
                KASPERSKY_ROOT[0],
                publisher=KASPERSKY_ROOT[1],
                source="osquery:certificates",
            ),
        ),
        (_Sw(Kind.SERVICE, "WinDefend", source="osquery:services"),),
    ),
    (
        (Platform.WINDOWS,),
        (
            _prog("Антивирус Касперского 2012", "12.0.0.374", "Лаборатория Касперского"),
            _Sw(Kind.DRIVER, "klif.sys", publisher="Kaspersky Lab", source="osquery:drivers"),
        ),
        (_Sw(Kind.SERVICE, "WinDefend", source="osquery:services"),),
    ),
    (
        (Platform.WINDOWS,),
        (
            _prog("Kaspersky Security for Windows Server", "11.0.1.897", KL),
            _Sw(Kind.SERVICE, "KAVFS", source="osquery:services"),
            _Sw(Kind.PROCESS, "kavfs.exe", source="osquery:processes"),
        ),
        (_Sw(Kind.SERVICE, "WinDefend", source="osquery:services"),),
    ),
    (
        (Platform.LINUX,),
        (
            _Sw(
                Kind.PACKAGE,
                "kesl",
                "12.1.0-1297",
                KL,
                ((Ident.PURL.value, "pkg:deb/debian/kesl@12.1.0-1297?arch=amd64"),),
                "osquery:deb_packages",
            ),
            _Sw(Kind.PACKAGE, "klnagent64", "14.2.0-35148", KL, source="osquery:deb_packages"),
            _Sw(Kind.SERVICE, "kesl", source="osquery:systemd_units"),
            _Sw(Kind.SERVICE, "klnagent64", source="osquery:systemd_units"),
        ),
        (
            _Sw(Kind.PACKAGE, "clamav", "1.4.6+dfsg-0+deb12u1", source="osquery:deb_packages"),
            _Sw(Kind.SERVICE, "clamav-daemon", source="osquery:systemd_units"),
        ),
    ),
    (
        (Platform.MACOS,),
        (
            _Sw(
                Kind.APP,
                "Kaspersky Internet Security",
                "21.0.18",
                ident=((Ident.BUNDLE_ID.value, "com.kaspersky.kav"),),
                source="osquery:apps",
            ),
            _Sw(Kind.SERVICE, "com.kaspersky.kav", source="osquery:launchd"),
            _Sw(
                Kind.DRIVER,
                "klif",
                "21.0",
                ident=((Ident.BUNDLE_ID.value, "com.kaspersky.kext.klif"),),
                source="osquery:kernel_extensions",
            ),
        ),
        (_Sw(Kind.SERVICE, "com.crowdstrike.falcond", source="osquery:launchd"),),
    ),
    (
        (Platform.ANDROID,),
        (
            _Sw(
                Kind.APP,
                "Kaspersky Security & VPN",
                "11.110.4.10560",
                ident=((Ident.PACKAGE_ID.value, "com.kms.free"),),
                source="intune:apps",
            ),
        ),
        (),
    ),
    (
        (Platform.ANDROID, Platform.IOS),
        (
            _Sw(
                Kind.APP,
                "TikTok",
                "36.5.4",
                "ByteDance",
                ident=(
                    (Ident.PACKAGE_ID.value, "com.zhiliaoapp.musically"),
                    (Ident.BUNDLE_ID.value, "com.zhiliaoapp.musically"),
                ),
                source="intune:apps",
            ),
        ),
        (),
    ),
    (
        (Platform.ANDROID, Platform.IOS),
        (
            _Sw(
                Kind.APP,
                "DeepSeek",
                "1.2.1",
                "DeepSeek",
                ident=(
                    (Ident.PACKAGE_ID.value, "com.deepseek.chat"),
                    (Ident.BUNDLE_ID.value, "com.deepseek.chat"),
                ),
                source="intune:apps",
            ),
        ),
        (),
    ),
)


@cache
def _winget() -> tuple[tuple[str, str, str], ...]:
    path = Path(str(resources.files("evict.sample_data") / "winget-index.csv"))
    with path.open(encoding="utf-8-sig", newline="") as f:
        return tuple(
            (r["Name"], r["Version"], r["PackageId"].split(".")[0]) for r in csv.DictReader(f)
        )


@cache
def _debian() -> tuple[tuple[str, str, str, str], ...]:
    path = Path(str(resources.files("evict.sample_data") / "debian-packages.tsv"))
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, version, maintainer, arch = line.split("\t")
        rows.append((name, version, maintainer, arch))
    return tuple(rows)


@cache
def _zipf(n: int, s: float = 1.07) -> tuple[float, ...]:
    return tuple(itertools.accumulate(1.0 / (rank**s) for rank in range(1, n + 1)))


def _pick(rng: random.Random, n: int, k: int) -> list[int]:
    """``k`` distinct indexes out of ``n``, Zipf-weighted (rank 1 most popular)."""
    weights = _zipf(n)
    total = weights[-1]
    chosen: set[int] = set()
    for _ in range(k * 3):
        if len(chosen) >= k:
            break
        chosen.add(bisect.bisect_left(weights, rng.random() * total))
    return sorted(i for i in chosen if i < n)


def host_id(seed: int, index: int) -> str:
    """The stable, UUID-shaped identifier of host ``index`` of fleet ``seed``."""
    h = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}".upper()


def _hostname(platform: Platform, org_unit: str, index: int) -> str:
    prefix = "".join(w[0] for w in org_unit.replace("/", " ").split()).lower()[:4]
    role = {
        Platform.WINDOWS: "ws",
        Platform.MACOS: "mac",
        Platform.LINUX: "srv",
        Platform.ANDROID: "and",
        Platform.IOS: "ios",
        Platform.UNKNOWN: "dev",
    }[platform]
    return f"{prefix}-{role}-{index:07d}"


@cache
def _pools() -> dict[str, tuple[Observation, ...]]:
    """Every baseline observation, built once: hosts share these immutable values."""
    wg = _winget()
    deb = _debian()

    def obs(kind: Kind, names: tuple[str, ...], source: str) -> tuple[Observation, ...]:
        return tuple(Observation(kind, n, source=source) for n in names)

    def bundle(name: str, publisher: str) -> str:
        return f"com.{publisher.lower()}.{''.join(c for c in name if c.isalnum()).lower()}"

    pools = {
        "programs": tuple(_prog(n, v, p).observe() for n, v, p in wg),
        "mac_apps": tuple(
            Observation(
                Kind.APP, n, v, "", ((Ident.BUNDLE_ID.value, bundle(n, p)),), "osquery:apps"
            )
            for n, v, p in wg
        ),
        "debs": tuple(
            Observation(
                Kind.PACKAGE,
                n,
                v,
                m,
                ((Ident.PURL.value, f"pkg:deb/debian/{n}@{v}?arch={a}"),),
                "osquery:deb_packages",
            )
            for n, v, m, a in deb
        ),  # fmt: skip
        "services": obs(Kind.SERVICE, WINDOWS_SERVICES, "osquery:services"),
        "drivers": obs(Kind.DRIVER, WINDOWS_DRIVERS, "osquery:drivers"),
        "processes": obs(Kind.PROCESS, WINDOWS_PROCESSES, "osquery:processes"),
        "units": obs(Kind.SERVICE, LINUX_UNITS, "osquery:systemd_units"),
        "modules": obs(Kind.KERNEL_MODULE, LINUX_MODULES, "osquery:kernel_modules"),
        "jobs": obs(Kind.SERVICE, MACOS_JOBS, "osquery:launchd"),
        "android": tuple(
            Observation(Kind.APP, n, "", "", ((Ident.PACKAGE_ID.value, p),), "intune:apps")
            for n, p in MOBILE_APPS
        ),
        "ios": tuple(
            Observation(Kind.APP, n, "", "", ((Ident.BUNDLE_ID.value, p),), "intune:apps")
            for n, p in MOBILE_APPS
        ),
        "cas": tuple(
            Observation(Kind.CERTIFICATE, cn, "", o, (), "osquery:certificates")
            for cn, o in ROOT_CAS
        ),
    }
    # The winget catalogue has a few identical entries; a host lists a program once.
    return {name: tuple(dict.fromkeys(pool)) for name, pool in pools.items()}


def _baseline(rng: random.Random, platform: Platform) -> list[Observation]:
    pools = _pools()
    out: list[Observation] = []
    if platform is Platform.WINDOWS:
        programs = pools["programs"]
        out += [programs[i] for i in _pick(rng, len(programs), 150)]
        out += rng.sample(pools["services"], 70)
        out += rng.sample(pools["drivers"], 40)
        out += rng.sample(pools["processes"], 25)
    elif platform is Platform.LINUX:
        out += rng.sample(pools["debs"], 240)
        out += rng.sample(pools["units"], 18)
        out += rng.sample(pools["modules"], 25)
    elif platform is Platform.MACOS:
        apps = pools["mac_apps"]
        out += [apps[i] for i in _pick(rng, len(apps), 160)]
        out += rng.sample(pools["jobs"], 8)
    else:
        out += rng.sample(pools["android" if platform is Platform.ANDROID else "ios"], 12)
    if platform in (Platform.WINDOWS, Platform.LINUX, Platform.MACOS):
        out += rng.sample(pools["cas"], 9)
    return out


def generate_host(seed: int, index: int, *, snapshot: int = 0, at: dt.datetime) -> HostInventory:
    """Host ``index`` of fleet ``seed`` as it looks at ``snapshot`` (0 = first inventory)."""
    rng = random.Random(f"{seed}:{index}")
    r = rng.random()
    platform = Platform.WINDOWS
    for p, share in PLATFORM_MIX:
        if r < share:
            platform = p
            break
        r -= share
    org_unit = ORG_UNITS[min(int(rng.paretovariate(1.2)) - 1, len(ORG_UNITS) - 1)]
    software = _baseline(rng, platform)
    # Drawn apart, so the rest of the host (and of the fleet) is the same either way.
    listed = LISTS_ONLY.get(platform)
    if listed and random.Random(f"{seed}:{index}:lists").random() < INCOMPLETE_SHARE:
        software = [o for o in software if o.kind is listed]
    covered = rng.random() < COVERED_SHARE
    if covered:
        profiles = [p for p in PROFILES if platform in p[0]]
        if profiles:
            _, present, replacement = rng.choice(profiles)
            removed_at = 1 + int(rng.random() / REMOVAL_PER_SNAPSHOT)
            extra = present if snapshot < removed_at else replacement
            software += [sw.observe() for sw in extra]
    return HostInventory(
        host=HostID(host_id(seed, index)),
        hostname=_hostname(platform, org_unit, index),
        platform=platform,
        collected_at=at + dt.timedelta(days=7 * snapshot, seconds=index % 86_400),
        observations=tuple(software),
        source="simulate",
        org_unit=org_unit,
    )


def fleet(
    hosts: int, *, seed: int = 1, snapshot: int = 0, at: dt.datetime | None = None
) -> Iterator[HostInventory]:
    """The whole fleet, one host at a time."""
    start = at or dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    for index in range(hosts):
        yield generate_host(seed, index, snapshot=snapshot, at=start)


def osquery_rows(inventory: HostInventory) -> dict[str, list[dict[str, str]]]:
    """The host's observations as osquery table rows, keyed by table (column names as osquery's)."""
    tables: dict[str, list[dict[str, str]]] = {}
    for o in inventory.observations:
        table = o.source.partition(":")[2]
        ident = dict(o.identifiers)
        row: dict[str, str]
        if table == "programs":
            row = {
                "name": o.name,
                "version": o.version,
                "publisher": o.publisher,
                "identifying_number": ident.get("product_code", ""),
                "install_location": "",
                "install_source": "",
                "uninstall_string": "",
                "language": "",
                "install_date": "",
            }
        elif table == "deb_packages":
            arch = ident.get("purl", "").rpartition("arch=")[2] or "amd64"
            row = {
                "name": o.name,
                "version": o.version,
                "maintainer": o.publisher,
                "arch": arch,
                "source": "",
                "revision": "",
                "section": "",
                "priority": "",
            }
        elif table == "apps":
            row = {
                "name": f"{o.name}.app",
                "display_name": o.name,
                "bundle_identifier": ident.get("bundle_id", ""),
                "bundle_short_version": o.version,
                "bundle_version": o.version,
                "path": f"/Applications/{o.name}.app",
            }
        elif table == "services":
            row = {
                "name": o.name,
                "display_name": o.name,
                "status": "RUNNING",
                "start_type": "AUTO_START",
                "path": "",
                "module_path": "",
                "service_type": "OWN_PROCESS",
                "user_account": "LocalSystem",
            }
        elif table == "systemd_units":
            row = {
                "id": f"{o.name}.service",
                "description": o.name,
                "load_state": "loaded",
                "active_state": "active",
                "sub_state": "running",
                "fragment_path": f"/lib/systemd/system/{o.name}.service",
            }
        elif table == "launchd":
            row = {
                "label": o.name,
                "name": f"{o.name}.plist",
                "path": f"/Library/LaunchDaemons/{o.name}.plist",
                "program": "",
                "program_arguments": "",
                "run_at_load": "1",
            }
        elif table == "processes":
            row = {"pid": "0", "name": o.name, "path": "", "cmdline": o.name}
        elif table == "drivers":
            row = {
                "device_id": "",
                "device_name": o.name.removesuffix(".sys"),
                "image": rf"C:\Windows\System32\drivers\{o.name}",
                "description": "",
                "service": o.name.removesuffix(".sys"),
                "provider": o.publisher,
                "manufacturer": o.publisher,
                "version": o.version,
                "signed": "1",
            }
        elif table == "kernel_modules":
            row = {"name": o.name, "size": "0", "used_by": "-", "status": "Live", "address": ""}
        elif table == "kernel_extensions":
            row = {
                "idx": "0",
                "refs": "1",
                "size": "0",
                "name": ident.get("bundle_id", o.name),
                "version": o.version,
                "linked_against": "",
                "path": "",
            }
        elif table == "certificates":
            subject = f"/O={o.publisher}/CN={o.name}" if o.publisher else f"/CN={o.name}"
            row = {
                "common_name": o.name,
                "subject": subject,
                "issuer": subject,
                "ca": "1",
                "self_signed": "1",
                "sha1": hashlib.sha1(subject.encode()).hexdigest(),
                "path": "",
                "store": "Root",
            }
        elif table == "chrome_extensions":
            row = {
                "browser_type": "chrome",
                "name": o.name,
                "identifier": ident.get("extension_id", ""),
                "version": o.version,
                "author": o.publisher,
                "path": "",
            }
        else:
            continue
        tables.setdefault(table, []).append(row)
    return tables


def osquery_lines(inventory: HostInventory, *, counter: int = 0) -> list[dict[str, object]]:
    """osqueryd snapshot result events for one host, one per table."""
    at = inventory.collected_at
    events: list[dict[str, object]] = []
    for table, rows in osquery_rows(inventory).items():
        events.append(
            {
                "name": f"pack_evict_{table}",
                "hostIdentifier": inventory.host,
                "calendarTime": at.strftime("%a %b %d %H:%M:%S %Y UTC"),
                "unixTime": int(at.timestamp()),
                "epoch": 0,
                "counter": counter,
                "numerics": False,
                "decorations": {
                    "host_uuid": inventory.host,
                    "hostname": inventory.hostname,
                    "platform": inventory.platform.value,
                    "org_unit": inventory.org_unit,
                },
                "action": "snapshot",
                "snapshot": rows,
            }
        )
    return events
