"""Lakehouse tables: create from a file; append, overwrite, merge, CDC; history; maintenance."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.schemas import Model
from lakehold.api.uploads import UploadRoute, split_list, spooled
from lakehold.catalog.views import AssetView
from lakehold.cluster.routing import Engine
from lakehold.lakehouse.results import HistoryEntry

# Authenticated before the body is read; uploads streamed to staging, bounded (413).
router = APIRouter(
    prefix="/api/v1/projects/{project}/tables", tags=["tables"], route_class=UploadRoute
)

FORMAT_HELP = "csv, parquet, jsonl or arrow; default: from the file name"
ENGINE_HELP = (
    "duckdb (in process) or ray (tasks on the Ray cluster, LAKEHOLD_RAY_ADDRESS; merges, CDC "
    "writes and compactions); default: the cluster when the data reaches "
    "LAKEHOLD_RAY_THRESHOLD_BYTES"
)


class WriteResultOut(Model):
    version: int
    operation: str
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    rows_written: int
    schema_changes: list[str]
    duplicates_collapsed: int = Field(
        default=0,
        description="Merge and CDC: batch rows dropped because a later row of the "
        "same key won (on_duplicate=last)",
    )
    no_op: bool = Field(
        default=False, description="True when nothing was written: version is the current one"
    )
    message: str | None = Field(default=None, description="Why nothing was written")
    engine: Engine = Field(
        default="duckdb",
        description="Where the write ran: duckdb (in process) or ray (tasks on the Ray cluster)",
    )
    engine_note: str | None = Field(
        default=None, description="Why a write asked for on the Ray cluster ran in process"
    )


class WriteOut(BaseModel):
    result: WriteResultOut
    asset: AssetView


MAX_VERSION = 2**63 - 1  # a Delta version is a signed 64-bit integer
MAX_RETENTION_HOURS = 87_600  # ten years
MAX_HISTORY = 100_000


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, le=MAX_VERSION)


class VacuumIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_hours: int = Field(default=168, ge=0, le=MAX_RETENTION_HOURS)
    dry_run: bool = False
    force: bool = Field(
        default=False,
        description="Administrators only: allow a retention below 168 hours (never below the "
        "table's own delta.deletedFileRetentionDuration)",
    )


@router.post("", response_model=WriteOut, status_code=status.HTTP_201_CREATED)
def create_table(
    project: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    name: Annotated[str, Form(description="Table name, addressed in SQL as project.name")],
    file: Annotated[UploadFile, File(description="CSV, Parquet, JSON lines or Arrow IPC")],
    keys: Annotated[str | None, Form(description="Key columns, comma-separated")] = None,
    format: Annotated[str | None, Form(description=FORMAT_HELP)] = None,
    column_types: Annotated[
        str | None, Form(description='Explicit types, JSON: {"col": "BIGINT"}')
    ] = None,
    description: Annotated[str | None, Form()] = None,
    tags: Annotated[str | None, Form(description="Comma-separated")] = None,
    change_data_feed: Annotated[
        bool,
        Form(
            description="Record row changes (delta.enableChangeDataFeed): merges, CDC writes, "
            "deletes and updates write change data, read by Delta Sharing recipients as the "
            "table's change data feed"
        ),
    ] = False,
):
    """Create a table from an uploaded file. Malformed input: 400 naming line and column."""
    with spooled(file, format, column_types) as data:
        return runtime.table_service.create_table(
            principal,
            project,
            name,
            data,
            keys=split_list(keys),
            description=description,
            tags=split_list(tags),
            change_data_feed=change_data_feed,
        )


@router.post("/{table}/writes", response_model=WriteOut)
def write_table(
    project: str,
    table: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="CSV, Parquet, JSON lines or Arrow IPC")],
    mode: Annotated[Literal["append", "overwrite", "merge", "cdc"], Form()] = "append",
    keys: Annotated[str | None, Form(description="Override the declared key columns")] = None,
    op_column: Annotated[str, Form(description="CDC: the I/U/D operation column")] = "op",
    order_column: Annotated[
        str | None, Form(description="CDC: orders changes to one key in the batch")
    ] = None,
    format: Annotated[str | None, Form(description=FORMAT_HELP)] = None,
    column_types: Annotated[str | None, Form()] = None,
    on_duplicate: Annotated[
        Literal["last", "error"],
        Form(
            description="Merge and CDC: a key twice in the batch keeps its last row (last, "
            "counted in duplicates_collapsed) or refuses the batch (error)"
        ),
    ] = "last",
    engine: Annotated[Engine | None, Form(description=ENGINE_HELP)] = None,
):
    """Append, overwrite, merge (upsert on keys) or CDC-merge a batch, with schema evolution.

    A batch without rows (other than an overwrite) writes nothing: 200 with ``no_op``."""
    with spooled(file, format, column_types) as data:
        return runtime.table_service.write(
            principal,
            project,
            table,
            data,
            mode=mode,
            keys=split_list(keys),
            op_column=op_column,
            order_column=order_column,
            on_duplicate=on_duplicate,
            engine=engine,
        )


@router.get("/{table}/history", response_model=list[HistoryEntry])
def history(
    project: str,
    table: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int | None, Query(ge=1, le=MAX_HISTORY)] = None,
):
    """Versions of the table, newest first, with operation, committer and metrics."""
    return runtime.table_service.history(principal, project, table, limit)


@router.post("/{table}/restore", response_model=WriteOut)
def restore(
    project: str, table: str, body: RestoreIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Restore the table to an earlier version; the restore is itself a new version."""
    return runtime.table_service.restore(principal, project, table, body.version)


@router.post("/{table}/vacuum")
def vacuum(
    project: str, table: str, body: VacuumIn, runtime: RuntimeDep, principal: PrincipalDep
) -> dict:
    """Delete data files no longer needed by versions within the retention period.

    A retention below 168 hours is refused (400) unless an administrator passes ``force``; a
    dry run lists the files (names relative to the table) and deletes nothing."""
    plan = runtime.table_service.vacuum(
        principal,
        project,
        table,
        retention_hours=body.retention_hours,
        dry_run=body.dry_run,
        force=body.force,
    )
    return {
        "files": plan.files,
        "count": len(plan.files),
        "dry_run": plan.dry_run,
        "retention_hours": plan.retention_hours,
        "minimum_retention_hours": plan.minimum_hours,
    }


@router.post("/{table}/optimize")
def optimize(
    project: str,
    table: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    engine: Annotated[Engine | None, Query(description=ENGINE_HELP)] = None,
) -> dict:
    """Compact small files; the metrics name the ``engine`` that ran."""
    return runtime.table_service.optimize(principal, project, table, engine=engine)


@router.delete("/{table}", status_code=status.HTTP_204_NO_CONTENT)
def drop_table(project: str, table: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Drop the table and its asset."""
    runtime.table_service.drop_table(principal, project, table)
