"""Web sign-in sessions: password sign-in, the session a browser's cookie refers to, idle and
absolute expiry, listing and ending sessions (ADR 0028).

The cookie carries a random secret; the store keeps only its SHA-256, as for API tokens. A
session's CSRF token is an HMAC of that secret (:func:`csrf_token`): nothing more is stored,
and only the holder of the cookie can compute it. ``last_seen_at`` (and with it the idle
expiry) is written at most once a minute, not on every request.

Each request reads the session, its user and the security policy's cutoff in one query and
applies the revocation contract (:mod:`lakehold.security.credentials`, ADR 0029). Failed
sign-ins are limited per user and per address (:mod:`lakehold.security.login_limits`), and
every sign-in is audited with its outcome and, when refused, why. Service principals (users of
kind ``service``, ADR 0032) never get or use a session, whatever their row holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lakehold.errors import NotFound, Unauthorized
from lakehold.kernel import Action, allowed, authorize, governed
from lakehold.kernel.audit import record
from lakehold.security import login_limits
from lakehold.security.credentials import DEACTIVATED, refusal
from lakehold.security.login_limits import LoginLimits
from lakehold.security.network_limits import RateLimited
from lakehold.security.passwords import hash_password, verify_password
from lakehold.security.policy import POLICY_ID
from lakehold.security.principal import Principal
from lakehold.security.tokens import hash_secret
from lakehold.store.db import Store
from lakehold.store.models import SecurityPolicy, User, WebSession, as_utc, utcnow

LOGIN = "session.login"
LOGOUT = "session.logout"
WRONG_CREDENTIALS = "wrong username or password"
UNKNOWN_USER = "unknown user"
BAD_PASSWORD = "bad password"
RATE_LIMITED = "rate limited"
INACTIVE = "deactivated"
SERVICE = "service principal"
"""Why a sign-in was refused, as the audit log says (the user is told less)."""
NO_SERVICE_SESSIONS = "a service principal cannot sign in to the portal"
TOUCH_EVERY = timedelta(minutes=1)
"""How often a session's ``last_seen_at`` (and idle expiry) is written, at most."""
_CSRF_PURPOSE = b"lakehold csrf token"
_MAX_USER_AGENT = 300
_MAX_ADDRESS = 64
_MAX_USERNAME = 64


