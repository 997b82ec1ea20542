"""The SDK's tables endpoints: create and write Delta tables from uploaded files (streamed, a
chunk at a time), history, restore and maintenance."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment
from lakehold.client.statements import Engine

CHUNK = 1 << 20
Data = str | os.PathLike[str] | bytes | IO[bytes]
"""A local file's path, its bytes, or a binary file object (read from where it stands)."""
Progress = Callable[[int], None]
"""Told the number of bytes of each chunk as it is sent."""


@dataclass
class Upload:
    """A file to send: its name (the server reads the format from its suffix), its size when
    known, and its bytes a chunk at a time."""

    filename: str
    size: int | None
    chunks: Iterator[bytes]


def upload_of(data: Data, filename: str | None = None, progress: Progress | None = None) -> Upload:
    """``data`` as an :class:`Upload`, read lazily (never whole into memory); ``progress`` is
    told each chunk."""
    if isinstance(data, bytes):
        return Upload(filename or "data", len(data), _counted(_slices(data), progress))
    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        name = filename or os.path.basename(path)
        return Upload(name, os.path.getsize(path), _counted(_read_path(path), progress))
    name = filename or os.path.basename(str(getattr(data, "name", "") or "")) or "data"
    return Upload(name, _remaining(data), _counted(_read(data), progress))


def _slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _read_path(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from _read(handle)


def _read(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def _remaining(handle: IO[bytes]) -> int | None:
    """The bytes left to read in ``handle``, when it can say."""
    try:
        return max(os.fstat(handle.fileno()).st_size - handle.tell(), 0)
    except (AttributeError, OSError, ValueError):
        return None


def _counted(chunks: Iterator[bytes], progress: Progress | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress(len(chunk))
        yield chunk


def _joined(values: Sequence[str] | None) -> str | None:
    return ",".join(values) if values else None


class Tables(Resource):
    """Lakehouse tables (Delta Lake) of a project, addressed in SQL as ``project.table``."""

    def _path(self, project: str, table: str | None = None) -> str:
        base = f"/api/v1/projects/{segment(project)}/tables"
        return base if table is None else f"{base}/{segment(table)}"

    def create(
        self,
        project: str,
        name: str,
        data: Data,
        *,
        keys: Sequence[str] | None = None,
        format: str | None = None,
        column_types: dict[str, str] | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        change_data_feed: bool = False,
    ) -> m.WriteOut:
        """Create ``project.name`` from a file (CSV, Parquet, JSON lines or Arrow IPC; the
        format from ``format``, else the file name's suffix), streamed to the server.
        ``change_data_feed`` records its row changes (a Delta Sharing change data feed)."""
        upload = upload_of(data, filename, progress)
        fields = {
            "name": name,
            "keys": _joined(keys),
            "format": format,
            "column_types": json.dumps(column_types) if column_types else None,
            "description": description,
            "tags": _joined(tags),
            "change_data_feed": "true" if change_data_feed else None,
        }
        return self._upload(
            self._path(project), m.WriteOut, fields=fields, file=(upload.filename, upload.chunks)
        )

    def write(
        self,
        project: str,
        table: str,
        data: Data,
        *,
        mode: Literal["append", "overwrite", "merge", "cdc"] = "append",
        keys: Sequence[str] | None = None,
        op_column: str = "op",
        order_column: str | None = None,
        on_duplicate: Literal["last", "error"] = "last",
        format: str | None = None,
        column_types: dict[str, str] | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
        engine: Engine | None = None,
    ) -> m.WriteOut:
        """Append, overwrite, merge (upsert on keys) or CDC-merge a batch (``op_column`` of
        I/U/D, ``order_column`` ordering changes to one key), with schema evolution.
        ``on_duplicate``: a key twice in a merge or CDC batch keeps its last row, or refuses
        the batch. A batch without rows writes nothing (``result.no_op``). ``engine="ray"``
        runs a merge or CDC write as tasks on the server's Ray cluster (default: there when
        the batch is large enough); ``result.engine`` says where it ran."""
        upload = upload_of(data, filename, progress)
        fields = {
            "mode": mode,
            "keys": _joined(keys),
            "op_column": op_column,
            "order_column": order_column,
            "format": format,
            "column_types": json.dumps(column_types) if column_types else None,
            "on_duplicate": on_duplicate,
            "engine": engine,
        }
        return self._upload(
            f"{self._path(project, table)}/writes",
            m.WriteOut,
            fields=fields,
            file=(upload.filename, upload.chunks),
        )

    def history(
        self, project: str, table: str, *, limit: int | None = None
    ) -> list[m.HistoryEntry]:
        """Versions, newest first, with operation, committer and metrics."""
        path = f"{self._path(project, table)}/history"
        return self._get(path, list[m.HistoryEntry], params={"limit": limit})

    def restore(self, project: str, table: str, version: int) -> m.WriteOut:
        """Restore an earlier version (itself a new version)."""
        body = m.RestoreIn(version=version)
        return self._post(f"{self._path(project, table)}/restore", m.WriteOut, json=body)

    def vacuum(
        self,
        project: str,
        table: str,
        *,
        retention_hours: int = 168,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]:
        """Delete data files no version within ``retention_hours`` needs (``files``,
        ``count``, ``dry_run``...). Below 168 hours needs ``force`` (administrators)."""
        body = m.VacuumIn(retention_hours=retention_hours, dry_run=dry_run, force=force)
        path = f"{self._path(project, table)}/vacuum"
        return self._post(path, dict[str, Any], json=body)

    def optimize(self, project: str, table: str, *, engine: Engine | None = None) -> dict[str, Any]:
        """Compact small files (``engine="ray"``: as tasks on the server's Ray cluster); the
        compaction metrics, with the ``engine`` that ran."""
        params = {"engine": engine} if engine is not None else None
        return self._post(f"{self._path(project, table)}/optimize", dict[str, Any], params=params)

    def drop(self, project: str, table: str) -> None:
        """Drop the table and its data."""
        self._delete(self._path(project, table))

    def list(self, project: str) -> list[m.AssetView]:
        """The tables of a project (its assets: lakehouse and federated tables)."""
        return self._get(f"/api/v1/projects/{segment(project)}/assets", list[m.AssetView])

    def get(self, project: str, table: str) -> m.AssetView:
        """A table with its columns, row count, size and current version."""
        path = f"/api/v1/projects/{segment(project)}/assets/{segment(table)}"
        return self._get(path, m.AssetView)
