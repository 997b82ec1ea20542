"""Validating an OpenID Connect ID token (OpenID Connect Core 1.0, section 3.1.3.7) with
joserfc: signature by one of the provider's keys (asymmetric algorithms only), issuer exactly
the configured one, audience the client (several audiences: ``azp`` names the client), not
expired, issued, with a subject, and the nonce of the sign-in that asked for it."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from lakehold.errors import LakeholdError
from lakehold.security.oidc.refusals import INVALID_TOKEN, NONCE_MISMATCH, refused

ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
"""Signature algorithms accepted: never ``none``, never a shared-secret (HS*) one."""
LEEWAY_SECONDS = 60
"""Clock difference tolerated with the provider."""
_MAX_TOKEN_CHARS = 16 * 1024


def _invalid(detail: str) -> LakeholdError:
    return refused(INVALID_TOKEN, f"the ID token is not valid: {detail}")


def key_id(token: str) -> tuple[str | None, str]:
    """The ``kid`` and ``alg`` of a compact JWS's header (refused when it is not one)."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
        raise _invalid("expected a signed JWT")
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise _invalid("not a signed JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _invalid(f"the signature algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    return (kid if isinstance(kid, str) else None), alg


def validate_id_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    keys: Callable[[str | None], KeySet],
    nonce: str | None,
    max_age_seconds: float | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The claims of a valid ID ``token``; a refusal (:mod:`~lakehold.security.oidc.refusals`)
    naming what is wrong otherwise. ``keys(kid)`` gives the provider's key set (fetched again
    for a key id it does not hold). ``nonce`` None: the token must carry none (the device
    grant has no nonce); else it must carry this one. ``max_age_seconds``: refused when
    issued longer ago (an ID token exchanged for a Lakehold token must be fresh)."""
    kid, alg = key_id(token)
    key_set = keys(kid)
    try:
        decoded = jwt.decode(token, key_set, algorithms=[alg])
    except JoseError as error:
        detail = f"its signature does not verify with the provider's keys ({error.error})"
        raise _invalid(detail) from None
    claims = dict(decoded.claims)
    at = int(now())
    registry = jwt.JWTClaimsRegistry(
        now=at,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _invalid("it has expired") from None
    except JoseError as error:
        raise _invalid(error.description or error.error) from None
    _check_authorized_party(claims, client_id)
    if max_age_seconds is not None and claims["iat"] < at - max_age_seconds - LEEWAY_SECONDS:
        raise _invalid(f"it was issued more than {int(max_age_seconds)} seconds ago")
    _check_nonce(claims.get("nonce"), nonce)
    return claims


def _check_authorized_party(claims: dict[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    several = isinstance(audience, list) and len(audience) > 1
    azp = claims.get("azp")
    if (several or azp is not None) and azp != client_id:
        raise _invalid("its authorized party (azp) is not this client")


def _check_nonce(found: Any, expected: str | None) -> None:
    if expected is None:
        if found is not None:
            raise refused(NONCE_MISMATCH, "the ID token carries a nonce this sign-in never sent")
        return
    if not isinstance(found, str) or not hmac.compare_digest(found.encode(), expected.encode()):
        raise refused(
            NONCE_MISMATCH, "the ID token's nonce is not this sign-in's: start the sign-in again"
        )
