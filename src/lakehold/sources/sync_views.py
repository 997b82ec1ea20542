"""Sync jobs and their runs as adapters see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from lakehold.store.models import Project, User, as_utc
from lakehold.store.sources import Connection
from lakehold.store.sync import SyncJob, SyncRun


@dataclass(frozen=True)
class SyncJobView:
    id: str
    project: str
    name: str
    description: str | None
    connection: str
    source_table: str | None
    source_query: str | None
    target_table: str
    mode: str
    watermark_column: str | None
    key_columns: list[str]
    delete_column: str | None
    operation_column: str | None
    not_null_columns: list[str]
    schedule: str | None
    last_watermark: str | None
    next_run_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: Session, job: SyncJob) -> SyncJobView:
        project = session.get(Project, job.project_id)
        connection = session.get(Connection, job.connection_id)
        creator = session.get(User, job.created_by)
        return cls(
            id=job.id,
            project=project.name if project else "",
            name=job.name,
            description=job.description,
            connection=connection.name if connection else "",
            source_table=job.source_table,
            source_query=job.source_query,
            target_table=job.target_table,
            mode=job.mode,
            watermark_column=job.watermark_column,
            key_columns=list(job.key_columns or []),
            delete_column=job.delete_column,
            operation_column=job.operation_column,
            not_null_columns=list(job.not_null_columns or []),
            schedule=job.schedule,
            last_watermark=job.last_watermark,
            next_run_at=as_utc(job.next_run_at),
            created_by=creator.username if creator else job.created_by,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


@dataclass(frozen=True)
class SyncRunView:
    id: str
    job: str
    status: str
    trigger: str
    mode: str
    run_by: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    rows_rejected: int
    watermark_before: str | None
    watermark_after: str | None
    table_version: int | None
    error: str | None

    def span_attributes(self) -> dict[str, str | int]:
        """What the run's span records (ADR 0036)."""
        return {"lakehold.sync.status": self.status, "lakehold.sync.rows_read": self.rows_read}

    @classmethod
    def of(cls, session: Session, run: SyncRun, job_name: str) -> SyncRunView:
        user = session.get(User, run.run_by) if run.run_by else None
        return cls(
            id=run.id,
            job=job_name,
            status=run.status,
            trigger=run.trigger,
            mode=run.mode,
            run_by=user.username if user else None,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_seconds=run.duration_seconds,
            rows_read=run.rows_read,
            rows_inserted=run.rows_inserted,
            rows_updated=run.rows_updated,
            rows_deleted=run.rows_deleted,
            rows_rejected=run.rows_rejected,
            watermark_before=run.watermark_before,
            watermark_after=run.watermark_after,
            table_version=run.table_version,
            error=run.error,
        )
