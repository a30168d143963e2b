"""Recognise executables by their first bytes, and read what identifies them.

PE (Windows executables and drivers), ELF (Linux executables, shared objects, kernel modules) and
Mach-O (macOS, thin or universal) are told apart by their magic numbers. From a PE the version
resource and the Authenticode signer are read; from a Mach-O the code signature's identifier and
team ID. Everything here works on bytes already in memory (or a read-only mapping) and never
raises on a malformed file: a parse that fails returns what it could read plus a problem string.

``pefile`` and ``asn1crypto`` are imported inside the functions that need them, so that walking a
tree of ELF files costs neither import.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HEADER_SIZE = 64
"""How many bytes are read from every file to decide whether it is an executable."""

MAX_E_LFANEW = 1 << 20
"""A DOS header pointing further than this at its PE header is not taken for a PE."""

MAX_CERT_TABLE = 4 << 20
"""Authenticode certificate tables larger than this are not parsed (real ones are tens of KiB)."""

MAX_STRING = 256
"""Version-resource strings are cut to this many characters."""


class Format(enum.StrEnum):
    """The executable formats evict recognises."""

    PE = "pe"
    ELF = "elf"
    MACHO = "macho"


_MACHO_THIN = {
    b"\xfe\xed\xfa\xce",  # MH_MAGIC, big-endian 32-bit
    b"\xce\xfa\xed\xfe",  # MH_CIGAM, little-endian 32-bit
    b"\xfe\xed\xfa\xcf",  # MH_MAGIC_64, big-endian
    b"\xcf\xfa\xed\xfe",  # MH_CIGAM_64, little-endian (x86-64, arm64)
}
_MACHO_FAT = {b"\xca\xfe\xba\xbe": ">", b"\xca\xfe\xba\xbf": ">", b"\xbe\xba\xfe\xca": "<"}
_MAX_FAT_ARCHS = 30
"""Java class files share the 0xCAFEBABE magic; their next word (the class-file version, 45 and
up) tells them apart from a universal binary's architecture count (``file(1)`` does the same)."""


def identify(header: bytes, fd: int | None = None, size: int = 0) -> Format | None:
    """Say which executable format ``header`` (the first bytes of a file) starts, if any.

    A DOS ``MZ`` header is only a PE when ``PE\\0\\0`` sits at its ``e_lfanew`` offset, which
    usually lies past the first 64 bytes: with ``fd`` given, those four bytes are read from it.

    :param header: at least the first 64 bytes of the file (fewer if the file is shorter).
    :param fd: an open descriptor of the file, for the one extra read a PE needs.
    :param size: the file's size, to refuse an ``e_lfanew`` pointing past its end.
    """
    magic = header[:4]
    if magic == b"\x7fELF":
        return Format.ELF
    if magic in _MACHO_THIN:
        return Format.MACHO
    order = _MACHO_FAT.get(magic)
    if order is not None and len(header) >= 8:
        count = struct.unpack_from(order + "I", header, 4)[0]
        return Format.MACHO if 0 < count < _MAX_FAT_ARCHS else None
    if header[:2] == b"MZ" and len(header) >= HEADER_SIZE:
        e_lfanew = struct.unpack_from("<I", header, 0x3C)[0]
        if e_lfanew < 0x40 or e_lfanew > MAX_E_LFANEW or (size and e_lfanew + 4 > size):
            return None
        if e_lfanew + 4 <= len(header):
            signature = header[e_lfanew : e_lfanew + 4]
        elif fd is not None:
            try:
                signature = os.pread(fd, 4, e_lfanew)
            except OSError:
                return None
        else:
            return None
        return Format.PE if signature == b"PE\0\0" else None
    return None


@dataclass(frozen=True, slots=True)
class PeInfo:
    """What a PE file says about itself."""

    strings: Mapping[str, str] = field(default_factory=dict)
    """The version resource's StringFileInfo: CompanyName, ProductName, OriginalFilename, ..."""
    fixed_version: str = ""
    """``VS_FIXEDFILEINFO``'s file version (``21.3.10.391``), used when no FileVersion string."""
    signer: str = ""
    """The Authenticode leaf signer's subject, RFC 4514 order (``CN=..., O=..., C=RU``)."""
    problem: str = ""
    """Why part of the file could not be read (truncated, malformed); empty when all was read."""


def read_pe(data: Any, size: int) -> PeInfo:
    """Read the version resource and Authenticode signer of a PE image.

    Only the resource and security directories are parsed (``fast_load``), so a large PE costs
    little more than a small one. A truncated or malformed file gives what could be read and a
    ``problem``; nothing is raised.

    :param data: the whole file: ``bytes`` or a read-only ``mmap``.
    :param size: the file's length in bytes.
    """
    import pefile  # type: ignore[import-untyped]

    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as e:
        return PeInfo(problem=f"not a valid PE: {e.value}")
    except Exception as e:  # pefile raises many types on hostile input; each is a problem value
        return PeInfo(problem=f"not a valid PE: {type(e).__name__}: {e}")
    try:
        return _read_pe(pe, data, size)
    except Exception as e:  # as above: a malformed file is reported, never fatal
        return PeInfo(problem=f"malformed PE: {type(e).__name__}: {e}")
    finally:
        pe.close()


