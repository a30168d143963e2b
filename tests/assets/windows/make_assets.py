"""Build the Windows registry test assets: regedit exports and real hive files of one host.

The host (``WKS-FIN-0042``) is described once below, as registry keys and typed values. From it
this script writes

- ``reg/wks-fin-0042/*.reg``: what ``regedit`` exports of it look like (UTF-16LE with a BOM,
  CRLF, hex data wrapped at 80 columns with trailing backslashes);
- ``hive/wks-fin-0042/{SOFTWARE,SYSTEM,Users/alice/NTUSER.DAT}``: hive files. Each starts as an
  empty hive built here (a base block and one bin holding the root key and its security cell),
  and ``hivexregedit --merge`` (Debian ``libwin-hivex-perl``) adds the keys, so the files are
  written by hivex, an implementation independent of the reader under test;
- ``hive/empty/SOFTWARE``, ``hive/truncated/SOFTWARE`` and ``hive/cyclic/SOFTWARE`` (a key whose
  subkey list points back at its parent's, so a naive recursive walk never ends).
- ``hive/wks-fin-0077/Windows/AppCompat/Programs/Amcache.hve``: an Amcache hive laid out as
  current Windows 10 and 11 write it (see ``AMCACHE`` below), built the same way with its real
  root key name, ``reg/amcache.reg`` (the same keys as a regedit-style export, for reading) and
  ``hive/amcache-truncated/Amcache.hve``;
- ``reg/one-bad-line.reg``: the SOFTWARE export with one value damaged.

Run from the repository root: ``python tests/assets/windows/make_assets.py`` (needs
``hivexregedit``; the tests only read the committed files). The other samples under ``reg/`` and
``powershell/`` are written by hand, in the encodings the tools use.
"""

from __future__ import annotations

import random
import struct
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
KES_CODE = "{76940874-DCFA-4BC6-A4C0-1B838D420465}"
AGENT_CODE = "{E02790BE-8232-4433-8D7B-F2910D4AE9ED}"
VCRT_CODE = "{B6594C41-D2E5-4322-A1CA-894F12573007}"
KES_ROOT = "C:\\Program Files (x86)\\Kaspersky Lab\\KES.12.3.0\\"

Value = tuple[str, object]
Keys = list[tuple[str, dict[str, Value]]]


def sz(text: str) -> Value:
    return ("sz", text)


def expand(text: str) -> Value:
    return ("expand", text)


def dword(number: int) -> Value:
    return ("dword", number)


def qword(number: int) -> Value:
    return ("qword", number)


UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall"

SOFTWARE: Keys = [
    ("Classes", {}),
    ("Clients", {}),
    ("Policies", {}),
    ("RegisteredApplications", {}),
    (
        f"{UNINSTALL}\\7-Zip",
        {
            "DisplayName": sz("7-Zip 23.01 (x64)"),
            "DisplayVersion": sz("23.01"),
            "Publisher": sz("Igor Pavlov"),
            "InstallLocation": sz("C:\\Program Files\\7-Zip\\"),
            "UninstallString": sz('"C:\\Program Files\\7-Zip\\Uninstall.exe"'),
            "NoModify": dword(1),
            "NoRepair": dword(1),
            "EstimatedSize": dword(5678),
        },
    ),
    (f"{UNINSTALL}\\AddressBook", {}),
    (
        f"{UNINSTALL}\\{VCRT_CODE}",
        {
            "DisplayName": sz("Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33130"),
            "DisplayVersion": sz("14.38.33130"),
            "Publisher": sz("Microsoft Corporation"),
            "SystemComponent": dword(1),
            "WindowsInstaller": dword(1),
        },
    ),
    (
        f"WOW6432Node\\{UNINSTALL}\\{KES_CODE}",
        {
            "DisplayName": sz("Kaspersky Endpoint Security for Windows"),
            "DisplayVersion": sz("12.3.0.493"),
            "Publisher": sz("AO Kaspersky Lab"),
            "InstallLocation": sz(KES_ROOT),
            "InstallDate": sz("20240115"),
            "UninstallString": expand(f"MsiExec.exe /I{KES_CODE}"),
            "WindowsInstaller": dword(1),
            "Language": dword(1033),
        },
    ),
    (
        f"WOW6432Node\\{UNINSTALL}\\{AGENT_CODE}",
        {
            "DisplayName": sz("Kaspersky Security Center Network Agent"),
            "DisplayVersion": sz("14.0.0.10902"),
            "Publisher": sz("AO Kaspersky Lab"),
            "InstallLocation": sz("C:\\Program Files (x86)\\Kaspersky Lab\\NetworkAgent\\"),
        },
    ),
    (
        f"WOW6432Node\\{UNINSTALL}\\{{90160000-0011-0000-0000-0000000FF1CE}}"
        "_Office16.PROPLUS_{13DADAFD-F928-4708-BF93-B4CDA07EC60F}",
        {
            "DisplayName": sz(
                "Security Update for Microsoft Office 2016 (KB5002469) 32-Bit Edition"
            ),
            "ParentKeyName": sz("Office16.PROPLUS"),
            "ParentDisplayName": sz("Microsoft Office Professional Plus 2016"),
            "Publisher": sz("Microsoft"),
            "ReleaseType": sz("Security Update"),
        },
    ),
    (
        "KasperskyLab\\protected\\KES\\environment",
        {
            "ProductName": sz("Kaspersky Endpoint Security for Windows"),
            "ProductVersion": sz("12.3.0.493"),
            "ProductRoot": sz(KES_ROOT),
            "DataFolder": sz("C:\\ProgramData\\Kaspersky Lab\\KES.12.3.0\\"),
        },
    ),
    ("KasperskyLab\\Components\\34", {}),
    (
        "Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-18",
        {"ProfileImagePath": expand("%systemroot%\\system32\\config\\systemprofile")},
    ),
    (
        f"Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{SID}",
        {"ProfileImagePath": expand("C:\\Users\\alice")},
    ),
]


