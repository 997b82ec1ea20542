"""Commit metadata written with every Lakehold commit, and its reading back as history."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from deltalake import CommitProperties

from lakehold.errors import Invalid, NotFound
from lakehold.lakehouse.results import HistoryEntry

COMMITTER = "lakehold.committer"
OPERATION = "lakehold.operation"
KEYS = "lakehold.keys"
ROWS_DELETED = "lakehold.rows_deleted"

# Delta metric names -> Lakehold names (the raw metrics are kept too).
_METRICS = {
    "num_added_rows": "rows_written",
    "num_added_files": "files_added",
    "num_removed_files": "files_removed",
    "num_target_rows_inserted": "rows_inserted",
    "num_target_rows_updated": "rows_updated",
    "num_target_rows_deleted": "rows_deleted",
    "num_output_rows": "rows_written",
    "num_target_files_added": "files_added",
    "num_target_files_removed": "files_removed",
    "num_source_rows": "source_rows",
    "numFilesAdded": "files_added",
    "numFilesRemoved": "files_removed",
    "numRemovedFile": "files_removed",
    "numRestoredFile": "files_added",
    "numDeletedFiles": "files_deleted",
}
_INSERTING = {"CREATE", "APPEND", "OVERWRITE"}


def commit_properties(
    committer: str,
    operation: str,
    *,
    keys: Sequence[str] = (),
    rows_deleted: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> CommitProperties:
    """Custom commit metadata naming who committed and the Lakehold operation."""
    if not committer or not committer.strip():
        raise Invalid("a committer name is required", field="committer")
    metadata: dict[str, str] = {**(extra or {}), COMMITTER: committer, OPERATION: operation}
    if keys:
        metadata[KEYS] = json.dumps(list(keys))
    if rows_deleted is not None:
        metadata[ROWS_DELETED] = str(rows_deleted)
    return CommitProperties(custom_metadata=metadata)


def history_entry(commit: Mapping[str, Any]) -> HistoryEntry:
    """A history entry from one commit of ``DeltaTable.history()``."""
    raw = dict(commit.get("operationMetrics") or {})
    metrics: dict[str, Any] = {(_METRICS.get(name) or name): value for name, value in raw.items()}
    operation = commit.get(OPERATION) or commit.get("operation") or "UNKNOWN"
    if operation in _INSERTING and "rows_written" in metrics:
        metrics["rows_inserted"] = metrics["rows_written"]
    if ROWS_DELETED in commit:
        metrics["rows_deleted"] = int(commit[ROWS_DELETED])
    return HistoryEntry(
        version=int(commit["version"]),
        timestamp=commit_time(commit),
        operation=str(operation),
        committer=commit.get(COMMITTER),
        metrics=metrics,
    )


def commit_time(commit: Mapping[str, Any]) -> datetime:
    """The commit's timestamp (milliseconds in the log) as a UTC datetime."""
    return datetime.fromtimestamp(int(commit["timestamp"]) / 1000, UTC)


def parse_timestamp(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or ISO 8601 text (naive values are UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(
                f"timestamp {value!r} is not an ISO 8601 date or time", field="timestamp"
            ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def version_at(commits: Iterable[Mapping[str, Any]], when: datetime) -> int:
    """The latest version committed at or before ``when``; NotFound if none was."""
    versions = [int(c["version"]) for c in commits if commit_time(c) <= when]
    if not versions:
        raise NotFound(
            f"the table has no version at or before {when.isoformat()}", field="timestamp"
        )
    return max(versions)
