"""Users and API tokens: bootstrap, authentication, issuing and revoking.

Authentication reads a token, its user and the security policy's cutoff in one query and
applies the revocation contract (:mod:`lakehold.security.credentials`); a token validated in
the last second is accepted from a small per-process cache (ADR 0029,
:mod:`lakehold.security.credential_cache`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from lakehold.kernel import Action, allowed, authorize, governed
from lakehold.names import check_username
from lakehold.security import credential_cache, policy, tokens
from lakehold.security.credential_cache import CredentialCache
from lakehold.security.credentials import DEACTIVATED, refusal
from lakehold.security.passwords import hash_password
from lakehold.security.principal import (
    ADMIN_ONLY_SCOPES,
    CONFINED_SCOPES,
    LINEAGE_WRITE,
    METRICS,
    SCIM,
    SCOPES,
    Principal,
)
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, SecurityPolicy, User, as_utc

NOT_VALID = "the API token is not valid"
EXPIRED = "the API token has expired"
REVOKED = "the API token has been revoked"
SCIM_ONLY = "a token with the 'scim' scope works only at /scim/v2 (SCIM provisioning)"
METRICS_ONLY = "a token with the 'metrics' scope works only at /metrics (Prometheus)"


@dataclass(frozen=True)
class TokenInfo:
    """A token's public description; ``value`` is set only when it was just issued."""

    id: str
    name: str
    username: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    value: str | None = None
    scopes: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    """Lineage namespace patterns a ``lineage:write`` token may change."""
    prefix: str = ""
    """``lh_<lookup>``: the start of its value, not secret, to recognise it by."""
    last_used_at: datetime | None = None
    """When it last signed a request in (recorded at most once a minute)."""
    identity_provider: str | None = None
    """The identity provider a ``scim`` token provisions for (ADR 30)."""


@dataclass(frozen=True)
class UserInfo:
    """A user as administrators see it."""

    user_id: str
    username: str
    is_admin: bool
    active: bool = True
    display_name: str | None = None
    identity_provider: str | None = None
    """The identity provider that provisions the user (None: a local user)."""


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        service=user.kind == "service",  # a project's service principal (ADR 32)
    )


def user_info(user: User) -> UserInfo:
    """The :class:`UserInfo` of a user row."""
    return UserInfo(
        user.id,
        user.username,
        user.is_admin,
        user.active,
        user.display_name,
        user.identity_provider,
    )


def _info(token: ApiToken, value: str | None = None) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        username=token.user.username,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked=token.revoked_at is not None,
        value=value,
        scopes=tuple(token.scopes or ()),
        namespaces=tuple(token.namespaces or ()),
        prefix=f"{tokens.PREFIX}_{token.lookup}",
        last_used_at=as_utc(token.last_used_at),
        identity_provider=token.identity_provider,
    )


def _token_principal(
    user: Principal,
    scopes: list[str] | None,
    namespaces: list[str] | None,
    identity_provider: str | None = None,
) -> Principal:
    """The principal of a valid token. ``lineage:write`` counts only with the namespaces it
    is bound to: a token issued before tokens were bound (no namespaces) does not write;
    ``scim`` only with the identity provider it is bound to."""
    granted = set(scopes or ())
    bound = tuple(namespaces) if namespaces else None
    if bound is None:
        granted.discard(LINEAGE_WRITE)
    if identity_provider is None:
        granted.discard(SCIM)
    provider = identity_provider if SCIM in granted else None
    return replace(
        user, scopes=frozenset(granted), lineage_namespaces=bound, identity_provider=provider
    )


def confined(principal: Principal, scim: bool, metrics: bool = False) -> Principal:
    """``principal``, unless its token is a ``scim`` token used outside ``/scim/v2`` (``scim``
    False, ADR 30) or a ``metrics`` token outside ``/metrics`` (``metrics`` False, ADR 33):
    Forbidden there."""
    if SCIM in principal.scopes and not scim:
        raise Forbidden(SCIM_ONLY)
    if METRICS in principal.scopes and not metrics:
        raise Forbidden(METRICS_ONLY)
    return principal


@dataclass(frozen=True)
class _Valid:
    """A validated token, as the cache keeps it."""

    principal: Principal
    expires_at: datetime | None


