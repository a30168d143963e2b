"""Secrets the server hands out and how it keeps them: passwords, tokens, credentials.

- **Passwords** are hashed with argon2id (argon2-cffi's defaults): people choose them, so they
  must be slow to guess from a stolen database.
- **API tokens, enrolment secrets and host credentials** are 32 random bytes (256 bits) made by
  :mod:`secrets`, shown once, and stored as their SHA-256. A slow hash protects guessable
  secrets; against a 256-bit random value a brute-force search is hopeless whether each guess
  costs a nanosecond or a second, so argon2 would add only its cost on every request (tens of
  milliseconds and tens of MiB for each agent check-in at a million hosts) while a fast hash
  still lets the server find the record by an indexed lookup. This is how GitHub, GitLab and
  most API providers store tokens. The comparison happens inside the database's unique index;
  the value compared is a hash, so its timing reveals nothing about the secret.

Each kind of secret carries a short prefix (``evt_``, ``eve_``, ``evh_``) so that a leaked one is
recognisable (secret scanners) and cannot be used in another role by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

TOKEN_PREFIX = "evt_"
"""API tokens of users."""
ENROLL_PREFIX = "eve_"
"""Enrolment secrets of org units."""
HOST_PREFIX = "evh_"
"""Per-host credentials issued at enrolment."""


def new_secret(prefix: str) -> str:
    """A fresh 256-bit random secret, URL-safe, with ``prefix``."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return prefix + raw


def lookup_hash(secret: str) -> str:
    """The SHA-256 (hex) under which a random secret is stored and looked up."""
    return hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash ``stored``."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
