"""Who holds what: project roles (owner > contributor > viewer) and domain unit ownership.

A role comes from a direct membership or a group's; administrators act as owners of every
project and unit. Owners of a domain unit (a user, or a member of an owning group) own every
unit below it too. These are facts, not decisions: :mod:`lakehold.kernel.authorize` decides.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lakehold.security.principal import Principal
from lakehold.store import driver
from lakehold.store.models import (
    DomainUnit,
    DomainUnitOwner,
    GroupMember,
    Project,
)

SEPARATOR = "/"  # between the units of a path: "Sales/Marketing"

Role = Literal["viewer", "contributor", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "contributor", "owner")


def administers(principal: Principal) -> bool:
    """Whether ``principal`` is an administrator: every rule allows them (for adapters that
    show or hide a control; the decision itself is still ``authorize()``)."""
    return principal.is_admin


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


def named_project_roles(
    session: Session, principal: Principal, names: Collection[str]
) -> dict[str, tuple[str, Role | None]]:
    """Project name -> (id, the principal's strongest role or None) for the projects named
    that exist, in one query (administrators act as owners)."""
    if not names:
        return {}
    named = f"WHERE {driver.member_of(session, 'p.name')}"
    if principal.is_admin:
        rows = driver.fetch(
            session,
            f"SELECT p.id, p.name, 'owner' FROM projects p {named}",
            [driver.values(session, names)],
        )
    else:
        sql = (
            "SELECT p.id, p.name, m.role FROM projects p LEFT JOIN project_members m "
            "ON m.project_id = p.id AND (m.user_id = ? OR m.group_id IN "
            f"(SELECT group_id FROM group_members WHERE user_id = ?)) {named}"
        )
        params = [principal.user_id, principal.user_id, driver.values(session, names)]
        rows = driver.fetch(session, sql, params)
    found: dict[str, tuple[str, Role | None]] = {}
    for project_id, name, role in rows:
        held = found.get(name, (project_id, None))[1]
        if role is not None and (held is None or ROLES.index(role) > ROLES.index(held)):
            held = role
        found[name] = (project_id, held)
    return found


def has_role(session: Session, principal: Principal, project: Project, minimum: Role) -> bool:
    """True when the principal holds ``minimum`` or a stronger role in ``project``."""
    role = project_role(session, principal, project)
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


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


def unit_path(session: Session, unit: DomainUnit) -> str:
    """``Root/Child/Grandchild``."""
    return SEPARATOR.join(u.name for u in reversed(unit_lineage(session, unit)))
