"""A user name and password exchanged for a short-lived API token (ADR 0038).

Clients of the Arrow Flight SQL endpoint that hold a password rather than a token (basic auth:
a JDBC URL's ``user``/``password``, ADBC's ``username``/``password``) send it once, in the
Flight handshake; they get an ordinary API token that expires after
``LAKEHOLD_FLIGHT_TOKEN_SECONDS`` (at most the security policy's maximum token lifetime) and
send it on every later call, where it is checked like any other token (revocation included).

The password is checked exactly as the portal's sign-in checks it
(:func:`lakehold.security.sessions.password_check`): the same failed sign-in limits per user
name and address (RateLimited past them, before the password is read), the same refusals
(service principals, deactivated users), every outcome audited (``token.password``), never the
password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from lakehold.kernel.audit import record
from lakehold.security import policy
from lakehold.security.login_limits import LoginLimits
from lakehold.security.principal import Principal
from lakehold.security.service import issue_token
from lakehold.security.sessions import password_check
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, utcnow

EXCHANGE = "token.password"
"""The audit action of an exchange, allowed or refused."""


@dataclass(frozen=True)
class PasswordToken:
    """A token issued for a password: ``value`` is shown this once."""

    value: str
    expires_at: datetime
    principal: Principal


class PasswordTokens:
    """Exchanges a user name and password for a token of ``token_seconds``."""

    def __init__(self, store: Store, *, limits: LoginLimits, token_seconds: int) -> None:
        self.store = store
        self.limits = limits
        self.token_seconds = token_seconds

    def exchange(
        self, username: str, password: str, *, client: str, address: str | None = None
    ) -> PasswordToken:
        """A new token of the user whose ``password`` this is, named ``<client> sign-in``;
        Unauthorized ("wrong username or password", or the user is deactivated) or RateLimited
        otherwise (see :func:`~lakehold.security.sessions.password_check`: exchanges of one
        user name take turns)."""
        now = utcnow()
        checked = password_check(
            self.store, self.limits, EXCHANGE, username, password, address=address, now=now
        )
        with checked as (session, user, refused):
            if user is not None:
                seconds = self.token_seconds
                longest = getattr(policy.current(session), "max_token_lifetime_seconds", None)
                if longest:
                    seconds = min(seconds, longest)
                expires_at = now + timedelta(seconds=seconds)
                name = f"{client} sign-in"
                issued = issue_token(session, user, name, expires_at=expires_at, created_at=now)
                token_id = session.scalar(
                    select(ApiToken.id).where(ApiToken.lookup == issued.lookup)
                )
                principal = Principal(user.id, user.username, is_admin=user.is_admin)
                record(
                    session,
                    principal,
                    EXCHANGE,
                    allowed=True,
                    details={
                        "token": token_id,
                        "client": client,
                        "address": address,
                        "expires_at": expires_at.isoformat(),
                    },
                    resource=f"user:{user.id}",
                )
                token = PasswordToken(issued.value, expires_at, principal)
        if refused is not None:
            raise refused
        return token
