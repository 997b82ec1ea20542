"""Project members: users and groups with a role (owner, contributor, viewer)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.views import MemberView

router = APIRouter(prefix="/api/v1/projects/{project}/members", tags=["project members"])

RoleName = Literal["owner", "contributor", "viewer"]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(default=None, description="A username (or give group)")
    group: str | None = Field(default=None, description="A group name (or give user)")
    role: RoleName = Field(description="owner, contributor or viewer")


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName = Field(description="owner, contributor or viewer")


@router.get("", response_model=list[MemberView])
def list_members(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The project's members, owners first (any member)."""
    return runtime.organisation.list_members(principal, project)


@router.post("", response_model=MemberView, status_code=status.HTTP_201_CREATED)
def add_member(project: str, body: MemberIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Add a user or a group with a role (project owners)."""
    return runtime.organisation.add_member(
        principal, project, body.role, user=body.user, group=body.group
    )


@router.put("/users/{username}", response_model=MemberView)
def update_user_member(
    project: str, username: str, body: RoleIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change a user member's role (project owners); 409 for the last owner."""
    return runtime.organisation.update_member(principal, project, body.role, user=username)


@router.put("/groups/{group}", response_model=MemberView)
def update_group_member(
    project: str, group: str, body: RoleIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change a group member's role (project owners); 409 for the last owner."""
    return runtime.organisation.update_member(principal, project, body.role, group=group)


@router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user_member(
    project: str, username: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a user member (project owners); 409 for the last owner."""
    runtime.organisation.remove_member(principal, project, user=username)


@router.delete("/groups/{group}", status_code=status.HTTP_204_NO_CONTENT)
def remove_group_member(
    project: str, group: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Remove a group member (project owners); 409 for the last owner."""
    runtime.organisation.remove_member(principal, project, group=group)
