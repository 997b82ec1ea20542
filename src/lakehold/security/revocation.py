"""Revoking credentials, and deactivating users (ADR 0029).

Revocation is shared state in the metadata store: a user's ``credentials_valid_after`` (or the
security policy's, for everyone) refuses every session and token issued at or before it, on
every API process -- at once in this one, within the credential cache's lifetime (1 s) in the
others (:mod:`lakehold.security.credential_cache`). Open sessions and tokens are also marked
``revoked_at`` for the record.

The building blocks (:func:`revoke_user`, :func:`deactivate_user`, :func:`activate_user`,
:func:`revoke_provider`) act in a caller's transaction and neither authorize nor audit: a
governed command (here, or SCIM provisioning) does both. :class:`RevocationService` holds the
governed commands of the API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, allowed, governed
from lakehold.security import policy
from lakehold.security.principal import Principal
from lakehold.security.service import TokenInfo, UserInfo, info_of, issue_token, user_info
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, User, WebSession, as_utc, utcnow

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Revoked:
    """What a revocation refused: how many users, and how many tokens and sessions were
    still open; ``token`` is the caller's replacement token when one was asked for."""

    users: int
    tokens: int
    sessions: int
    credentials_valid_after: datetime
    token: TokenInfo | None = None


def revoke_user(session: Session, user: User, now: datetime | None = None) -> Revoked:
    """Refuse every session and token of ``user`` issued up to ``now``."""
    now = now or utcnow()
    user.credentials_valid_after = now
    user.updated_at = now
    session.flush()
    tokens, sessions = policy.close_open(
        session, now, ApiToken.user_id == user.id, WebSession.user_id == user.id
    )
    return Revoked(1, tokens, sessions, now)


def deactivate_user(session: Session, user: User, now: datetime | None = None) -> Revoked:
    """Deactivate ``user``: refused from the next request on, every session and token
    revoked (a reactivation does not bring them back)."""
    now = now or utcnow()
    user.active = False
    return revoke_user(session, user, now)


def activate_user(session: Session, user: User, now: datetime | None = None) -> None:
    """Reactivate ``user``: they may sign in and be issued tokens again."""
    user.active = True
    user.updated_at = now or utcnow()


def revoke_provider(session: Session, provider: str, now: datetime | None = None) -> Revoked:
    """Refuse every session and token, issued up to ``now``, of every user the identity
    provider named ``provider`` provisioned."""
    now = now or utcnow()
    users = policy.changed_rows(
        session,
        update(User)
        .where(User.identity_provider == provider)
        .values(credentials_valid_after=now, updated_at=now)
        .execution_options(synchronize_session=False),
    )
    ids = select(User.id).where(User.identity_provider == provider).scalar_subquery()
    tokens, sessions = policy.close_open(
        session, now, ApiToken.user_id.in_(ids), WebSession.user_id.in_(ids)
    )
    return Revoked(users, tokens, sessions, now)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user '{username}' not found", field="username")
    return user


