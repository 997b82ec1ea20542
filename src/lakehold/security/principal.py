"""Who is acting, and in which project."""

from __future__ import annotations

from dataclasses import dataclass, replace

LINEAGE_WRITE = "lineage:write"
SCIM = "scim"
"""Provisions users and groups at ``/scim/v2`` for the identity provider the token is bound to;
such a token works nowhere else (ADR 30)."""
METRICS = "metrics"
"""Reads ``/metrics`` (what Prometheus scrapes with); such a token works nowhere else (ADR 33)."""
SCOPES = frozenset({LINEAGE_WRITE, SCIM, METRICS})
"""What a token may grant beyond its user's own rights."""
ADMIN_ONLY_SCOPES = frozenset({LINEAGE_WRITE, SCIM, METRICS})
"""Scopes only administrators grant."""
CONFINED_SCOPES = frozenset({SCIM, METRICS})
"""Scopes of tokens that work in one place only: such a token holds no other scope."""


@dataclass(frozen=True)
class Principal:
    """An authenticated user, optionally acting in a project.

    ``lineage_namespaces`` are the namespace patterns a ``lineage:write`` token is bound to
    (None: not bound, e.g. an administrator's own token)."""

    user_id: str
    username: str
    is_admin: bool = False
    project: str | None = None
    scopes: frozenset[str] = frozenset()
    lineage_namespaces: tuple[str, ...] | None = None
    service: bool = False
    """A project's service principal (``users.kind`` ``service``): bound to its project, the
    kernel refuses it whatever reaches beyond one (``Rule.service``, ADR 32)."""
    identity_provider: str | None = None
    """The identity provider a ``scim`` token is bound to: the users and groups it provisions
    are that provider's (ADR 30)."""
    recipient: str | None = None
    """The Delta Sharing recipient (its id) a recipient token stands for: ``user_id`` is that
    id too; the kernel refuses such a principal everything but reading its shares (ADR 37)."""
    token_id: str | None = None
    """The recipient token (its id) a recipient principal authenticated with: the file URLs it
    obtains end when that token is revoked or expires."""

    def can(self, scope: str) -> bool:
        """True when the principal's token grants ``scope``; administrators hold every scope."""
        return self.is_admin or scope in self.scopes

    def may_write_namespace(self, namespace: str) -> bool:
        """True when the token may change lineage of ``namespace`` (an administrator's token
        bound to no namespace may change any; Lakehold's own namespace is decided elsewhere)."""
        if self.lineage_namespaces is None:
            return self.is_admin
        return any(namespace_matches(p, namespace) for p in self.lineage_namespaces)

    def in_project(self, project: str | None) -> Principal:
        """The same user acting in ``project``."""
        return replace(self, project=project)


def namespace_matches(pattern: str, namespace: str) -> bool:
    """``*`` in ``pattern`` matches any run of characters; everything else matches itself
    (``airflow://prod``, ``postgres://db.example.com:*``)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == namespace
    first, *middle, last = parts
    if len(namespace) < len(first) + len(last):
        return False
    if not namespace.startswith(first) or not namespace.endswith(last):
        return False
    position, end = len(first), len(namespace) - len(last)
    for part in middle:
        found = namespace.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True