def _services(control_set: str) -> Keys:
    base = f"{control_set}\\Services"
    return [
        (
            f"{base}\\klif",
            {
                "Type": dword(2),
                "Start": dword(0),
                "ErrorControl": dword(1),
                "Group": sz("FSFilter Anti-Virus"),
                "ImagePath": expand("system32\\DRIVERS\\klif.sys"),
            },
        ),
        (f"{base}\\klif\\Instances", {"DefaultInstance": sz("klif Instance")}),
        (
            f"{base}\\klhk",
            {
                "Type": dword(1),
                "Start": dword(0),
                "ErrorControl": dword(1),
                "ImagePath": expand("system32\\DRIVERS\\klhk.sys"),
            },
        ),
        (
            f"{base}\\AVP",
            {
                "Type": dword(0x10),
                "Start": dword(2),
                "ErrorControl": dword(1),
                "ImagePath": expand(f'"{KES_ROOT}avp.exe" -r'),
                "DisplayName": sz("Kaspersky Endpoint Security Service"),
                "ObjectName": sz("LocalSystem"),
            },
        ),
        (
            f"{base}\\Tcpip",
            {
                "Type": dword(1),
                "Start": dword(0),
                "ImagePath": expand("System32\\drivers\\tcpip.sys"),
            },
        ),
        (
            f"{base}\\Dnscache",
            {
                "Type": dword(0x20),
                "Start": dword(2),
                "ImagePath": expand("%SystemRoot%\\system32\\svchost.exe -k NetworkService -p"),
            },
        ),
        (f"{base}\\.NET CLR Data\\Performance", {}),
    ]


SYSTEM: Keys = [
    (
        "Select",
        {
            "Current": dword(1),
            "Default": dword(1),
            "Failed": dword(0),
            "LastKnownGood": dword(2),
        },
    ),
    (
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        {"ComputerName": sz("WKS-FIN-0042")},
    ),
    *_services("ControlSet001"),
    (
        "ControlSet002\\Control\\ComputerName\\ComputerName",
        {"ComputerName": sz("WKS-FIN-0042")},
    ),
    (
        "ControlSet002\\Services\\kl1",
        {"Type": dword(1), "Start": dword(0), "ImagePath": expand("system32\\DRIVERS\\kl1.sys")},
    ),
]

NTUSER: Keys = [
    ("AppEvents\\Schemes", {}),
    ("Console", {}),
    ("Control Panel\\Desktop", {"Wallpaper": sz("")}),
    ("Environment", {"TEMP": expand("%USERPROFILE%\\AppData\\Local\\Temp")}),
    ("Keyboard Layout\\Preload", {"1": sz("00000409")}),
    ("Network", {}),
    (
        f"Software\\{UNINSTALL}\\Spotify",
        {
            "DisplayName": sz("Spotify"),
            "DisplayVersion": sz("1.2.31.1205.g4d59ad7c"),
            "Publisher": sz("Spotify AB"),
            "InstallLocation": sz("C:\\Users\\alice\\AppData\\Roaming\\Spotify"),
            "UninstallString": sz(
                "C:\\Users\\alice\\AppData\\Roaming\\Spotify\\Spotify.exe /uninstall"
            ),
        },
    ),
]