def new_secret() -> str:
    """A random cookie secret (256 bits)."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The CSRF token that goes with a cookie ``secret``: HMAC-SHA256 of a fixed purpose,
    keyed by the secret (it does not reveal the secret)."""
    return hmac.new(secret.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()


def csrf_matches(secret: str, token: str | None) -> bool:
    """Whether ``token`` is the CSRF token of ``secret`` (constant-time)."""
    if not token:
        return False
    return hmac.compare_digest(csrf_token(secret).encode(), token.encode("utf-8", "replace"))


@cache
def _decoy_hash() -> str:
    """A password hash to verify against when the user is unknown or has no password, so a
    failed sign-in takes the same path (and time) whether or not the user exists."""
    return hash_password(new_secret())


def _verify(session: Session, username: str, password: str) -> tuple[User | None, str | None]:
    """The user whose ``password`` this is, and why not (the audit's reason) when it is not:
    unknown user, a service principal (never signs in to the portal, even were a password
    set), bad password (or none set), deactivated. The password is checked whether or not the
    user exists (the same path, and time, either way)."""
    user = None
    if 0 < len(username) <= _MAX_USERNAME:
        user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None else None
    verified = verify_password(password, stored or _decoy_hash())
    if user is None:
        return None, UNKNOWN_USER
    if user.kind == "service":
        return user, SERVICE
    if stored is None or not verified:
        return user, BAD_PASSWORD
    if not user.active:
        return user, INACTIVE
    return user, None


_NAME_TURNS = tuple(threading.Lock() for _ in range(64))
_CHECKING = threading.BoundedSemaphore(4)


@contextmanager
def password_turn(username: str) -> Iterator[None]:
    """Held by :func:`password_check` around a password sign-in: sign-ins of one user name in
    this process take turns (names share 64 locks) and at most 4 passwords are checked at once
    (each takes Argon2id's 64 MiB). The failed sign-in limit itself holds across processes:
    each attempt is counted before its password is checked (:func:`_reserve_attempt`)."""
    with _NAME_TURNS[hash(username) % len(_NAME_TURNS)], _CHECKING:
        yield


@contextmanager
def password_check(
    store: Store,
    limits: LoginLimits,
    action: str,
    username: str,
    password: str,
    *,
    address: str | None,
    now: datetime,
) -> Iterator[tuple[Session, User | None, Unauthorized | RateLimited | None]]:
    """A password sign-in of every kind (the portal's, the Flight SQL endpoint's token
    exchange, ADR 0038), in its turn (:func:`password_turn`): the attempt counted first
    (:func:`_reserve_attempt`), then, in the session yielded, the user whose ``password`` this
    is or the refusal to raise once that session commits (:func:`_check_password`). The caller
    does its work in that session (a web session, a token) when a user is given."""
    with password_turn(username):
        over_limit = _reserve_attempt(store, limits, username, address, now)
        with store.session() as session:
            user, refused = _check_password(
                session, limits, action, username, password, address=address, over_limit=over_limit
            )
            yield session, user, refused


def _reserve_attempt(
    store: Store, limits: LoginLimits, username: str, address: str | None, now: datetime
) -> RateLimited | None:
    """Count a password sign-in as failed before its password is checked, committed at once
    (guesses racing in several server processes each see the ones before: 30 at once used to
    pass a limit of 5 19 to 30 times); the refusal to give when a limit is passed with it.
    :func:`_check_password` takes it back on success."""
    attempts = limits.of(username=username[:_MAX_USERNAME], address=address)
    with store.session() as session:
        seconds = login_limits.reserve(session, attempts, now)
    if seconds is None:
        return None
    return RateLimited(login_limits.TOO_MANY.format(seconds=seconds), retry_after=seconds)


def _check_password(
    session: Session,
    limits: LoginLimits,
    action: str,
    username: str,
    password: str,
    *,
    address: str | None,
    over_limit: RateLimited | None,
) -> tuple[User | None, Unauthorized | RateLimited | None]:
    """The user whose ``password`` this is (its failed sign-ins cleared, the attempt
    :func:`_reserve_attempt` counted under ``address`` taken back), else None and the refusal
    to raise once ``session`` commits: ``over_limit`` (the failed sign-in limits were passed:
    the password is not checked), Unauthorized for a wrong user name or password (the reserved
    count stays) or a deactivated user's. A refusal is audited as ``action`` with its reason,
    never the password."""
    name = username[:_MAX_USERNAME]
    user, reason = None, None
    refused: Unauthorized | RateLimited | None = None
    if over_limit is not None:
        refused, reason = over_limit, RATE_LIMITED
    else:
        user, reason = _verify(session, username, password)
        if reason == INACTIVE:
            refused = Unauthorized(DEACTIVATED)
        elif reason is not None:
            refused = Unauthorized(WRONG_CREDENTIALS)
    if refused is None:
        assert user is not None  # verified
        limits.users.clear(session, name)
        login_limits.release(session, limits.of(address=address))
        return user, None
    record(
        session,
        None,
        action,
        allowed=False,
        reason=reason,
        details={"username": name, "address": address},
        resource=f"user:{user.id}" if user is not None else None,
    )
    return None, refused


@dataclass(frozen=True)
class SignedIn:
    """A valid session, as its cookie's holder sees it."""

    principal: Principal
    session_id: str
    secret: str
    """The cookie's value."""
    expires_at: datetime

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.secret)


@dataclass(frozen=True)
class SessionInfo:
    """A session as listed: never its secret."""

    id: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None
    current: bool = False


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)


