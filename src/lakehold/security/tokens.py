"""API token format and hashing. A token is shown once; only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "lh"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: ``value`` is the only time the secret is visible."""

    lookup: str
    secret_hash: str
    value: str


def issue() -> IssuedToken:
    """A new random token ``lh_<lookup>_<secret>``."""
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(lookup, hash_secret(secret), f"{PREFIX}_{lookup}_{secret}")


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (a slow hash is for passwords, not random tokens)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split(value: str) -> tuple[str, str] | None:
    """``(lookup, secret)`` of a well-formed token, else None."""
    parts = value.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def matches(secret: str, secret_hash: str) -> bool:
    """Constant-time comparison of a secret against a stored hash."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def hashes_match(secret_hash: str, stored_hash: str) -> bool:
    """Constant-time comparison of a secret's hash (:func:`hash_secret`) with a stored one."""
    return hmac.compare_digest(secret_hash, stored_hash)