# --- regedit text ------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _hex(prefix: str, data: bytes, wrap: bool) -> list[str]:
    """``prefix`` followed by hex bytes, wrapped like regedit (lines under 80 columns)."""
    tokens = [f"{b:02x}" for b in data]
    if not wrap:
        return [prefix + ",".join(tokens)]
    lines: list[str] = []
    line = prefix
    for i, token in enumerate(tokens):
        piece = token + ("," if i < len(tokens) - 1 else "")
        if len(line) + len(piece) > 76:
            lines.append(line + "\\")
            line = "  "
        line += piece
    lines.append(line)
    return lines


def _value_lines(name: str, value: Value, wrap: bool) -> list[str]:
    kind, data = value
    head = "@=" if name == "" else f'"{_escape(name)}"='
    if kind == "sz":
        assert isinstance(data, str)
        return [f'{head}"{_escape(data)}"']
    if kind == "dword":
        assert isinstance(data, int)
        return [f"{head}dword:{data:08x}"]
    if kind == "expand":
        assert isinstance(data, str)
        return _hex(head + "hex(2):", (data + "\0").encode("utf-16-le"), wrap)
    if kind == "qword":
        assert isinstance(data, int)
        return _hex(head + "hex(b):", data.to_bytes(8, "little"), wrap)
    raise ValueError(kind)


def regedit_text(prefix: str, keys: Keys, *, wrap: bool = True, parents: bool = False) -> str:
    """Keys as a regedit export below ``prefix`` (e.g. ``HKEY_LOCAL_MACHINE\\SOFTWARE``).

    ``parents`` lists every parent key first, as ``hivexregedit --merge`` needs.
    """
    lines = ["Windows Registry Editor Version 5.00", ""]
    seen: set[str] = set()
    for path, values in keys:
        chain = [path]
        if parents:
            parts = path.split("\\")
            chain = ["\\".join(parts[: i + 1]) for i in range(len(parts))]
        for key in chain:
            if key.casefold() in seen:
                continue
            seen.add(key.casefold())
            lines.append(f"[{prefix}\\{key}]")
            if key == path:
                for name, value in values.items():
                    lines.extend(_value_lines(name, value, wrap))
            lines.append("")
    return "\n".join(lines) + "\n"


