"""Authorization policies on domain units: who may create metadata forms, glossaries and
glossary terms there.

Owners of a unit (or of an ancestor) and administrators always may. They delegate a
capability to a project with a policy on the unit, optionally covering the units below it;
contributors and owners of that project may then use the capability in the unit. A policy
names a project of the unit's domain; granting the same capability twice is a Conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.project_names import project_name
from lakehold.catalog.service import find_project
from lakehold.catalog.units import resolve_unit, unit_path
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, governed
from lakehold.kernel.capabilities import CAPABILITIES, Capability
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import DomainUnit, Project, UnitPolicy, User


@dataclass(frozen=True)
class UnitPolicyView:
    id: str
    unit: str
    """The unit's path."""
    unit_id: str
    capability: str
    project: str
    include_children: bool
    created_by: str
    created_at: datetime


def _view(session: Session, principal: Principal, found: UnitPolicy) -> UnitPolicyView:
    """``found`` as ``principal`` sees it: a project it may not see as a placeholder."""
    unit = session.get(DomainUnit, found.unit_id)
    project = session.get(Project, found.project_id)
    creator = session.get(User, found.created_by)
    assert unit is not None and project is not None
    return UnitPolicyView(
        id=found.id,
        unit=unit_path(session, unit),
        unit_id=unit.id,
        capability=found.capability,
        project=project_name(session, principal, project),
        include_children=found.include_children,
        created_by=creator.username if creator else "",
        created_at=found.created_at,
    )


def check_capability(capability: str) -> Capability:
    if capability not in CAPABILITIES:
        raise Invalid(
            f"capability '{capability}' is not one of {', '.join(CAPABILITIES)}",
            field="capability",
        )
    return capability


class UnitPolicyService:
    """Grant, list and revoke authorization policies on domain units (unit owners)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def grant(
        self,
        principal: Principal,
        unit: str,
        capability: str,
        project: str,
        *,
        include_children: bool = False,
    ) -> UnitPolicyView:
        """Let contributors and owners of ``project`` use ``capability`` in ``unit``."""
        details = {"unit": unit, "capability": capability, "project": project}
        with governed(self.store, principal, "unit_policy.grant", details=details) as command:
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            command.authorize(Action.UNIT_POLICY_MANAGE, found)
            capability = check_capability(capability)
            try:
                target = find_project(session, project)
            except NotFound as error:
                raise NotFound(error.message, field="project") from None
            if target.domain_id != found.domain_id:
                raise Invalid(
                    f"project '{project}' is not in the domain of unit "
                    f"'{unit_path(session, found)}'",
                    field="project",
                )
            if session.scalar(
                select(UnitPolicy.id).where(
                    UnitPolicy.unit_id == found.id,
                    UnitPolicy.capability == capability,
                    UnitPolicy.project_id == target.id,
                )
            ):
                raise Conflict(
                    f"project '{project}' already holds {capability} on this unit",
                    field="project",
                )
            granted = UnitPolicy(
                unit_id=found.id,
                capability=capability,
                project_id=target.id,
                include_children=bool(include_children),
                created_by=principal.user_id,
            )
            session.add(granted)
            session.flush()
            view = _view(session, principal, granted)
            command.project = project
            command.details.update(unit=view.unit, policy=view.id)
            return view

    def list_policies(self, principal: Principal, unit: str) -> list[UnitPolicyView]:
        """The policies of a unit (any user may read them; a project the reader may not see
        appears as ``project:hidden:<id>``)."""
        with self.store.session() as session:
            found = resolve_unit(session, unit, field="unit")
            rows = session.scalars(
                select(UnitPolicy)
                .where(UnitPolicy.unit_id == found.id)
                .order_by(UnitPolicy.capability, UnitPolicy.created_at)
            )
            return [_view(session, principal, row) for row in rows]

    def revoke(self, principal: Principal, unit: str, policy_id: str) -> None:
        """Remove a policy of ``unit`` (its owners)."""
        details = {"unit": unit, "policy": policy_id}
        with governed(self.store, principal, "unit_policy.revoke", details=details) as command:
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            command.authorize(Action.UNIT_POLICY_MANAGE, found)
            row = session.get(UnitPolicy, policy_id)
            if row is None or row.unit_id != found.id:
                raise NotFound(f"policy '{policy_id}' not found", field="policy")
            view = _view(session, principal, row)
            target = session.get(Project, row.project_id)
            session.delete(row)
            command.project = target.name if target else None
            command.details.update(capability=view.capability)
