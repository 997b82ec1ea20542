"""The revocation contract every credential obeys (ADR 0029).

A user's credentials (API tokens, web sign-in sessions) are refused when the user is
deactivated, or when the credential was issued at or before the user's
``credentials_valid_after``, or at or before the security policy's global cutoff.
:func:`refusal` answers the question for one credential; nothing else decides it.
"""

from __future__ import annotations

from datetime import datetime

DEACTIVATED = "the user is deactivated"


def refusal(
    *,
    active: bool,
    issued_at: datetime,
    user_cutoff: datetime | None,
    global_cutoff: datetime | None,
) -> str | None:
    """Why a credential issued at ``issued_at`` (aware UTC) no longer stands, or None:
    :data:`DEACTIVATED`, or ``"revoked"`` when a cutoff (aware UTC, or None) covers it."""
    if not active:
        return DEACTIVATED
    for cutoff in (user_cutoff, global_cutoff):
        if cutoff is not None and issued_at <= cutoff:
            return "revoked"
    return None