def write_utf16(path: Path, text: str) -> None:
    """Write as regedit does: UTF-16LE with a byte order mark and CRLF line endings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"))


# --- hive files --------------------------------------------------------------------------------


def _sid(authority: int, subs: list[int]) -> bytes:
    return (
        struct.pack("<BB", 1, len(subs))
        + authority.to_bytes(6, "big")
        + b"".join(struct.pack("<I", s) for s in subs)
    )


def empty_hive(file_name: str, root_name: str = "ROOT") -> bytes:
    """A valid hive holding only its root key: base block, one 4 KiB bin, root nk and sk."""
    root_offset = 0x20
    name = root_name.encode("ascii")
    nk_size = (4 + 76 + len(name) + 7) & ~7
    sk_offset = root_offset + nk_size
    everyone, admins, system = _sid(1, [0]), _sid(5, [32, 544]), _sid(5, [18])
    ace = struct.pack("<BBHI", 0, 0x02, 8 + len(everyone), 0x000F003F) + everyone
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    owner = 20
    group = owner + len(admins)
    dacl = group + len(system)
    descriptor = struct.pack("<BBHIIII", 1, 0, 0x8004, owner, group, 0, dacl)
    descriptor += admins + system + acl
    sk = b"sk" + struct.pack("<HIIII", 0, sk_offset, sk_offset, 1, len(descriptor)) + descriptor
    sk_size = (4 + len(sk) + 7) & ~7
    nk = b"nk" + struct.pack(
        "<HQIIIIIIIIIIIIIIIHH",
        0x2C,  # KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME
        0,
        0,
        0xFFFFFFFF,  # parent
        0,
        0,
        0xFFFFFFFF,  # subkey list
        0xFFFFFFFF,
        0,
        0xFFFFFFFF,  # value list
        sk_offset,
        0xFFFFFFFF,  # class name
        0,
        0,
        0,
        0,
        0,
        len(name),
        0,
    )
    nk += name
    cells = struct.pack("<i", -nk_size) + nk.ljust(nk_size - 4, b"\0")
    cells += struct.pack("<i", -sk_size) + sk.ljust(sk_size - 4, b"\0")
    bin_size = 0x1000
    free = bin_size - 0x20 - len(cells)
    cells += struct.pack("<i", free) + b"\0" * (free - 4)
    hbin = b"hbin" + struct.pack("<IIIIQI", 0, bin_size, 0, 0, 0, 0) + cells
    base = bytearray(4096)
    base[0:4] = b"regf"
    struct.pack_into("<IIQIIIIIII", base, 4, 1, 1, 0, 1, 5, 0, 1, root_offset, bin_size, 1)
    encoded = file_name.encode("utf-16-le")[:62]
    base[0x30 : 0x30 + len(encoded)] = encoded
    checksum = 0
    for i in range(0, 0x1FC, 4):
        checksum ^= struct.unpack_from("<I", base, i)[0]
    struct.pack_into("<I", base, 0x1FC, checksum or 1)
    return bytes(base) + hbin


def build_hive(
    path: Path, file_name: str, prefix: str, keys: Keys, root_name: str = "ROOT"
) -> None:
    """Write an empty hive to ``path`` and merge ``keys`` into it with hivexregedit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(empty_hive(file_name, root_name))
    if not keys:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".reg", encoding="utf-8") as source:
        source.write(regedit_text(prefix, keys, wrap=False, parents=True))
        source.flush()
        subprocess.run(
            ["hivexregedit", "--merge", "--prefix", prefix, str(path), source.name], check=True
        )


def _cells(data: bytes) -> list[tuple[int, bytes]]:
    """Every allocated cell: (offset from the first bin, cell body)."""
    out = []
    offset = 0
    while 4096 + offset < len(data):
        size = struct.unpack_from("<I", data, 4096 + offset + 8)[0]
        cell = offset + 0x20
        while cell < offset + size:
            cell_size = struct.unpack_from("<i", data, 4096 + cell)[0]
            if cell_size < 0:
                out.append((cell, data[4096 + cell + 4 : 4096 + cell - cell_size]))
            cell += abs(cell_size)
        offset += size
    return out


def _nk(data: bytes, name: bytes) -> int:
    for offset, body in _cells(data):
        if body[:2] == b"nk":
            length = struct.unpack_from("<H", body, 0x48)[0]
            if body[0x4C : 0x4C + length] == name:
                return offset
    raise LookupError(name)


def make_cyclic(source: Path, target: Path) -> None:
    """Copy ``source`` with ``KES``'s subkey list replaced by its parent's (which holds KES)."""
    data = bytearray(source.read_bytes())
    kes = _nk(bytes(data), b"KES")
    protected = _nk(bytes(data), b"protected")
    count, list_offset = (
        struct.unpack_from("<I", data, 4096 + protected + 4 + 0x14)[0],
        (struct.unpack_from("<I", data, 4096 + protected + 4 + 0x1C)[0]),
    )
    struct.pack_into("<I", data, 4096 + kes + 4 + 0x14, count)
    struct.pack_into("<I", data, 4096 + kes + 4 + 0x1C, list_offset)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data))


def write_one_bad_line(software: Path, target: Path) -> None:
    """Copy the SOFTWARE export with one value damaged as a bad copy or hand edit would leave it.

    7-Zip's ``EstimatedSize`` gets a ninth hex digit (``dword:0000162e0``), which regedit would
    refuse to import; every other line is as regedit wrote it.
    """
    text = software.read_bytes()[2:].decode("utf-16-le")
    good = '"EstimatedSize"=dword:0000162e'
    assert text.count(good) == 1
    write_utf16(target, text.replace(good, good + "0").replace("\r\n", "\n"))


# --- Amcache.hve -------------------------------------------------------------------------------
# Laid out as current Windows 10 and 11 write C:\Windows\AppCompat\Programs\Amcache.hve: the
# root key {11517B7C-E79D-4e20-961B-75A811715ADD} holds Root, whose Inventory* keys hold one
# subkey per entry with the value names and types Windows uses (strings for almost everything,
# DWORDs for flags, QWORDs for sizes and USNs). The host had Kaspersky Endpoint Security 12.3
# installed and, before it, Kaspersky Internet Security 21.3, since removed: only an executable
# entry is left of it. Hashes are made up (40 hex digits, as Windows writes them after "0000").

