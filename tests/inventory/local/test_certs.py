"""Trusted root certificates: Kaspersky's HTTPS-inspection root among the system's roots."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from evict.inventory.local.certs import TrustStoreCollector
from evict.model.observations import Ident, Kind

from ._helpers import run

# in DER order (country first); RFC 4514 writes it the other way round, as Windows shows it
KASPERSKY_SUBJECT = [
    (NameOID.COUNTRY_NAME, "RU"),
    (NameOID.ORGANIZATION_NAME, "AO Kaspersky Lab"),
    (NameOID.COMMON_NAME, "Kaspersky Anti-Virus Personal Root Certificate"),
]


def make_root(attributes: list[tuple[x509.ObjectIdentifier, str]]) -> x509.Certificate:
    """A self-signed CA certificate with the given subject, as a trust store would hold."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def sha1(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex()


@pytest.fixture(scope="module")
def roots() -> dict[str, x509.Certificate]:
    return {
        "kaspersky": make_root(KASPERSKY_SUBJECT),
        "example": make_root(
            [(NameOID.COMMON_NAME, "Example Root CA"), (NameOID.ORGANIZATION_NAME, "Example Org")]
        ),
        "no-cn": make_root(
            [(NameOID.ORGANIZATION_NAME, "No Common Name Inc"), (NameOID.COUNTRY_NAME, "US")]
        ),
    }


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def debian_store(root: Path, roots: dict[str, x509.Certificate]) -> Path:
    """A Debian trust store after update-ca-certificates ran with a locally added Kaspersky root."""
    write(root / "usr/local/share/ca-certificates/kaspersky/kl-root.crt", pem(roots["kaspersky"]))
    write(root / "usr/share/ca-certificates/mozilla/Example_Root_CA.crt", pem(roots["example"]))
    certs = root / "etc/ssl/certs"
    certs.mkdir(parents=True)
    # update-ca-certificates links with absolute targets: they name the host's paths
    os.symlink(
        "/usr/share/ca-certificates/mozilla/Example_Root_CA.crt", certs / "Example_Root_CA.pem"
    )
    os.symlink("Example_Root_CA.pem", certs / "8d3c4a2b.0")
    os.symlink("/usr/local/share/ca-certificates/kaspersky/kl-root.crt", certs / "kl-root.pem")
    bundle = pem(roots["example"]) + pem(roots["kaspersky"]) + pem(roots["no-cn"])
    write(certs / "ca-certificates.crt", bundle)
    return root


def test_kaspersky_root_is_found_with_subject_and_fingerprint(
    tmp_path: Path, roots: dict[str, x509.Certificate]
) -> None:
    observations, status = run(TrustStoreCollector, debian_store(tmp_path, roots))
    assert status.state == "ok"
    assert len(observations) == 3  # each root once, however many files hold it
    kaspersky = next(o for o in observations if o.publisher == "AO Kaspersky Lab")
    assert kaspersky.kind is Kind.CERTIFICATE
    assert kaspersky.name == "Kaspersky Anti-Virus Personal Root Certificate"
    assert kaspersky.ident(Ident.CERT_SUBJECT) == (
        "CN=Kaspersky Anti-Virus Personal Root Certificate,O=AO Kaspersky Lab,C=RU"
    )
    assert kaspersky.ident(Ident.CERT_FINGERPRINT) == sha1(roots["kaspersky"])
    # the file an administrator would remove, not the generated bundle
    assert kaspersky.ident(Ident.PATH) == "/usr/local/share/ca-certificates/kaspersky/kl-root.crt"
    no_cn = next(o for o in observations if o.publisher == "No Common Name Inc")
    assert no_cn.name == "C=US,O=No Common Name Inc"
    assert no_cn.ident(Ident.PATH) == "/etc/ssl/certs/ca-certificates.crt"


def test_corrupt_certificate_is_a_problem_and_the_rest_are_read(
    tmp_path: Path, roots: dict[str, x509.Certificate]
) -> None:
    lines = pem(roots["example"]).split(b"\n")
    lines[3] = b"!!!!" + lines[3][4:]  # damage the DER inside one block
    bundle = b"\n".join(lines) + pem(roots["kaspersky"])
    write(tmp_path / "etc/ssl/certs/ca-certificates.crt", bundle)
    observations, status = run(TrustStoreCollector, tmp_path)
    assert [o.name for o in observations] == ["Kaspersky Anti-Virus Personal Root Certificate"]
    assert status.state == "partial"
    assert "certificate 1 is corrupt" in status.problems[0]


def test_truncated_bundle_keeps_the_complete_certificates(
    tmp_path: Path, roots: dict[str, x509.Certificate]
) -> None:
    bundle = pem(roots["kaspersky"]) + pem(roots["example"])[:200]
    write(tmp_path / "etc/ssl/certs/ca-certificates.crt", bundle)
    observations, status = run(TrustStoreCollector, tmp_path)
    assert len(observations) == 1
    assert "certificate 2 has no END line" in status.problems[0]


def test_rhel_extracted_bundle_and_der_anchor(
    tmp_path: Path, roots: dict[str, x509.Certificate]
) -> None:
    write(tmp_path / "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", pem(roots["example"]))
    der = roots["kaspersky"].public_bytes(serialization.Encoding.DER)
    write(tmp_path / "etc/pki/ca-trust/source/anchors/kaspersky.cer", der)
    observations, status = run(TrustStoreCollector, tmp_path)
    paths = {o.publisher: o.ident(Ident.PATH) for o in observations}
    assert status.state == "ok"
    assert paths == {
        "AO Kaspersky Lab": "/etc/pki/ca-trust/source/anchors/kaspersky.cer",
        "Example Org": "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    }


def test_links_cannot_lead_out_of_the_root(tmp_path: Path) -> None:
    certs = tmp_path / "etc/ssl/certs"
    certs.mkdir(parents=True)
    # both would reach this machine's own bundle if followed naively
    os.symlink("../../../../../../../../../../etc/ssl/certs/ca-certificates.crt", certs / "a.pem")
    os.symlink("/etc/ssl/certs/ca-certificates.crt", certs / "ca-certificates.crt")
    observations, status = run(TrustStoreCollector, tmp_path)
    assert (observations, status.state) == ([], "ok")


def test_empty_store(tmp_path: Path) -> None:
    write(tmp_path / "etc/ssl/certs/ca-certificates.crt", b"")
    assert TrustStoreCollector(tmp_path).available()
    observations, status = run(TrustStoreCollector, tmp_path)
    assert (observations, status.state) == ([], "ok")


def test_not_available_without_a_trust_store(tmp_path: Path) -> None:
    assert TrustStoreCollector(tmp_path).available() is False
