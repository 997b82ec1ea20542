"""Capabilities on domain units: who may create metadata forms, glossaries and glossary terms.

Owners of a unit (or of an ancestor) and administrators always may. They delegate a capability
to a project with a unit policy (:mod:`lakehold.governance.unit_policies` records them);
contributors and owners of that project may then use it in the unit (and below, when the
policy covers the children).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Forbidden
from lakehold.kernel import roles
from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import allowed
from lakehold.security.principal import Principal
from lakehold.store.models import DomainUnit, Project, UnitPolicy

Capability = Literal["create_form", "create_glossary", "create_glossary_term"]
CAPABILITIES: tuple[Capability, ...] = ("create_form", "create_glossary", "create_glossary_term")
_WHAT = {
    "create_form": "create metadata forms",
    "create_glossary": "create glossaries",
    "create_glossary_term": "create glossary terms",
}


def may(session: Session, principal: Principal, unit: DomainUnit, capability: Capability) -> bool:
    """True for unit owners (and administrators), and for contributors and owners of a project
    holding ``capability`` on ``unit`` (or on an ancestor, with its children)."""
    if roles.owns_unit(session, principal, unit):
        return True
    lineage = roles.unit_lineage(session, unit)
    grants = session.scalars(
        select(UnitPolicy).where(
            UnitPolicy.capability == capability,
            UnitPolicy.unit_id.in_([u.id for u in lineage]),
        )
    )
    for grant in grants:
        if grant.unit_id != unit.id and not grant.include_children:
            continue
        project = session.get(Project, grant.project_id)
        if project is not None and allowed(
            principal, Action.UNIT_POLICY_USE, project, session=session
        ):
            return True
    return False


def require(
    session: Session, principal: Principal, unit: DomainUnit, capability: Capability
) -> None:
    """Forbidden unless the principal may use ``capability`` in ``unit``."""
    if not may(session, principal, unit, capability):
        raise Forbidden(
            f"you may not {_WHAT[capability]} in domain unit '{roles.unit_path(session, unit)}': "
            "ask its owners for an authorization policy for your project"
        )
