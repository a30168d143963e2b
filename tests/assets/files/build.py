"""Rebuild the sample executables under ``tests/assets/files`` from the sources in ``src/``.

The test suite never runs this: it reads the committed binaries. Rebuilding needs Debian's
``gcc-mingw-w64-x86-64`` (compiler and ``windres``), ``osslsigncode``, ``openssl`` and ``gcc``::

    apt-get install gcc-mingw-w64-x86-64 osslsigncode openssl gcc
    python tests/assets/files/build.py

What it makes, and why each file is there:

- ``svc32.sys``: a native-subsystem PE (a kernel driver's shape) whose version resource says it
  is ``klif.sys`` from AO Kaspersky Lab: a renamed Kaspersky driver.
- ``avp.exe``: a console PE with Kaspersky Endpoint Security's version resource, Authenticode
  signed with a self-signed certificate ``CN=AO Kaspersky Lab, O=AO Kaspersky Lab, L=Moscow,
  C=RU`` (the key is thrown away after signing).
- ``probe.exe``: a third-party PE (Contoso) whose data mentions klif.sys, avp.exe and
  "AO Kaspersky Lab", as antivirus-probing malware does: must not be reported as Kaspersky.
- ``truncated.exe``: ``avp.exe`` cut off inside its resource section.
- ``kesl-control``: a static x86-64 ELF executable.
- ``kav``: a thin x86-64 Mach-O executable with an ``LC_CODE_SIGNATURE`` whose CodeDirectory
  carries identifier ``com.kaspersky.kav`` and team ID ``2Y8XE5CQ94``; ``kav-universal`` wraps
  it in a fat (universal) header. Both are laid out byte for byte as ``<mach-o/loader.h>``,
  ``<mach-o/fat.h>`` and ``cs_blobs.h`` define them; there is no Apple linker here.
- ``klif.kext/``: a kernel-extension bundle holding that Mach-O and its ``Info.plist``.
- ``README.txt``: text that mentions Kaspersky; not an executable.
- ``hostile/``: damaged copies: a DOS header whose ``e_lfanew`` points 4 GiB away, a PE claiming
  65535 sections and a resource directory far outside the image, a PE whose certificate table
  claims 2 GiB, a PE whose PKCS#7 signature is corrupted, a Mach-O with 4 billion load commands
  of size zero, and an empty ``.exe``.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
MINGW = "x86_64-w64-mingw32-"
SIGNING_TIME = "1700000000"
"""A fixed Authenticode signing time (2023-11-14), so rebuilds differ only in the key."""

PE_FLAGS = ["-Os", "-s", "-nostdlib", "-nostartfiles", "-Wl,--no-insert-timestamp"]


def run(*args: str | Path) -> None:
    """Run one build command, echoing it (and its errors only)."""
    print("+", " ".join(str(a) for a in args))
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def pe(name: str, out: Path, tmp: Path, *link: str) -> None:
    """Compile ``src/<name>.c`` with the version resource ``src/<name>.rc`` into ``out``."""
    res = tmp / f"{name}.res.o"
    run(MINGW + "windres", "-O", "coff", SRC / f"{name}.rc", "-o", res)
    run(MINGW + "gcc", *PE_FLAGS, *link, SRC / f"{name}.c", res, "-o", out)


def sign(unsigned: Path, out: Path, tmp: Path) -> None:
    """Authenticode-sign ``unsigned`` with a fresh self-signed "AO Kaspersky Lab" certificate."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subject = "/C=RU/L=Moscow/O=AO Kaspersky Lab/CN=AO Kaspersky Lab"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
        "-days", "3650", "-keyout", key, "-out", cert)  # fmt: skip
    run("osslsigncode", "sign", "-certs", cert, "-key", key, "-h", "sha256",
        "-n", "Kaspersky Endpoint Security for Windows", "-time", SIGNING_TIME,
        "-in", unsigned, "-out", out)  # fmt: skip


