"""Assets of a project's inventory: technical schema and business description."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.views import AssetView

router = APIRouter(prefix="/api/v1/projects/{project}/assets", tags=["assets"])


class AssetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    tags: list[str] | None = None
    column_descriptions: dict[str, str] | None = None


@router.get("", response_model=list[AssetView])
def list_assets(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The assets of a project."""
    return runtime.catalog.list_assets(principal, project)


@router.get("/{asset}", response_model=AssetView)
def get_asset(project: str, asset: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One asset with its columns, row count, size and current version."""
    return runtime.catalog.get_asset(principal, project, asset)


@router.patch("/{asset}", response_model=AssetView)
def update_asset(
    project: str, asset: str, body: AssetPatch, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change the description, tags or column descriptions (project owners)."""
    return runtime.catalog.update_asset(
        principal,
        project,
        asset,
        description=body.description,
        tags=body.tags,
        column_descriptions=body.column_descriptions,
    )
