"""What the statements service answers: a statement's record, a synchronous run, a page."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from lakehold.store.models import Statement, as_utc


@dataclass(frozen=True)
class StatementView:
    id: str
    status: str
    sql: str
    project: str | None
    dialect: str
    assets: list[str]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    result_rows: int | None
    result_size_bytes: int | None
    truncated: bool
    has_result_set: bool
    error: str | None
    engine: str | None = None
    """``duckdb`` or ``ray``: where it ran (ADR 40)."""

    @classmethod
    def of(cls, row: Statement, project: str | None) -> StatementView:
        duration = None
        if row.started_at and row.ended_at:
            ended, started = as_utc(row.ended_at), as_utc(row.started_at)
            duration = int((ended - started).total_seconds() * 1000)
        return cls(
            id=row.id,
            status=row.status,
            sql=row.sql,
            project=project,
            dialect=row.dialect,
            assets=list(row.assets or []),
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            duration_ms=duration,
            result_rows=row.result_rows,
            result_size_bytes=row.result_size_bytes,
            truncated=row.truncated,
            has_result_set=row.status == "FINISHED",
            error=row.error,
            engine=row.engine,
        )


@dataclass(frozen=True)
class ExecutedStatement:
    """A synchronous statement: its record and its rows."""

    statement: StatementView
    table: pa.Table
    truncated: bool


@dataclass(frozen=True)
class ResultPage:
    table: pa.Table
    total_rows: int
    next_offset: int | None
    truncated: bool


@dataclass(frozen=True)
class ResultStream:
    """A finished statement's whole result, batch by batch (read as it is consumed)."""

    schema: pa.Schema
    batches: Generator[pa.RecordBatch, None, None]
    total_rows: int
    truncated: bool
