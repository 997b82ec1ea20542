"""Metadata enforcement rules: publishing or requesting a subscription needs a form."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.errors import Invalid
from lakehold.governance.rules import RuleView

router = APIRouter(prefix="/api/v1", tags=["metadata rules"])
Action = Literal["publish", "subscription_request"]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: str = Field(min_length=1, description="Domain unit id or path (Sales/Marketing)")
    name: str = Field(min_length=1, max_length=100)
    action: Action
    form: str = Field(min_length=1, description="The required form (name or id) of the domain")
    include_children: bool = Field(default=True, description="Also the units below the unit")
    asset_types: list[str] | None = Field(default=None, description="Default: every type")
    projects: list[str] | None = Field(
        default=None, description="Project names in scope; default: every project"
    )
    description: str | None = None


@router.post("/metadata-rules", response_model=RuleView, status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a rule on a domain unit (its owners)."""
    return runtime.rules.create_rule(
        principal,
        body.unit,
        body.name,
        body.action,
        body.form,
        include_children=body.include_children,
        asset_types=body.asset_types,
        projects=body.projects,
        description=body.description,
    )


class RuleChange(BaseModel):
    """Only the fields given change; ``null`` asset types or projects mean all."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    unit: str | None = Field(default=None, min_length=1, description="Move to this domain unit")
    form: str | None = Field(default=None, min_length=1, description="The required form")
    include_children: bool | None = None
    asset_types: list[str] | None = Field(default=None, description="null: every type")
    projects: list[str] | None = Field(default=None, description="null: every project")
    description: str | None = Field(default=None, description='"" or null clears it')


@router.patch("/metadata-rules/{rule_id}", response_model=RuleView)
def update_rule(rule_id: str, body: RuleChange, runtime: RuntimeDep, principal: PrincipalDep):
    """Change a rule's form, scope, asset types, projects or description (owners of its unit),
    checked as on creation."""
    given = body.model_dump(exclude_unset=True)
    for key in ("name", "unit", "form", "include_children"):
        if key in given and given[key] is None:
            raise Invalid(f"{key} cannot be null", field=key)
    return runtime.rules.update_rule(principal, rule_id, **given)


@router.get("/metadata-rules", response_model=list[RuleView])
def list_rules(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    unit: Annotated[str | None, Query(description="Only rules of this unit (id or path)")] = None,
    action: Annotated[Action | None, Query()] = None,
):
    """Rules, oldest first. A project you may not see appears as `project:hidden:<id>`."""
    return runtime.rules.list_rules(principal, unit=unit, action=action)


@router.get("/metadata-rules/{rule_id}", response_model=RuleView)
def get_rule(rule_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One rule with the fields its form requires (hidden projects as `project:hidden:<id>`)."""
    return runtime.rules.get_rule(principal, rule_id)


@router.delete("/metadata-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete a rule (owners of its unit)."""
    runtime.rules.delete_rule(principal, rule_id)
