"""Projects."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.views import ProjectView

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="SQL namespace: lower-case letters, digits, underscores.")
    domain: str
    description: str | None = None
    domain_unit: str | None = Field(
        default=None,
        description="Domain unit id or path (Sales/Marketing); default: the domain's root unit",
    )


@router.post("", response_model=ProjectView, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a project in a domain (and domain unit); you become its owner."""
    return runtime.catalog.create_project(
        principal, body.name, body.domain, body.description, domain_unit=body.domain_unit
    )


@router.get("", response_model=list[ProjectView])
def list_projects(runtime: RuntimeDep, principal: PrincipalDep):
    """The projects you may see."""
    return runtime.catalog.list_projects(principal)


@router.get("/{project}", response_model=ProjectView)
def get_project(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One project."""
    return runtime.catalog.get_project(principal, project)
