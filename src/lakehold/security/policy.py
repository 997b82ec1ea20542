"""The administrators' security policy: token lifetimes and the global revocation cutoff
(one ``security_policy`` row, id 1; ADR 0029).

- ``max_token_lifetime_seconds``: no API token is issued to live longer (None: no limit);
- ``default_token_lifetime_seconds``: the expiry of a token asked for without one (None:
  such a token never expires, as before the policy existed; with only a maximum set, the
  maximum is the default);
- ``credentials_valid_after``: every session and token issued at or before it is refused
  (set by :func:`set_cutoff`, the "revoke everything issued before" of
  :mod:`lakehold.security.revocation`).

Lifetimes apply when a token is issued; a token issued before a lower maximum keeps its
expiry (revoke it, or everything before a cutoff, to end it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from lakehold.errors import Invalid
from lakehold.kernel import Action, authorize, governed
from lakehold.security import credential_cache
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, SecurityPolicy, User, WebSession, as_utc, utcnow

POLICY_ID = 1
MAX_LIFETIME = 10 * 366 * 24 * 3600
"""The longest lifetime a policy may name (about ten years)."""
UNCHANGED: Any = object()
"""A policy field left as it is by :meth:`PolicyService.update`."""


@dataclass(frozen=True)
class SecurityPolicyView:
    """The security policy as shown to administrators."""

    max_token_lifetime_seconds: int | None
    default_token_lifetime_seconds: int | None
    credentials_valid_after: datetime | None
    updated_at: datetime | None = None
    updated_by: str | None = None
    """The username of the administrator who last changed it."""


def changed_rows(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)  # an UPDATE's result has a rowcount
    return result.rowcount


def current(session: Session) -> SecurityPolicy | None:
    """The policy row (None until an administrator first sets one)."""
    return session.get(SecurityPolicy, POLICY_ID)


def for_update(session: Session) -> SecurityPolicy:
    """The policy row, created when missing, locked for the transaction (PostgreSQL)."""
    row = session.scalar(
        select(SecurityPolicy).where(SecurityPolicy.id == POLICY_ID).with_for_update()
    )
    if row is None:
        row = SecurityPolicy(id=POLICY_ID)
        session.add(row)
        session.flush()
    return row


def describe(seconds: int) -> str:
    """A lifetime for people: ``90 days``, ``12 hours``, ``45 minutes``, ``30 seconds``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def token_expiry(
    policy: SecurityPolicy | None, requested: datetime | None, now: datetime
) -> datetime | None:
    """The expiry of a token issued at ``now`` for which ``requested`` was asked: refused
    (Invalid, field ``expires_at``) when already past or beyond the policy's maximum; the
    policy's default (or maximum) when none was asked for; None: it never expires."""
    longest = policy.max_token_lifetime_seconds if policy is not None else None
    default = policy.default_token_lifetime_seconds if policy is not None else None
    if requested is None:
        lifetime = default if default is not None else longest
        return now + timedelta(seconds=lifetime) if lifetime is not None else None
    requested = as_utc(requested)
    if requested <= now:
        raise Invalid("expires_at is in the past: a token must expire later", field="expires_at")
    if longest is not None and requested - now > timedelta(seconds=longest):
        raise Invalid(
            f"a token may live at most {describe(longest)} (the security policy's maximum "
            "token lifetime); choose an earlier expires_at",
            field="expires_at",
            max_token_lifetime_seconds=longest,
        )
    return requested


