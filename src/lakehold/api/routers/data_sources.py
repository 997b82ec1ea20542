"""Data sources: crawlers importing a connection's tables as federated assets, and their runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.routers.connections import limited
from lakehold.sources.crawlers import DataSourceView, RunView

router = APIRouter(prefix="/api/v1/projects/{project}/data-sources", tags=["data sources"])


class DataSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    connection: str = Field(description="A connection of the same project")
    schemas: list[str] | None = Field(
        default=None,
        description="Glob patterns of source schemas; omitted: public (PostgreSQL), the "
        "connection's database (MySQL), all (SQLite, files)",
    )
    include: list[str] | None = Field(default=None, description="Glob patterns of table names")
    exclude: list[str] | None = Field(default=None, description="Glob patterns to skip")
    schedule: str | None = Field(
        default=None, description="Cron expression, UTC (e.g. '0 3 * * *'); omitted: on demand"
    )
    enabled: bool = True
    description: str | None = None


class DataSourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schemas: list[str] | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    schedule: str | None = Field(default=None, description="'' removes the schedule")
    enabled: bool | None = None
    description: str | None = None


@router.post("", response_model=DataSourceView, status_code=status.HTTP_201_CREATED)
def create_data_source(
    project: str, body: DataSourceIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Create a data source (project owners). Bad cron expression: 400 naming ``schedule``."""
    return runtime.data_sources.create(
        principal,
        project,
        body.name,
        body.connection,
        schemas=body.schemas,
        include=body.include,
        exclude=body.exclude,
        schedule=body.schedule,
        enabled=body.enabled,
        description=body.description,
    )


@router.get("", response_model=list[DataSourceView])
def list_data_sources(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The project's data sources (project owners)."""
    return runtime.data_sources.list(principal, project)


@router.get("/{name}", response_model=DataSourceView)
def get_data_source(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    return runtime.data_sources.get(principal, project, name)


@router.patch("/{name}", response_model=DataSourceView)
def update_data_source(
    project: str, name: str, body: DataSourcePatch, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change patterns, schedule, enabled or description."""
    return runtime.data_sources.update(
        principal, project, name, **body.model_dump(exclude_unset=True)
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_data_source(
    project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Delete a data source and its runs; the assets it imported stay."""
    runtime.data_sources.delete(principal, project, name)


@router.post("/{name}/runs", response_model=RunView, status_code=status.HTTP_201_CREATED)
async def run_data_source(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Crawl now and wait for the result; 502 naming the connection (and the failed run's id)
    when the source cannot be reached; 429 (Retry-After) beyond the crawl limits."""
    return await limited(
        runtime, principal, lambda: runtime.data_sources.run(principal, project, name)
    )


@router.get("/{name}/runs", response_model=list[RunView])
def list_runs(
    project: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
):
    """The latest runs, newest first."""
    return runtime.data_sources.runs(principal, project, name, limit=limit)