_AUTHENTICATE: Select = (
    select(
        ApiToken.id.label("token_id"),
        ApiToken.secret_hash,
        ApiToken.created_at,
        ApiToken.expires_at,
        ApiToken.revoked_at,
        ApiToken.last_used_at,
        ApiToken.scopes,
        ApiToken.namespaces,
        ApiToken.identity_provider.label("token_provider"),
        User.id.label("user_id"),
        User.username,
        User.is_admin,
        User.kind,
        User.active,
        User.credentials_valid_after.label("user_cutoff"),
        SecurityPolicy.credentials_valid_after.label("global_cutoff"),
    )
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(SecurityPolicy, SecurityPolicy.id == policy.POLICY_ID)
    .where(ApiToken.lookup == bindparam("lookup"))
)
"""The one query of an authentication: the token, its user, the global cutoff."""

MAX_NAMESPACE_PATTERNS = 100
LAST_USED_EVERY = timedelta(minutes=1)


def check_scopes(
    principal: Principal, scopes: Sequence[str], namespaces: Sequence[str]
) -> tuple[list[str], list[str] | None]:
    """The scopes and lineage namespace patterns of a new token, checked: known scopes only;
    ``lineage:write``, ``scim`` and ``metrics`` are granted by administrators only; a ``scim``
    or ``metrics`` token holds no other scope (it works in one place only); ``lineage:write``
    needs at least one namespace pattern; namespaces are given only with ``lineage:write``."""
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise Invalid(f"unknown scope '{unknown[0]}'", field="scopes", known=sorted(SCOPES))
    reserved = sorted(set(scopes) & ADMIN_ONLY_SCOPES)
    if reserved and not allowed(principal, Action.SCOPE_GRANT):
        raise Forbidden(f"only administrators may grant the '{reserved[0]}' scope")
    confining = sorted(set(scopes) & CONFINED_SCOPES)
    if confining and len(set(scopes)) > 1:  # it works in one place only
        raise Invalid(f"a '{confining[0]}' token holds no other scope", field="scopes")
    if LINEAGE_WRITE not in scopes:
        if namespaces:
            raise Invalid(
                f"namespaces bind a '{LINEAGE_WRITE}' token; ask for that scope too",
                field="namespaces",
            )
        return sorted(set(scopes)), None
    if not namespaces:
        raise Invalid(
            f"a '{LINEAGE_WRITE}' token needs the lineage namespaces it may write, e.g. "
            "airflow://prod (--namespace, repeatable)",
            field="namespaces",
        )
    if len(namespaces) > MAX_NAMESPACE_PATTERNS:
        raise Invalid(f"at most {MAX_NAMESPACE_PATTERNS} namespaces", field="namespaces")
    for i, pattern in enumerate(namespaces):
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 255:
            raise Invalid(
                "expected a namespace pattern of 1 to 255 characters", field=f"namespaces[{i}]"
            )
        if pattern.strip("*") == "" and len(pattern) > 1:
            raise Invalid("use a single '*' for every namespace", field=f"namespaces[{i}]")
    return sorted(set(scopes)), sorted(set(namespaces))


def check_provider(scopes: Sequence[str], identity_provider: str | None) -> str | None:
    """The identity provider a new token is bound to: required with the ``scim`` scope (a
    name of 1 to 64 letters, digits, '_', '.', '-'), given only with it."""
    if SCIM not in scopes:
        if identity_provider is not None:
            raise Invalid(
                f"an identity provider binds a '{SCIM}' token; ask for that scope too",
                field="identity_provider",
            )
        return None
    if not identity_provider:
        raise Invalid(
            f"a '{SCIM}' token needs the identity provider it provisions for, e.g. okta "
            "(--provider)",
            field="identity_provider",
        )
    if not _PROVIDER.match(identity_provider):
        raise Invalid(
            f"identity provider '{identity_provider}' is not valid: 1 to 64 letters, digits, "
            "'_', '.', '-'",
            field="identity_provider",
        )
    return identity_provider


