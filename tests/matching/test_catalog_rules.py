"""The built-in catalog against real identifiers: every rule fires on what it was written for,
and no decoy is reported.

Each case is one observation as an inventory source would produce it (names, publishers and
identifier values as osquery, the registry, Info.plist, pkgutil, dpkg, Android, SBOMs and the
Windows driver store give them). Positive cases name the one product a user should see; decoys
expect nothing. Two checks keep the table honest: every rule of every product must fire on some
case, and every exclusion must be exercised by some decoy.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import NamedTuple

import pytest

from evict.catalog.interface import Catalog, Product, ProductID, Vendor, VendorID
from evict.catalog.loader import load_catalog
from evict.matching.engine import Matcher
from evict.model.observations import HostID, HostInventory, Kind, Observation, Platform

K = Kind


class Case(NamedTuple):
    kind: Kind
    name: str
    publisher: str = ""
    identifiers: Mapping[str, str] = {}
    expected: str | None = None


def hit(kind: Kind, name: str, expected: str, publisher: str = "", **ids: str) -> Case:
    return Case(kind, name, publisher, ids, expected)


def miss(kind: Kind, name: str, publisher: str = "", **ids: str) -> Case:
    return Case(kind, name, publisher, ids, None)


KAV = "kaspersky-anti-virus"
KIS = "kaspersky-internet-security"
KTS = "kaspersky-total-security"
KES = "kaspersky-endpoint-security"
KSC = "kaspersky-security-center"
AGENT = "kaspersky-network-agent"
KAVFS = "kaspersky-security-windows-server"
KAV4FS = "kaspersky-anti-virus-linux-file-server"
ANY = "kaspersky-software"
ENGINE = "kaspersky-scan-engine"
PF86 = r"C:\Program Files (x86)\Kaspersky Lab"
PROGRAMDATA = r"C:\ProgramData\Kaspersky Lab"
FAKE_CA = "(fake)Kaspersky Anti-Virus personal root certificate.cer"
DEFENDER = "microsoft-defender"

# fmt: off
POSITIVE: dict[str, Case] = {
    # --- Windows Programs and Features, winget, SBOM names; year suffixes and Russian builds
    "kav-year": hit(K.PROGRAM, "Kaspersky Anti-Virus 2012", KAV, "Kaspersky Lab"),
    "kav-mr": hit(K.PROGRAM, "Kaspersky Anti-Virus 2012 MR1 (x64)", KAV, "Kaspersky Lab ZAO"),
    "kav-personal": hit(K.PROGRAM, "Kaspersky Anti-Virus Personal Pro", KAV),
    "kav-ru": hit(K.PROGRAM, "Антивирус Касперского", KAV, "АО «Лаборатория Касперского»"),
    "kav-mac": hit(K.APP, "Kaspersky Anti-Virus For Mac", KAV, bundle_id="com.kaspersky.kav"),
    "kav-mac-uninstaller": hit(K.APP, "Kaspersky Anti-Virus Uninstaller", KAV),
    "kav-mac-path": hit(
        K.FILE, "Info.plist", KAV, path="/Applications/Kaspersky Anti-Virus.app/Contents/Info.plist"
    ),
    "kav-winget": hit(
        K.PACKAGE, "Kaspersky Anti-Virus", KAV, package_id="Kaspersky.KasperskyAnti-Virus"
    ),
    "kav-cpe": hit(
        K.SBOM_COMPONENT,
        "kav",
        KAV,
        cpe="cpe:2.3:a:kaspersky:kaspersky_anti-virus:2012:*:*:*:*:*:*:*",
    ),
    "kis-year": hit(K.PROGRAM, "Kaspersky Internet Security 2013 (x64)", KIS, "Kaspersky Lab"),
    "kis-version": hit(K.PROGRAM, "Kaspersky Internet Security 21.3", KIS, "AO Kaspersky Lab"),
    "kis-winget": hit(
        K.PACKAGE,
        "Kaspersky Internet Security",
        KIS,
        package_id="Kaspersky.KasperskyInternetSecurity",
    ),
    "kis-cpe": hit(
        K.SBOM_COMPONENT, "kis", KIS, cpe="cpe:/a:kaspersky_lab:kaspersky_internet_security:2013"
    ),
    "renamed-driver": hit(
        K.FILE, "svc32.sys", ANY, original_filename="klif.sys",
        path=r"C:\Windows\Temp\svc32.sys",
    ),
    "kis-hook-dll": hit(
        K.FILE, "kloehk.dll", KIS, original_filename="kloehk.dll",
        path=PF86 + r"\Kaspersky Internet Security 19\x64\kloehk.dll",
    ),
    "kts-upper": hit(K.PROGRAM, "KASPERSKY TOTAL SECURITY", KTS, "AO Kaspersky Lab"),
    "kts-version": hit(
        K.PACKAGE, "Kaspersky Total Security 21.3.10.391", KTS,
        package_id="Kaspersky.KasperskyTotalSecurity",
    ),
    "kts-cpe": hit(K.SBOM_COMPONENT, "kts", KTS, cpe="cpe:/a:kaspersky:total_security_2015"),
    "kscloud-free": hit(
        K.PROGRAM, "Kaspersky Security Cloud - Free", "kaspersky-security-cloud", "AO Kaspersky Lab"
    ),
    "kscloud-winget": hit(
        K.PACKAGE,
        "Security Cloud",
        "kaspersky-security-cloud",
        package_id="Kaspersky.SecurityCloud",
    ),
    "kscloud-android": hit(
        K.APP,
        "Security Cloud",
        "kaspersky-security-cloud",
        package_id="com.kaspersky.security.cloud",
    ),
    "k21": hit(K.PROGRAM, "Kaspersky", "kaspersky-consumer-2021", "Kaspersky"),
    "k21-premium": hit(K.PROGRAM, "Kaspersky Premium", "kaspersky-consumer-2021", "Kaspersky"),
    "k21-winget": hit(
        K.PACKAGE,
        "Kaspersky 21.9.6.465",
        "kaspersky-consumer-2021",
        package_id="Kaspersky.Kaspersky",
    ),
    "k21-mac": hit(
        K.FILE, "Info.plist", "kaspersky-consumer-2021",
        path="/Applications/Kaspersky.app/Contents/Info.plist",
    ),
    "pure": hit(K.PROGRAM, "Kaspersky PURE 3.0", "kaspersky-pure", "Kaspersky Lab"),
    "pure-registry": hit(
        K.REGISTRY_KEY, "environment", "kaspersky-pure",
        registry_key=r"HKEY_LOCAL_MACHINE\SOFTWARE\KasperskyLab\protected\PURE13.0.0\environment",
    ),
    "vpn": hit(K.PROGRAM, "Kaspersky VPN Secure Connection", "kaspersky-vpn-secure-connection"),
    "vpn-old": hit(K.PROGRAM, "Kaspersky Secure Connection", "kaspersky-vpn-secure-connection"),
    "vpn-winget": hit(
        K.PACKAGE, "VPN", "kaspersky-vpn-secure-connection",
        package_id="Kaspersky.KasperskyVPNSecureConnection",
    ),
    "vpn-android": hit(
        K.APP,
        "VPN",
        "kaspersky-vpn-secure-connection",
        package_id="com.kaspersky.secure.connection",
    ),
    "safekids": hit(K.PROGRAM, "Kaspersky Safe Kids", "kaspersky-safe-kids", "AO Kaspersky Lab"),
    "safekids-winget": hit(
        K.PACKAGE, "Safe Kids", "kaspersky-safe-kids", package_id="Kaspersky.KasperskySafeKids"
    ),
    "safekids-android": hit(
        K.APP, "Safe Kids", "kaspersky-safe-kids", package_id="com.kaspersky.safekids"
    ),
    "kpm": hit(K.PROGRAM, "Kaspersky Password Manager 9.0.2", "kaspersky-password-manager"),
    "kpm-android": hit(
        K.APP, "Password Manager", "kaspersky-password-manager",
        package_id="com.kaspersky.passwordmanager",
    ),
    "android-kms": hit(
        K.APP, "Kaspersky Security & VPN", "kaspersky-for-android", package_id="com.kms.free"
    ),
    # --- Business lines
    "kes-ru": hit(
        K.PROGRAM, "Kaspersky Endpoint Security 12.1.0.506 для Windows", KES,
        "\"Лаборатория Касперского\"",
    ),
    "kes-win": hit(
        K.PROGRAM, "Kaspersky Endpoint Security for Windows", KES, "AO Kaspersky Lab",
        product_code="{B9518725-0B76-4793-A409-C6794442FB50}",
    ),
    "kes-mac-app": hit(K.APP, "Kaspersky Endpoint Security for Mac", KES),
    "kes-workstations": hit(
        K.PROGRAM, "Kaspersky Anti-Virus 6.0 for Windows Workstations MP4", KES, "Kaspersky Lab"
    ),
    "kes-workstations-cpe": hit(
        K.SBOM_COMPONENT,
        "kav6",
        KES,
        cpe="cpe:/a:kaspersky_lab:kaspersky_anti-virus:6.0::workstations",
    ),
    "kesl-deb": hit(
        K.PACKAGE, "kesl", KES, "Kaspersky Lab",
        purl="pkg:deb/kaspersky/kesl@12.0.0-6672?arch=amd64",
    ),
    "kesl-gui-rpm": hit(
        K.PACKAGE, "kesl-gui", KES,
        purl="pkg:rpm/kesl-gui@12.0.0-6672?arch=x86_64",
    ),
    "kesl-astra": hit(K.PACKAGE, "kesl-astra", KES),
    "kesl-unit": hit(K.SERVICE, "kesl.service", KES),
    "kesl-control": hit(
        K.PROCESS, "kesl-control", KES,
        path="/opt/kaspersky/kesl/bin/kesl-control",
    ),
    "kescli": hit(K.PROCESS, "kescli.exe", KES),
    "kes-amsi": hit(
        K.FILE, "antimalware_provider.dll", KES, original_filename="antimalware_provider.dll",
        path=PF86 + r"\KES.12.1.0\x64\antimalware_provider.dll",
    ),
    "kes-registry": hit(
        K.REGISTRY_KEY, "environment", KES,
        registry_key=r"HKLM\SOFTWARE\WOW6432Node\KasperskyLab\protected\KES\environment",
    ),
    "kes-path-win": hit(
        K.FILE, "avp.exe", KES,
        path=PF86 + r"\Kaspersky Endpoint Security for Windows\avp.exe",
    ),
    "kes-path-mac": hit(
        K.FILE, "Info.plist", KES,
        path="/Applications/Kaspersky Endpoint Security for Mac.app/Contents/Info.plist",
    ),
    "kes-android": hit(K.APP, "KES", KES, package_id="com.kaspersky.kes"),
    "kavfs-server": hit(
        K.PROGRAM, "Kaspersky Security 10.1.2 for Windows Server", KAVFS, "AO Kaspersky Lab",
    ),
    "kavfs-ru": hit(K.PROGRAM, "Kaspersky Security для Windows Server", KAVFS),
    "kavfs-old": hit(
        K.PROGRAM, "Kaspersky Anti-Virus 8.0 for Windows Servers Enterprise Edition", KAVFS,
        product_code="{1A694303-9A42-43A8-A831-50F86C64EDF0}",
    ),
    "kavfs-service": hit(K.SERVICE, "KAVFS", KAVFS),
    "kavfs-process": hit(K.PROCESS, "kavfswp.exe", KAVFS),
    "kavfs-process-more": hit(K.PROCESS, "kavfsgt.exe", KAVFS),
    "kavfs-registry": hit(
        K.REGISTRY_KEY, "KAVFS7", KAVFS,
        registry_key=r"HKLM\SOFTWARE\KasperskyLab\Components\34\Products\KAVFS7",
    ),
    "kavfs-cpe": hit(
        K.SBOM_COMPONENT, "kavfs", KAVFS,
        cpe="cpe:/a:kaspersky_lab:kaspersky_anti-virus:6.0::windows_file_servers",
    ),
    "kav4fs-deb": hit(K.PACKAGE, "kav4fs", KAV4FS, purl="pkg:deb/kav4fs@8.0.4-312?arch=i386"),
    "kav4fs-name": hit(K.PACKAGE, "Kaspersky Anti-Virus for Linux File Server", KAV4FS),
    "kav4fs-control": hit(
        K.PROCESS, "kav4fs-control", KAV4FS, path="/opt/kaspersky/kav4fs/bin/kav4fs-control"
    ),
    "kav4fs-module": hit(K.KERNEL_MODULE, "kav4fs_oas", KAV4FS),
    "ksc-server": hit(
        K.PROGRAM, "Kaspersky Security Center 14.2 Administration Server", KSC, "AO Kaspersky Lab",
    ),
    "ksc-console-ru": hit(
        K.PROGRAM, "Консоль администрирования Kaspersky Security Center 14.2.0.26967", KSC,
    ),
    "ksc-admin-kit": hit(K.PROGRAM, "Kaspersky Administration Kit 8.0", KSC, "Kaspersky Lab"),
    "ksc-winget": hit(K.PACKAGE, "Kaspersky Security Center", KSC, package_id="Kaspersky.Lab"),
    "ksc-product-code": hit(
        K.PROGRAM,
        "Console d'administration",
        KSC,
        product_code="{5D35D57A-30B9-493B-819F-C6C2181A0A1A}",
    ),
    "ksc-linux": hit(K.PACKAGE, "ksc64", KSC, purl="pkg:rpm/ksc64@14.2.0-1234?arch=x86_64"),
    "ksc-web-console": hit(K.PACKAGE, "ksc-web-console", KSC),
    "ksc-path": hit(K.PROCESS, "klserver", KSC, path="/opt/kaspersky/ksc64/sbin/klserver"),
    "ksc-unit": hit(K.SERVICE, "kladminserver_srv.service", KSC),
    "ksc-webconsole-service": hit(K.SERVICE, "KSCWebConsoleMessageQueue", KSC),
    "ksc-adminserver-service": hit(K.SERVICE, "kladminserver", KSC),
    "ksc-sql": hit(K.SERVICE, "MSSQL$KAV_CS_ADMIN_KIT", KSC),
    "ksc-process": hit(K.PROCESS, "klserver.exe", KSC),
    "ksc-vapm": hit(K.PROCESS, "vapm.exe", KSC),
    "agent-en": hit(
        K.PROGRAM, "Kaspersky Security Center 14.2 Network Agent", AGENT, "AO Kaspersky Lab",
    ),
    "agent-ru": hit(
        K.PROGRAM, "Агент администрирования Kaspersky Security Center 14.2.0.26967", AGENT,
    ),
    "agent-fr": hit(K.PROGRAM, "Agent d'administration de Kaspersky Security Center 10", AGENT),
    "agent-deb": hit(
        K.PACKAGE, "klnagent64", AGENT,
        purl="pkg:deb/klnagent64@14.2.0-1234?arch=amd64",
    ),
    "agent-service": hit(K.SERVICE, "klnagent", AGENT),
    "agent-process": hit(K.PROCESS, "klnagent.exe", AGENT),
    "agent-check": hit(K.PROCESS, "klnagchk.exe", AGENT),
    "agent-cert": hit(
        K.FILE, "klserver.cer", AGENT, path="/var/opt/kaspersky/klnagent_srv/1093/cert/klserver.cer"
    ),
    "agent-mac": hit(
        K.PROCESS, "klnagent", AGENT,
        path="/Library/Application Support/Kaspersky Lab/klnagent/Binaries/klnagent",
    ),
    "agent-product-code": hit(
        K.PROGRAM,
        "Agent d'administration",
        AGENT,
        product_code="{2924BEDA-E0D7-4DAF-A224-50D2E0B12F5B}",
    ),
    "ksos": hit(K.PROGRAM, "Kaspersky Small Office Security 8", "kaspersky-small-office-security"),
    "kess": hit(
        K.PROGRAM, "Kaspersky Embedded Systems Security 2.3", "kaspersky-embedded-systems-security"
    ),
    "kata": hit(
        K.PACKAGE, "Kaspersky Anti Targeted Attack Platform", "kaspersky-anti-targeted-attack"
    ),
    # --- Kaspersky software without a product name: the generic catch-all
    "generic-publisher": hit(K.PROGRAM, "Kaspersky Rescue Disk", ANY, "Kaspersky"),
    "generic-entity": hit(K.SBOM_COMPONENT, "kavsdk", ENGINE, "Kaspersky Lab, Inc."),
    "generic-publisher-old": hit(K.PROGRAM, "Anti-Virus Engine", ANY, "Kaspersky Labs"),
    "generic-publisher-ru": hit(K.PROGRAM, "Plugin", ANY, "АО \"Лаборатория Касперского\""),
    "generic-supplier": hit(K.SBOM_COMPONENT, "kav-engine", ANY, supplier="AO Kaspersky Lab"),
    "generic-name": hit(K.PROGRAM, "Kaspersky Virus Removal Tool", ANY),
    "generic-name-ru": hit(K.PROGRAM, "Веб-сервер «Лаборатории Касперского»", ANY),
    "registry-root": hit(
        K.REGISTRY_KEY,
        "KasperskyLab",
        ANY,
        registry_key=r"HKEY_LOCAL_MACHINE\SOFTWARE\KasperskyLab",
    ),
    "registry-wow64": hit(
        K.REGISTRY_KEY, "environment", ANY,
        registry_key=r"HKLM\SOFTWARE\WOW6432Node\KasperskyLab\protected\AVP21.3\environment",
    ),
    "registry-hkcu": hit(
        K.REGISTRY_KEY, "AVP6", ANY,
        registry_key=r"HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-512\Software\KasperskyLab\AVP6",
    ),
    "service-klif": hit(K.SERVICE, "KLIF", ANY),
    "service-ksde": hit(K.SERVICE, "KSDE1.0.0", ANY),
    "service-avp": hit(K.SERVICE, "AVP21.3", ANY),
    "service-avp18": hit(K.SERVICE, "AVP18.0.0", ANY),
    "service-avp-plain": hit(K.SERVICE, "AVP", ANY),
    "service-avpsus": hit(K.SERVICE, "avpsus", ANY),
    "service-klsvc": hit(K.SERVICE, "klsvc", ANY),
    "process-avp": hit(K.PROCESS, "avp.exe", ANY),
    "process-avpsus": hit(K.PROCESS, "avpsus.exe", ANY),
    "process-ksde": hit(K.PROCESS, "ksde.exe", ANY),
    "process-kavtray": hit(K.PROCESS, "kavtray.exe", ANY),
    "process-mac-agent": hit(K.PROCESS, "kav_agent", ANY),
    "process-mac-daemon": hit(K.PROCESS, "kav", ANY),
    "driver-klif": hit(K.DRIVER, "klif.sys", ANY),
    "driver-service-name": hit(K.DRIVER, "klbackupflt", ANY),
    "driver-kes-host": hit(
        K.FILE, "klbackupdisk.sys", ANY,
        path=r"C:\Windows\System32\DRIVERS\K4W-21-25\klbackupdisk.sys",
    ),
    "driver-updatable": hit(K.DRIVER, "klupd_klif_arkmon.sys", ANY),
    "driver-versioned": hit(K.DRIVER, "KLIF.KES-21-9.sys", ANY),
    "driver-unverified": hit(K.DRIVER, "klwfp.sys", ANY),
    "kext-klif": hit(K.DRIVER, "klif.kext", ANY, bundle_id="com.kaspersky.kext.klif"),
    "kext-kimul": hit(K.DRIVER, "kimul44.kext", ANY, bundle_id="com.kaspersky.kext.kimul.44"),
    "launchd": hit(K.SERVICE, "com.kaspersky.kav", ANY, bundle_id="com.kaspersky.kav"),
    "safari-extension-launchd": hit(
        K.SERVICE, "com.kaspersky.kav.safari-extension", ANY,
        bundle_id="com.kaspersky.kav.safari-extension",
    ),
    "pkg-receipt": hit(
        K.PACKAGE, "com.kaspersky.kav.core", ANY,
        bundle_id="com.kaspersky.kav.core",
    ),
    "sysext": hit(K.DRIVER, "kav.sysext", ANY, bundle_id="2Y8XE5CQ94.com.kaspersky.kav.sysext"),
    "team-id": hit(K.FILE, "kav", ANY, team_id="2Y8XE5CQ94"),
    "root-ca": hit(
        K.CERTIFICATE, "Kaspersky Anti-Virus Personal Root Certificate", ANY,
        cert_subject="CN=Kaspersky Anti-Virus Personal Root Certificate, O=AO Kaspersky Lab, C=RU",
        cert_fingerprint="1eac5410d0c34b8f1d9f5b5bfb4dba35853b1582",
    ),
    "root-ca-openssl-subject": hit(
        K.CERTIFICATE, "", ANY,
        cert_subject="/C=RU/O=AO Kaspersky Lab/CN=Kaspersky Anti-Virus Personal Root Certificate",
    ),
    "root-ca-fake-file": hit(
        K.FILE, FAKE_CA, ANY, path=PROGRAMDATA + "\\AVP21.3\\Data\\Cert\\" + FAKE_CA
    ),
    "root-ca-kes": hit(K.CERTIFICATE, "Kaspersky Endpoint Security Personal Root Certificate", ANY),
    "signer-name": hit(K.FILE, "startup.exe", ANY, signer="AO Kaspersky Lab"),
    "signer-subject": hit(
        K.FILE, "setup.exe", ANY,
        signer="CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow, S=Moscow, C=RU, "
        "SERIALNUMBER=1027739867473",
    ),
    "signer-old": hit(K.FILE, "setup.exe", ANY, signer="Kaspersky Lab ZAO"),
    "extension-chrome": hit(
        K.BROWSER_EXTENSION, "Kaspersky Protection", ANY,
        extension_id="ahkjpbeeocnddjkakilopmfdlnjdpcdm",
    ),
    "extension-firefox": hit(
        K.BROWSER_EXTENSION, "Kaspersky URL Advisor", ANY, extension_id="urladvisor@kaspersky.com"
    ),
    "extension-safari": hit(K.FILE, "KasperskyURLAdvisor.safariextz", ANY),
    "engine-file": hit(K.FILE, "klsihk.dll", ANY, original_filename="klsihk.dll"),
    "path-setup-files": hit(
        K.FILE, "installer.ini", ANY, path=r"C:\ProgramData\Kaspersky Lab Setup Files\installer.ini"
    ),
    "path-linux": hit(K.FILE, "license.key", ANY, path="/etc/kaspersky/license.key"),
    "path-mac": hit(
        K.FILE, "config.xml", ANY,
        path="/Library/Application Support/Kaspersky Lab/KAV/Binaries/config.xml",
    ),
    "path-mac-binary": hit(K.FILE, "kav", ANY, path="/usr/bin/kav"),
    "cpe-any": hit(
        K.SBOM_COMPONENT, "ksos", ANY, cpe="cpe:/a:kaspersky_lab:kaspersky_small_office_security:2"
    ),
    "android-who-calls": hit(K.APP, "Who Calls", ANY, package_id="com.kaspersky.who_calls"),
    "linux-kav4ws": hit(K.PACKAGE, "kav4ws", ANY),
    # --- TikTok, DeepSeek and the other apps of the 2025 Texas list
    "tiktok-android": hit(K.APP, "TikTok", "tiktok", package_id="com.zhiliaoapp.musically"),
    "tiktok-trill": hit(K.APP, "TikTok", "tiktok", package_id="com.ss.android.ugc.trill"),
    "tiktok-ios": hit(K.APP, "TikTok", "tiktok", bundle_id="com.zhiliaoapp.musically"),
    "tiktok-msix": hit(
        K.PACKAGE, "TikTok", "tiktok",
        package_id="BytedancePte.Ltd.TikTok_1.0.97.0_x64__6yccndn6064se",
    ),
    "tiktok-family": hit(
        K.PROGRAM, "", "tiktok",
        package_id="BytedancePte.Ltd.TikTok_6yccndn6064se",
    ),
    "lemon8": hit(K.APP, "Lemon8", "lemon8", package_id="com.bd.nproject"),
    "deepseek-android": hit(
        K.APP, "DeepSeek - AI Assistant", "deepseek", package_id="com.deepseek.chat"
    ),
    "deepseek-ios": hit(K.APP, "DeepSeek", "deepseek", bundle_id="com.deepseek.chat"),
    "deepseek-publisher": hit(
        K.APP, "深度求索", "deepseek",
        "Hangzhou DeepSeek Artificial Intelligence Basic Technology Research Co., Ltd.",
    ),
    "rednote-android": hit(K.APP, "小红书", "rednote", package_id="com.xingin.xhs"),
    "rednote-ios": hit(K.APP, "RedNote", "rednote", bundle_id="com.xingin.discover"),
    "webull": hit(K.APP, "Webull", "webull", package_id="org.dayup.stocks"),
    "tiger": hit(K.APP, "Tiger Trade", "tiger-brokers", package_id="com.tigerbrokers.stock"),
    "moomoo": hit(K.APP, "moomoo", "moomoo", package_id="com.moomoo.trade"),
    # --- Approved protection products (replacements): recognised, never findings
    "defender-service": hit(K.SERVICE, "WinDefend", DEFENDER),
    "defender-process": hit(K.PROCESS, "MsMpEng.exe", DEFENDER),
    "defender-driver": hit(K.DRIVER, "WdFilter.sys", DEFENDER, "Microsoft"),
    "defender-security-product": hit(K.PROGRAM, "Microsoft Defender Antivirus", DEFENDER),
    "mdatp-package": hit(K.PACKAGE, "mdatp", "microsoft-defender-endpoint"),
    "mdatp-service": hit(K.SERVICE, "mdatp", "microsoft-defender-endpoint"),
    "wdav-launchd": hit(K.SERVICE, "com.microsoft.wdav.daemon", "microsoft-defender-endpoint"),
    "clamav-package": hit(K.PACKAGE, "clamav-daemon", "clamav", "ClamAV Team"),
    "clamav-unit": hit(K.SERVICE, "clamav-daemon", "clamav"),
    "clamav-process": hit(K.PROCESS, "clamd", "clamav"),
    "falcon-windows-service": hit(K.SERVICE, "CSFalconService", "crowdstrike-falcon"),
    "falcon-process": hit(K.PROCESS, "CSFalconService.exe", "crowdstrike-falcon"),
    "falcon-linux": hit(K.PACKAGE, "falcon-sensor", "crowdstrike-falcon"),
    "falcon-macos": hit(K.SERVICE, "com.crowdstrike.falcond", "crowdstrike-falcon"),
    "s1-process": hit(K.PROCESS, "SentinelAgent.exe", "sentinelone"),
    "s1-windows-service": hit(K.SERVICE, "SentinelAgent", "sentinelone"),
    "s1-macos": hit(K.SERVICE, "com.sentinelone.sentineld", "sentinelone"),
    "s1-linux-path": hit(
        K.FILE, "sentinelctl", "sentinelone", path="/opt/sentinelone/bin/sentinelctl"
    ),
    "eset-windows": hit(K.PROCESS, "ekrn.exe", "eset-endpoint"),
    "eset-windows-service": hit(K.SERVICE, "ekrn", "eset-endpoint"),
    "eset-linux": hit(K.SERVICE, "eea", "eset-endpoint"),
    "eset-linux-path": hit(K.FILE, "lic", "eset-endpoint", path="/opt/eset/eea/sbin/lic"),
    "sophos-windows": hit(K.PROCESS, "SophosHealth.exe", "sophos-endpoint"),
    "sophos-linux-path": hit(
        K.FILE, "avscanner", "sophos-endpoint", path="/opt/sophos-spl/plugins/av/bin/avscanner"
    ),
    "sophos-linux-service": hit(K.SERVICE, "sophos-spl", "sophos-endpoint"),
    # --- network logs: names a device asked for, on label boundaries
    "ksn-dns": hit(K.NETWORK, "dc1.ksn.kaspersky-labs.com", ANY),
    "ksn-any-host": hit(K.NETWORK, "x.ksn.kaspersky-labs.com", ANY),
    "kaspersky-update-mixed-case": hit(K.NETWORK, "S07.UPD.Kaspersky.com.", ANY),
    "tiktok-sni": hit(K.NETWORK, "api16-normal-c-useast1a.tiktokv.com", "tiktok"),
    "tiktok-eu": hit(K.NETWORK, "api16-normal-no1a.tiktokv.eu", "tiktok"),
    "deepseek-api": hit(K.NETWORK, "api.deepseek.com", "deepseek"),
}

DECOYS: dict[str, Case] = {
    # Network look-alikes: the endpoint's name is in them, but not on a label boundary.
    "net-prefix": miss(K.NETWORK, "notkaspersky-labs.com"),
    "net-left-labels": miss(K.NETWORK, "kaspersky-labs.com.example.net"),
    "net-cname-target": miss(K.NETWORK, "activity.tiktok.com.edgekey.net"),
    "net-vendor-site": miss(K.NETWORK, "www.kaspersky.com"),
    "net-wildcard-apex": miss(K.NETWORK, "upd.kaspersky.com"),
    # A product name seen as a host name is not a network endpoint.
    "net-not-a-program": miss(K.NETWORK, "Kaspersky Anti-Virus"),
    # Kaspersky's own removal tool: signed by Kaspersky, but removal activity, not an install.
    "kavremover-process": miss(
        K.PROCESS, "kavremover.exe",
        path=r"C:\Users\a\Downloads\kavremover.exe",
    ),
    "kavremover-signed": miss(
        K.FILE, "kavremover.exe", signer="AO Kaspersky Lab",
        path=r"C:\Users\a\Downloads\kavremover.exe",
    ),
    "kavremover-renamed": miss(
        K.FILE, "remover.exe", original_filename="kavremover.exe",
        signer="CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow, S=Moscow, C=RU",
    ),
    "kavremover-program": miss(K.PROGRAM, "Kaspersky Lab Products Remover", "AO Kaspersky Lab"),
    "cleanapi": miss(
        K.PROCESS, "cleanapi.exe", path=r"C:\ProgramData\Kaspersky Lab Setup Files\cleanapi.exe"
    ),
    # KasperskyLab's open-source projects used as developer dependencies.
    "kaspresso-sbom": miss(
        K.SBOM_COMPONENT, "kaspresso", supplier="AO Kaspersky Lab",
        purl="pkg:maven/com.kaspersky.android-components/kaspresso@1.5.3",
    ),
    "kaspresso-apk": miss(
        K.APP, "Kaspresso sample", "Kaspersky", package_id="com.kaspersky.kaspresso.sample"
    ),
    "kautomator": miss(K.SBOM_COMPONENT, "kautomator", "Kaspersky Lab"),
    "kasperskylab-oss": miss(
        K.SBOM_COMPONENT,
        "klogga",
        supplier="Kaspersky Lab",
        purl="pkg:github/kasperskylab/klogga@1.0.0",
    ),
    "tinycheck": miss(K.PACKAGE, "tinycheck", "Kaspersky"),
    # Scripts that remove Kaspersky, malware that probes for it, and folders that imitate it.
    "invoke-uninstall": miss(
        K.FILE, "Invoke-KasperskyUninstall.ps1", path=r"C:\Scripts\Invoke-KasperskyUninstall.ps1"
    ),
    "kes-uninstall-script": miss(K.FILE, "kes_uninstall_no_pass2.ps1"),
    "swmb-uninstall": miss(
        K.FILE, "uninstall-kaspersky.ps1",
        path=r"C:\Program Files\SWMB\dists\uninstall-kaspersky\uninstall-kaspersky.ps1",
    ),
    "yara-rule": miss(K.FILE, "PCRat.yar", path="/opt/CAPEv2/data/yara/CAPE/PCRat.yar"),
    "forest-blizzard": miss(
        K.FILE, "prnms003.inf",
        path=PROGRAMDATA + r"\v1\prnms003.inf_amd64_7c2e\prnms003.inf",
    ),
    "trial-reset": miss(K.PROGRAM, "Kaspersky Trial Reset"),
    "shield-browser": miss(K.PROGRAM, "KasperskyShieldBrowser"),
    # Other vendors' names that share a prefix or an acronym.
    "huorong": miss(K.PROCESS, "hipsdaemon.exe"),
    "huorong-ui": miss(K.PROCESS, "usysdiag.exe"),
    "kerio": miss(K.PROCESS, "kpf4ss.exe"),
    "kingsoft-kavstart": miss(
        K.PROCESS, "kavstart.exe", "Kingsoft Corporation",
        path=r"C:\Program Files (x86)\Kingsoft\Kingsoft Antivirus\kavstart.exe",
    ),
    "kingsoft-path-only": miss(
        K.PROCESS, "kavtray.exe", path=r"C:\Program Files\Kingsoft\kavtray.exe"
    ),
    "kaspa-extension": miss(K.BROWSER_EXTENSION, "Kaspa Seed Protector", extension_id="x" * 32),
    "kaspa-wallet": miss(K.PROGRAM, "Kaspa NG"),
    "avnos-kavnsi": miss(K.DRIVER, "kavnsi.sys"),
    "k7-sentry": miss(K.DRIVER, "K7Sentry.sys"),
    "k7-sysmon": miss(K.DRIVER, "K7SysMon.sys"),
    "kingsoft-kisknl": miss(K.DRIVER, "Kisknl.sys"),
    "kingsoft-ksfsflt": miss(K.DRIVER, "ksfsflt.sys"),
    "service-fabric-klpc": miss(K.DRIVER, "KLpcKernel.sys"),
    "klist": miss(K.PROCESS, "klist.exe", path=r"C:\Windows\System32\klist.exe"),
    "kaspresso-package-name": miss(K.PACKAGE, "com.kaspersky.components.kautomator"),
    # Bare prefixes are not evidence: only exact names and anchored patterns are.
    "bare-kl-driver": miss(K.DRIVER, "klxyz.sys"),
    "bare-kav-process": miss(K.PROCESS, "kavxyz.exe"),
    # Ids that only look like the vendor's namespace (its own com.kaspersky.* is a generated
    # namespace rule: see tests/catalog/test_generated.py).
    "kaspersky-lookalike-package": miss(K.APP, "Some app", package_id="com.kasperskyfake.someapp"),
    "kaspersky-lookalike-bundle": miss(K.APP, "Some app", bundle_id="com.kaspersky-fake.someapp"),
    "katalon-namespace": miss(K.PACKAGE, "Katalon Studio", package_id="com.kms.katalon"),
    # ByteDance's other software, TikTok look-alikes and TikTok inside other apps.
    "lark": miss(K.PROGRAM, "Lark", "ByteDance", package_id="ByteDance.Lark"),
    "capcut": miss(K.PROGRAM, "CapCut", "Bytedance Pte. Ltd.", package_id="ByteDance.CapCut"),
    "douyin": miss(K.APP, "抖音", package_id="com.ss.android.ugc.aweme"),
    "tiktok-sdk": miss(
        K.SBOM_COMPONENT, "tiktok-business-android-sdk",
        purl="pkg:maven/com.tiktok/tiktok-business-android-sdk@1.3.0",
    ),
    "tiktok-viewer": miss(K.APP, "TikTok Link Viewer"),
    # Third-party DeepSeek clients and open-weight models; Texas-list look-alikes.
    "deepseek-desktop": miss(K.PROGRAM, "DeepSeek Desktop", package_id="zcx960.DeepSeekDesktop"),
    "deepseek-tui": miss(K.PACKAGE, "DeepSeek TUI", package_id="HunterBown.DeepSeek-TUI"),
    "deepseek-model": miss(K.PACKAGE, "deepseek-r1"),
    "rednotebook": miss(K.PROGRAM, "RedNotebook", package_id="jendrikseipp.RedNotebook"),
    "tigervnc": miss(K.PROGRAM, "TigerVNC", package_id="TigerVNC.TigerVNC"),
    "tiger-sdk": miss(
        K.SBOM_COMPONENT, "openapi-java-sdk",
        purl="pkg:maven/io.github.tigerbrokers/openapi-java-sdk@2.0.0",
    ),
}

# fmt: on

# Decoys that carry real Kaspersky evidence (a signature, a folder, a name) and are silent only
# because an exclusion suppresses them: without the exclusions they would be reported.
SUPPRESSED = {
    "kavremover-signed",
    "kavremover-renamed",
    "kavremover-program",
    "cleanapi",
    "kaspresso-sbom",
    "kaspresso-apk",
    "kautomator",
    "kasperskylab-oss",
    "tinycheck",
    "forest-blizzard",
    "trial-reset",
    "kingsoft-kavstart",
    "kingsoft-path-only",
}


def observe(case: Case) -> Observation:
    return Observation.make(
        case.kind, case.name, publisher=case.publisher, identifiers=case.identifiers, source="test"
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> Matcher:
    return Matcher(catalog)


def products_for(matcher: Matcher, case: Case) -> set[str]:
    (hits,) = matcher.match_distinct([observe(case)])
    return {h.product for h in hits}


def asked_about(catalog: Catalog) -> set[str]:
    """Products that exist only to raise a question of scope (tests/matching/test_questions.py
    checks what they match): a decoy may raise a question, never a covered product."""
    return {p for q in catalog.questions for p in q.products if catalog.product(p).directives}


@pytest.mark.parametrize("case", POSITIVE.values(), ids=POSITIVE.keys())
def test_real_identifier_is_recognised_as_its_product(matcher: Matcher, case: Case) -> None:
    assert products_for(matcher, case) == {case.expected}


@pytest.mark.parametrize("case", DECOYS.values(), ids=DECOYS.keys())
def test_decoy_is_not_reported(matcher: Matcher, catalog: Catalog, case: Case) -> None:
    assert products_for(matcher, case) - asked_about(catalog) == set()


@pytest.mark.parametrize("name", sorted(SUPPRESSED))
def test_suppressed_decoy_would_fire_without_its_exclusion(catalog: Catalog, name: str) -> None:
    bare = Matcher(dataclasses.replace(catalog, exclusions=()))
    assert products_for(bare, DECOYS[name]), (
        "this decoy needs no exclusion: move it out of SUPPRESSED"
    )


def test_every_product_rule_fires_on_some_case(matcher: Matcher, catalog: Catalog) -> None:
    observations = [observe(c) for c in POSITIVE.values()]
    fired = {h.rule for hits in matcher.match_distinct(observations) for h in hits}
    # Generic rules are hidden whenever a specific product matches the same observation, so
    # count them on their own too.
    generic = Matcher(
        dataclasses.replace(catalog, products=tuple(p for p in catalog.products if p.generic))
    )
    fired |= {h.rule for hits in generic.match_distinct(observations) for h in hits}
    # Generated rules (gen-*) have their own family tests in tests/catalog/test_generated.py.
    asked = asked_about(catalog)
    every = {
        r.id
        for p in catalog.products
        if p.id not in asked
        for r in p.rules
        if not r.id.startswith("gen-")
    }
    assert sorted(every - fired) == []


def test_every_exclusion_is_exercised_by_a_decoy(catalog: Catalog) -> None:
    probes = tuple(
        Product(ProductID(f"probe:{x.id}"), VendorID("probe"), x.id, "probe", (), (x.rule,))
        for x in catalog.exclusions
    )
    probe_catalog = Catalog("probe", (), (Vendor(VendorID("probe"), "probe"),), probes, ())
    hits = Matcher(probe_catalog).match_distinct([observe(c) for c in DECOYS.values()])
    exercised = {h.product.removeprefix("probe:") for row in hits for h in row}
    assert sorted({x.id for x in catalog.exclusions} - exercised) == []


def test_every_observation_kind_has_a_positive_case() -> None:
    assert {c.kind for c in POSITIVE.values()} == set(Kind)


def test_specific_product_hides_the_catch_all_on_the_same_observation(matcher: Matcher) -> None:
    observation = observe(
        hit(K.PROGRAM, "Kaspersky Endpoint Security for Windows", KES, "AO Kaspersky Lab")
    )
    (hits,) = matcher.match_distinct([observation])
    assert {h.product for h in hits} == {KES}
    rules = [h.rule for h in hits]
    assert "kes-name" in rules
    assert len(rules) > 1, "the publisher rule is kept as evidence for the specific product"


def test_root_certificate_alone_is_reported_as_kaspersky_software(matcher: Matcher) -> None:
    (hits,) = matcher.match_distinct([observe(POSITIVE["root-ca"])])
    assert {(h.product, h.rule, h.confidence.value) for h in hits} == {
        (ANY, "kl-root-ca-name", "high"),
        (ANY, "kl-root-ca-subject", "high"),
    }


def test_unverified_identifier_is_reported_with_low_confidence(matcher: Matcher) -> None:
    only_publisher = hit(
        K.APP, "", "deepseek", publisher="Hangzhou DeepSeek Artificial Intelligence Co., Ltd."
    )
    (hits,) = matcher.match_distinct([observe(only_publisher)])
    assert [(h.rule, h.confidence.value) for h in hits] == [("deepseek-publisher", "low")]


def test_sourced_app_id_is_reported_with_high_confidence(matcher: Matcher) -> None:
    only_bundle_id = hit(K.APP, "", "deepseek", bundle_id="com.deepseek.chat")
    (hits,) = matcher.match_distinct([observe(only_bundle_id)])
    assert [(h.rule, h.confidence.value) for h in hits] == [
        ("gen-app-deepseek-deepseek-bundle-id", "high")
    ]


def inventory(*cases: Case) -> HostInventory:
    return HostInventory(
        HostID("h1"),
        "h1",
        Platform.WINDOWS,
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        tuple(observe(c) for c in cases),
    )


def test_kaspersky_code_inside_another_product_falls_under_ndaa_and_bis_only(
    matcher: Matcher,
) -> None:
    findings = matcher.match_hosts([inventory(POSITIVE["generic-supplier"])])[HostID("h1")]
    assert {f.directive for f in findings if f.question is None} == {
        "ndaa-fy18-1634",
        "bis-kaspersky-2024",
    }
    # BOD 17-01 does not address embedded code: only its white-label question is raised.
    assert {(f.directive, f.question) for f in findings if f.question is not None} == {
        ("bod-17-01", "kaspersky-white-label-bod-17-01")
    }
    assert all(f.embedded for f in findings)


def test_installed_kaspersky_falls_under_all_three_kaspersky_directives(matcher: Matcher) -> None:
    findings = matcher.match_hosts([inventory(POSITIVE["kes-win"])])[HostID("h1")]
    assert {f.directive for f in findings} == {"bod-17-01", "ndaa-fy18-1634", "bis-kaspersky-2024"}


def test_tiktok_and_lemon8_are_reported_under_their_own_directives(matcher: Matcher) -> None:
    findings = matcher.match_hosts([inventory(POSITIVE["tiktok-android"], POSITIVE["lemon8"])])
    by_product = {(f.product, f.directive, f.question) for f in findings[HostID("h1")]}
    assert by_product == {
        ("tiktok", "omb-m-23-13", None),
        ("lemon8", "tx-2025-deepseek", None),
        # Is Lemon8 a "successor application" of TikTok? The memorandum does not say.
        ("lemon8", "omb-m-23-13", "bytedance-other-apps-m-23-13"),
    }


def test_deepseek_is_reported_under_every_state_ban(matcher: Matcher) -> None:
    findings = matcher.match_hosts([inventory(POSITIVE["deepseek-android"])])[HostID("h1")]
    assert {f.directive for f in findings} == {
        "tx-2025-deepseek",
        "va-eo-46-deepseek",
        "ny-its-2025-deepseek",
    }


def test_real_winget_names_raise_no_false_alarm(matcher: Matcher, catalog: Catalog, asset) -> None:
    """Look-alike names from a real winget index (Kaspa, K7, Kingsoft, Tiger, Red..., ByteDance's
    other programs, third-party DeepSeek clients) match nothing."""
    with asset("catalog", "winget-lookalikes.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 100
    observations = [
        Observation.make(Kind.PACKAGE, r["Name"], identifiers={"package_id": r["PackageId"]})
        for r in rows
    ]
    hits = matcher.match_distinct(observations)
    asked = asked_about(catalog)
    flagged = sorted(
        r["PackageId"] for r, h in zip(rows, hits, strict=True) if {x.product for x in h} - asked
    )
    assert flagged == []
