"""What the table engine returns: snapshots, write results and history entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Snapshot:
    """A table as of one version, described from the Delta log without reading data."""

    version: int
    timestamp: datetime
    """When the version was committed (UTC)."""
    schema: pa.Schema
    files: list[str]
    """Absolute local paths of the Parquet files active at this version."""
    num_rows: int
    size_bytes: int


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write: its version, operation, row counts and the table after it."""

    version: int
    operation: str
    """CREATE, APPEND, OVERWRITE, MERGE, CDC MERGE or RESTORE."""
    snapshot: Snapshot
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    rows_written: int = 0
    """Rows in the Parquet files the write added (a merge rewrites untouched rows too)."""
    schema_changes: list[str] = field(default_factory=list)
    duplicates_collapsed: int = 0
    """Merge and CDC: batch rows dropped because a later row of the same key won."""
    source_rows: int = 0
    """Merge and CDC: the rows merged (the batch, but for the duplicates collapsed)."""
    no_op: bool = False
    """True when nothing was written (no commit): ``version`` is the current one."""
    message: str | None = None
    """Why nothing was written, when ``no_op``."""
    engine: str = "duckdb"
    """Where the write ran: ``duckdb`` (in process) or ``ray`` (tasks on a Ray cluster)."""
    engine_note: str | None = None
    """Why a write asked for on the cluster ran in process."""


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of a table."""

    version: int
    timestamp: datetime
    operation: str
    """The Lakehold operation, or the Delta operation for commits made by other tools."""
    committer: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
