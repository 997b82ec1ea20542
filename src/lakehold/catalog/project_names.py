"""Project names as a principal may see them in listings that mention other projects (rules,
unit policies, the assets holding a form's values).

A project's name is shown to administrators, its members (directly or through a group) and the
owners of its domain unit (who list the unit's projects anyway); anyone else sees an opaque
placeholder ``project:hidden:<id>``, as lineage shows ``dataset:hidden:<id>`` (ADR 0010). The id
is derived from the project's random id: stable across requests, unguessable from the name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.service import find_project
from lakehold.errors import NotFound
from lakehold.kernel import Action, allowed, roles
from lakehold.security.principal import Principal
from lakehold.store.models import DomainUnit, Project

HIDDEN = "project:hidden:"


def hidden_name(project: Project) -> str:
    """The placeholder of ``project``."""
    digest = hashlib.sha256(f"lakehold-project:{project.id}".encode()).hexdigest()
    return HIDDEN + digest[:16]


def project_names(
    session: Session, principal: Principal, projects: Iterable[Project]
) -> dict[str, str]:
    """Project id -> its name, or its placeholder where the principal may not see it."""
    found = {p.id: p for p in projects}
    held = roles.project_roles(session, principal, list(found))
    owned_units: dict[str, bool] = {}
    names = {}
    for project_id, project in found.items():
        unit_id = project.domain_unit_id
        if project_id not in held and unit_id is not None and unit_id not in owned_units:
            unit = session.get(DomainUnit, unit_id)
            owned_units[unit_id] = unit is not None and allowed(
                principal, Action.UNIT_PROJECTS_READ, unit, session=session
            )
        visible = project_id in held or owned_units.get(unit_id or "", False)
        names[project_id] = project.name if visible else hidden_name(project)
    return names


def project_name(session: Session, principal: Principal, project: Project) -> str:
    """The name of ``project``, or its placeholder, for ``principal``."""
    return project_names(session, principal, [project])[project.id]


def find_named_or_hidden(session: Session, name: str, domain_id: str) -> Project:
    """The project called ``name``, or of domain ``domain_id`` whose placeholder ``name`` is (so
    a listing read back, e.g. a rule's projects, can be written back); NotFound otherwise."""
    if not name.startswith(HIDDEN):
        return find_project(session, name)
    for project in session.scalars(select(Project).where(Project.domain_id == domain_id)):
        if hidden_name(project) == name:
            return project
    raise NotFound(f"project '{name}' not found")
