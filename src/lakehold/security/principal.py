"""Who is acting, and in which project."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Principal:
    """An authenticated user, optionally acting in a project."""

    user_id: str
    username: str
    is_admin: bool = False
    project: str | None = None

    def in_project(self, project: str | None) -> Principal:
        """The same user acting in ``project``."""
        return replace(self, project=project)
