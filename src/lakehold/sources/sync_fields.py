"""A sync job's editable fields: which they are, their checks, and setting them on a job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.connectors.sync_engine import SyncDefinition
from lakehold.errors import Conflict, Invalid
from lakehold.names import check_sql_name
from lakehold.sources.connections import find_connection
from lakehold.sources.schedule import check_cron, next_run
from lakehold.sources.source_reads import check_definition
from lakehold.store.models import Project, utcnow
from lakehold.store.sources import Connection
from lakehold.store.sync import SyncJob

ERRORS_SUFFIX = "_errors"
EDITABLE = (
    "description",
    "connection",
    "source_table",
    "source_query",
    "target_table",
    "mode",
    "watermark_column",
    "key_columns",
    "delete_column",
    "operation_column",
    "not_null_columns",
    "schedule",
)
RESETS_WATERMARK = ("connection", "source_table", "source_query", "watermark_column")
READS_SOURCE = (
    *RESETS_WATERMARK,
    "mode",
    "key_columns",
    "delete_column",
    "operation_column",
    "not_null_columns",
)
"""Fields checked against the source (read with ``LIMIT 0``) when they change."""


@dataclass(frozen=True)
class CheckedFields:
    """Every editable field of a job, checked (all but against the source)."""

    description: str | None
    connection: Connection
    target_table: str
    definition: SyncDefinition
    schedule: str | None

    def apply_to(self, job: SyncJob) -> None:
        """Set the fields on ``job``; a new schedule (or none planned yet) plans the next run."""
        definition = self.definition
        job.description = self.description
        job.connection_id = self.connection.id
        job.target_table = self.target_table
        job.source_table, job.source_query = definition.source_table, definition.source_query
        job.mode, job.watermark_column = definition.mode, definition.watermark_column
        job.key_columns = list(definition.key_columns)
        job.delete_column = definition.delete_column
        job.operation_column = definition.operation_column
        job.not_null_columns = list(definition.not_null_columns)
        if self.schedule != job.schedule or job.next_run_at is None:
            job.next_run_at = next_run(self.schedule, utcnow())
        job.schedule = self.schedule


def check_fields(
    session: Session, project: Project, job: SyncJob, values: dict[str, Any]
) -> CheckedFields:
    """Check ``values`` (every editable field) for ``job`` of ``project``: Invalid naming the
    field, Conflict when another job of the project writes the same target table."""
    for required in ("connection", "target_table", "mode"):
        if not values.get(required):
            raise Invalid(f"a sync job needs a {required}", field=required)
    target = check_sql_name("target_table", values["target_table"])
    if len(target) + len(ERRORS_SUFFIX) > 63:
        raise Invalid("target_table is too long for its error table", field="target_table")
    other = session.scalar(
        select(SyncJob.name).where(
            SyncJob.project_id == project.id,
            SyncJob.target_table == target,
            SyncJob.id != job.id,
        )
    )
    if other:
        raise Conflict(f"sync job '{other}' already writes table '{target}'", field="target")
    connection = find_connection(session, project, values["connection"])
    definition = SyncDefinition(
        source_table=values["source_table"] or None,
        source_query=values["source_query"] or None,
        mode=values["mode"],
        watermark_column=values["watermark_column"] or None,
        key_columns=tuple(_names(values["key_columns"], "key_columns")),
        delete_column=values["delete_column"] or None,
        operation_column=values["operation_column"] or None,
        not_null_columns=tuple(_names(values["not_null_columns"], "not_null_columns")),
    )
    check_definition(connection.kind, definition)
    schedule = check_cron(values["schedule"])
    return CheckedFields(values["description"], connection, target, definition, schedule)


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` completed: giving a source table clears the query and the other way round;
    Invalid naming a field that is not editable."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}", field=unknown[0])
    if changes.get("source_query") is not None and "source_table" not in changes:
        changes = {**changes, "source_table": None}
    if changes.get("source_table") is not None and "source_query" not in changes:
        changes = {**changes, "source_query": None}
    return changes


def fields_of(session: Session, job: SyncJob) -> dict[str, Any]:
    """The editable fields of a stored job (its connection by name)."""
    fields = {field: getattr(job, field) for field in EDITABLE if field != "connection"}
    connection = session.get(Connection, job.connection_id)
    assert connection is not None  # a foreign key: a connection in use is not deleted
    return {**fields, "connection": connection.name}


def definition_of(job: SyncJob) -> SyncDefinition:
    """The engine's view of a stored job."""
    return SyncDefinition(
        source_table=job.source_table,
        source_query=job.source_query,
        mode=job.mode,  # type: ignore[arg-type]
        watermark_column=job.watermark_column,
        key_columns=tuple(job.key_columns or ()),
        delete_column=job.delete_column,
        operation_column=job.operation_column,
        not_null_columns=tuple(job.not_null_columns or ()),
    )


def _names(values: Any, field: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise Invalid(f"{field} must be a list of column names", field=field)
    return list(values)
