"""Why an OpenID Connect sign-in is refused: the reasons the audit log records, and the
typed error that carries one (ADR 0031)."""

from __future__ import annotations

from lakehold.errors import Forbidden, LakeholdError, Unauthorized

BAD_STATE = "bad state"
"""The callback's state is not the one this browser's sign-in started with (or expired)."""
PROVIDER_ERROR = "provider error"
"""The provider answered with an error (the user cancelled, consent refused...)."""
EXCHANGE_FAILED = "code exchange failed"
WRONG_ISSUER = "issuer mismatch"
"""The authorization response names another issuer (RFC 9207: a mix-up attack)."""
NONCE_MISMATCH = "nonce mismatch"
INVALID_TOKEN = "invalid token"
"""Signature, issuer, audience, expiry or another claim of the ID token is wrong."""
UNKNOWN_USER = "unknown user not allowed"
DEACTIVATED = "deactivated user"
REPLAYED = "token already exchanged"
"""The CLI sent an ID token that was already exchanged for a Lakehold token."""
RATE_LIMITED = "rate limited"
"""Too many failed sign-ins from the address, or of the person (ADR 0029)."""


def refused(reason: str, message: str, *, forbidden: bool = False) -> LakeholdError:
    """A refusal: Unauthorized (401; Forbidden, 403, for a known identity Lakehold turns
    away) whose ``audit_reason`` is ``reason`` and whose message says what to do."""
    error: LakeholdError = (Forbidden if forbidden else Unauthorized)(message, reason=reason)
    error.audit_reason = reason  # type: ignore[attr-defined]
    return error


def is_refusal(error: LakeholdError) -> bool:
    """Whether ``error`` is a refusal of the sign-in (counted as a failed one), not a
    configuration or availability problem."""
    return getattr(error, "audit_reason", None) is not None


def reason_of(error: LakeholdError) -> str:
    """The audit reason of a refusal (another error: its message)."""
    return getattr(error, "audit_reason", None) or error.message