def _info(row: WebSession, username: str, current_id: str | None) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        username=username,
        created_at=as_utc(row.created_at),
        last_seen_at=as_utc(row.last_seen_at),
        idle_expires_at=as_utc(row.idle_expires_at),
        expires_at=as_utc(row.expires_at),
        user_agent=row.user_agent,
        address=row.address,
        current=row.id == current_id,
    )


class SessionService:
    """Sign-in, session checks, listing and revoking. ``clock`` gives the current time (UTC,
    aware); tests move it."""

    def __init__(
        self,
        store: Store,
        *,
        idle_seconds: float,
        absolute_seconds: float,
        limits: LoginLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.limits = limits or LoginLimits()
        self.idle = timedelta(seconds=idle_seconds)
        self.absolute = timedelta(seconds=absolute_seconds)
        self.touch_every = min(TOUCH_EVERY, self.idle / 4)  # tiny idle limits (tests) still hold
        self.clock = clock

    # -- signing in and out ---------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        *,
        user_agent: str | None = None,
        address: str | None = None,
        replacing: str | None = None,
    ) -> SignedIn:
        """A new session for the user whose ``password`` this is; Unauthorized ("wrong
        username or password", whichever was wrong; "the user is deactivated" to the holder
        of a deactivated user's password) otherwise, and RateLimited (429) past the failed
        sign-in limits, before the password is checked. Every outcome is audited, with the
        reason of a refusal (unknown user, bad password, deactivated, rate limited), never
        the password. The session of ``replacing`` (the cookie the browser held before), if
        any, ends: a sign-in always starts a new session id."""
        now = self.clock()
        address = address[:_MAX_ADDRESS] if address else None
        checked = password_check(
            self.store, self.limits, LOGIN, username, password, address=address, now=now
        )
        with checked as (session, user, refused):
            if user is not None:
                signed_in = self._start(session, user, now, user_agent, address)
                if replacing:
                    self._end(session, replacing, now)
        if refused is not None:
            raise refused
        return signed_in

    def _start(
        self,
        session: Session,
        user: User,
        now: datetime,
        user_agent: str | None,
        address: str | None,
    ) -> SignedIn:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))  # long over
        secret = new_secret()
        expires_at = now + self.absolute
        row = WebSession(
            user_id=user.id,
            secret_hash=hash_secret(secret),
            created_at=now,
            last_seen_at=now,
            idle_expires_at=min(now + self.idle, expires_at),
            expires_at=expires_at,
            user_agent=user_agent[:_MAX_USER_AGENT] if user_agent else None,
            address=address,
        )
        session.add(row)
        session.flush()
        principal = _principal(user)
        record(
            session,
            principal,
            LOGIN,
            allowed=True,
            details={"session": row.id, "address": address},
            resource=f"user:{user.id}",
        )
        return SignedIn(principal, row.id, secret, expires_at)

    def start_verified(
        self,
        user_id: str,
        *,
        user_agent: str | None = None,
        address: str | None = None,
        replacing: str | None = None,
    ) -> SignedIn:
        """A new session for a user whose identity was verified elsewhere (single sign-on,
        :mod:`lakehold.security.oidc`, which refuses deactivated users first), as
        :meth:`login` starts one after a password; the session of ``replacing`` ends. A
        service principal is refused (audited), whatever vouched for it."""
        now = self.clock()
        address = address[:_MAX_ADDRESS] if address else None
        signed_in: SignedIn | None = None
        with self.store.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise Unauthorized("not signed in")
            if user.kind == "service":
                record(
                    session,
                    None,
                    LOGIN,
                    allowed=False,
                    reason=SERVICE,
                    details={"username": user.username, "address": address},
                    resource=f"user:{user.id}",
                )
            else:
                signed_in = self._start(session, user, now, user_agent, address)
                if replacing:
                    self._end(session, replacing, now)
        if signed_in is None:
            raise Unauthorized(NO_SERVICE_SESSIONS)
        return signed_in

    def logout(self, signed_in: SignedIn) -> None:
        """End the session of ``signed_in`` (audited)."""
        principal = signed_in.principal
        details = {"session": signed_in.session_id}
        with governed(self.store, principal, LOGOUT, details=details) as command:
            command.authorize(Action.SESSION_REVOKE, principal.user_id)
            self._end(command.session, signed_in.secret, self.clock())

    @staticmethod
    def _end(session: Session, secret: str, now: datetime) -> None:
        row = session.scalar(
            select(WebSession).where(WebSession.secret_hash == hash_secret(secret))
        )
        if row is not None and row.revoked_at is None:
            row.revoked_at = now

    # -- each request ---------------------------------------------------------------------------

    def authenticate(self, secret: str | None) -> SignedIn:
        """The session of a cookie's ``secret``; Unauthorized when there is none, or it was
        ended or revoked (one by one, with all of its user's, or by the global cutoff), or it
        expired (idle or absolute), or its user is deactivated or a service principal (which
        never holds a session; defence in depth). One query; its
        ``last_seen_at`` and idle expiry move on at most once every :data:`TOUCH_EVERY`."""
        if not secret:
            raise Unauthorized("not signed in")
        now = self.clock()
        with self.store.session() as session:
            found = session.execute(
                select(WebSession, User, SecurityPolicy.credentials_valid_after)
                .join(User, User.id == WebSession.user_id)
                .outerjoin(SecurityPolicy, SecurityPolicy.id == POLICY_ID)
                .where(WebSession.secret_hash == hash_secret(secret))
            ).first()
            if found is None:
                raise Unauthorized("not signed in")
            row, user, global_cutoff = found
            why = refusal(
                active=user.active,
                issued_at=as_utc(row.created_at),
                user_cutoff=as_utc(user.credentials_valid_after),
                global_cutoff=as_utc(global_cutoff),
            )
            if why == DEACTIVATED:
                raise Unauthorized(DEACTIVATED)
            expires_at = as_utc(row.expires_at)
            if (
                why is not None
                or user.kind == "service"
                or row.revoked_at is not None
                or as_utc(row.idle_expires_at) <= now
                or expires_at <= now
            ):
                raise Unauthorized("the session has ended; sign in again")
            if now - as_utc(row.last_seen_at) >= self.touch_every:
                row.last_seen_at = now
                row.idle_expires_at = min(now + self.idle, expires_at)
            return SignedIn(_principal(user), row.id, secret, expires_at)

    # -- managing sessions ----------------------------------------------------------------------

    def list_sessions(
        self, principal: Principal, *, username: str | None = None, current_id: str | None = None
    ) -> list[SessionInfo]:
        """The active sessions of ``username`` (default: the principal's own; another user's:
        administrators only), newest first; ``current_id`` is marked current."""
        now = self.clock()
        with self.store.session() as session:
            if username is None or username == principal.username:
                user_id, name = principal.user_id, principal.username
            else:
                user = session.scalar(select(User).where(User.username == username))
                authorize(principal, Action.SESSION_READ, user.id if user is not None else "")
                if user is None:
                    raise NotFound(f"user '{username}' not found", field="user")
                user_id, name = user.id, user.username
            rows = session.scalars(
                select(WebSession)
                .where(
                    WebSession.user_id == user_id,
                    WebSession.revoked_at.is_(None),
                    WebSession.expires_at > now,
                    WebSession.idle_expires_at > now,
                )
                .order_by(WebSession.created_at.desc(), WebSession.id)
            )
            return [_info(row, name, current_id) for row in rows]

    def revoke(self, principal: Principal, session_id: str) -> None:
        """End a session: one's own, or anyone's (administrators). Another user's session is
        "not found" to others. It is refused from the next request on."""
        details = {"session": session_id}
        with governed(self.store, principal, Action.SESSION_REVOKE, details=details) as command:
            row = command.session.get(WebSession, session_id)
            if row is None or not allowed(principal, Action.SESSION_REVOKE, row.user_id):
                raise NotFound(f"session '{session_id}' not found")
            command.authorize(Action.SESSION_REVOKE, row.user_id)
            row.revoked_at = row.revoked_at or self.clock()
