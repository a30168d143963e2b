"""The audit key and the anchors: files kept outside the database.

The audit key is an Ed25519 private key in a PEM file readable by its owner only (mode 0600),
by default ``audit-key.pem`` in the user data directory next to the default SQLite database.
``evict serve`` and ``evict db upgrade`` create it when it is absent; every other command only
reads it. Its public half (``evict audit key``) is what an auditor needs to check signed heads
and evidence bundles offline.

An anchor file holds signed heads (:class:`evict.compliance.audit.SignedHead`), one JSON object
a line, appended by the server on a schedule (and by ``evict audit anchor``). Reading anchors
also accepts a syslog extract (each line's JSON starts at its first ``{``), a JSON document with
a ``signed_head`` field (a report's or a bundle's ``audit/head.json``) and an evidence bundle
(zip), so every place a signed head was exported to can be given to ``evict audit verify
--anchor``.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import stat
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)
from platformdirs import user_data_dir

from evict.compliance.audit import Anchor, SignedHead
from evict.errors import InputError

MAX_KEY_BYTES = 64 * 1024
"""Largest key file read."""
MAX_ANCHOR_LINE = 64 * 1024
"""Longest anchor line read (a signed head is about 300 bytes)."""
MAX_ANCHOR_BYTES = 256 * 1024 * 1024
"""Largest anchor file read."""

log = logging.getLogger(__name__)


class AuditKeyError(InputError):
    """The audit key or an anchor file cannot be used (absent, unreadable, too open...)."""


def default_audit_key_path() -> Path:
    """``audit-key.pem`` in the user data directory (where the default SQLite database is)."""
    return Path(user_data_dir("evict")) / "audit-key.pem"


def default_anchor_path(key_path: Path) -> Path:
    """The default anchor file: ``audit-anchors.jsonl`` beside the key."""
    return key_path.with_name("audit-anchors.jsonl")


def _check_private(path: Path) -> None:
    if os.name == "nt":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditKeyError(
            str(path),
            f"the audit key is open to other users (mode {stat.S_IMODE(mode):04o}): "
            "run chmod 600 on it",
        )


def _read_small(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except FileNotFoundError as e:
        raise AuditKeyError(str(path), f"no {what} here") from e
    except OSError as e:
        raise AuditKeyError(str(path), f"cannot read the {what}: {e.strerror or e}") from e
    if len(data) > MAX_KEY_BYTES:
        raise AuditKeyError(str(path), f"too large for a {what}")
    return data


def load_key(path: Path) -> Ed25519PrivateKey:
    """Read the audit key (refused if other users may read it)."""
    data = _read_small(path, "audit key")
    _check_private(path)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise AuditKeyError(str(path), f"not an unencrypted PEM private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(str(path), "the audit key must be an Ed25519 key")
    return key


def ensure_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """Read the audit key, creating it (mode 0600) if absent; returns it and whether it is new."""
    if path.exists():
        return load_key(path), False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path), False
    except OSError as e:
        raise AuditKeyError(str(path), f"cannot create the audit key: {e.strerror or e}") from e
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key, True


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a public key: a PEM public key (``evict audit key``), or the private key file."""
    data = _read_small(path, "public key")
    try:
        public = load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            private = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise AuditKeyError(str(path), "not a PEM Ed25519 public or private key") from e
        public = private.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise AuditKeyError(str(path), "the audit key must be an Ed25519 key")
    return public


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key in PEM (SubjectPublicKeyInfo)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# -- anchors -----------------------------------------------------------------------------------


def anchor_line(head: SignedHead) -> str:
    """One line of an anchor file (and of a syslog message)."""
    return json.dumps(head.to_json(), sort_keys=True, separators=(",", ":")) + "\n"


def append_anchor(path: Path, head: SignedHead) -> None:
    """Append ``head`` to the anchor file ``path`` (created 0600 if absent), synced to disk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as e:
        raise AuditKeyError(str(path), f"cannot open the anchor file: {e.strerror or e}") from e
    try:
        os.write(fd, anchor_line(head).encode("ascii"))
        os.fsync(fd)
    except OSError as e:
        raise AuditKeyError(
            str(path), f"cannot append to the anchor file: {e.strerror or e}"
        ) from e
    finally:
        os.close(fd)


def syslog_handler(address: str) -> logging.Handler:
    """A syslog handler for ``address``: a socket path (``/dev/log``) or ``HOST:PORT`` (UDP)."""
    target: str | tuple[str, int]
    if address.startswith("/"):
        target = address
    else:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise AuditKeyError(address, "a syslog address is a socket path or HOST:PORT")
        target = (host, int(port))
    handler = logging.handlers.SysLogHandler(
        address=target, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV
    )
    handler.append_nul = False
    handler.setFormatter(logging.Formatter("evict-audit-head: %(message)s"))
    return handler


def read_anchors(path: Path) -> list[Anchor]:
    """The signed heads in ``path``: an anchor file or syslog extract, a JSON document with a
    ``signed_head`` field, or an evidence bundle. Lines without a signed head are skipped; a
    line that looks like one but cannot be read is an error naming the line."""
    if zipfile.is_zipfile(path):
        return _bundle_anchor(path)
    try:
        size = path.stat().st_size
        if size > MAX_ANCHOR_BYTES:
            raise AuditKeyError(str(path), "too large for an anchor file")
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as e:
        raise AuditKeyError(str(path), "no anchor file here") from e
    except OSError as e:
        raise AuditKeyError(str(path), f"cannot read: {e.strerror or e}") from e
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, dict) and "signed_head" in whole:
            return [_anchor(whole["signed_head"], str(path), None)]
        if isinstance(whole, dict) and "signature" in whole:
            return [_anchor(whole, str(path), None)]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        start = line.find("{")
        if start < 0 or '"signature"' not in line:
            continue
        if len(line) > MAX_ANCHOR_LINE:
            raise AuditKeyError(str(path), "line too long for a signed head", line=number)
        try:
            value, _ = json.JSONDecoder().raw_decode(line[start:])
        except (ValueError, RecursionError) as e:
            raise AuditKeyError(str(path), f"not JSON: {e}", line=number) from e
        out.append(_anchor(value, str(path), number))
    return out


def _anchor(value: object, path: str, line: int | None) -> Anchor:
    try:
        head = SignedHead.from_json(value)
    except ValueError as e:
        raise AuditKeyError(path, f"not a signed audit head: {e}", line=line) from e
    return Anchor(head, path if line is None else f"{path} line {line}")


def _bundle_anchor(path: Path) -> list[Anchor]:
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("audit/head.json")
    except KeyError as e:
        raise AuditKeyError(str(path), "an evidence bundle without audit/head.json") from e
    except (OSError, zipfile.BadZipFile) as e:
        raise AuditKeyError(str(path), f"cannot read the evidence bundle: {e}") from e
    try:
        value = json.loads(data)
    except ValueError as e:
        raise AuditKeyError(str(path), f"audit/head.json is not JSON: {e}") from e
    if not isinstance(value, dict) or "signed_head" not in value:
        raise AuditKeyError(str(path), "audit/head.json has no signed head (an older bundle)")
    head = _anchor(value["signed_head"], f"{path} audit/head.json", None)
    return [head]
