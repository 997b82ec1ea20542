"""Policy decisions. Minimal until the governance issue: admins, project owners, token owners.

Every function either returns a boolean decision or raises Forbidden naming the action.
"""

from __future__ import annotations

from lakehold.errors import Forbidden
from lakehold.security.principal import Principal


def require_admin(principal: Principal, action: str) -> None:
    """Only administrators may ``action``."""
    if not principal.is_admin:
        raise Forbidden(f"only administrators may {action}")


def can_manage_project(principal: Principal, owner_id: str) -> bool:
    """Owners and administrators manage a project: its tables and their writes."""
    return principal.is_admin or principal.user_id == owner_id


def require_project_manager(principal: Principal, owner_id: str, project: str) -> None:
    """Raise Forbidden unless the principal manages ``project``."""
    if not can_manage_project(principal, owner_id):
        raise Forbidden(f"only owners of project '{project}' may change it")


def can_read_project(principal: Principal, owner_id: str) -> bool:
    """Who may see a project's inventory and query its tables (grants come with governance)."""
    return can_manage_project(principal, owner_id)


def can_manage_token(principal: Principal, token_user_id: str) -> bool:
    """Users manage their own tokens; administrators manage all."""
    return principal.is_admin or principal.user_id == token_user_id
