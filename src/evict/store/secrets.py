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

New passwords follow NIST SP 800-63B-4 (section 3.1.1.2, "Password Verifiers"): at least
:data:`MIN_PASSWORD_LENGTH` characters (15: evict's passwords are a single factor; 8 is the
minimum only where a password is one of two factors), at most :data:`MAX_PASSWORD_LENGTH`
(NIST asks that at least 64 be allowed), any characters, no composition rules, and refused when
they are commonly used or expected: the check is zxcvbn's (Dropbox's estimator, Python port
``zxcvbn`` on PyPI, MIT licence), whose built-in lists are shipped in the package and used
offline: the 30,000 most common passwords of Mark Burnett's 10-million-password corpus, plus
English words, names and surnames, and patterns (repeats, sequences, keyboard walks, dates,
l33t substitutions) built from them and from the user's own name and organisation. A password
it estimates under 10^10 guesses (score below 4) is refused, with zxcvbn's reason.

Each kind of secret carries a short prefix (``evt_``, ``eve_``, ``evh_``) so that a leaked one is
recognisable (secret scanners) and cannot be used in another role by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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


MIN_PASSWORD_LENGTH = 15
"""NIST SP 800-63B-4: 15 characters for a password used as a single factor."""
MAX_PASSWORD_LENGTH = 1000
"""Longest password accepted (NIST: at least 64 must be)."""
MIN_PASSWORD_SCORE = 4
"""zxcvbn's score a new password needs: 4 is "very unguessable" (10^10 guesses or more)."""


def password_problem(password: str, *, context: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` may not be chosen, or None when it may.

    :param context: words an attacker would try first (the user's name, the organisation).
    Length counts Unicode code points, as NIST asks; nothing about composition is required.
    """
    length = len(password)
    if length < MIN_PASSWORD_LENGTH:
        return (
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters (it has {length}); "
            "a few unrelated words make a long one easy to remember"
        )
    if length > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    from zxcvbn import zxcvbn  # its dictionaries take ~0.3 s to load: only for a new password

    # zxcvbn's cost grows with the length; past 100 characters the first 100 decide.
    verdict = zxcvbn(password[:100], user_inputs=[c for c in context if c], max_length=100)
    if verdict["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = str(verdict["feedback"].get("warning") or "").rstrip(".")
    reason = warning[:1].lower() + warning[1:] if warning else "it is too easy to guess"
    return (
        f"this password is commonly used or easy to guess ({reason}); "
        "choose another, e.g. four or more unrelated words"
    )


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""

    return PasswordHasher().hash(password)


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash ``stored``."""

    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
