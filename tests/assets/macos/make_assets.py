"""Write the macOS test assets: a small Mac folder tree, tarballs of it, and broken variants.

Run from anywhere: ``python tests/assets/macos/make_assets.py``. The output is committed; the
script is kept beside it so the binary plists and tarballs can be checked and rebuilt. Plists
use the keys real bundles, pkg receipts and launchd jobs carry; binary ones are written the way
Xcode and installer(8) write them (``plistlib`` FMT_BINARY).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import plistlib
import shutil
import tarfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
KAV = "Kaspersky Internet Security"
KAV_BINARY = "/Library/Application Support/Kaspersky Lab/KAV/Binaries/kav"


def app_info(name: str, bundle_id: str, short: str, build: str, **extra: Any) -> dict[str, Any]:
    """An app bundle's Info.plist with the keys Xcode writes for a macOS app."""
    return {
        "BuildMachineOSBuild": "20G95",
        "CFBundleDevelopmentRegion": "en",
        "CFBundleExecutable": name,
        "CFBundleIdentifier": bundle_id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": short,
        "CFBundleSignature": "????",
        "CFBundleSupportedPlatforms": ["MacOSX"],
        "CFBundleVersion": build,
        "LSMinimumSystemVersion": "10.14",
        "NSPrincipalClass": "NSApplication",
        **extra,
    }


def receipt(package: str, version: str, file_name: str) -> dict[str, Any]:
    """A pkg receipt as installer(8) writes it to /var/db/receipts."""
    return {
        "InstallDate": dt.datetime(2023, 5, 14, 9, 12, 41),
        "InstallPrefixPath": "/",
        "InstallProcessName": "installer",
        "PackageFileName": file_name,
        "PackageIdentifier": package,
        "PackageVersion": version,
    }