class RevocationService:
    """The governed revocation commands: a user's credentials (administrators, or the user),
    an identity provider's users' (administrators), everything before a cutoff
    (administrators); deactivating and reactivating users (administrators).

    ``new_token`` (a name) issues the caller a fresh token after the revocation, returned
    once: the way to keep working when one's own token was among those revoked."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def revoke_user(
        self, principal: Principal, username: str, *, new_token: str | None = None
    ) -> Revoked:
        """Revoke every session and token of ``username`` (oneself, or anyone: admins).
        Another user is "not found" to non-administrators."""
        details: dict[str, Any] = {"user": username}
        action = "user.credentials.revoke"
        with governed(self.store, principal, action, details=details) as command:
            session = command.session
            user = session.scalar(select(User).where(User.username == username))
            if user is None or not allowed(principal, Action.USER_CREDENTIALS_REVOKE, user.id):
                raise NotFound(f"user '{username}' not found", field="username")
            command.authorize(Action.USER_CREDENTIALS_REVOKE, user.id)
            done = revoke_user(session, user)
            return self._finish(command.session, command.details, principal, done, new_token)

    def revoke_provider(
        self, principal: Principal, provider: str, *, new_token: str | None = None
    ) -> Revoked:
        """Revoke every session and token of every user of identity provider ``provider``."""
        details: dict[str, Any] = {"identity_provider": provider}
        action = "identity_provider.credentials.revoke"
        with governed(self.store, principal, action, details=details) as command:
            command.authorize(Action.PROVIDER_CREDENTIALS_REVOKE)
            if not provider or len(provider) > 64:
                raise Invalid("an identity provider's name (1 to 64 characters)", field="name")
            done = revoke_provider(command.session, provider)
            return self._finish(command.session, command.details, principal, done, new_token)

    def revoke_before(
        self,
        principal: Principal,
        before: datetime | None = None,
        *,
        new_token: str | None = None,
    ) -> Revoked:
        """Revoke every session and token of every user issued at or before ``before``
        (default: now): the security policy's cutoff (:func:`policy.set_cutoff`)."""
        now = utcnow()
        cutoff = as_utc(before) if before is not None else now
        details: dict[str, Any] = {"before": cutoff.isoformat()}
        action = "credentials.revoke_before"
        with governed(self.store, principal, action, details=details) as command:
            command.authorize(Action.SECURITY_POLICY_MANAGE)
            tokens, sessions = policy.set_cutoff(command.session, cutoff, now)
            row = policy.current(command.session)
            assert row is not None  # set_cutoff made it
            row.updated_at, row.updated_by = now, principal.user_id
            done = Revoked(0, tokens, sessions, cutoff)
            return self._finish(command.session, command.details, principal, done, new_token)

    def deactivate(self, principal: Principal, username: str) -> UserInfo:
        """Deactivate a user (administrators; not oneself): every session and token ends."""
        details: dict[str, Any] = {"user": username}
        with governed(self.store, principal, "user.deactivate", details=details) as command:
            command.authorize(Action.USER_DEACTIVATE)
            user = _user(command.session, username)
            command.resource = f"user:{user.id}"
            if user.id == principal.user_id:
                raise Conflict("you cannot deactivate yourself", field="username")
            done = deactivate_user(command.session, user)
            command.details.update(tokens_revoked=done.tokens, sessions_revoked=done.sessions)
            return user_info(user)

    def activate(self, principal: Principal, username: str) -> UserInfo:
        """Reactivate a user (administrators); revoked credentials stay revoked."""
        details: dict[str, Any] = {"user": username}
        with governed(self.store, principal, "user.activate", details=details) as command:
            command.authorize(Action.USER_ACTIVATE)
            user = _user(command.session, username)
            command.resource = f"user:{user.id}"
            activate_user(command.session, user)
            return user_info(user)

    @staticmethod
    def _finish(
        session: Session,
        details: dict[str, Any],
        principal: Principal,
        done: Revoked,
        new_token: str | None,
    ) -> Revoked:
        """Record the counts; issue the caller's replacement token, if asked for, after the
        cutoff (so that it stands)."""
        details.update(users=done.users, tokens_revoked=done.tokens, sessions_revoked=done.sessions)
        if new_token is None:
            return done
        if not new_token.strip() or len(new_token) > 100:
            raise Invalid("a token name of 1 to 100 characters", field="new_token")
        caller = session.get(User, principal.user_id)
        if caller is None or not caller.active:
            raise Conflict("a deactivated user is issued no token", field="new_token")
        now = max(utcnow(), done.credentials_valid_after + _TICK)
        expiry = policy.token_expiry(policy.current(session), None, now)
        issued = issue_token(session, caller, new_token, expires_at=expiry, created_at=now)
        token = info_of(session, issued)
        details["new_token"] = token.id
        return Revoked(done.users, done.tokens, done.sessions, done.credentials_valid_after, token)