_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SecurityService:
    """Users and tokens. ``cache_seconds``: how long a validated token is trusted without
    reading the store again (0: never)."""

    def __init__(self, store: Store, *, cache_seconds: float = 1.0) -> None:
        self.store = store
        self.cache: CredentialCache[_Valid] = credential_cache.register(
            store.engine, CredentialCache(cache_seconds)
        )

    def bootstrap(self) -> tuple[Principal, str] | None:
        """On first start, create the ``admin`` user; return it and its new token, else None."""
        with self.store.session() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return None
            admin = User(username="admin", display_name="Administrator", is_admin=True)
            session.add(admin)
            session.flush()
            issued = issue_token(session, admin, "bootstrap")
            return _principal(admin), issued.value

    def authenticate(
        self, value: str | None, *, scim: bool = False, metrics: bool = False
    ) -> Principal:
        """The principal a token belongs to; Unauthorized for a missing or bad token ("not
        valid"), a revoked one (or one issued before a revocation cutoff: "has been
        revoked"), an expired one ("has expired"), or a deactivated user's. A token validated
        less than ``cache_seconds`` ago is not read again. A ``scim`` token is Forbidden
        unless ``scim`` (a request to ``/scim/v2``), a ``metrics`` token unless ``metrics``
        (a request to ``/metrics``)."""
        known = self.authenticate_cached(value, scim=scim, metrics=metrics)
        if known is not None:
            return known
        parts = tokens.split(value or "")
        if parts is None:
            raise Unauthorized("a valid API token is required (Authorization: Bearer <token>)")
        lookup, secret = parts
        key = (lookup, tokens.hash_secret(secret))
        now = datetime.now(UTC)
        generation = self.cache.generation  # a revocation meanwhile: the answer is not kept
        valid = self._check(lookup, key[1], now)
        self.cache.put(key, valid, generation)
        return confined(valid.principal, scim, metrics)

    def authenticate_cached(
        self, value: str | None, *, scim: bool = False, metrics: bool = False
    ) -> Principal | None:
        """The principal of a token validated less than ``cache_seconds`` ago, without
        touching the store (an event loop may call it), else None: then :meth:`authenticate`
        decides. A ``scim`` token is Forbidden unless ``scim``, a ``metrics`` token unless
        ``metrics``."""
        parts = tokens.split(value or "")
        if parts is None:
            return None
        lookup, secret = parts
        cached = self.cache.get((lookup, tokens.hash_secret(secret)))
        if cached is None:
            return None
        if cached.expires_at is not None and datetime.now(UTC) >= cached.expires_at:
            return None
        return confined(cached.principal, scim, metrics)

    def _check(self, lookup: str, secret_hash: str, now: datetime) -> _Valid:
        """Authenticate from the store: one query, and at most once a minute a write of the
        token's last use. A plain connection, not an ORM session: the hottest query of all,
        and it reads columns, never entities (half the time of a session)."""
        with self.store.engine.begin() as connection:
            row = connection.execute(_AUTHENTICATE, {"lookup": lookup}).first()
            if row is None or not tokens.hashes_match(secret_hash, row.secret_hash):
                raise Unauthorized(NOT_VALID)
            why = refusal(
                active=row.active,
                issued_at=as_utc(row.created_at),
                user_cutoff=as_utc(row.user_cutoff),
                global_cutoff=as_utc(row.global_cutoff),
            )
            if why == DEACTIVATED:
                raise Unauthorized(DEACTIVATED)
            if why is not None or row.revoked_at is not None:
                raise Unauthorized(REVOKED)
            expires_at = as_utc(row.expires_at)
            if expires_at is not None and expires_at <= now:
                raise Unauthorized(EXPIRED)
            last = row.last_used_at
            if last is None or now - as_utc(last) >= LAST_USED_EVERY:
                # not a write per request: at most one a minute
                connection.execute(
                    update(ApiToken).where(ApiToken.id == row.token_id).values(last_used_at=now)
                )
            user = Principal(
                user_id=row.user_id,
                username=row.username,
                is_admin=row.is_admin,
                service=row.kind == "service",  # a project's service principal (ADR 32)
            )
            principal = _token_principal(user, row.scopes, row.namespaces, row.token_provider)
            return _Valid(principal, expires_at)

    def create_user(
        self,
        principal: Principal,
        username: str,
        *,
        display_name: str | None = None,
        is_admin: bool = False,
        password: str | None = None,
    ) -> Principal:
        """Create a user (admins only)."""
        details = {"username": username, "admin": is_admin}
        with governed(self.store, principal, Action.USER_CREATE, details=details) as command:
            command.authorize(Action.USER_CREATE)
            check_username(username)
            session = command.session
            if session.scalar(select(User).where(User.username == username)):
                raise Conflict(f"user '{username}' already exists", field="username")
            user = User(
                username=username,
                display_name=display_name,
                is_admin=is_admin,
                password_hash=hash_password(password) if password else None,
            )
            session.add(user)
            session.flush()
            return _principal(user)

    def list_users(self, principal: Principal) -> list[UserInfo]:
        """Every user (admins only)."""
        authorize(principal, Action.USER_LIST)
        with self.store.session() as session:
            return [user_info(u) for u in session.scalars(select(User).order_by(User.username))]

    def create_token(
        self,
        principal: Principal,
        name: str,
        *,
        username: str | None = None,
        expires_at: datetime | None = None,
        scopes: Sequence[str] = (),
        namespaces: Sequence[str] = (),
        identity_provider: str | None = None,
    ) -> TokenInfo:
        """Issue a token for oneself, or for another user (admins only). Shown once.
        ``scopes`` grant more than the user's own rights: ``lineage:write`` (administrators
        grant it, bound to the lineage ``namespaces`` patterns it may write). The security
        policy sets ``expires_at`` when none is given and refuses one past its maximum
        lifetime, or already past (Invalid, field ``expires_at``). A ``scim`` token is bound to
        the ``identity_provider`` it provisions for (ADR 30)."""
        details = {"name": name, "user": username or principal.username, "scopes": list(scopes)}
        if identity_provider is not None:
            details["identity_provider"] = identity_provider
        with governed(self.store, principal, Action.TOKEN_CREATE, details=details) as command:
            if not name.strip():
                raise Invalid("a token needs a name", field="name")
            granted, bound = check_scopes(principal, scopes, namespaces)
            provider = check_provider(granted, identity_provider)
            session = command.session
            command.authorize(Action.TOKEN_CREATE)  # refused to service principals (ADR 32)
            if username and username != principal.username:
                command.authorize(Action.TOKEN_ISSUE_FOR_OTHERS)
                user = session.scalar(select(User).where(User.username == username))
                if user is None:
                    raise NotFound(f"user '{username}' not found", field="username")
            else:
                user = session.get(User, principal.user_id)
                assert user is not None  # the authenticated principal's own user
            if user.kind == "service":  # their tokens come from POST /oauth/token (ADR 32)
                raise Forbidden(
                    f"'{user.username}' is a service principal: exchange its client "
                    "credentials at POST /oauth/token for a token",
                    field="username",
                )
            now = datetime.now(UTC)
            expiry = policy.token_expiry(policy.current(session), expires_at, now)
            issued = issue_token(
                session,
                user,
                name,
                expires_at=expiry,
                scopes=granted,
                namespaces=bound,
                identity_provider=provider,
            )
            token = session.scalar(select(ApiToken).where(ApiToken.lookup == issued.lookup))
            assert token is not None  # just issued in this session
            command.details["token"] = token.id
            if expiry is not None:
                command.details["expires_at"] = expiry.isoformat()
            return _info(token, issued.value)

    def list_tokens(self, principal: Principal) -> list[TokenInfo]:
        """The principal's own tokens (admins: everyone's)."""
        with self.store.session() as session:
            query = select(ApiToken).order_by(ApiToken.created_at)
            if not allowed(principal, Action.CATALOG_READ_ALL):
                query = query.where(ApiToken.user_id == principal.user_id)
            return [_info(t) for t in session.scalars(query)]

    def revoke_token(self, principal: Principal, token_id: str) -> None:
        """Revoke one's own token (admins: any token)."""
        details = {"token": token_id}
        with governed(self.store, principal, Action.TOKEN_REVOKE, details=details) as command:
            session = command.session
            token = session.get(ApiToken, token_id)
            if token is None or not allowed(principal, Action.TOKEN_REVOKE, token.user_id):
                raise NotFound(f"token '{token_id}' not found")
            token.revoked_at = token.revoked_at or datetime.now(UTC)
            credential_cache.invalidate(session)


def issue_token(
    session: Session,
    user: User,
    name: str,
    *,
    expires_at: datetime | None = None,
    scopes: list[str] | None = None,
    namespaces: list[str] | None = None,
    created_at: datetime | None = None,
    identity_provider: str | None = None,
) -> tokens.IssuedToken:
    """Add a new token of ``user`` to ``session`` (its value is in the result, once). The
    caller has decided its expiry (:func:`lakehold.security.policy.token_expiry`)."""
    issued = tokens.issue()
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            lookup=issued.lookup,
            secret_hash=issued.secret_hash,
            created_at=created_at or datetime.now(UTC),
            expires_at=expires_at,
            scopes=scopes or None,
            namespaces=namespaces or None,
            identity_provider=identity_provider,
        )
    )
    session.flush()
    return issued


def info_of(session: Session, issued: tokens.IssuedToken) -> TokenInfo:
    """The :class:`TokenInfo` of a token just issued in ``session``, with its value."""
    token = session.scalar(select(ApiToken).where(ApiToken.lookup == issued.lookup))
    assert token is not None  # issued in this session
    return _info(token, issued.value)
