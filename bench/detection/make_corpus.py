"""Write corpus.csv: the labelled evaluation corpus for detection quality.

Positives come from the sourced identifier list (research on Kaspersky, TikTok and DeepSeek
identifiers: Microsoft's minifilter altitude registry, winget manifests, Sigma rules, vendor
scripts, app stores); negatives are other security vendors' products and the known look-alikes,
each with where it was seen. The 14,586 real Windows package names of the winget catalogue are
added as negatives at run time (bench/detection.py). Labels are vendors, not rule ids, so the
corpus does not depend on how the catalog spells its rules.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent
R = "research: kaspersky-identifiers.yaml"
ALT = "MicrosoftDocs/windows-driver-docs ifs/allocated-altitudes.md"
SIGMA = "SigmaHQ/sigma proc_creation_win_susp_service_tamper.yml"
WINGET = "microsoft/winget-pkgs manifests/k/Kaspersky"
MAC = "KAV for Mac uninstall script (public code)"
CAPE = "CAPESandbox/community data/security_tools.json"

K = "kaspersky"
ROWS: list[tuple[str, str, str, dict[str, str], str, str, str, str]] = []

# A record's source key names the document it was taken from, so that the bench can tell records
# whose source some catalog rule cites (in-sample: the rules may have been written from them) from
# records whose source no rule cites (held-out). "derived" marks variations made up for the bench
# (upper case, localised builds, renamed files): they test normalisation, not coverage.
KEYS = {
    WINGET: "winget-pkgs",
    ALT: "allocated-altitudes",
    SIGMA: "SigmaHQ/sigma",
    MAC: "KAV for Mac uninstall script",
    CAPE: "CAPESandbox/community",
    R: "kaspersky-identifiers.yaml",
    "Tenable": "kaspersky_installed.nasl",
}
DERIVED = (
    "upper-case", "localised", "ARP entries", "renamed driver", "unresolved manifest",
    "Authenticode subject", "CPE of an embedded", "Intune discovered", "not a driver",
)  # fmt: skip


WHOLE = {
    "security vendors and look-alikes (research decoys)": "kaspersky-identifiers.yaml",
    "Google Play / App Store listing": "play.google.com",
    "Google Play listing": "play.google.com",
    "App Store bundle id": "shakeMyApps",
    "Google Play (TikTok, some regions)": "MonkeyJerry/apkdump",
}


def source_key(source: str, label: str) -> str:
    """The document key of a record's source (see KEYS, WHOLE and DERIVED).

    A source that names no document (a vendor's name for its own product, "Debian") is
    "general" for a negative and "derived" for a positive.
    """
    if source in WHOLE:
        return WHOLE[source]
    for prefix, key in KEYS.items():
        if source.startswith(prefix):
            return key
    if source.startswith(DERIVED):
        return "derived"
    first = source.split(" (")[0].split()[0].rstrip(":;,")
    documents = ("SecWinBatchMode", "SigmaHQ")
    if "/" in first or first.endswith((".nasl", ".py", ".yml", ".md")) or first in documents:
        return first
    return "derived" if label else "general"


PRODUCT = {"bytedance": "tiktok"}
"""The product a vendor's records are of, where a directive excludes some of its products (every
ByteDance record here is TikTok, which the Texas 2025 entry leaves to its 2022 listing)."""


def add(
    kind: str, name: str, label: str, source: str, publisher: str = "", key: str = "", **ids: str
) -> None:
    key = key or source_key(source, label)
    ROWS.append((kind, name, publisher, ids, label, source, key, PRODUCT.get(label, "")))


# --- Kaspersky: programs (Windows Programs and Features), as displayed --------------------------
for name, pub, src in [
    ("Kaspersky", "Kaspersky", WINGET),
    ("Kaspersky Anti-Virus", "Kaspersky", WINGET),
    ("Kaspersky Internet Security", "Kaspersky", WINGET),
    ("Kaspersky Total Security", "Kaspersky", WINGET),
    ("Kaspersky Security Cloud", "Kaspersky", WINGET),
    ("Kaspersky VPN Secure Connection", "Kaspersky", WINGET),
    ("Kaspersky Safe Kids", "Kaspersky", WINGET),
    ("Kaspersky Security Center", "AO Kaspersky Lab", WINGET),
    ("Kaspersky Security Center 14.2 Network Agent", "AO Kaspersky Lab", "SecWinBatchMode"),
    ("Kaspersky Security Center Network Agent", "AO Kaspersky Lab", "SecWinBatchMode"),
    ("Kaspersky Security Center 13 Administration Console", "AO Kaspersky Lab", "SecWinBatchMode"),
    ("Kaspersky Endpoint Security for Windows", "AO Kaspersky Lab", "SigmaHQ/sigma"),
    ("Kaspersky Endpoint Security 10 for Windows", "Kaspersky Lab", "balsmr/Test"),
    ("Kaspersky Endpoint Security 11.11.0 for Windows", "AO Kaspersky Lab", "balsmr/Test"),
    ("Kaspersky Anti-Virus for Windows Workstations", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Anti-Virus 6.0 for Windows Workstations MP4", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Anti-Virus for Windows File Servers", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Anti-Virus Personal", "Kaspersky Lab", "Tenable kaspersky_installed.nasl"),
    ("Kaspersky Anti-Virus Personal Pro", "Kaspersky Lab", "Tenable kaspersky_installed.nasl"),
    ("Kaspersky Anti-Virus 2010", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Anti-Virus 2012", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Internet Security 2013", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky Total Security 2016", "Kaspersky Lab", "qweasader/gbn"),
    ("Kaspersky PURE 3.0", "Kaspersky Lab", "Tenable kaspersky_installed.nasl"),
    ("Kaspersky Small Office Security", "AO Kaspersky Lab", R),
    ("Kaspersky Security for Windows Server", "AO Kaspersky Lab", R),
    ("Kaspersky Embedded Systems Security", "AO Kaspersky Lab", R),
    ("Kaspersky Password Manager", "Kaspersky", R),
    ("Kaspersky Free", "Kaspersky", R),
    ("Kaspersky Plus", "Kaspersky", R),
    ("Kaspersky Premium", "Kaspersky", R),
    ("Kaspersky Standard", "Kaspersky", R),
    ("KASPERSKY INTERNET SECURITY", "Kaspersky Lab", "upper-case ARP entry"),
    ("Антивирус Касперского", "Лаборатория Касперского", "localised Russian build"),
    ("Антивирус Касперского 2012", "Лаборатория Касперского", "localised Russian build"),
    ("Kaspersky Endpoint Security для Windows", "АО Лаборатория Касперского", "localised build"),
]:
    add("program", name, K, src, pub)
# Programs whose name does not say Kaspersky but whose publisher does
for name in ("Network Agent", "Administration Console", "Web Console", "VPN Secure Connection"):
    add("program", name, K, "ARP entries published as AO Kaspersky Lab", "AO Kaspersky Lab")
add(
    "registry_key",
    r"SOFTWARE\KasperskyLab",
    K,
    "qweasader/gbn gb_kaspersky_av_detect.nasl",
    registry_key=r"HKLM\SOFTWARE\KasperskyLab",
)
add(
    "registry_key",
    r"SOFTWARE\WOW6432Node\KasperskyLab\protected\KES\environment",
    K,
    R,
    registry_key=r"HKLM\SOFTWARE\WOW6432Node\KasperskyLab\protected\KES\environment",
)
add(
    "program",
    "Kaspersky Anti-Virus for Windows File Servers",
    K,
    "Tenable",
    "Kaspersky Lab",
    product_code="{1A694303-9A42-43A8-A831-50F86C64EDF0}",
)

# --- services -------------------------------------------------------------------------------
for svc in [
    "KAVFS",
    "KAVFSGT",
    "kavfsslp",
    "klnagent",
    "KSDE1.0.0",
    "KLIF",
    "klbackupdisk",
    "klbackupflt",
    "klflt",
    "klhk",
    "klim6",
    "klkbdflt",
    "klmouflt",
    "klpd",
    "kltap",
    "KSCWebConsoleMessageQueue",
    "AVP18.0.0",
    "AVP21.3",
    "AVP21.25",
]:
    add("service", svc, K, SIGMA)
for unit in [
    "kesl",
    "klnagent64",
    "kladminserver_srv",
    "klnagent_srv",
    "klwebsrv_srv",
    "klactprx_srv",
    "ksc-web-console",
]:
    add("service", unit, K, R + " linux_services")
for label in ["com.kaspersky.kav", "com.kaspersky.kav.gui"]:
    add("service", label, K, MAC, bundle_id=label)

# --- processes ------------------------------------------------------------------------------
for proc in [
    "avp.exe",
    "avpui.exe",
    "avpsus.exe",
    "klnagent.exe",
    "kavfs.exe",
    "kavfswp.exe",
    "kavfswh.exe",
    "kavfsgt.exe",
    "kavtray.exe",
    "klwtblfs.exe",
    "klserver.exe",
    "klactprx.exe",
    "ksnproxy.exe",
    "kesl-control",
    "klnagent",
]:
    add("process", proc, K, CAPE)

# --- drivers (Microsoft-allocated altitudes), kernel extensions -----------------------------
for drv in [
    "klif.sys",
    "klam.sys",
    "klbg.sys",
    "kldback.sys",
    "kldlinf.sys",
    "kldtool.sys",
    "klboot.sys",
    "klfdefsf.sys",
    "klrsps.sys",
    "klsnsr.sys",
    "klifks.sys",
    "klifaa.sys",
    "Klifsm.sys",
    "Klcdp.sys",
    "Klshadow.sys",
    "Klsysrec.sys",
    "klvfs.sys",
    "Klfle.sys",
    "Klvirt.sys",
    "klbackupflt.sys",
    "Klsec.sys",
    "klhk.sys",
    "klflt.sys",
    "klim6.sys",
    "klwtp.sys",
    "klpnpflt.sys",
    "klgse.sys",
    "kldisk.sys",
    "kl1.sys",
]:
    add("driver", drv, K, ALT)
for kext in ["com.kaspersky.kext.klif", "com.kaspersky.nke"]:
    add("driver", kext.rsplit(".", 1)[1], K, MAC, bundle_id=kext)

# --- packages, apps -------------------------------------------------------------------------
for pkg in ["kesl", "kesl-gui", "klnagent64", "klnagent", "kav4fs", "ksc64", "ksc-web-console"]:
    add("package", pkg, K, "Checkmk/checkmk agents/plugins/kaspersky_av; admin scripts")
add("package", "com.kaspersky.kav.core", K, MAC, bundle_id="com.kaspersky.kav.core")
add("app", "Kaspersky Internet Security", K, MAC, bundle_id="com.kaspersky.kav")
add("app", "Kaspersky Anti-Virus For Mac", K, MAC, bundle_id="com.kaspersky.kav")
add("app", "Kaspersky Security & VPN", K, R + " android_packages", package_id="com.kms.free")
add(
    "app",
    "com.kms.free",
    K,
    "Intune discovered apps show Android package ids",
    package_id="com.kms.free",
)
add("app", "Kaspersky Security Cloud", K, R, package_id="com.kaspersky.security.cloud")

# --- certificates, extensions, signers ------------------------------------------------------
add(
    "certificate",
    "Kaspersky Anti-Virus Personal Root Certificate",
    K,
    R,
    "AO Kaspersky Lab",
    cert_subject="CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab,C=RU",
)
add(
    "browser_extension",
    "Kaspersky Protection",
    K,
    "nguyenhoan1901/CrawlData manifest.json",
    extension_id="ahkjpbeeocnddjkakilopmfdlnjdpcdm",
)
add(
    "browser_extension",
    "__MSG_extName__",
    K,
    "unresolved manifest name, id only",
    extension_id="ahkjpbeeocnddjkakilopmfdlnjdpcdm",
)
add(
    "browser_extension",
    "Kaspersky URL Advisor",
    K,
    MAC,
    extension_id="ddoleachckhhdmhpbkddgechjfhnphpe",
)
add("browser_extension", "Virtual Keyboard", K, R, extension_id="mcobjbefejmnadahpjbfibgkgchhmjke")
add("browser_extension", "URL Advisor", K, R, extension_id="urladvisor@kaspersky.com")
add(
    "file",
    "svc32.sys",
    K,
    "renamed driver: PE OriginalFilename",
    "AO Kaspersky Lab",
    original_filename="klif.sys",
)
add(
    "file",
    "setup.exe",
    K,
    "Authenticode subject of a 2021+ installer",
    signer="CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow, S=Moscow, C=RU",
)
add("file", "kaspersky", K, R + " linux_packages paths", path="/opt/kaspersky")
add(
    "sbom_component",
    "KAV SDK",
    K,
    "CPE of an embedded engine",
    cpe="cpe:2.3:a:kaspersky:anti-virus:8.0:*:*:*:*:*:*:*",
)

# --- TikTok and DeepSeek --------------------------------------------------------------------
add(
    "app",
    "TikTok",
    "bytedance",
    "Google Play / App Store listing",
    package_id="com.zhiliaoapp.musically",
)
add("app", "TikTok", "bytedance", "App Store bundle id", bundle_id="com.zhiliaoapp.musically")
add(
    "app",
    "com.ss.android.ugc.trill",
    "bytedance",
    "Google Play (TikTok, some regions)",
    package_id="com.ss.android.ugc.trill",
)
add("app", "DeepSeek", "deepseek", "Google Play listing", package_id="com.deepseek.chat")

# --- negatives: other security vendors ------------------------------------------------------
for name, pub in [
    ("ESET Endpoint Security", "ESET, spol. s r.o."),
    ("ESET NOD32 Antivirus", "ESET, spol. s r.o."),
    ("Bitdefender Total Security", "Bitdefender"),
    ("Bitdefender Endpoint Security Tools", "Bitdefender"),
    ("Norton 360", "Gen Digital Inc."),
    ("McAfee Total Protection", "McAfee, LLC"),
    ("Sophos Endpoint Agent", "Sophos Limited"),
    ("Trend Micro Apex One Security Agent", "Trend Micro Inc."),
    ("CrowdStrike Windows Sensor", "CrowdStrike, Inc."),
    ("Sentinel Agent", "SentinelOne"),
    ("Avast Free Antivirus", "Avast Software"),
    ("AVG AntiVirus FREE", "AVG Technologies"),
    ("Avira Security", "Avira Operations GmbH"),
    ("Malwarebytes version 4.6", "Malwarebytes"),
    ("K7 Total Security", "K7 Computing Pvt Ltd"),
    ("Kingsoft Antivirus", "Kingsoft"),
    ("Dr.Web Security Space", "Doctor Web"),
    ("Microsoft Defender for Endpoint", "Microsoft Corporation"),
    ("Cisco Secure Endpoint", "Cisco Systems, Inc."),
    ("Webroot SecureAnywhere", "Webroot"),
    ("Comodo Internet Security", "COMODO"),
    ("Panda Dome", "Panda Security"),
    ("F-Secure Elements Agent", "WithSecure"),
    ("G DATA Total Security", "G DATA Software AG"),
    ("Huorong Internet Security", "Beijing Huorong Network Technology Co., Ltd."),
    ("360 Total Security", "Qihoo 360"),
    ("Kerio Personal Firewall", "Kerio Technologies"),
    ("Kaspa Wallet", "Kaspa developers"),
    ("KasperVPN", "Kasper"),
    ("Invoke-KasperskyUninstall", "atrandem/PoshPublic"),
    ("Kaspresso", "KasperskyLab (open-source test framework)"),
]:
    add("program", name, "", "security vendors and look-alikes (research decoys)", pub)  # fmt: skip
for drv, src in [
    ("kavnsi.sys", ALT + " (AVNOS)"),
    ("K7Sentry.sys", ALT + " (K7)"),
    ("K7SysMon.sys", ALT),
    ("Kisknl.sys", ALT + " (Kingsoft)"),
    ("ksfsflt.sys", ALT),
    ("KLpcKernel.sys", "microsoft/service-fabric"),
    ("klupd.sys.bak", "not a driver"),
    ("WdFilter.sys", ALT + " (Microsoft)"),
    ("SysmonDrv.sys", ALT),
    ("epfwwfp.sys", ALT + " (ESET)"),
    ("bdselfpr.sys", ALT + " (Bitdefender)"),
    ("CSAgent.sys", ALT + " (CrowdStrike)"),
    ("SentinelMonitor.sys", ALT),
]:
    add("driver", drv, "", src)
for proc, src in [
    ("klist.exe", "CAPESandbox windows_utilities.py (Windows Kerberos)"),
    ("kavremover.exe", "SigmaHQ kavremover rule: Kaspersky's removal tool"),
    ("cleanapi.exe", "SigmaHQ kavremover rule"),
    ("hipsdaemon.exe", R + " decoys"),
    ("usysdiag.exe", R + " decoys"),
    ("kpf4ss.exe", R + " decoys"),
    ("MsMpEng.exe", "Microsoft Defender"),
    ("ekrn.exe", "ESET"),
    ("bdagent.exe", "Bitdefender"),
    ("CSFalconService.exe", "CrowdStrike"),
    ("avgui.exe", "AVG"),
    ("AvastUI.exe", "Avast"),
    ("avguard.exe", "Avira"),
    ("kill.exe", "kl* prefix"),
    ("klauncher", "KDE klauncher"),
]:
    add("process", proc, "", src)
for svc, src in [
    ("WinDefend", "Microsoft Defender"),
    ("ekrn", "ESET"),
    ("CSFalconService", "CrowdStrike"),
    ("KtmRm", "Windows KTM (k* prefix)"),
    ("KeyIso", "Windows CNG Key Isolation"),
    ("klauncher", "KDE"),
    ("kdc", "Kerberos KDC"),
    ("kavremover", "removal tool"),
]:
    add("service", svc, "", src)  # fmt: skip
for pkg, src in [
    ("clamav", "Debian"),
    ("k3s", "Rancher"),
    ("kasm", "Kasm Workspaces"),
    ("klibc-utils", "Debian"),
    ("kde-cli-tools", "Debian"),
    ("keyutils", "Debian"),
    ("krb5-user", "Debian"),
    ("kpartx", "Debian"),
    ("kexec-tools", "Debian"),
]:
    add("package", pkg, "", src)
for pkg_id, src in [
    ("com.kaspersky.kaspresso.sample", "KasperskyLab/Kaspresso sample app"),
    ("com.kaspersky.components.kautomator", "KasperskyLab/Kaspresso"),
    ("com.kasparov.chess", "look-alike prefix"),
    ("com.kaspa.wallet", "Kaspa"),
    ("com.bytedance.lark", "ByteDance Lark (not TikTok)"),
]:
    add("app", pkg_id.rsplit(".", 1)[1], "", src, package_id=pkg_id)
add("certificate", "DigiCert Global Root G2", "", "system trust store", "DigiCert Inc")
add("certificate", "Kaspa Root CA", "", "look-alike", "Kaspa")
add(
    "browser_extension",
    "Kaspa Seed Protector",
    "",
    R + " decoys",
    extension_id="kaspaseedprotectorxxxxxxxxxxxxxx",
)
add(
    "file",
    "Invoke-KasperskyUninstall.ps1",
    "",
    "atrandem/PoshPublic",
    path=r"C:\Tools\Invoke-KasperskyUninstall.ps1",
)
add(
    "file",
    "prnms003.inf_x86",
    "",
    "Forest Blizzard masquerading folder (SigmaHQ)",
    path=r"C:\ProgramData\Kaspersky Lab\v2.0\prnms003.inf_x86",
)
add(
    "sbom_component",
    "klogga",
    "",
    "KasperskyLab open-source library",
    "KasperskyLab",
    purl="pkg:github/kasperskylab/klogga@1.0",
)


# --- records from sources no catalog rule cites (held out) -------------------------------------
# These documents were read while the registries were built and deliberately kept out of them:
# the bench reports recall and false positives on them apart from the in-sample figures.
PPEE = "PPEE (mzrst.com) Suspicious.txt, security-product driver strings (public code)"
for drv in ["kl1.sys", "klif.sys", "kltdi.sys", "kneps.sys", "klkbdflt.sys", "klmouflt.sys"]:
    add("driver", drv, K, PPEE, key="mzrst.com")
for drv in ["K7FWFilt.sys", "K7TdiHlp.sys", "GDBehave.sys", "aswSnx.sys", "avgntflt.sys",
            "epfwwfp.sys", "360AvFlt.sys", "bdsflt.sys", "tpsec.sys", "avkmgr.sys"]:  # fmt: skip
    add("driver", drv, "", PPEE, key="mzrst.com")
NETAID = "NetAid, a Windows network-repair PowerShell tool: third-party driver map (public code)"
for drv in ["klif.sys", "klflt.sys", "klim6.sys", "klwfp.sys", "klpd.sys", "kneps.sys"]:
    add("driver", drv, K, NETAID, key="NetAid")
for drv in ["kavbase.sys", "kavbase64.sys", "kisknl.sys", "kisknl64.sys", "kmodurl.sys",
            "kwatch.sys", "kwatch64.sys", "KSafeSD.sys", "KSafeSD64.sys"]:  # fmt: skip
    add("driver", drv, "", NETAID + " (Kingsoft Antivirus)", key="NetAid")
WINPEAS = "carlospolop/PEASS-ng winPEAS Info/ProcessInfo/DefensiveProcesses.cs"
for proc in ["anti_ransom_gui.exe", "dump_writer_agent.exe", "anti_ransom.exe", "kldw.exe",
             "ffcert.exe", "kavsend.exe", "kavsvc.exe", "getsysteminfo.exe", "avp.exe",
             "klnagent.exe"]:  # fmt: skip
    add("process", proc, K, WINPEAS, key="PEASS-ng")
for proc in ["k7tsmain.exe", "k7rtscan.exe", "k7tsecurity.exe", "mbam.exe", "nanoav.exe",
             "zatray.exe", "sbamsvc.exe", "psanhost.exe", "wrsa.exe", "msascuil.exe"]:  # fmt: skip
    add("process", proc, "", WINPEAS, key="PEASS-ng")
FINGERPRINT = "a JavaScript software-fingerprint list, Kaspersky_2013 entries (public code)"
add("file", "klwtblc.dll", K, FINGERPRINT, key="software-fingerprint",
    path=r"c:\Program Files\Kaspersky Lab\Kaspersky Anti-Virus 2013\klwtblc.dll")  # fmt: skip
for drv in ["kneps.sys", "klflt.sys"]:
    add("driver", drv, K, FINGERPRINT, key="software-fingerprint",
        path=rf"c:\WINDOWS\system32\drivers\{drv}")  # fmt: skip
KSCLOUD = r"C:\Program Files (x86)\Kaspersky Lab\Kaspersky Security Cloud 21.3"
add("file", "kneps.sys", K, "a Node.js PC-check config (public code)", key="PC-check config",
    path=KSCLOUD + r"\knepsx64\kneps.sys")  # fmt: skip
add("app", "com.kaspersky.kav_agent", K, "an AeroSpace window-manager config (public code)",
    key="AeroSpace", bundle_id="com.kaspersky.kav_agent")  # fmt: skip
add("app", "TikTok Lite", "bytedance", "a web page's APK download table (d.apkpure.com)",
    key="apkpure", package_id="com.zhiliaoapp.musically.go")  # fmt: skip
add("app", "Kaspersky", K, "leverdeterre/shakeMyApps-appScan-blog _pages/ios/id",
    key="shakeMyApps", bundle_id="com.kaspersky.securityadvisor")  # fmt: skip
for pkg_id in ["com.kms.katalon", "com.kms.katalon.core", "com.kms.katalon.composer"]:
    add("package", pkg_id, "", "Katalon Studio test scripts (com.kms.katalon.*)", key="Katalon",
        package_id=pkg_id)  # fmt: skip


def main() -> None:
    """Write corpus.csv beside this script."""
    with (HERE / "corpus.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(
            ["kind", "name", "publisher", "identifiers", "label", "source", "key", "product"]
        )
        for kind, name, publisher, ids, label, source, key, product in ROWS:
            identifiers = json.dumps(ids, ensure_ascii=False)
            writer.writerow([kind, name, publisher, identifiers, label, source, key, product])


if __name__ == "__main__":
    main()
