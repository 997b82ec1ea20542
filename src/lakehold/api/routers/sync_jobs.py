"""Sync jobs: copy a source table or query of a project's connection into a lakehouse table."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.sources.sync_views import SyncJobView, SyncRunView

router = APIRouter(prefix="/api/v1/projects/{project}/sync-jobs", tags=["sync jobs"])

Columns = list[str]


class SyncJobFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    connection: str | None = Field(None, description="A connection of the project")
    source_table: str | None = Field(
        None, description="schema.table in the source; share.schema.table for delta_sharing"
    )
    source_query: str | None = Field(None, description="A SELECT in the source's SQL dialect")
    target_table: str | None = Field(None, description="A lakehouse table of the project")
    mode: Literal["full", "incremental"] | None = None
    watermark_column: str | None = Field(
        None, description="e.g. last_modified; none for delta_sharing (its version is)"
    )
    key_columns: Columns | None = None
    delete_column: str | None = Field(None, description="Boolean column: true = deleted")
    operation_column: str | None = Field(None, description="Column holding I, U or D")
    not_null_columns: Columns | None = None
    schedule: str | None = Field(None, description="Cron expression (UTC), e.g. '*/15 * * * *'")


class SyncJobIn(SyncJobFields):
    name: str
    connection: str
    target_table: str
    mode: Literal["full", "incremental"] = "incremental"


@router.post("", response_model=SyncJobView, status_code=status.HTTP_201_CREATED)
def create_sync_job(project: str, body: SyncJobIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a sync job (owners and contributors). The source is read (no rows) to check the
    named columns: 400 naming the field when one is missing, 502 when the source is down."""
    fields = body.model_dump(exclude={"name"})
    for listed in ("key_columns", "not_null_columns"):
        fields[listed] = fields[listed] or []
    return runtime.sync_jobs.create(principal, project, body.name, **fields)


@router.get("", response_model=list[SyncJobView])
def list_sync_jobs(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The project's sync jobs."""
    return runtime.sync_jobs.list(principal, project)


@router.get("/{name}", response_model=SyncJobView)
def get_sync_job(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One sync job, with its last watermark and next scheduled run."""
    return runtime.sync_jobs.get(principal, project, name)


@router.patch("/{name}", response_model=SyncJobView)
def update_sync_job(
    project: str, name: str, body: SyncJobFields, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change the fields given (null clears an optional one). A new connection, source or
    watermark column forgets the last watermark."""
    return runtime.sync_jobs.update(principal, project, name, body.model_dump(exclude_unset=True))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_sync_job(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete the job and its run history; the target table stays."""
    runtime.sync_jobs.delete(principal, project, name)


@router.post("/{name}/runs", response_model=SyncRunView)
def run_sync_job(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Run the job now and return the run. A source that is down: 502 (the failed run is in
    the history, the watermark unchanged)."""
    return runtime.sync_jobs.run(principal, project, name)


@router.get("/{name}/runs", response_model=list[SyncRunView])
def list_sync_runs(
    project: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
):
    """The job's runs, newest first: status, counts, duration, error."""
    return runtime.sync_jobs.runs(principal, project, name, limit)