AMCACHE_ROOT = "{11517B7C-E79D-4e20-961B-75A811715ADD}"
KES_PROGRAM = "0000a4c1e2f0d3b5968778695a4b3c2d1e0f9a8b7c6d"
SEVENZIP_PROGRAM = "0000f3e2d1c0b9a8978675645342312f1e0d9c8b7a69"
CALC_PROGRAM = "0000c2b47d9e1f3a5c7e9b0d2f4a6c8e0b2d4f6a8c0e"
OS_PROGRAM = "0000f519feec486de87ed73cb92d3cac802400000000"
KIS_PROGRAM = "00009e8d7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b"
CALC_FULL = "Microsoft.WindowsCalculator_11.2307.4.0_x64__8wekyb3d8bbwe"


def _application(program_id: str, values: dict[str, Value]) -> tuple[str, dict[str, Value]]:
    base: dict[str, Value] = {
        "ProgramId": sz(program_id),
        "ProgramInstanceId": sz("0000" + program_id[4:][::-1]),
        "Language": dword(1033),
        "Type": sz("Application"),
        "StoreAppType": sz(""),
        "MsiPackageCode": sz(""),
        "MsiProductCode": sz(""),
        "HiddenArp": dword(0),
        "InboxModernApp": dword(0),
        "OSVersionAtInstallTime": sz("10.0.19045"),
        "PackageFullName": sz(""),
        "ManifestPath": sz(""),
        "BundleManifestPath": sz(""),
        "UninstallString": sz(""),
    }
    base.update(values)
    return (f"Root\\InventoryApplication\\{program_id}", base)


def _file(
    name: str, path: str, sha1: str, program_id: str, values: dict[str, Value]
) -> tuple[str, dict[str, Value]]:
    long_path_hash = f"{name}|{sha1[:16]}"
    base: dict[str, Value] = {
        "ProgramId": sz(program_id),
        "FileId": sz("0000" + sha1),
        "LowerCaseLongPath": sz(path.lower()),
        "LongPathHash": sz(long_path_hash),
        "Name": sz(name),
        "OriginalFileName": sz(name),
        "BinaryType": sz("pe32_i386"),
        "AppxPackageFullName": sz(""),
        "AppxPackageRelativeId": sz(""),
        "Size": qword(1_024_000),
        "Language": dword(0),
        "IsPeFile": dword(1),
        "IsOsComponent": dword(0),
        "Usn": qword(51_540_329_712),
    }
    base.update(values)
    return (f"Root\\InventoryApplicationFile\\{long_path_hash}", base)


def _driver(path: str, sha1: str, values: dict[str, Value]) -> tuple[str, dict[str, Value]]:
    base: dict[str, Value] = {
        "DriverName": sz(path.rsplit("\\", 1)[-1]),
        "Inf": sz(""),
        "WdfVersion": sz("0.0"),
        "DriverPackageStrongName": sz(""),
        "DriverInBox": dword(0),
        "DriverSigned": dword(1),
        "DriverIsKernelMode": dword(1),
        "DriverId": sz("0000" + sha1),
        "DriverType": dword(0x80A),
        "ImageSize": dword(1_302_528),
    }
    base.update(values)
    return (f"Root\\InventoryDriverBinary\\{path.lower().replace(chr(92), '/')}", base)


