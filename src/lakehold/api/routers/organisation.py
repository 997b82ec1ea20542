"""Domain units (a hierarchy under each domain, with owners) and groups of users."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.views import DomainUnitView, GroupView, ProjectView

router = APIRouter(prefix="/api/v1")
UNITS: list[str | Enum] = ["domain units"]
GROUPS: list[str | Enum] = ["groups"]
UNIT_REF = "Domain unit id, or its path such as Sales/Marketing"


class DomainUnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, description="The domain the unit belongs to")
    name: str = Field(min_length=1, max_length=100, description="Unique among its siblings")
    parent: str | None = Field(default=None, description=f"{UNIT_REF}; default: the root unit")
    description: str | None = None


class DomainUnitChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="New name; omitted: unchanged"
    )
    description: str | None = Field(
        default=None, description='New description ("" clears it); omitted: unchanged'
    )


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(default=None, description="A username (or give group)")
    group: str | None = Field(default=None, description="A group name (or give user)")


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str | None = None


class GroupMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, description="A username")


@router.post(
    "/domain-units",
    response_model=DomainUnitView,
    status_code=status.HTTP_201_CREATED,
    tags=UNITS,
)
def create_unit(body: DomainUnitIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a domain unit below a parent unit (administrators and owners of the parent)."""
    return runtime.organisation.create_unit(
        principal, body.domain, body.name, parent=body.parent, description=body.description
    )


@router.get("/domain-units", response_model=list[DomainUnitView], tags=UNITS)
def list_units(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    domain: Annotated[str, Query(min_length=1, description="The domain whose tree to list")],
):
    """A domain's unit tree, depth first (root first, siblings by name)."""
    return runtime.organisation.list_units(principal, domain)


@router.get("/domain-units/{unit}", response_model=DomainUnitView, tags=UNITS)
def get_unit(unit: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One domain unit, by id."""
    return runtime.organisation.get_unit(principal, unit)


@router.patch("/domain-units/{unit}", response_model=DomainUnitView, tags=UNITS)
def update_unit(unit: str, body: DomainUnitChange, runtime: RuntimeDep, principal: PrincipalDep):
    """Rename a unit or change its description (owners of the unit or an ancestor)."""
    return runtime.organisation.update_unit(
        principal, unit, name=body.name, description=body.description
    )


@router.delete("/domain-units/{unit}", status_code=status.HTTP_204_NO_CONTENT, tags=UNITS)
def delete_unit(unit: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete an empty unit (owners of the unit or an ancestor); 409 naming what is still in
    it (child units, projects, glossaries, forms), and for a domain's root unit."""
    runtime.organisation.delete_unit(principal, unit)


@router.get("/domain-units/{unit}/projects", response_model=list[ProjectView], tags=UNITS)
def list_unit_projects(unit: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The unit's projects you may see (its owners see all)."""
    return runtime.organisation.list_unit_projects(principal, unit)


@router.post(
    "/domain-units/{unit}/owners",
    response_model=DomainUnitView,
    status_code=status.HTTP_201_CREATED,
    tags=UNITS,
)
def add_unit_owner(unit: str, body: OwnerIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Add an owner (a user or a group) to a unit (owners of the unit or an ancestor)."""
    return runtime.organisation.add_unit_owner(principal, unit, user=body.user, group=body.group)


@router.delete(
    "/domain-units/{unit}/owners/users/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=UNITS,
)
def remove_unit_user_owner(
    unit: str, username: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a user from a unit's owners."""
    runtime.organisation.remove_unit_owner(principal, unit, user=username)


@router.delete(
    "/domain-units/{unit}/owners/groups/{group}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=UNITS,
)
def remove_unit_group_owner(
    unit: str, group: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a group from a unit's owners."""
    runtime.organisation.remove_unit_owner(principal, unit, group=group)


@router.post("/groups", response_model=GroupView, status_code=status.HTTP_201_CREATED, tags=GROUPS)
def create_group(body: GroupIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a group of users (administrators)."""
    return runtime.organisation.create_group(principal, body.name, body.description)


@router.get("/groups", response_model=list[GroupView], tags=GROUPS)
def list_groups(runtime: RuntimeDep, principal: PrincipalDep):
    """Every group (administrators); otherwise the groups you belong to."""
    return runtime.organisation.list_groups(principal)


@router.get("/groups/{group}", response_model=GroupView, tags=GROUPS)
def get_group(group: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One group with its members (administrators and members)."""
    return runtime.organisation.get_group(principal, group)


@router.delete("/groups/{group}", status_code=status.HTTP_204_NO_CONTENT, tags=GROUPS)
def delete_group(group: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete a group (administrators); 409 if a project would lose its last owner."""
    runtime.organisation.delete_group(principal, group)


@router.post(
    "/groups/{group}/members",
    response_model=GroupView,
    status_code=status.HTTP_201_CREATED,
    tags=GROUPS,
)
def add_group_member(group: str, body: GroupMemberIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Add a user to a group (administrators); effective at once."""
    return runtime.organisation.add_group_member(principal, group, body.user)


@router.delete(
    "/groups/{group}/members/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=GROUPS,
)
def remove_group_member(
    group: str, username: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a user from a group (administrators); effective at once."""
    runtime.organisation.remove_group_member(principal, group, username)
