"""A Delta table as a Delta Sharing server reads it: one version's metadata and data files
(with their statistics), and every file the log names (ADR 37).

Plain values in, plain values out: a path and a version. A committed version never changes,
so :func:`table_version` is cached by (path, version, the commit's log entry); the files the
log names (:func:`log_files`) are gathered once per table and extended commit by commit.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from lakehold.errors import NotFound
from lakehold.lakehouse import delta_log
from lakehold.lakehouse.reading import masked_reason

CACHED_VERSIONS = 256


@dataclass(frozen=True)
class TableFile:
    """A data file of a version: its path relative to the table's root."""

    path: str
    size: int
    partition_values: dict[str, str | None]
    stats: str | None
    num_records: int | None


@dataclass(frozen=True)
class TableVersion:
    """One version of a table: what its metadata says and the files that hold its rows."""

    version: int
    timestamp_ms: int | None
    table_id: str
    name: str | None
    description: str | None
    schema_string: str
    partition_columns: list[str]
    configuration: dict[str, str]
    min_reader_version: int
    min_writer_version: int
    files: tuple[TableFile, ...] = field(default=())

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def change_data_feed(self) -> bool:
        value = self.configuration.get(delta_log.CHANGE_DATA_FEED) or ""
        return value.strip().lower() == "true"


_versions: OrderedDict[tuple[str, int, int | None], TableVersion] = OrderedDict()
_versions_lock = threading.Lock()


def table_version(path: Path, version: int) -> TableVersion:
    """Version ``version`` of the table at ``path``; NotFound when it has no such version or
    can no longer read it."""
    key = (str(path), version, _entry_stamp(path, version))
    with _versions_lock:
        found = _versions.get(key)
        if found is not None:
            _versions.move_to_end(key)
            return found
    loaded = _load(Path(path), version)
    with _versions_lock:
        _versions[key] = loaded
        while len(_versions) > CACHED_VERSIONS:
            _versions.popitem(last=False)
    return loaded


def _entry_stamp(path: Path, version: int) -> int | None:
    """The modification time of the version's log entry: a table dropped and created again
    at the same path has new entries (None once the entry was cleaned up)."""
    try:
        return os.stat(Path(path) / "_delta_log" / f"{version:020d}.json").st_mtime_ns
    except OSError:
        return None


def _load(path: Path, version: int) -> TableVersion:
    try:
        table = DeltaTable(str(path), version=version)
    except Exception as exc:
        raise NotFound(
            f"version {version} of the table cannot be read: {masked_reason(exc, path)}",
            field="version",
        ) from None
    metadata = table.metadata()
    protocol = table.protocol()
    try:
        timestamp: int | None = delta_log.commit_actions(path, version).timestamp_ms
    except NotFound:
        timestamp = None
    return TableVersion(
        version=version,
        timestamp_ms=timestamp,
        table_id=str(metadata.id),
        name=metadata.name,
        description=metadata.description,
        schema_string=table.schema().to_json(),
        partition_columns=list(metadata.partition_columns),
        configuration={k: str(v) for k, v in (metadata.configuration or {}).items()},
        min_reader_version=protocol.min_reader_version,
        min_writer_version=protocol.min_writer_version,
        files=_files(table),
    )


def _files(table: DeltaTable) -> tuple[TableFile, ...]:
    adds = pa.table(table.get_add_actions(flatten=False))
    names = set(adds.column_names)
    files = []
    for row in adds.to_pylist():
        partitions = row.get("partition_values") or row.get("partition") or {}
        files.append(
            TableFile(
                path=str(row["path"]),
                size=int(row["size_bytes"]),
                partition_values={
                    k: None if v is None else _partition_text(v) for k, v in partitions.items()
                },
                stats=_stats(row) if "num_records" in names else None,
                num_records=row.get("num_records"),
            )
        )
    return tuple(files)


def _partition_text(value: Any) -> str:
    """A partition value as the protocol writes it."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, date) else str(value)


def _stats(row: dict[str, Any]) -> str | None:
    """The file's ``stats`` JSON (numRecords, minValues, maxValues, nullCount) from the
    statistics delta-rs read from the log; a bound JSON cannot hold exactly is left out."""
    if row.get("num_records") is None:
        return None
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for name, first in (row.get("min") or {}).items():
        last = (row.get("max") or {}).get(name)
        first, last = _bound(first), _bound(last)
        if first is not None and last is not None:
            low[name], high[name] = first, last
    nulls = {k: v for k, v in (row.get("null_count") or {}).items() if isinstance(v, int)}
    return json.dumps(
        {"numRecords": row["num_records"], "minValues": low, "maxValues": high, "nullCount": nulls}
    )


def _bound(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return text + "Z" if value.tzinfo else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        number = float(value)
        return number if Decimal(repr(number)) == value else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    return None


@dataclass
class _Known:
    """The files the log of one table names, up to ``through``."""

    first_entry: int | None
    through: int
    paths: set[str]


_known: dict[str, _Known] = {}
_known_lock = threading.Lock()


def log_files(path: Path, up_to: int) -> frozenset[str]:
    """Every file (relative path) the table's log names up to version ``up_to``: added,
    removed or written as change data, by commits still in the log or by the version's
    snapshot (for commits a checkpoint replaced)."""
    key = str(path)
    first = _entry_stamp(path, 0)
    with _known_lock:
        known = _known.get(key)
        if known is None or known.first_entry != first or known.through > up_to:
            known = _Known(first, -1, set())
        through, paths = known.through, set(known.paths)
    if through < up_to:
        versions = [v for v in delta_log.log_versions(path) if through < v <= up_to]
        if versions and versions[0] > through + 1:  # commits before a checkpoint are gone
            paths.update(f.path for f in table_version(path, versions[0] - 1).files)
        for version in versions:
            commit = delta_log.commit_actions(path, version)
            for action in (*commit.adds, *commit.removes, *commit.cdc):
                paths.add(action.path)
        with _known_lock:
            _known[key] = _Known(first, up_to, paths)
    return frozenset(paths)