AMCACHE: Keys = [
    ("Root\\DeviceCensus", {}),
    ("Root\\InventoryApplicationShortcut", {}),
    ("Root\\InventoryDevicePnp", {}),
    ("Root\\InventoryDriverPackage", {}),
    _application(
        KES_PROGRAM,
        {
            "Name": sz("Kaspersky Endpoint Security for Windows"),
            "Version": sz("12.3.0.493"),
            "Publisher": sz("AO Kaspersky Lab"),
            "Source": sz("AddRemoveProgram"),
            "MsiPackageCode": sz("{C4E2B0D8-6A3F-4F1E-9B5D-7A2C8E0F1B3D}"),
            "MsiProductCode": sz(KES_CODE),
            "InstallDate": sz("01/15/2024 10:21:07"),
            "RootDirPath": sz(KES_ROOT.rstrip("\\")),
            "UninstallString": sz(f"MsiExec.exe /I{KES_CODE}"),
            "RegistryKeyPath": sz(
                "HKEY_LOCAL_MACHINE\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion"
                f"\\Uninstall\\{KES_CODE}"
            ),
        },
    ),
    _application(
        SEVENZIP_PROGRAM,
        {
            "Name": sz("7-Zip 23.01 (x64)"),
            "Version": sz("23.01"),
            "Publisher": sz("Igor Pavlov"),
            "Source": sz("AddRemoveProgram"),
            "InstallDate": sz("11/02/2023 08:45:12"),
            "RootDirPath": sz("C:\\Program Files\\7-Zip"),
            "UninstallString": sz('"C:\\Program Files\\7-Zip\\Uninstall.exe"'),
            "RegistryKeyPath": sz(
                "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\7-Zip"
            ),
        },
    ),
    _application(
        CALC_PROGRAM,
        {
            "Name": sz("Windows Calculator"),
            "Version": sz("11.2307.4.0"),
            "Publisher": sz(
                "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US"
            ),
            "Source": sz("AppxPackage"),
            "StoreAppType": sz("Unknown"),
            "InboxModernApp": dword(1),
            "InstallDate": sz("09/14/2023 17:03:55"),
            "PackageFullName": sz(CALC_FULL),
            "RootDirPath": sz(f"C:\\Program Files\\WindowsApps\\{CALC_FULL}"),
            "ManifestPath": sz(f"C:\\Program Files\\WindowsApps\\{CALC_FULL}\\AppxManifest.xml"),
        },
    ),
    _file(
        "avp.exe",
        f"{KES_ROOT}avp.exe",
        "5b7e2c0d4a9f8e1b3c6d2a7f0e9b8c1d4a3f6e2b",
        KES_PROGRAM,
        {
            "Publisher": sz("ao kaspersky lab"),
            "Version": sz("12.3.0.493"),
            "BinFileVersion": sz("12.3.0.493"),
            "ProductName": sz("kaspersky endpoint security for windows"),
            "ProductVersion": sz("12.3.0.493"),
            "BinProductVersion": sz("12.3.0.493"),
            "LinkDate": sz("11/08/2023 14:02:11"),
        },
    ),
    _file(
        "7z.exe",
        "C:\\Program Files\\7-Zip\\7z.exe",
        "0f4a7b2c9e1d8f3a6b5c4d2e1f0a9b8c7d6e5f4a",
        SEVENZIP_PROGRAM,
        {
            "Publisher": sz("igor pavlov"),
            "Version": sz("23.01"),
            "BinFileVersion": sz("23.1.0.0"),
            "ProductName": sz("7-zip"),
            "ProductVersion": sz("23.01"),
            "BinaryType": sz("pe64_amd64"),
            "LinkDate": sz("06/20/2023 00:00:00"),
        },
    ),
    _file(
        "avp.exe",
        "C:\\Program Files (x86)\\Kaspersky Lab\\Kaspersky Internet Security 21.3\\avp.exe",
        "9c1e4b7a2d8f5e0c3b6a9d2f8e1c4b7a0d3f6e9c",
        KIS_PROGRAM,
        {
            "Publisher": sz("ao kaspersky lab"),
            "Version": sz("21.3.10.391"),
            "BinFileVersion": sz("21.3.10.391"),
            "ProductName": sz("kaspersky internet security"),
            "ProductVersion": sz("21.3.10.391"),
            "LinkDate": sz("06/09/2021 11:26:40"),
        },
    ),
    _file(
        "notepad.exe",
        "C:\\Windows\\System32\\notepad.exe",
        "1e2a8b4c7d0f3e6a9b2c5d8e1f4a7b0c3d6e9f2a",
        OS_PROGRAM,
        {
            "Publisher": sz("microsoft corporation"),
            "Version": sz("10.0.19041.3996"),
            "BinFileVersion": sz("10.0.19041.3996"),
            "ProductName": sz("microsoft\u00ae windows\u00ae operating system"),
            "ProductVersion": sz("10.0.19041.3996"),
            "BinaryType": sz("pe64_amd64"),
            "IsOsComponent": dword(1),
            "LinkDate": sz("01/02/2024 07:12:45"),
        },
    ),
    _driver(
        "C:\\Windows\\System32\\drivers\\klif.sys",
        "7d3b9e1f4a6c2e8b0d5f3a9c1e7b4d2f8a6c0e3b",
        {
            "DriverVersion": sz("12.3.0.493"),
            "Product": sz("Kaspersky Endpoint Security for Windows"),
            "ProductVersion": sz("12.3.0.493"),
            "DriverCompany": sz("AO Kaspersky Lab"),
            "Service": sz("klif"),
            "DriverLastWriteTime": sz("11/08/2023 14:02:11"),
        },
    ),
    _driver(
        "C:\\Windows\\System32\\drivers\\tcpip.sys",
        "3a6d9c2f5e8b1a4d7c0f3e6b9a2d5c8f1e4b7a0d",
        {
            "DriverVersion": sz("10.0.19041.3996"),
            "Product": sz("Microsoft\u00ae Windows\u00ae Operating System"),
            "ProductVersion": sz("10.0.19041.3996"),
            "DriverCompany": sz("Microsoft Corporation"),
            "Service": sz("Tcpip"),
            "DriverInBox": dword(1),
            "DriverLastWriteTime": sz("01/02/2024 07:12:45"),
            "DriverType": dword(0x0A),
        },
    ),
]