def write(path: Path, value: Any, fmt: plistlib.PlistFormat = plistlib.FMT_BINARY) -> bytes:
    """Write ``value`` as a plist at ``path`` (creating folders) and return the bytes."""
    data = plistlib.dumps(value, fmt=fmt, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def make_tree(root: Path) -> None:
    """The Mac of the tests: Kaspersky Internet Security beside clean apps and a decoy."""
    if root.exists():
        shutil.rmtree(root)
    apps = root / "Applications"
    write(
        apps / f"{KAV}.app/Contents/Info.plist",
        app_info(
            KAV,
            "com.kaspersky.kav",
            "21.0.22",
            "21.0.22.431",
            LSApplicationCategoryType="public.app-category.utilities",
            NSHumanReadableCopyright="© 2021 AO Kaspersky Lab. All Rights Reserved.",
        ),
    )
    write(
        apps / "Google Chrome.app/Contents/Info.plist",
        app_info(
            "Chrome",
            "com.google.Chrome",
            "120.0.6099.109",
            "6099.109",
            CFBundleDisplayName="Google Chrome",
            CFBundleExecutable="Google Chrome",
            KSProductID="com.google.Chrome",
        ),
        fmt=plistlib.FMT_XML,
    )
    # A decoy: "Kaspa" is not "Kaspersky", and it sits one folder down (Applications/*/*.app).
    write(
        apps / "Utilities/Kaspa Wallet.app/Contents/Info.plist",
        app_info("Kaspa Wallet", "org.kaspa.wallet", "2.1.0", "210"),
    )
    write(
        root / "Users/alice/Applications/Slack.app/Contents/Info.plist",
        app_info("Slack", "com.tinyspeck.slackmacgap", "4.35.131", "435131"),
    )
    receipts = root / "var/db/receipts"
    write(
        receipts / "com.kaspersky.kav.core.plist",
        receipt("com.kaspersky.kav.core", "21.0.22.431", f"{KAV}.pkg"),
    )
    (receipts / "com.kaspersky.kav.core.bom").write_bytes(b"BOMStore" + b"\0" * 24)
    write(
        receipts / "com.apple.pkg.XProtectPlistConfigData_10_15.16U4256.plist",
        receipt(
            "com.apple.pkg.XProtectPlistConfigData_10_15.16U4256",
            "2174",
            "XProtectPlistConfigData_10_15.pkg",
        ),
    )
    write(
        root / "Library/LaunchDaemons/com.kaspersky.kav.plist",
        {
            "Label": "com.kaspersky.kav",
            "ProgramArguments": [KAV_BINARY, "-bl"],
            "RunAtLoad": True,
            "KeepAlive": True,
        },
        fmt=plistlib.FMT_XML,
    )
    write(
        root / "Library/LaunchAgents/com.google.keystone.agent.plist",
        {
            "Label": "com.google.keystone.agent",
            "LimitLoadToSessionType": "Aqua",
            "ProgramArguments": [
                "/Library/Google/GoogleSoftwareUpdate/GoogleSoftwareUpdate.bundle/Contents/"
                "Resources/GoogleSoftwareUpdateAgent.app/Contents/MacOS/GoogleSoftwareUpdateAgent",
                "-runMode",
                "ifneeded",
            ],
            "StartInterval": 3523,
        },
        fmt=plistlib.FMT_XML,
    )
    write(
        root / "Library/Extensions/klif.kext/Contents/Info.plist",
        {
            "CFBundleDevelopmentRegion": "English",
            "CFBundleExecutable": "klif",
            "CFBundleIdentifier": "com.kaspersky.kext.klif",
            "CFBundleInfoDictionaryVersion": "6.0",
            "CFBundleName": "klif",
            "CFBundlePackageType": "KEXT",
            "CFBundleShortVersionString": "21.0.22",
            "CFBundleVersion": "21.0.22.431",
            "OSBundleLibraries": {"com.apple.kpi.bsd": "8.0.0", "com.apple.kpi.libkern": "8.0.0"},
        },
    )
    write(
        root / "Library/SystemExtensions/6B5A1A2C-5A0B-4C55-9E0B-2F6E3C1D4A7E/"
        "com.kaspersky.kav.sysext.systemextension/Contents/Info.plist",
        {
            "CFBundleExecutable": "com.kaspersky.kav.sysext",
            "CFBundleIdentifier": "com.kaspersky.kav.sysext",
            "CFBundlePackageType": "SYSX",
            "CFBundleShortVersionString": "21.0.22",
            "CFBundleVersion": "21.0.22.431",
            "NSSystemExtensionUsageDescription": "Kaspersky network and file protection",
        },
    )
    write(
        root / "Library/Preferences/SystemConfiguration/preferences.plist",
        {
            "System": {
                "System": {"ComputerName": "alice-mbp", "ComputerNameEncoding": 0},
                "Network": {"HostNames": {"LocalHostName": "alice-mbp"}},
            }
        },
    )


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<plist version="1.0"><dict><key>Label</key><string>&lol9;</string></dict></plist>
"""


def make_malformed_tree(root: Path) -> None:
    """A Mac whose plists are broken in the ways real copies break, beside two good ones."""
    if root.exists():
        shutil.rmtree(root)
    good = plistlib.dumps(
        app_info(KAV, "com.kaspersky.kav", "21.0.22", "21.0.22.431"), fmt=plistlib.FMT_BINARY
    )
    truncated = root / f"Applications/{KAV}.app/Contents/Info.plist"
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(good[: len(good) // 2])
    write(
        root / "Applications/Slack.app/Contents/Info.plist",
        app_info("Slack", "com.tinyspeck.slackmacgap", "4.35.131", "435131"),
        fmt=plistlib.FMT_XML,
    )
    receipts = root / "var/db/receipts"
    receipts.mkdir(parents=True)
    (receipts / "com.kaspersky.kav.core.plist").write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
        b"\t<key>PackageIdentifier</key>\n\t<string>com.kaspersky.kav.core</string>\n"
        b"\t<key>PackageVersion</key>\n\t<string>21.0.22.431\n</dict>\n</plist>\n"
    )
    write(receipts / "no-identifier.plist", {"PackageVersion": "1.0", "InstallPrefixPath": "/"})
    write(
        root / "Library/LaunchDaemons/com.kaspersky.kav.plist",
        {"Label": "com.kaspersky.kav", "Program": KAV_BINARY, "RunAtLoad": True},
        fmt=plistlib.FMT_XML,
    )
    bomb = root / "Library/LaunchAgents/com.example.bomb.plist"
    bomb.parent.mkdir(parents=True)
    bomb.write_bytes(BILLION_LAUGHS)
    write(root / "Library/Extensions/klif.kext/Contents/Info.plist", ["com.kaspersky.kext.klif"])


def _deterministic(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = 1_700_000_000
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def make_tarball(tree: Path, target: Path) -> None:
    """A gzipped tarball of ``tree``, as ``tar czf kav-mac.tgz kav-mac`` makes it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(tree.rglob("*")):
            arcname = f"{tree.name}/{path.relative_to(tree).as_posix()}"
            tar.add(path, arcname=arcname, recursive=False, filter=_deterministic)
    target.write_bytes(gzip.compress(raw.getvalue(), mtime=0))


def _member(tar: tarfile.TarFile, name: str, data: bytes = b"", **kinds: Any) -> None:
    info = _deterministic(tarfile.TarInfo(name))
    for key, value in kinds.items():
        setattr(info, key, value)
    info.size = len(data) if info.type == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)


