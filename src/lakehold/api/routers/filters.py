"""Row filters and column filters of an asset, chosen when a subscription is approved."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.filters import FilterView

router = APIRouter(prefix="/api/v1/projects/{project}/assets/{asset}/filters", tags=["filters"])


class FilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique per asset")
    kind: Literal["row", "column"]
    expression: str | None = Field(
        default=None, description="Row filter: a boolean expression, e.g. prod_id = 1"
    )
    columns: list[str] | None = Field(default=None, description="Column filter: included columns")


class FilterPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    expression: str | None = None
    columns: list[str] | None = None


@router.post("", response_model=FilterView, status_code=status.HTTP_201_CREATED)
def create_filter(
    project: str, asset: str, body: FilterIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Create a row filter or a column filter (owners of the project)."""
    return runtime.filters.create_filter(
        principal,
        project,
        asset,
        body.name,
        kind=body.kind,
        expression=body.expression,
        columns=body.columns,
    )


@router.get("", response_model=list[FilterView])
def list_filters(project: str, asset: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The filters of an asset (members of the project)."""
    return runtime.filters.list_filters(principal, project, asset)


@router.get("/{name}", response_model=FilterView)
def get_filter(project: str, asset: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One filter."""
    return runtime.filters.get_filter(principal, project, asset, name)


@router.patch("/{name}", response_model=FilterView)
def update_filter(
    project: str,
    asset: str,
    name: str,
    body: FilterPatch,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Rename a filter or change it; every grant using it follows at once."""
    return runtime.filters.update_filter(
        principal,
        project,
        asset,
        name,
        new_name=body.name,
        expression=body.expression,
        columns=body.columns,
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_filter(
    project: str, asset: str, name: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Delete a filter; 409 while an active grant uses it."""
    runtime.filters.delete_filter(principal, project, asset, name)