def build_amcache() -> None:
    """``hive/wks-fin-0077/Windows/AppCompat/Programs/Amcache.hve`` (as on a mounted drive),
    ``reg/amcache.reg`` (the same keys as a regedit export would show them, for reading) and
    ``hive/amcache-truncated/Amcache.hve`` (cut inside its first bin)."""
    hive = HERE / "hive" / "wks-fin-0077" / "Windows" / "AppCompat" / "Programs" / "Amcache.hve"
    prefix = "HKEY_LOCAL_MACHINE\\AMCACHE"
    build_hive(hive, "\\AppCompat\\Programs\\Amcache.hve", prefix, AMCACHE, AMCACHE_ROOT)
    write_utf16(HERE / "reg" / "amcache.reg", regedit_text(prefix, AMCACHE))
    truncated = HERE / "hive" / "amcache-truncated" / "Amcache.hve"
    truncated.parent.mkdir(parents=True, exist_ok=True)
    truncated.write_bytes(hive.read_bytes()[:6144])


def main() -> None:
    """Write every generated asset."""
    reg = HERE / "reg" / "wks-fin-0042"
    current = [(k.replace("ControlSet001", "CurrentControlSet"), v) for k, v in SYSTEM]
    current = [(k, v) for k, v in current if k.startswith("CurrentControlSet")]
    write_utf16(reg / "software.reg", regedit_text("HKEY_LOCAL_MACHINE\\SOFTWARE", SOFTWARE))
    write_utf16(reg / "system.reg", regedit_text("HKEY_LOCAL_MACHINE\\SYSTEM", current))
    write_utf16(reg / "users.reg", regedit_text(f"HKEY_USERS\\{SID}", NTUSER))
    write_utf16(HERE / "reg" / "empty.reg", "Windows Registry Editor Version 5.00\n\n")
    write_one_bad_line(reg / "software.reg", HERE / "reg" / "one-bad-line.reg")
    noise = random.Random(1017)
    (HERE / "reg" / "binary.reg").write_bytes(
        b"MZ\x90\x00" + bytes(noise.randrange(256) for _ in range(2044))
    )

    hive = HERE / "hive" / "wks-fin-0042"
    build_hive(
        hive / "SOFTWARE",
        "emRoot\\System32\\Config\\SOFTWARE",
        "HKEY_LOCAL_MACHINE\\SOFTWARE",
        [("Microsoft", {}), *SOFTWARE],
    )
    build_hive(hive / "SYSTEM", "SYSTEM", "HKEY_LOCAL_MACHINE\\SYSTEM", SYSTEM)
    build_hive(
        hive / "Users" / "alice" / "NTUSER.DAT",
        "\\??\\C:\\Users\\alice\\ntuser.dat",
        "HKEY_CURRENT_USER",
        NTUSER,
    )
    build_hive(HERE / "hive" / "empty" / "SOFTWARE", "emRoot\\System32\\Config\\SOFTWARE", "", [])
    truncated = HERE / "hive" / "truncated" / "SOFTWARE"
    truncated.parent.mkdir(parents=True, exist_ok=True)
    truncated.write_bytes((hive / "SOFTWARE").read_bytes()[:6144])
    make_cyclic(hive / "SOFTWARE", HERE / "hive" / "cyclic" / "SOFTWARE")
    build_amcache()


if __name__ == "__main__":
    main()