def _read_pe(pe: Any, data: Any, size: int) -> PeInfo:
    """The body of :func:`read_pe`, once the headers have parsed."""
    import pefile

    problems: list[str] = []
    truncated = _truncation(pe, size)
    if truncated:
        problems.append(truncated)
    try:
        pe.parse_data_directories(
            directories=[
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"],
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"],
            ]
        )
    except (pefile.PEFormatError, ValueError, struct.error, IndexError) as e:
        problems.append(f"resource directory unreadable: {e}")
    strings, fixed = _version_info(pe)
    if not truncated:
        resource_warnings = [w for w in pe.get_warnings() if "resource" in w.lower()]
        if resource_warnings:
            problems.append(resource_warnings[0][:MAX_STRING])
        elif not strings and _has_version_resource(pe):
            problems.append("version resource unreadable")
    signer, signer_problem = _signer(pe, data, size)
    if signer_problem:
        problems.append(signer_problem)
    return PeInfo(strings, fixed, signer, "; ".join(problems))


def _truncation(pe: Any, size: int) -> str:
    """Name the first section whose raw data runs past the end of the file, if any."""
    for section in pe.sections:
        end = section.PointerToRawData + section.SizeOfRawData
        if section.SizeOfRawData and end > size:
            name = section.Name.rstrip(b"\0").decode("ascii", "replace")
            return f"truncated: section {name} ends at byte {end} but the file has {size}"
    return ""


def _has_version_resource(pe: Any) -> bool:
    import pefile

    resources = getattr(pe, "DIRECTORY_ENTRY_RESOURCE", None)
    if resources is None:
        return False
    version = pefile.RESOURCE_TYPE["RT_VERSION"]
    return any(entry.id == version for entry in resources.entries)


def _version_info(pe: Any) -> tuple[dict[str, str], str]:
    """The StringFileInfo strings (first table wins per key) and the fixed file version."""
    strings: dict[str, str] = {}
    for file_info in getattr(pe, "FileInfo", None) or ():
        for entry in file_info:
            if getattr(entry, "Key", b"") != b"StringFileInfo":
                continue
            for table in getattr(entry, "StringTable", ()):
                for key, value in table.entries.items():
                    name = _text(key)
                    text = _text(value)
                    if name and text and name not in strings:
                        strings[name] = text
    fixed = ""
    for info in getattr(pe, "VS_FIXEDFILEINFO", None) or ():
        ms, ls = info.FileVersionMS, info.FileVersionLS
        if ms or ls:
            fixed = f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
            break
    return strings, fixed


def _text(value: bytes | str) -> str:
    """A version-resource string, decoded, without NULs or edge spaces, and bounded."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.replace("\0", "").strip()[:MAX_STRING]


def _signer(pe: Any, data: Any, size: int) -> tuple[str, str]:
    """The Authenticode leaf signer's subject from the certificate table, and any problem."""
    import pefile

    index = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(directories) <= index:
        return "", ""
    offset = directories[index].VirtualAddress  # a file offset, unlike every other directory
    length = directories[index].Size
    if not offset or not length:
        return "", ""
    if offset + length > size:
        return "", "certificate table runs past the end of the file"
    if length > MAX_CERT_TABLE:
        return "", f"certificate table of {length} bytes not read"
    return authenticode_signer(bytes(data[offset : offset + length]))


def authenticode_signer(table: bytes) -> tuple[str, str]:
    """Find the first PKCS#7 signature in a ``WIN_CERTIFICATE`` table and name its signer.

    The signer is the certificate the SignerInfo points at (issuer and serial number), not
    whichever certificate comes first. The chain is not verified: evict reports who the file
    says signed it, which is evidence, not proof.

    :param table: the bytes of the PE's certificate table.
    :returns: ``(subject, problem)``; the subject in RFC 4514 order joined by ``", "``.
    """
    position = 0
    while position + 8 <= len(table):
        length, revision, kind = struct.unpack_from("<IHH", table, position)
        if length < 8 or position + length > len(table):
            return "", "malformed certificate table entry"
        if revision == 0x0200 and kind == 0x0002:  # WIN_CERT_REVISION_2_0, PKCS_SIGNED_DATA
            return _pkcs7_signer(table[position + 8 : position + length])
        position += (length + 7) & ~7
    return "", ""


_RDN_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.15": "businessCategory",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "E",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}


def _pkcs7_signer(der: bytes) -> tuple[str, str]:
    """The subject of the certificate named by the first SignerInfo of a PKCS#7 SignedData."""
    from asn1crypto import cms  # type: ignore[import-untyped]

    try:
        content = cms.ContentInfo.load(der)
        signed = content["content"]
        signer_infos = signed["signer_infos"]
        if not len(signer_infos):
            return "", "signature without a signer"
        sid = signer_infos[0]["sid"]
        if sid.name != "issuer_and_serial_number":
            return "", "signer identified by key, not by certificate"
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for choice in signed["certificates"] or ():
            if choice.name != "certificate":
                continue
            tbs = choice.chosen["tbs_certificate"]
            if tbs["serial_number"].native == serial and tbs["issuer"] == issuer:
                return format_name(tbs["subject"]), ""
        return "", "the signer's certificate is not in the signature"
    except Exception as e:  # asn1crypto raises several types on hostile DER; each is a value
        return "", f"malformed Authenticode signature: {type(e).__name__}"


