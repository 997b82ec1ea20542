"""Delta Sharing recipients' bearer tokens: the format, and authentication (ADR 37).

A recipient token is ``lhr_<lookup>_<secret>``: shown once (in the recipient's profile file),
only the SHA-256 of its secret stored, always with an expiry, revocable one by one. It is
refused when revoked, expired, or issued at or before the security policy's global cutoff
(the revocation contract of every credential, :mod:`lakehold.security.credentials`). A valid
token stands for a :class:`Principal` whose ``recipient`` is set: the kernel lets it read the
shares granted to its recipient and nothing else. Recipient tokens work only under
``/delta-sharing``; user tokens never work there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update

from lakehold.errors import Unauthorized
from lakehold.security import tokens
from lakehold.security.credentials import refusal
from lakehold.security.policy import POLICY_ID
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Project,
    RecipientToken,
    SecurityPolicy,
    ShareRecipient,
    as_utc,
)

PREFIX = "lhr"
REQUIRED = "a valid Delta Sharing recipient token is required (Authorization: Bearer <token>)"
NOT_VALID = "the recipient token is not valid"
EXPIRED = "the recipient token has expired"
REVOKED = "the recipient token has been revoked"
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedRecipientToken:
    lookup: str
    secret_hash: str
    value: str


def issue() -> IssuedRecipientToken:
    """A new random recipient token ``lhr_<lookup>_<secret>``."""
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedRecipientToken(lookup, tokens.hash_secret(secret), f"{PREFIX}_{lookup}_{secret}")


def split(value: str) -> tuple[str, str] | None:
    """``(lookup, secret)`` of a well-formed recipient token, else None."""
    parts = value.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def recipient_principal(recipient_id: str, name: str, token_id: str | None = None) -> Principal:
    """The principal a recipient's token (``token_id``) stands for."""
    return Principal(
        user_id=recipient_id,
        username=f"recipient:{name}"[:64],
        recipient=recipient_id,
        token_id=token_id,
    )


_TOKENS: Select = (
    select(
        RecipientToken.id.label("token_id"),
        RecipientToken.secret_hash,
        RecipientToken.created_at,
        RecipientToken.expires_at,
        RecipientToken.revoked_at,
        RecipientToken.last_used_at,
        ShareRecipient.id.label("recipient_id"),
        ShareRecipient.name,
        Project.name.label("project"),
        SecurityPolicy.credentials_valid_after.label("global_cutoff"),
    )
    .join(ShareRecipient, ShareRecipient.id == RecipientToken.recipient_id)
    .join(Project, Project.id == ShareRecipient.project_id)
    .outerjoin(SecurityPolicy, SecurityPolicy.id == POLICY_ID)
)
_AUTHENTICATE = _TOKENS.where(RecipientToken.lookup == bindparam("lookup"))
_BY_ID = _TOKENS.where(RecipientToken.id == bindparam("token_id"))


def _refused(row: Any, now: datetime) -> str | None:
    """Why a recipient token's row no longer authenticates (revoked, at or before the global
    cutoff, expired); None when it does."""
    cutoff = refusal(
        active=True,
        issued_at=as_utc(row.created_at),
        user_cutoff=None,
        global_cutoff=as_utc(row.global_cutoff),
    )
    if row.revoked_at is not None or cutoff is not None:
        return REVOKED
    if now >= as_utc(row.expires_at):
        return EXPIRED
    return None


def token_refusal(connection: Connection, token_id: str, recipient_id: str) -> str | None:
    """Why the token ``token_id`` no longer stands for recipient ``recipient_id`` (gone,
    another recipient's, revoked, expired); None while it does. What the token obtained --
    signed file URLs -- ends with it."""
    row = connection.execute(_BY_ID, {"token_id": token_id}).first()
    if row is None or row.recipient_id != recipient_id:
        return NOT_VALID
    return _refused(row, datetime.now(UTC))


class RecipientAuthenticator:
    """Authenticates recipient tokens: one query, and at most once a minute a write of the
    token's last use."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def authenticate(self, value: str | None) -> Principal:
        """The recipient principal of ``value``; Unauthorized for a missing, malformed,
        unknown, revoked or expired token (the message says which, never whose)."""
        parts = split(value or "")
        if parts is None:
            raise Unauthorized(REQUIRED)
        lookup, secret = parts
        now = datetime.now(UTC)
        with self.store.engine.begin() as connection:
            row = connection.execute(_AUTHENTICATE, {"lookup": lookup}).first()
            if row is None or not tokens.matches(secret, row.secret_hash):
                raise Unauthorized(NOT_VALID)
            refused = _refused(row, now)
            if refused is not None:
                raise Unauthorized(refused)
            last = as_utc(row.last_used_at)
            if last is None or now - last >= LAST_USED_EVERY:
                connection.execute(
                    update(RecipientToken)
                    .where(RecipientToken.id == row.token_id)
                    .values(last_used_at=now)
                )
        return recipient_principal(row.recipient_id, row.name, row.token_id)
