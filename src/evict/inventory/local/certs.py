"""Root certificates this host trusts: the system trust store.

Kaspersky's products install their own root CA so that they can inspect HTTPS traffic, and it
stays trusted after a careless removal; a root CA is therefore evidence in its own right. The
stores read are the ones OpenSSL, GnuTLS and NSS are built to use on Debian/Ubuntu, Alpine,
Fedora/RHEL and SUSE: the administrator's source folders first (so a finding names the file that
put the certificate there), then the generated folders and bundles.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from evict.inventory.interface import Collector, Problems, SourceInputError
from evict.inventory.local._fs import is_real_root, list_dir, note, read_bounded, resolve_in_root
from evict.model.observations import Ident, Kind, Observation

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

TRUST_DIRS = (
    "/usr/local/share/ca-certificates",
    "/etc/pki/ca-trust/source/anchors",
    "/etc/pki/trust/anchors",
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
)
"""Folders of single certificates (``*.crt``, ``*.pem``), most specific first."""

TRUST_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
)
"""Concatenated bundles that update-ca-certificates / update-ca-trust generate."""

CERT_SUFFIXES = (".crt", ".pem", ".cer")

MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""The largest bundle read; Mozilla's full set is about 220 kB."""

MAX_CERT_BYTES = 1024 * 1024
"""The largest single certificate file read."""

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


class TrustStoreCollector(Collector):
    """One observation per distinct trusted root certificate (by SHA-1 fingerprint)."""

    name = "trust_store"

    def available(self) -> bool:
        """Whether any trust store folder or bundle exists on this host."""
        return any(resolve_in_root(self.root, p) is not None for p in TRUST_DIRS + TRUST_BUNDLES)

    def _files(self, problems: Problems) -> list[tuple[str, Path, int]]:
        """Certificate files as (host path, path to read, size limit), in reading order."""
        real_root = is_real_root(self.root)
        files: list[tuple[str, Path, int]] = []

        def add(where: str, entry_path: str, limit: int) -> None:
            # On the running host a link cannot lead anywhere but the host itself; in a mounted
            # image it is resolved inside the image.
            real = Path(entry_path) if real_root else resolve_in_root(self.root, where)
            if real is not None:
                files.append((where, real, limit))

        for folder in TRUST_DIRS:
            real = resolve_in_root(self.root, folder)
            if real is None:
                continue
            for entry in list_dir(real, problems):
                where = f"{folder}/{entry.name}"
                if entry.name.endswith(CERT_SUFFIXES) and where not in TRUST_BUNDLES:
                    add(where, entry.path, MAX_CERT_BYTES)
                elif folder.startswith("/usr/local") and entry.is_dir(follow_symlinks=False):
                    # update-ca-certificates reads one level of sub-folders here
                    for sub in list_dir(Path(entry.path), problems):
                        if sub.name.endswith(CERT_SUFFIXES):
                            add(f"{where}/{sub.name}", sub.path, MAX_CERT_BYTES)
        for bundle in TRUST_BUNDLES:
            real = resolve_in_root(self.root, bundle)
            if real is not None:
                files.append((bundle, real, MAX_BUNDLE_BYTES))
        return files

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """Read every trust store file; a corrupt certificate is recorded, the rest still read."""
        from cryptography import x509  # ~60 ms to import: only when a trust store is read

        seen_files: set[tuple[int, int]] = set()
        seen_blocks: set[bytes] = set()
        found: dict[str, Observation] = {}
        for where, real, limit in self._files(problems):
            try:
                info = os.stat(real)
                if (info.st_dev, info.st_ino) in seen_files:
                    continue  # the same file under another name (hash links, bundle links)
                seen_files.add((info.st_dev, info.st_ino))
                data = read_bounded(real, limit)
            except FileNotFoundError:
                continue  # a dangling link: nothing is trusted through it
            except OSError as e:
                note(problems, f"{where}: cannot read: {e.strerror or e}")
                continue
            except SourceInputError as e:  # too large, or not a regular file
                note(problems, str(e))
                continue
            with warnings.catch_warnings():
                # NOTE: some long-lived roots carry negative serial numbers; cryptography
                # warns about them but reads them, and so do we.
                warnings.simplefilter("ignore")
                for index, der in _der_blocks(data, where, seen_blocks, problems):
                    try:
                        cert = x509.load_der_x509_certificate(der)
                        observation = _observation(cert, der, where, f"local:{self.name}")
                    except (ValueError, TypeError) as e:
                        # NOTE: cryptography parses names lazily, and a subject attribute of a
                        # type its OID never has raises TypeError from ``cert.subject``.
                        note(problems, f"{where}: certificate {index} is corrupt: {e}")
                        continue
                    fingerprint = observation.ident(Ident.CERT_FINGERPRINT) or ""
                    found.setdefault(fingerprint, observation)
        return list(found.values())


_PEM_END = b"-----END CERTIFICATE-----"


def _der_blocks(
    data: bytes, where: str, seen: set[bytes], problems: Problems
) -> Iterable[tuple[int, bytes]]:
    """(number, DER bytes) of each certificate in ``data`` whose PEM text is not in ``seen``."""
    if _PEM_BEGIN not in data:
        if data[:1] == b"\x30" and data not in seen:  # a DER file named .crt
            seen.add(data)
            yield 1, data
        return
    index = 0
    at = data.find(_PEM_BEGIN)
    while at >= 0:
        index += 1
        end = data.find(_PEM_END, at)
        if end < 0:
            note(problems, f"{where}: certificate {index} has no END line (truncated?)")
            return
        body = data[at + len(_PEM_BEGIN) : end]
        at = data.find(_PEM_BEGIN, end)
        if body in seen:
            continue
        seen.add(body)
        try:
            der = binascii.a2b_base64(body)
        except (binascii.Error, ValueError):
            note(problems, f"{where}: certificate {index} is corrupt: bad base64")
            continue
        yield index, der


def _observation(cert: Certificate, der: bytes, where: str, source: str) -> Observation:
    """The observation for one certificate; raises ``ValueError`` on an unreadable subject."""
    # cryptography: only when a signature is checked
    from cryptography.x509.oid import NameOID

    subject = cert.subject
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    org = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    rfc4514 = subject.rfc4514_string()
    return Observation.make(
        Kind.CERTIFICATE,
        _text(common[0].value) if common else rfc4514,
        publisher=_text(org[0].value) if org else "",
        identifiers={
            Ident.CERT_SUBJECT: rfc4514,
            Ident.CERT_FINGERPRINT: hashlib.sha1(der, usedforsecurity=False).hexdigest(),
            Ident.PATH: where,
        },
        source=source,
    )


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