def _lifetime(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid("a lifetime is a positive number of seconds (or null: no limit)", field=field)
    if value > MAX_LIFETIME:
        raise Invalid(f"at most {describe(MAX_LIFETIME)}", field=field)
    return value


def set_cutoff(session: Session, cutoff: datetime, now: datetime) -> tuple[int, int]:
    """Refuse every session and token issued at or before ``cutoff`` (not later than
    ``now``, not earlier than the cutoff in force): the policy's cutoff moves, and open
    tokens and sessions issued by then are marked revoked for the record. Returns how many
    tokens and sessions were open. The caller authorizes and audits."""
    cutoff = as_utc(cutoff)
    if cutoff > now:
        raise Invalid("the cutoff is in the future; use a past time or now", field="before")
    row = for_update(session)
    if row.credentials_valid_after is not None and cutoff < as_utc(row.credentials_valid_after):
        raise Invalid(
            "a cutoff only moves forward: credentials issued before "
            f"{as_utc(row.credentials_valid_after).isoformat()} are revoked already",
            field="before",
        )
    row.credentials_valid_after = cutoff
    return close_open(session, now, ApiToken.created_at <= cutoff, WebSession.created_at <= cutoff)


def close_open(
    session: Session, now: datetime, tokens_where: Any, sessions_where: Any
) -> tuple[int, int]:
    """Mark the open tokens matching ``tokens_where`` and the open sessions matching
    ``sessions_where`` revoked at ``now`` (for the record: the cutoffs refuse them already),
    and clear this process's credential caches. Returns how many of each were open."""
    tokens = changed_rows(
        session,
        update(ApiToken)
        .where(tokens_where, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False),
    )
    sessions = changed_rows(
        session,
        update(WebSession)
        .where(sessions_where, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False),
    )
    credential_cache.invalidate(session)
    return tokens, sessions


def _view(session: Session, row: SecurityPolicy | None) -> SecurityPolicyView:
    if row is None:
        return SecurityPolicyView(None, None, None)
    by = session.get(User, row.updated_by) if row.updated_by else None
    return SecurityPolicyView(
        row.max_token_lifetime_seconds,
        row.default_token_lifetime_seconds,
        as_utc(row.credentials_valid_after),
        as_utc(row.updated_at),
        by.username if by is not None else None,
    )


class PolicyService:
    """Reading and changing the security policy (administrators)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def show(self, principal: Principal) -> SecurityPolicyView:
        """The policy in force (administrators)."""
        authorize(principal, Action.SECURITY_POLICY_READ)
        with self.store.session() as session:
            return _view(session, current(session))

    def update(
        self,
        principal: Principal,
        *,
        max_token_lifetime_seconds: int | None = UNCHANGED,
        default_token_lifetime_seconds: int | None = UNCHANGED,
        credentials_valid_after: datetime | None = UNCHANGED,
    ) -> SecurityPolicyView:
        """Change the fields given (None: no limit); the default lifetime may not exceed the
        maximum. ``credentials_valid_after`` moves the global cutoff (:func:`set_cutoff`)."""
        details: dict[str, Any] = {}
        for name, value in (
            ("max_token_lifetime_seconds", max_token_lifetime_seconds),
            ("default_token_lifetime_seconds", default_token_lifetime_seconds),
        ):
            if value is not UNCHANGED:
                details[name] = value
        if credentials_valid_after is not UNCHANGED:
            details["credentials_valid_after"] = (
                as_utc(credentials_valid_after).isoformat() if credentials_valid_after else None
            )
        with governed(self.store, principal, "security_policy.update", details=details) as command:
            command.authorize(Action.SECURITY_POLICY_MANAGE)
            session, now = command.session, utcnow()
            if credentials_valid_after is None:
                raise Invalid(
                    "the cutoff cannot be removed, only moved forward",
                    field="credentials_valid_after",
                )
            row = for_update(session)
            longest = row.max_token_lifetime_seconds
            default = row.default_token_lifetime_seconds
            if max_token_lifetime_seconds is not UNCHANGED:
                longest = _lifetime(max_token_lifetime_seconds, "max_token_lifetime_seconds")
            if default_token_lifetime_seconds is not UNCHANGED:
                default = _lifetime(
                    default_token_lifetime_seconds, "default_token_lifetime_seconds"
                )
            if longest is not None and default is not None and default > longest:
                raise Invalid(
                    f"the default token lifetime ({describe(default)}) exceeds the maximum "
                    f"({describe(longest)})",
                    field="default_token_lifetime_seconds",
                )
            row.max_token_lifetime_seconds = longest
            row.default_token_lifetime_seconds = default
            if credentials_valid_after is not UNCHANGED:
                try:
                    tokens, sessions = set_cutoff(session, credentials_valid_after, now)
                except Invalid as error:
                    error.details["field"] = "credentials_valid_after"
                    raise
                command.details.update(tokens_revoked=tokens, sessions_revoked=sessions)
            row.updated_at = now
            row.updated_by = principal.user_id
            session.flush()
            return _view(session, row)
