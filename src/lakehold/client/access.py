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
    ) -> m.TokenInfo:
        """Issue a token (``username``: administrators, for another user). A ``lineage:write``
        scope (administrators grant it) needs the lineage ``namespaces`` it may write."""
        body = m.TokenIn(
            name=name,
            username=username,
            expires_at=expires_at,
            scopes=list(scopes),
            namespaces=list(namespaces),
        )
        return self._post("/api/v1/tokens", m.TokenInfo, json=body)

    def list(self) -> list[m.TokenInfo]:
        """Your tokens (administrators: every token), without their values."""
        return self._get("/api/v1/tokens", list[m.TokenInfo])

    def revoke(self, token_id: str) -> None:
        """Revoke a token at once."""
        self._delete(f"/api/v1/tokens/{segment(token_id)}")


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
