"""Who is acting, and in which project."""

from __future__ import annotations

from dataclasses import dataclass, replace

LINEAGE_WRITE = "lineage:write"
SCOPES = frozenset({LINEAGE_WRITE})  # what a token may grant beyond its user's own rights


@dataclass(frozen=True)
class Principal:
    """An authenticated user, optionally acting in a project."""

    user_id: str
    username: str
    is_admin: bool = False
    project: str | None = None
    scopes: frozenset[str] = frozenset()

    def can(self, scope: str) -> bool:
        """True when the principal's token grants ``scope``; administrators hold every scope."""
        return self.is_admin or scope in self.scopes

    def in_project(self, project: str | None) -> Principal:
        """The same user acting in ``project``."""
        return replace(self, project=project)
