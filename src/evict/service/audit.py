"""The audit chain's head, signed: what reports, bundles and anchors quote."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evict.compliance.audit import SignedHead, sign_head
from evict.store.store import Store


def iso(now: dt.datetime) -> str:
    """The UTC timestamp of a signed head."""
    return now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def signed_head(store: Store, key: Ed25519PrivateKey, now: dt.datetime) -> SignedHead:
    """The store's recorded head, signed now (for a report or a bundle)."""
    seq, digest = store.audit_head()
    return sign_head(key, seq, digest, at=iso(now))