def truncate_in_resources(source: Path, out: Path) -> None:
    """Copy ``source`` up to 16 bytes into its ``.rsrc`` section: headers intact, data cut."""
    data = source.read_bytes()
    e_lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    sections, optional_size = struct.unpack_from("<H12xH", data, e_lfanew + 6)
    table = e_lfanew + 24 + optional_size
    for i in range(sections):
        name, raw_offset = struct.unpack_from("<8s12xI", data, table + 40 * i)
        if name.rstrip(b"\0") == b".rsrc":
            out.write_bytes(data[: raw_offset + 16])
            return
    raise SystemExit(f"{source}: no .rsrc section")


def data_directory(data: bytearray, index: int) -> int:
    """The file offset of the optional header's data directory ``index`` (PE32 or PE32+)."""
    e_lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    optional = e_lfanew + 24
    magic = struct.unpack_from("<H", data, optional)[0]
    return optional + (112 if magic == 0x20B else 96) + 8 * index


def hostile(out: Path) -> None:
    """Damaged copies of the samples, each breaking one thing a parser trusts."""
    out.mkdir(exist_ok=True)
    dos = bytearray(128)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0xFFFFFFF0)
    (out / "far-lfanew.exe").write_bytes(bytes(dos))

    sections = bytearray((HERE / "probe.exe").read_bytes())
    e_lfanew = struct.unpack_from("<I", sections, 0x3C)[0]
    struct.pack_into("<H", sections, e_lfanew + 6, 0xFFFF)
    struct.pack_into("<II", sections, data_directory(sections, 2), 0x7FFFFFF0, 0x7FFFFFF0)
    (out / "many-sections.exe").write_bytes(bytes(sections))

    certs = bytearray((HERE / "avp.exe").read_bytes())
    struct.pack_into("<I", certs, data_directory(certs, 4) + 4, 0x7FFFFFF0)
    (out / "huge-cert-table.exe").write_bytes(bytes(certs))

    cms = bytearray((HERE / "avp.exe").read_bytes())
    table = struct.unpack_from("<I", cms, data_directory(cms, 4))[0]
    for i in range(table + 8 + 40, table + 8 + 400):
        cms[i] ^= 0x5A
    (out / "corrupt-signature.exe").write_bytes(bytes(cms))

    macho_bytes = bytearray((HERE / "kav").read_bytes())
    struct.pack_into("<II", macho_bytes, 16, 0xFFFFFFFF, 4096 - 32)
    struct.pack_into("<II", macho_bytes, 32, 0x19, 0)
    (out / "zero-load-command").write_bytes(bytes(macho_bytes))

    (out / "empty.exe").write_bytes(b"")


def code_directory(identifier: str, team_id: str, code: bytes) -> bytes:
    """A CS_CodeDirectory (version 0x20400, SHA-256 page hashes of ``code``), big-endian."""
    page = 4096
    slots = [hashlib.sha256(code[i : i + page]).digest() for i in range(0, len(code), page)]
    header_size = 88
    ident = identifier.encode() + b"\0"
    team = team_id.encode() + b"\0"
    ident_offset = header_size
    team_offset = ident_offset + len(ident)
    hash_offset = team_offset + len(team)
    length = hash_offset + 32 * len(slots)
    header = struct.pack(
        ">9I4B4I4Q",
        0xFADE0C02,  # CSMAGIC_CODEDIRECTORY
        length,
        0x20400,  # version: scatter, team id, codeLimit64, exec segment
        0,  # flags
        hash_offset,
        ident_offset,
        0,  # nSpecialSlots
        len(slots),  # nCodeSlots
        len(code),  # codeLimit
        32,  # hashSize
        2,  # hashType: CS_HASHTYPE_SHA256
        0,  # platform
        12,  # pageSize: log2(4096)
        0,  # spare2
        0,  # scatterOffset
        team_offset,
        0,  # spare3
        0,  # codeLimit64
        0,  # execSegBase
        len(code),  # execSegLimit
        1,  # execSegFlags: CS_EXECSEG_MAIN_BINARY
    )
    assert len(header) == header_size
    return header + ident + team + b"".join(slots)