def format_name(name: Any) -> str:
    """Render an X.509 name most-specific first: ``CN=AO Kaspersky Lab, O=..., C=RU``."""
    parts: list[str] = []
    for rdn in reversed(list(name.chosen)):
        for attribute in rdn:
            oid = attribute["type"].dotted
            value = attribute["value"].native
            text = value if isinstance(value, str) else str(value)
            parts.append(f"{_RDN_NAMES.get(oid, oid)}={_escape(text)}")
    return ", ".join(parts)


def _escape(value: str) -> str:
    """Escape an attribute value as RFC 4514 asks."""
    out = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and len(out) > 1:
        out = out[:-1] + "\\ "
    return out


@dataclass(frozen=True, slots=True)
class MachOSigning:
    """What a Mach-O's embedded code signature says: its identifier and Apple team ID."""

    identifier: str = ""
    team_id: str = ""
    problem: str = ""


_LC_CODE_SIGNATURE = 0x1D
_CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
_CSMAGIC_CODEDIRECTORY = 0xFADE0C02
_CSSLOT_CODEDIRECTORY = 0
_MAX_LOAD_COMMANDS = 1 << 20
_MAX_CS_STRING = 128


def read_macho(data: Any, size: int) -> MachOSigning:
    """Read the code signature of a Mach-O (the first slice of a universal binary).

    Only the load commands and the CodeDirectory header are touched; the page hashes are not
    read or checked.

    :param data: the whole file: ``bytes`` or a read-only ``mmap``.
    :param size: the file's length in bytes.
    """
    try:
        base = 0
        magic = bytes(data[:4])
        if magic in _MACHO_FAT:
            order = _MACHO_FAT[magic]
            wide = magic == b"\xca\xfe\xba\xbf"
            entry = ">iiQQI" if wide else order + "iiIII"
            base = struct.unpack_from(entry, data, 8)[2]
            magic = bytes(data[base : base + 4])
        if magic not in _MACHO_THIN:
            return MachOSigning(problem="universal binary without a Mach-O slice")
        order = "<" if magic[0] in (0xCE, 0xCF) else ">"
        is64 = magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
        ncmds, sizeofcmds = struct.unpack_from(order + "II", data, base + 16)
        if sizeofcmds > _MAX_LOAD_COMMANDS:
            return MachOSigning(problem=f"{sizeofcmds} bytes of load commands")
        position = base + (32 if is64 else 28)
        end = position + sizeofcmds
        for _ in range(ncmds):
            if position + 8 > end:
                break
            cmd, cmdsize = struct.unpack_from(order + "II", data, position)
            if cmd == _LC_CODE_SIGNATURE:
                offset, length = struct.unpack_from(order + "II", data, position + 8)
                return _code_directory(data, base + offset, length, size)
            if cmdsize < 8:
                return MachOSigning(problem="malformed load command")
            position += cmdsize
        return MachOSigning()
    except struct.error:
        return MachOSigning(problem="truncated Mach-O header")


def _code_directory(data: Any, start: int, length: int, size: int) -> MachOSigning:
    """Identifier and team ID from the CodeDirectory of an embedded signature (big-endian)."""
    if start + length > size or length < 12:
        return MachOSigning(problem="code signature runs past the end of the file")
    magic, _, count = struct.unpack_from(">III", data, start)
    if magic != _CSMAGIC_EMBEDDED_SIGNATURE:
        return MachOSigning(problem="code signature without a SuperBlob")
    for i in range(min(count, length // 8)):
        slot, offset = struct.unpack_from(">II", data, start + 12 + 8 * i)
        if slot != _CSSLOT_CODEDIRECTORY:
            continue
        cd = start + offset
        if offset + 52 > length:
            return MachOSigning(problem="truncated CodeDirectory")
        cd_magic, _, version = struct.unpack_from(">III", data, cd)
        if cd_magic != _CSMAGIC_CODEDIRECTORY:
            return MachOSigning(problem="malformed CodeDirectory")
        ident_offset = struct.unpack_from(">I", data, cd + 20)[0]
        team_offset = struct.unpack_from(">I", data, cd + 48)[0] if version >= 0x20200 else 0
        limit = start + length
        return MachOSigning(
            identifier=_cstring(data, cd + ident_offset, limit) if ident_offset else "",
            team_id=_cstring(data, cd + team_offset, limit) if team_offset else "",
        )
    return MachOSigning()


def _cstring(data: Any, start: int, limit: int) -> str:
    """A NUL-terminated ASCII string at ``start``, at most :data:`_MAX_CS_STRING` long."""
    raw = bytes(data[start : min(limit, start + _MAX_CS_STRING)])
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")
