"""Projects."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.schemas import Model

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


class ProjectIn(BaseModel):
    name: str = Field(description="SQL namespace: lower-case letters, digits, underscores.")
    domain: str
    description: str | None = None


class ProjectOut(Model):
    id: str
    name: str
    domain: str
    description: str | None
    owner: str
    created_at: datetime


@router.post("", response_model=ProjectOut, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a project in a domain; you become its owner."""
    return runtime.catalog.create_project(principal, body.name, body.domain, body.description)


@router.get("", response_model=list[ProjectOut])
def list_projects(runtime: RuntimeDep, principal: PrincipalDep):
    """The projects you may see."""
    return runtime.catalog.list_projects(principal)


@router.get("/{project}", response_model=ProjectOut)
def get_project(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One project."""
    return runtime.catalog.get_project(principal, project)
