"""Policy decisions: administrators, project roles (owner > contributor > viewer), domain unit
owners, token owners.

A role comes from a direct membership or a group's. Functions either return a decision or raise
naming the action; a principal who is not a member at all gets NotFound, as if the project did
not exist. Owners of a domain unit (a user, or a member of an owning group) own every unit below
it too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lakehold.errors import Forbidden, NotFound
from lakehold.security.principal import Principal
from lakehold.store import driver
from lakehold.store.models import (
    DomainUnit,
    DomainUnitOwner,
    GroupMember,
    Project,
)

Role = Literal["viewer", "contributor", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "contributor", "owner")


def require_admin(principal: Principal, action: str) -> None:
    """Only administrators may ``action``."""
    if not principal.is_admin:
        raise Forbidden(f"only administrators may {action}")


def project_role(session: Session, principal: Principal, project: Project) -> Role | None:
    """The principal's strongest role in ``project``; administrators act as owners."""
    return project_roles(session, principal, [project.id]).get(project.id)


def project_roles(
    session: Session, principal: Principal, project_ids: Collection[str]
) -> dict[str, Role]:
    """The principal's strongest role in each of ``project_ids`` it is a member of, in one
    query; administrators act as owners of every project."""
    if principal.is_admin:
        return dict.fromkeys(project_ids, "owner")
    if not project_ids:
        return {}
    sql = (
        "SELECT project_id, role FROM project_members "
        f"WHERE {driver.member_of(session, 'project_id')} AND (user_id = ? OR group_id IN "
        "(SELECT group_id FROM group_members WHERE user_id = ?))"
    )
    params = [driver.values(session, project_ids), principal.user_id, principal.user_id]
    rows = driver.fetch(session, sql, params)
    roles: dict[str, Role] = {}
    for project_id, role in rows:
        if project_id not in roles or ROLES.index(role) > ROLES.index(roles[project_id]):
            roles[project_id] = role
    return roles


def has_role(session: Session, principal: Principal, project: Project, minimum: Role) -> bool:
    """True when the principal holds ``minimum`` or a stronger role in ``project``."""
    role = project_role(session, principal, project)
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


def require_role(
    session: Session, principal: Principal, project: Project, minimum: Role, action: str
) -> None:
    """NotFound for non-members; Forbidden for members below ``minimum``."""
    role = project_role(session, principal, project)
    if role is None:
        raise NotFound(f"project '{project.name}' not found", field="project")
    if ROLES.index(role) < ROLES.index(minimum):
        raise Forbidden(f"only {minimum}s of project '{project.name}' may {action}")


def can_manage_token(principal: Principal, token_user_id: str) -> bool:
    """Users manage their own tokens; administrators manage all."""
    return principal.is_admin or principal.user_id == token_user_id


def unit_lineage(session: Session, unit: DomainUnit) -> list[DomainUnit]:
    """``unit`` and its ancestors, nearest first, ending with the domain's root unit."""
    lineage = [unit]
    seen = {unit.id}
    while lineage[-1].parent_id is not None and lineage[-1].parent_id not in seen:
        parent = session.get(DomainUnit, lineage[-1].parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        lineage.append(parent)
    return lineage


def owns_unit(session: Session, principal: Principal, unit: DomainUnit) -> bool:
    """True for administrators and for owners (directly or via a group) of ``unit`` or an
    ancestor of it."""
    if principal.is_admin:
        return True
    groups = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
    owner = session.scalar(
        select(DomainUnitOwner.id)
        .where(
            DomainUnitOwner.unit_id.in_([u.id for u in unit_lineage(session, unit)]),
            or_(DomainUnitOwner.user_id == principal.user_id, DomainUnitOwner.group_id.in_(groups)),
        )
        .limit(1)
    )
    return owner is not None


def require_unit_owner(
    session: Session, principal: Principal, unit: DomainUnit, action: str
) -> None:
    """Forbidden unless the principal owns ``unit`` or an ancestor (or is an administrator)."""
    if not owns_unit(session, principal, unit):
        raise Forbidden(f"only owners of domain unit '{unit.name}' may {action}")


def require_project_creator(session: Session, principal: Principal, unit: DomainUnit) -> None:
    """Anyone may create a project in a domain's root unit; below it, only the unit's owners."""
    if unit.parent_id is None:
        return
    require_unit_owner(session, principal, unit, "create projects in it")