def make_hostile_tarball(target: Path) -> None:
    """A tarball that tries to escape: ``..`` and absolute names, links out, a link loop."""
    info = plistlib.dumps(
        app_info(KAV, "com.kaspersky.kav", "21.0.22", "21.0.22.431"), fmt=plistlib.FMT_BINARY
    )
    with tarfile.open(target, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _member(tar, f"kav-mac/Applications/{KAV}.app/Contents/Info.plist", info)
        _member(tar, "../../../../tmp/evict-escaped", b"escaped\n")
        _member(tar, "/tmp/evict-absolute", b"absolute\n")
        _member(
            tar,
            "kav-mac/Applications/Evil.app/Contents/Info.plist",
            type=tarfile.SYMTYPE,
            linkname="/etc/passwd",
        )
        _member(
            tar,
            "kav-mac/Library/LaunchDaemons/escape.plist",
            type=tarfile.SYMTYPE,
            linkname="../../../../../etc/passwd",
        )
        _member(tar, "kav-mac/loop-a", type=tarfile.SYMTYPE, linkname="loop-b")
        _member(tar, "kav-mac/loop-b", type=tarfile.SYMTYPE, linkname="loop-a")
        _member(tar, "kav-mac/Library/hard", type=tarfile.LNKTYPE, linkname="../outside")


def make_huge_member_tarball(target: Path) -> None:
    """A tarball whose one member declares 1 GiB and holds 512 bytes: cut short on purpose."""
    info = _deterministic(tarfile.TarInfo("kav-mac/Applications/Big.app/Contents/Info.plist"))
    info.size = 1 << 30
    target.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 512)


def make_profiler(target: Path, *, with_software: bool = False) -> None:
    """``system_profiler -json SPApplicationsDataType`` output for the same Mac."""
    import json

    apps = [
        {
            "_name": KAV,
            "arch_kind": "arch_i64",
            "info": "Kaspersky Internet Security 21.0.22, © 2021 AO Kaspersky Lab",
            "lastModified": "2023-05-14T09:12:41Z",
            "obtained_from": "identified_developer",
            "path": f"/Applications/{KAV}.app",
            "signed_by": [
                "Developer ID Application: AO Kaspersky Lab (2Y8XE5CQ94)",
                "Developer ID Certification Authority",
                "Apple Root CA",
            ],
            "version": "21.0.22",
        },
        {
            "_name": "Google Chrome",
            "arch_kind": "arch_arm_i64",
            "lastModified": "2023-12-13T18:02:10Z",
            "obtained_from": "identified_developer",
            "path": "/Applications/Google Chrome.app",
            "signed_by": [
                "Developer ID Application: Google LLC (EQHXZ8M8AV)",
                "Developer ID Certification Authority",
                "Apple Root CA",
            ],
            "version": "120.0.6099.109",
        },
        {
            "_name": "Safari",
            "arch_kind": "arch_arm_i64",
            "lastModified": "2023-11-30T08:00:00Z",
            "obtained_from": "apple",
            "path": "/Applications/Safari.app",
            "signed_by": [
                "Software Signing",
                "Apple Code Signing Certification Authority",
                "Apple Root CA",
            ],
            "version": "17.2",
        },
        {
            "_name": "Kaspa Wallet",
            "arch_kind": "arch_arm_i64",
            "lastModified": "2023-09-01T10:00:00Z",
            "obtained_from": "unknown",
            "path": "/Applications/Utilities/Kaspa Wallet.app",
            "version": "2.1.0",
        },
    ]
    doc: dict[str, Any] = {"SPApplicationsDataType": apps}
    if with_software:
        doc["SPSoftwareDataType"] = [
            {
                "_name": "os_overview",
                "boot_mode": "normal_boot",
                "kernel_version": "Darwin 23.2.0",
                "local_host_name": "alice-mbp",
                "os_version": "macOS 14.2.1 (23C71)",
                "user_name": "Alice (alice)",
            }
        ]
    target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    """Write every asset beside this script."""
    make_tree(HERE / "kav-mac")
    make_tarball(HERE / "kav-mac", HERE / "kav-mac.tgz")
    make_malformed_tree(HERE / "malformed-mac")
    make_hostile_tarball(HERE / "hostile.tar")
    make_huge_member_tarball(HERE / "huge-member.tar")
    tgz = (HERE / "kav-mac.tgz").read_bytes()
    (HERE / "truncated.tgz").write_bytes(tgz[: len(tgz) // 2])
    (HERE / "corrupt.tgz").write_bytes(b"\x1f\x8b\x08\x00" + b"this is not deflate data" * 8)
    make_profiler(HERE / "kav-mac-profiler.json")
    make_profiler(HERE / "with-software.json", with_software=True)
    (HERE / "empty-profiler.json").write_text('{\n  "SPApplicationsDataType" : [\n\n  ]\n}\n')
    (HERE / "malformed-profiler.json").write_text(
        '{\n  "SPApplicationsDataType" : [\n    {\n      "_name" : "Kaspersky Internet Security",\n'
        '      "obtained_from" : "identified_developer",\n      "path" : "/Applications/Kas'
    )
    (HERE / "no-name-profiler.json").write_text(
        '{"SPApplicationsDataType": [{"version": "1.0"}, "Safari", '
        '{"_name": "Slack", "version": "4.35.131"}]}\n'
    )
    (HERE / "not-a-mac.txt").write_text("Hostname: alice-mbp\nApplications: Slack\n")


if __name__ == "__main__":
    main()
