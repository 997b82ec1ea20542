"""Users and API tokens: bootstrap, authentication, issuing and revoking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from lakehold.kernel import Action, allowed, authorize, governed
from lakehold.names import check_username
from lakehold.security import tokens
from lakehold.security.passwords import hash_password
from lakehold.security.principal import ADMIN_ONLY_SCOPES, LINEAGE_WRITE, SCOPES, Principal
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, User, as_utc


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


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)


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
    )


def _token_principal(token: ApiToken) -> Principal:
    """The principal of a valid token. ``lineage:write`` counts only with the namespaces it
    is bound to: a token issued before tokens were bound (no namespaces) does not write."""
    scopes = set(token.scopes or ())
    namespaces = tuple(token.namespaces) if token.namespaces else None
    if namespaces is None:
        scopes.discard(LINEAGE_WRITE)
    return replace(_principal(token.user), scopes=frozenset(scopes), lineage_namespaces=namespaces)


MAX_NAMESPACE_PATTERNS = 100
LAST_USED_EVERY = timedelta(minutes=1)


def check_scopes(
    principal: Principal, scopes: Sequence[str], namespaces: Sequence[str]
) -> tuple[list[str], list[str] | None]:
    """The scopes and lineage namespace patterns of a new token, checked: known scopes only;
    ``lineage:write`` is granted by administrators only and needs at least one namespace
    pattern; namespaces are given only with ``lineage:write``."""
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise Invalid(f"unknown scope '{unknown[0]}'", field="scopes", known=sorted(SCOPES))
    reserved = sorted(set(scopes) & ADMIN_ONLY_SCOPES)
    if reserved and not allowed(principal, Action.SCOPE_GRANT):
        raise Forbidden(f"only administrators may grant the '{reserved[0]}' scope")
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


class SecurityService:
    """Users and tokens."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def bootstrap(self) -> tuple[Principal, str] | None:
        """On first start, create the ``admin`` user; return it and its new token, else None."""
        with self.store.session() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return None
            admin = User(username="admin", display_name="Administrator", is_admin=True)
            session.add(admin)
            session.flush()
            issued = self._issue(session, admin, "bootstrap")
            return _principal(admin), issued.value

    def authenticate(self, value: str | None) -> Principal:
        """The principal a token belongs to; Unauthorized for a missing, bad or revoked token."""
        parts = tokens.split(value or "")
        if parts is None:
            raise Unauthorized("a valid API token is required (Authorization: Bearer <token>)")
        lookup, secret = parts
        with self.store.session() as session:
            token = session.scalar(select(ApiToken).where(ApiToken.lookup == lookup))
            now = datetime.now(UTC)
            if (
                token is None
                or not tokens.matches(secret, token.secret_hash)
                or token.revoked_at is not None
                or (token.expires_at is not None and as_utc(token.expires_at) <= now)
            ):
                raise Unauthorized("the API token is not valid")
            last = token.last_used_at
            if last is None or now - as_utc(last) >= LAST_USED_EVERY:
                token.last_used_at = now  # not a write per request: at most one a minute
            return _token_principal(token)

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

    def list_users(self, principal: Principal) -> list[Principal]:
        """Every user (admins only)."""
        authorize(principal, Action.USER_LIST)
        with self.store.session() as session:
            return [_principal(u) for u in session.scalars(select(User).order_by(User.username))]

    def create_token(
        self,
        principal: Principal,
        name: str,
        *,
        username: str | None = None,
        expires_at: datetime | None = None,
        scopes: Sequence[str] = (),
        namespaces: Sequence[str] = (),
    ) -> TokenInfo:
        """Issue a token for oneself, or for another user (admins only). Shown once.
        ``scopes`` grant more than the user's own rights: ``lineage:write`` (administrators
        grant it, bound to the lineage ``namespaces`` patterns it may write)."""
        details = {"name": name, "user": username or principal.username, "scopes": list(scopes)}
        with governed(self.store, principal, Action.TOKEN_CREATE, details=details) as command:
            if not name.strip():
                raise Invalid("a token needs a name", field="name")
            granted, bound = check_scopes(principal, scopes, namespaces)
            session = command.session
            if username and username != principal.username:
                command.authorize(Action.TOKEN_ISSUE_FOR_OTHERS)
                user = session.scalar(select(User).where(User.username == username))
                if user is None:
                    raise NotFound(f"user '{username}' not found", field="username")
            else:
                user = session.get(User, principal.user_id)
                assert user is not None  # the authenticated principal's own user
            issued = self._issue(session, user, name, expires_at, granted, bound)
            token = session.scalar(select(ApiToken).where(ApiToken.lookup == issued.lookup))
            assert token is not None  # just issued in this session
            command.details["token"] = token.id
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

    @staticmethod
    def _issue(
        session,
        user: User,
        name: str,
        expires_at: datetime | None = None,
        scopes: list[str] | None = None,
        namespaces: list[str] | None = None,
    ):
        issued = tokens.issue()
        session.add(
            ApiToken(
                user_id=user.id,
                name=name,
                lookup=issued.lookup,
                secret_hash=issued.secret_hash,
                expires_at=expires_at,
                scopes=scopes or None,
                namespaces=namespaces or None,
            )
        )
        session.flush()
        return issued
