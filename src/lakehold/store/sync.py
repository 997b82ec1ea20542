"""Models of sync jobs (copy a source table or query into a lakehouse table) and their runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakehold.store.models import Base, new_id, utcnow


class SyncJob(Base):
    """Reads one connection of a project and writes one lakehouse table of the same project."""

    __tablename__ = "sync_jobs"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(Text)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    """A connection with sync jobs cannot be deleted (the store refuses)."""
    source_table: Mapped[str | None] = mapped_column(String(255))
    """``schema.table`` in the source; or else ``source_query``."""
    source_query: Mapped[str | None] = mapped_column(Text)
    """A SELECT in the source's own SQL dialect."""
    target_table: Mapped[str] = mapped_column(String(63))
    mode: Mapped[str] = mapped_column(String(20), default="incremental")
    """full or incremental."""
    watermark_column: Mapped[str | None] = mapped_column(String(255))
    key_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    delete_column: Mapped[str | None] = mapped_column(String(255))
    """A boolean source column: true = the row was deleted."""
    operation_column: Mapped[str | None] = mapped_column(String(255))
    """A source column holding I, U or D."""
    not_null_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    schedule: Mapped[str | None] = mapped_column(String(100))
    """A cron expression (UTC); None: on demand only."""
    last_watermark: Mapped[str | None] = mapped_column(Text)
    """The largest watermark of the last successful run, as text; advanced only together with
    the run that committed it."""
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncRun(Base):
    """One run of a sync job: status, counts, duration, error."""

    __tablename__ = "sync_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("sync_jobs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    """running, succeeded or failed."""
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    """manual or schedule."""
    mode: Mapped[str] = mapped_column(String(20))
    run_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    watermark_before: Mapped[str | None] = mapped_column(Text)
    watermark_after: Mapped[str | None] = mapped_column(Text)
    table_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
