"""The OAuth 2.0 client credentials grant (RFC 6749 §4.4) of service principals (ADR 32).

A service principal's client id and secret (HTTP Basic, or ``client_id``/``client_secret``
form fields, never both) are exchanged for a short-lived Lakehold API token of its own: an
``api_tokens`` row named after the secret (:func:`client_secrets.token_name`) that expires
after ``LAKEHOLD_SERVICE_PRINCIPAL_TOKEN_SECONDS`` (at most the security policy's maximum
token lifetime). Every exchange is audited (``service_principal.token``), allowed or not,
never with the secret. Failed client authentications are counted per client id in the
metadata store (every API process sees them): after :data:`MAX_FAILURES` in
:data:`FAILURE_WINDOW` the client is refused (429) until the window ends.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import LakeholdError
from lakehold.kernel.audit import record
from lakehold.security import tokens
from lakehold.security.client_secrets import (
    MAX_CLIENT_ID,
    MAX_SECRET,
    basic_credentials,
    token_name,
)
from lakehold.security.login_limits import FailureWindow, reserve
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    ApiToken,
    Project,
    SecurityPolicy,
    ServicePrincipal,
    ServicePrincipalSecret,
    User,
    as_utc,
    utcnow,
)

GRANT_TYPE = "client_credentials"
EXCHANGE = "service_principal.token"
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=5)
CLIENTS = FailureWindow("client", MAX_FAILURES, FAILURE_WINDOW)
"""Failed client authentications, per client id (``client:<id>``, in ``login_failures``)."""
MAX_SCOPE = 1000
PROJECT_SCOPE = "project:"
INVALID_CLIENT = "client authentication failed"


class OAuthError(LakeholdError):
    """An error of the token endpoint, answered in OAuth's format (RFC 6749 §5.2):
    ``{"error": <code>, "error_description": ...}``."""

    code = "oauth"

    def __init__(self, error: str, description: str, *, status: int = 400, **details: Any):
        super().__init__(description, **details)
        self.error = error
        self.status_code = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.message}


def invalid_client(retry_after: int | None = None) -> OAuthError:
    if retry_after is not None:
        return OAuthError(
            "invalid_client",
            f"too many failed client authentications; retry in {retry_after} s",
            status=429,
            retry_after=retry_after,
        )
    return OAuthError("invalid_client", INVALID_CLIENT, status=401)


@dataclass(frozen=True)
class AccessToken:
    """A token issued for client credentials: ``value`` is shown this once."""

    value: str
    expires_in: int
    expires_at: datetime
    scope: str


@dataclass(frozen=True)
class _Client:
    """What an exchange needs to know of a service principal."""

    sp: ServicePrincipal
    user: User
    project: Project


class ClientCredentials:
    """Exchanges client credentials for short-lived tokens."""

    def __init__(self, store: Store, *, token_seconds: int) -> None:
        self.store = store
        self.token_seconds = token_seconds

    def exchange(
        self,
        *,
        grant_type: str | None,
        authorization: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
    ) -> AccessToken:
        """A token for the client authenticated by the ``Authorization: Basic`` header or the
        form's ``client_id``/``client_secret``; OAuthError otherwise."""
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required (form-encoded)")
        if grant_type != GRANT_TYPE:
            raise OAuthError("unsupported_grant_type", f"only grant_type={GRANT_TYPE} is supported")
        if scope is not None and len(scope) > MAX_SCOPE:
            raise OAuthError("invalid_request", f"scope is longer than {MAX_SCOPE} characters")
        client_id, secret = _client_auth(authorization, client_id, client_secret)
        if not client_id or len(client_id) > MAX_CLIENT_ID or len(secret) > MAX_SECRET:
            self._refused(None, client_id[:MAX_CLIENT_ID], "malformed client credentials")
            raise invalid_client()
        with self.store.session() as session:
            client = _client(session, client_id)
        if client is None:
            self._refused(None, client_id, "unknown client id")
            raise invalid_client()
        with self.store.session() as session:  # counted before the secret is checked
            wait = reserve(session, [(CLIENTS, client_id)], utcnow())
        if wait is not None:
            self._refused(client, client_id, "too many failed client authentications")
            raise invalid_client(wait)
        with self.store.session() as session:
            secret_id, why = _verify(session, client, secret)
            if secret_id is not None:
                granted = _scope(scope, client.project.name)
                issued = self._issue(session, client, secret_id, granted)
                CLIENTS.clear(session, client_id)
                return issued
        self._refused(client, client_id, why)
        raise invalid_client()

    def _issue(self, session: Session, client: _Client, secret_id: str, scope: str) -> AccessToken:
        now = utcnow()
        policy = session.get(SecurityPolicy, 1)
        seconds = self.token_seconds
        if policy is not None and policy.max_token_lifetime_seconds:
            seconds = min(seconds, policy.max_token_lifetime_seconds)
        expires_at = now + timedelta(seconds=seconds)
        issued = tokens.issue()
        row = ApiToken(
            user_id=client.user.id,
            name=token_name(secret_id),
            lookup=issued.lookup,
            secret_hash=issued.secret_hash,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        principal = Principal(
            user_id=client.user.id,
            username=client.user.username,
            project=client.project.name,
            service=True,
        )
        details = {
            "client_id": client.sp.client_id,
            "secret": secret_id,
            "token": row.id,
            "expires_at": expires_at.isoformat(),
        }
        record(
            session,
            principal,
            EXCHANGE,
            allowed=True,
            details=details,
            resource=f"user:{client.user.id}",
        )
        return AccessToken(issued.value, seconds, expires_at, scope)

    def _refused(self, client: _Client | None, client_id: str, reason: str) -> None:
        """Audit a refused exchange (in a transaction of its own)."""
        details = {"client_id": client_id, "error": "invalid_client"}
        if client is not None:
            details["username"] = client.user.username
        with self.store.session() as session:
            record(
                session,
                None,
                EXCHANGE,
                allowed=False,
                reason=reason,
                project=client.project.name if client is not None else None,
                details=details,
                resource=f"user:{client.user.id}" if client is not None else None,
            )


def _client_auth(
    authorization: str | None, form_id: str | None, form_secret: str | None
) -> tuple[str, str]:
    """The client id and secret of a request: one authentication method, not two."""
    try:
        basic = basic_credentials(authorization)
    except ValueError as error:
        raise OAuthError("invalid_client", str(error), status=401) from None
    if basic is not None:
        if form_secret is not None or (form_id is not None and form_id != basic[0]):
            raise OAuthError(
                "invalid_request",
                "use one client authentication method: HTTP Basic or the form's "
                "client_id and client_secret",
            )
        return basic
    if not form_id or form_secret is None:
        raise OAuthError(
            "invalid_client",
            "client authentication is required: HTTP Basic, or client_id and client_secret",
            status=401,
        )
    return form_id, form_secret


def _client(session: Session, client_id: str) -> _Client | None:
    row = session.execute(
        select(ServicePrincipal, User, Project)
        .join(User, User.id == ServicePrincipal.user_id)
        .join(Project, Project.id == ServicePrincipal.project_id)
        .where(ServicePrincipal.client_id == client_id)
    ).first()
    if row is None:
        return None
    sp, user, project = row
    session.expunge_all()  # read-only facts, used after this session
    return _Client(sp, user, project)


def _verify(session: Session, client: _Client, secret: str) -> tuple[str | None, str]:
    """The id of the secret ``secret`` is, when it may be exchanged now; else None and why."""
    if not client.user.active:
        return None, "the service principal is deactivated"
    now = utcnow()
    offered = tokens.hash_secret(secret)
    for row in session.scalars(
        select(ServicePrincipalSecret).where(
            ServicePrincipalSecret.service_principal_id == client.sp.id
        )
    ):
        if not hmac.compare_digest(row.secret_hash, offered):
            continue
        if row.revoked_at is not None:
            return None, "the client secret was revoked"
        expires = as_utc(row.expires_at)
        if expires is not None and expires <= now:
            return None, "the client secret expired"
        return row.id, ""
    return None, "wrong client secret"


def _scope(requested: str | None, project: str) -> str:
    """The scope granted: the principal's project. Scopes naming another project are refused;
    any other requested scope is ignored (the response names what was granted, §3.3)."""
    granted = f"{PROJECT_SCOPE}{project}"
    for item in (requested or "").split():
        if item.startswith(PROJECT_SCOPE) and item != granted:
            raise OAuthError("invalid_scope", f"this client may act in {granted} only, not {item}")
    return granted
