"""Reading a Delta table's log one commit at a time: the files a commit added, removed and
wrote as change data, when it was committed, and which version held at a time.

These read the ``_delta_log`` JSON files directly (one file per commit), not delta-rs's
replayed state: a sharing server and the filtered snapshots need each commit's own actions,
which a table snapshot no longer shows. A commit whose log file was cleaned up (after a
checkpoint and the log retention) is gone: :func:`commit_actions` says NotFound.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lakehold.errors import Invalid, NotFound

CHANGE_DATA_FEED = "delta.enableChangeDataFeed"
"""The table property that makes writers record row changes (``_change_data`` files)."""
SNAPSHOT_CDC = "lakehold.cdc"
"""Commit metadata of a filtered snapshot: its change files (JSON), outside the Delta log."""
_LOG = "_delta_log"
_COMMIT = re.compile(r"^(\d{20})\.json$")


@dataclass(frozen=True)
class FileAction:
    """One ``add``, ``remove`` or ``cdc`` action of a commit."""

    path: str
    """Relative to the table root, as in the log (URL-decoded)."""
    size: int | None
    partition_values: dict[str, str | None]
    stats: str | None
    """The add's JSON statistics (numRecords, minValues, maxValues, nullCount), if any."""
    data_change: bool


@dataclass(frozen=True)
class CommitActions:
    """What one commit of a table did."""

    version: int
    timestamp_ms: int
    """The commit's time: its in-commit timestamp, else ``commitInfo.timestamp``, else the
    log file's modification time."""
    adds: tuple[FileAction, ...]
    removes: tuple[FileAction, ...]
    cdc: tuple[FileAction, ...]
    """Its change data files; for a filtered snapshot, the filtered change files recorded in
    its commit metadata (``lakehold.cdc``), relative to the snapshot's root."""
    metadata_changed: bool
    """The commit carries a ``metaData`` action (schema, partitioning or properties)."""
    info: dict[str, Any]
    """Its ``commitInfo`` (operation, operation metrics, custom metadata)."""


def commit_actions(table: Path, version: int) -> CommitActions:
    """The actions of commit ``version`` of the Delta table at ``table``.

    NotFound if the table has no such commit or its log entry was cleaned up. A file action
    carrying a deletion vector is refused (Invalid): Lakehold's writer never writes one, and
    its rows could not be read file by file."""
    if version < 0:
        raise Invalid(f"version {version} is not a table version", field="version")
    entry = _log(table) / f"{version:020d}.json"
    try:
        text = entry.read_text(encoding="utf-8")
        modified = int(entry.stat().st_mtime * 1000)
    except FileNotFoundError:
        raise NotFound(
            f"version {version} of the table is not in its log (never committed or cleaned up)",
            field="version",
        ) from None
    adds: list[FileAction] = []
    removes: list[FileAction] = []
    cdc: list[FileAction] = []
    info: dict[str, Any] = {}
    metadata_changed = False
    for line in text.splitlines():
        if not line.strip():
            continue
        action: dict[str, Any] = json.loads(line)
        if "add" in action:
            adds.append(_file(action["add"], default_change=True))
        elif "remove" in action:
            removes.append(_file(action["remove"], default_change=True))
        elif "cdc" in action:
            cdc.append(_file(action["cdc"], default_change=False))
        elif "commitInfo" in action:
            info = dict(action["commitInfo"] or {})
        elif "metaData" in action:
            metadata_changed = True
    cdc.extend(_snapshot_cdc(info))
    return CommitActions(
        version=version,
        timestamp_ms=_timestamp(info, modified),
        adds=tuple(adds),
        removes=tuple(removes),
        cdc=tuple(cdc),
        metadata_changed=metadata_changed,
        info=info,
    )


def version_at(table: Path, timestamp_ms: int) -> int:
    """The last version committed at or before ``timestamp_ms`` (milliseconds since the
    epoch); a time after the last commit gives the last version. Invalid (field
    ``timestamp``) if it is before the first commit still in the log.

    Commit times are taken as increasing with the version (as Delta's in-commit timestamps
    guarantee): a binary search reads about log2(versions) log entries."""
    versions = log_versions(table)
    if not versions:
        raise NotFound("the table has no commits in its log")
    low, high = 0, len(versions) - 1
    if _commit_time(table, versions[low]) > timestamp_ms:
        raise Invalid(
            "the timestamp is before the table's first version still in its log",
            field="timestamp",
        )
    while low < high:  # invariant: versions[low] was committed at or before the timestamp
        middle = (low + high + 1) // 2
        if _commit_time(table, versions[middle]) <= timestamp_ms:
            low = middle
        else:
            high = middle - 1
    return versions[low]


def change_data_feed(table: Path) -> bool:
    """Whether the table's property ``delta.enableChangeDataFeed`` is true (at its latest
    version): its merges, deletes and updates then write change data files."""
    from deltalake import DeltaTable  # loaded by the first caller, not by importers

    try:
        configuration = DeltaTable(str(table)).metadata().configuration
    except Exception:
        raise NotFound("the table is not a Delta table") from None
    return str(configuration.get(CHANGE_DATA_FEED) or "").strip().lower() == "true"


def log_versions(table: Path) -> list[int]:
    """The versions whose commit is in the table's log, in order."""
    try:
        names = os.listdir(_log(table))
    except FileNotFoundError:
        raise NotFound("the table is not a Delta table") from None
    return sorted(int(m.group(1)) for m in map(_COMMIT.match, names) if m)


def _log(table: Path) -> Path:
    return Path(table) / _LOG


def _file(action: dict[str, Any], *, default_change: bool) -> FileAction:
    if action.get("deletionVector"):
        raise Invalid("the table has deletion vectors, which Lakehold does not read file by file")
    size = action.get("size")
    change = action.get("dataChange")
    return FileAction(
        path=unquote(action["path"]),
        size=int(size) if size is not None else None,
        partition_values=dict(action.get("partitionValues") or {}),
        stats=action.get("stats"),
        data_change=default_change if change is None else bool(change),
    )


def _snapshot_cdc(info: dict[str, Any]) -> list[FileAction]:
    """The change files a filtered snapshot's commit recorded in its metadata."""
    recorded = info.get(SNAPSHOT_CDC)
    if not recorded:
        return []
    return [
        FileAction(
            path=item["path"],
            size=int(item["size"]),
            partition_values={},
            stats=None,
            data_change=False,
        )
        for item in json.loads(recorded)
    ]


def _timestamp(info: dict[str, Any], modified: int) -> int:
    for key in ("inCommitTimestamp", "timestamp"):
        if info.get(key) is not None:
            return int(info[key])
    return modified


def _commit_time(table: Path, version: int) -> int:
    """The time of commit ``version``, reading its log entry only up to its commitInfo."""
    entry = _log(table) / f"{version:020d}.json"
    with entry.open(encoding="utf-8") as lines:
        for line in lines:
            if '"commitInfo"' in line:
                info = json.loads(line).get("commitInfo")
                if isinstance(info, dict):
                    return _timestamp(info, int(entry.stat().st_mtime * 1000))
    return int(entry.stat().st_mtime * 1000)
