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


def empty_hive(file_name: str) -> bytes:
    """A valid hive holding only its root key: base block, one 4 KiB bin, root nk and sk."""
    root_offset = 0x20
    name = b"ROOT"
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


def build_hive(path: Path, file_name: str, prefix: str, keys: Keys) -> None:
    """Write an empty hive to ``path`` and merge ``keys`` into it with hivexregedit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(empty_hive(file_name))
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


if __name__ == "__main__":
    main()
