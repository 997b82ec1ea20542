"""The format of a service principal's client credentials (ADR 32): a client id
``lhsp_<32 hex>`` and secrets ``lhsps_<random>``, shown once; only a secret's SHA-256 is stored.
Tokens issued for a secret are named after it, so revoking the secret revokes them."""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import unquote_plus

from lakehold.security.tokens import hash_secret

CLIENT_ID_PREFIX = "lhsp_"
SECRET_PREFIX = "lhsps_"
TOKEN_NAME_PREFIX = "client credentials, secret "
MAX_CLIENT_ID = 64
MAX_SECRET = 200


def new_client_id() -> str:
    """A random, public client id."""
    return CLIENT_ID_PREFIX + secrets.token_hex(16)


def new_secret() -> tuple[str, str]:
    """A random client secret and its SHA-256 (hex), the only part stored."""
    value = SECRET_PREFIX + secrets.token_urlsafe(32)
    return value, hash_secret(value)


def token_name(secret_id: str) -> str:
    """The name of every API token issued for the secret ``secret_id``."""
    return f"{TOKEN_NAME_PREFIX}{secret_id}"


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an ``Authorization: Basic`` header (each part
    form-urlencoded, RFC 6749 §2.3.1), None without one; ValueError when it is malformed."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the Basic credentials are not base64 of UTF-8 text") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise ValueError("the Basic credentials are not client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)
