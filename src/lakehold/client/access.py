"""The SDK's access endpoints: users, API tokens, the network allow-list and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment


class Users(Resource):
    """Users (administrators); ``client.me()`` is the user a token belongs to."""

    def create(
        self,
        username: str,
        *,
        display_name: str | None = None,
        is_admin: bool = False,
        password: str | None = None,
    ) -> m.UserOut:
        """Create a user (administrators); then issue a token for them with
        ``client.tokens.create(..., username=...)``."""
        body = m.UserIn(
            username=username, display_name=display_name, is_admin=is_admin, password=password
        )
        return self._post("/api/v1/users", m.UserOut, json=body)

    def list(self) -> list[m.UserOut]:
        """Every user (administrators)."""
        return self._get("/api/v1/users", list[m.UserOut])

    def revoke_credentials(self, username: str, *, new_token: str | None = None) -> m.Revoked:
        """Revoke every session and token of ``username`` (yourself; administrators:
        anyone); ``new_token`` names a fresh token issued to you afterwards (returned once)."""
        body = m.RevokeIn(new_token=new_token) if new_token else None
        return self._post(
            f"/api/v1/users/{segment(username)}/revoke-credentials", m.Revoked, json=body
        )

    def deactivate(self, username: str) -> m.UserOut:
        """Deactivate a user (administrators): every session and token of theirs ends."""
        return self._post(f"/api/v1/users/{segment(username)}/deactivate", m.UserOut)

    def activate(self, username: str) -> m.UserOut:
        """Reactivate a user (administrators)."""
        return self._post(f"/api/v1/users/{segment(username)}/activate", m.UserOut)


class Tokens(Resource):
    """API tokens: their values are returned once, at creation."""

    def create(
        self,
        name: str,
        *,
        username: str | None = None,
        expires_at: datetime | None = None,
        scopes: Sequence[str] = (),
        namespaces: Sequence[str] = (),
        identity_provider: str | None = None,
    ) -> m.TokenInfo:
        """Issue a token (``username``: administrators, for another user). A ``lineage:write``
        scope (administrators grant it) needs the lineage ``namespaces`` it may write; a
        ``scim`` scope the ``identity_provider`` it provisions for (at ``/scim/v2`` only)."""
        body = m.TokenIn(
            name=name,
            username=username,
            expires_at=expires_at,
            scopes=list(scopes),
            namespaces=list(namespaces),
            identity_provider=identity_provider,
        )
        return self._post("/api/v1/tokens", m.TokenInfo, json=body)

    def list(self) -> list[m.TokenInfo]:
        """Your tokens (administrators: every token), without their values."""
        return self._get("/api/v1/tokens", list[m.TokenInfo])

    def revoke(self, token_id: str) -> None:
        """Revoke a token at once."""
        self._delete(f"/api/v1/tokens/{segment(token_id)}")


class Security(Resource):
    """The security policy and revoking many users' credentials (administrators)."""

    def policy(self) -> m.SecurityPolicyView:
        """Token lifetimes and the revocation cutoff in force."""
        return self._get("/api/v1/security/policy", m.SecurityPolicyView)

    def set_policy(
        self,
        *,
        max_token_lifetime_seconds: int | m.UnsetType | None = m.UNSET,
        default_token_lifetime_seconds: int | m.UnsetType | None = m.UNSET,
    ) -> m.SecurityPolicyView:
        """Change the lifetimes given (``None``: no limit); the others keep their values."""
        body = m.SecurityPolicyIn(
            max_token_lifetime_seconds=max_token_lifetime_seconds,
            default_token_lifetime_seconds=default_token_lifetime_seconds,
        )
        return self._put("/api/v1/security/policy", m.SecurityPolicyView, json=body)

    def revoke_before(
        self, before: datetime | None = None, *, new_token: str | None = None
    ) -> m.Revoked:
        """Revoke every session and token issued at or before ``before`` (default: now),
        yours included; ``new_token`` names a fresh token issued to you afterwards."""
        body = m.RevokeBeforeIn(
            before=before if before is not None else m.UNSET,
            new_token=new_token if new_token else m.UNSET,
        )
        return self._post("/api/v1/security/revoke-before", m.Revoked, json=body)

    def revoke_provider(self, name: str, *, new_token: str | None = None) -> m.Revoked:
        """Revoke every session and token of every user of identity provider ``name``."""
        body = m.RevokeIn(new_token=new_token) if new_token else None
        return self._post(
            f"/api/v1/identity-providers/{segment(name)}/revoke-credentials", m.Revoked, json=body
        )


class NetworkRules(Resource):
    """The network allow-list of connections and webhooks (administrators)."""

    def allow(self, rule: str, description: str | None = None) -> m.NetworkRuleView:
        """Allow ``<host or CIDR>:<port or *>`` (``10.0.0.0/8:5432``); Conflict if stored."""
        body = m.NetworkRuleIn(rule=rule, description=description)
        return self._post("/api/v1/network-rules", m.NetworkRuleView, json=body)

    def list(self) -> list[m.NetworkRuleView]:
        """Every rule in force: from ``LAKEHOLD_NETWORK_ALLOW`` (source ``setting``) and
        stored."""
        return self._get("/api/v1/network-rules", list[m.NetworkRuleView])

    def remove(self, rule: str) -> None:
        """Remove a stored rule, by its id or its text."""
        self._delete(f"/api/v1/network-rules/{segment(rule)}")


class Audit(Resource):
    """The audit log (administrators)."""

    def events(
        self,
        *,
        username: str | None = None,
        project: str | None = None,
        action: str | None = None,
        allowed: bool | None = None,
        asset: str | None = None,
        resource: str | None = None,
        request_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[m.AuditView]:
        """Queries, decisions and changes, newest first, filtered. ``action`` may end in
        ``.*`` (``table.*``); ``asset`` is ``project.table``; ``request_id`` an
        ``X-Request-ID``; ``since`` inclusive, ``until`` exclusive (naive times are UTC)."""
        params = {
            "username": username,
            "project": project,
            "action": action,
            "allowed": allowed,
            "asset": asset,
            "resource": resource,
            "request_id": request_id,
            "since": None if since is None else since.isoformat(),
            "until": None if until is None else until.isoformat(),
            "limit": limit,
        }
        return self._get("/api/v1/audit", list[m.AuditView], params=params)