def macho(identifier: str, team_id: str) -> bytes:
    """A thin x86-64 MH_EXECUTE image whose LC_CODE_SIGNATURE names ``team_id``."""
    page = 4096
    ncmds, sizeofcmds = 2, 72 + 16
    body = bytearray(page)  # header, load commands, then zeroes up to the signature
    signature_offset = page
    cd = code_directory(identifier, team_id, bytes(page))  # hashes are fixed up below
    superblob_size = 12 + 8 + len(cd)
    struct.pack_into(
        "<7I4x",
        body,
        0,
        0xFEEDFACF,  # MH_MAGIC_64
        0x01000007,  # CPU_TYPE_X86_64
        3,  # CPU_SUBTYPE_X86_64_ALL
        2,  # MH_EXECUTE
        ncmds,
        sizeofcmds,
        0x00200085,  # MH_NOUNDEFS | MH_DYLDLINK | MH_TWOLEVEL | MH_PIE
    )
    struct.pack_into(
        "<II16sQQQQiiII",
        body,
        32,
        0x19,  # LC_SEGMENT_64
        72,
        b"__LINKEDIT",
        0x100001000,  # vmaddr
        page,  # vmsize
        signature_offset,  # fileoff
        superblob_size,  # filesize
        1,  # maxprot: VM_PROT_READ
        1,  # initprot
        0,  # nsects
        0,  # flags
    )
    struct.pack_into("<IIII", body, 32 + 72, 0x1D, 16, signature_offset, superblob_size)
    cd = code_directory(identifier, team_id, bytes(body))
    superblob = struct.pack(">III", 0xFADE0CC0, superblob_size, 1)  # CSMAGIC_EMBEDDED_SIGNATURE
    superblob += struct.pack(">II", 0, 20)  # CSSLOT_CODEDIRECTORY at offset 20
    return bytes(body) + superblob + cd


def fat(slice_: bytes) -> bytes:
    """A universal (fat) binary holding one x86-64 slice, aligned to 4096 bytes."""
    header = struct.pack(">II", 0xCAFEBABE, 1)
    header += struct.pack(">iiIII", 0x01000007, 3, 4096, len(slice_), 12)
    return header.ljust(4096, b"\0") + slice_


INFO_PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>CFBundleExecutable</key>
\t<string>klif</string>
\t<key>CFBundleIdentifier</key>
\t<string>com.kaspersky.kext.klif</string>
\t<key>CFBundleName</key>
\t<string>klif</string>
\t<key>CFBundlePackageType</key>
\t<string>KEXT</string>
\t<key>CFBundleShortVersionString</key>
\t<string>11.2.0</string>
</dict>
</plist>
"""

README = """Notes from the help desk

Kaspersky Endpoint Security was removed from this machine on 2024-09-29 (ticket 4411).
The klif.sys driver and avp.exe are gone; see the removal checklist.
"""


def main() -> None:
    """Build every sample into ``tests/assets/files``."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        native = ["-Wl,--subsystem,native", "-Wl,--entry,DriverEntry"]
        pe("driver", HERE / "svc32.sys", tmp, *native)
        console = ["-Wl,--subsystem,console", "-Wl,--entry,mainCRTStartup"]
        pe("agent", tmp / "avp-unsigned.exe", tmp, *console)
        sign(tmp / "avp-unsigned.exe", tmp / "avp.exe", tmp)
        shutil.copyfile(tmp / "avp.exe", HERE / "avp.exe")
        pe("probe", HERE / "probe.exe", tmp, *console)
    truncate_in_resources(HERE / "avp.exe", HERE / "truncated.exe")
    run("gcc", "-Os", "-s", "-static", "-nostdlib", "-Wl,--build-id=none",
        SRC / "elf.c", "-o", HERE / "kesl-control")  # fmt: skip
    thin = macho("com.kaspersky.kav", "2Y8XE5CQ94")
    (HERE / "kav").write_bytes(thin)
    (HERE / "kav-universal").write_bytes(fat(thin))
    kext = HERE / "klif.kext" / "Contents"
    shutil.rmtree(HERE / "klif.kext", ignore_errors=True)
    (kext / "MacOS").mkdir(parents=True)
    (kext / "Info.plist").write_text(INFO_PLIST)
    (kext / "MacOS" / "klif").write_bytes(macho("com.kaspersky.kext.klif", "2Y8XE5CQ94"))
    (HERE / "README.txt").write_text(README)
    hostile(HERE / "hostile")
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and SRC not in path.parents and path.suffix not in (".py",):
            print(f"{path.relative_to(HERE)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
