"""Authorization policies on domain units: capabilities delegated to projects."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.unit_policies import UnitPolicyView

router = APIRouter(prefix="/api/v1/domain-units/{unit}/policies", tags=["domain units"])


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capability: Literal["create_form", "create_glossary", "create_glossary_term"]
    project: str = Field(min_length=1, description="A project of the unit's domain")
    include_children: bool = Field(default=False, description="Also the units below the unit")


@router.post("", response_model=UnitPolicyView, status_code=status.HTTP_201_CREATED)
def grant(unit: str, body: PolicyIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Let contributors and owners of a project use a capability in the unit (unit owners)."""
    return runtime.unit_policies.grant(
        principal, unit, body.capability, body.project, include_children=body.include_children
    )


@router.get("", response_model=list[UnitPolicyView])
def list_policies(unit: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The unit's authorization policies. A project you may not see appears as
    `project:hidden:<id>`."""
    return runtime.unit_policies.list_policies(principal, unit)


@router.delete("/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(unit: str, policy_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Remove an authorization policy (unit owners)."""
    runtime.unit_policies.revoke(principal, unit, policy_id)
