"""Reading Delta tables: snapshots of a version or a time, rows, history; and the messages that
name a table by ``project.table`` instead of its server path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.lakehouse.history import commit_time, history_entry, parse_timestamp, version_at
from lakehold.lakehouse.results import HistoryEntry, Snapshot
from lakehold.lakehouse.snapshots import SnapshotCache


class TableReads:
    """The read half of :class:`~lakehold.lakehouse.tables.DeltaTables`."""

    _snapshots: SnapshotCache

    def snapshot(
        self,
        path: Path,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
    ) -> Snapshot:
        """The table at the latest version, at ``version``, or as of ``timestamp``.

        A version never changes once committed, so snapshots of explicit versions are cached
        (checked against vacuumed files on every hit).
        """
        path = Path(path).absolute()
        if version is not None and timestamp is None:
            cached = self._snapshots.get(path, version)
            if cached is not None:
                return cached
        snapshot = self._load_snapshot(path, version, timestamp)
        self._snapshots.put(path, snapshot)
        return snapshot

    def _load_snapshot(
        self, path: Path, version: int | None, timestamp: datetime | str | None
    ) -> Snapshot:
        table, latest = self._at(path, version, timestamp)
        adds = pa.table(table.get_add_actions(flatten=False))
        files = table.file_uris()
        if table is not latest:
            _require_files(files, table.version())
        return Snapshot(
            version=table.version(),
            timestamp=self._commit_time(latest, table.version()),
            schema=arrow_schema(table),
            files=files,
            num_rows=active_row_count(adds, files),
            size_bytes=pc.sum(adds.column("size_bytes")).as_py() or 0,
        )

    def read(
        self,
        path: Path,
        *,
        version: int | None = None,
        timestamp: datetime | str | None = None,
    ) -> pa.Table:
        """All rows of the table at the latest version, at ``version`` or as of ``timestamp``."""
        table, latest = self._at(Path(path).absolute(), version, timestamp)
        if table is not latest:
            _require_files(table.file_uris(), table.version())
        return table.to_pyarrow_table()

    def history(self, path: Path, limit: int | None = None) -> list[HistoryEntry]:
        """The table's commits, newest first."""
        if limit is not None and limit < 1:
            raise Invalid("limit must be at least 1", field="limit")
        table = self._open(Path(path).absolute())
        return [history_entry(commit) for commit in table.history(limit)]

    def _at(
        self, path: Path, version: int | None, timestamp: datetime | str | None
    ) -> tuple[DeltaTable, DeltaTable]:
        """(The table at ``version`` or ``timestamp``, the table at its latest version.)"""
        if version is not None and timestamp is not None:
            raise Invalid("give a version or a timestamp, not both", field="timestamp")
        latest = self._open(path)
        if timestamp is not None:
            version = version_at(latest.history(), parse_timestamp(timestamp))
        return self._load_version(path, latest, version), latest

    @staticmethod
    def _commit_time(latest: DeltaTable, version: int) -> datetime:
        # history() of a table loaded at an older version is unreliable (delta-rs 1.6):
        # read it from the latest version.
        commits = latest.history(1 if version == latest.version() else None)
        found = next((c for c in commits if int(c["version"]) == version), None)
        if found is None:
            raise NotFound(f"the commit of version {version} is no longer in the table log")
        return commit_time(found)

    @staticmethod
    def _open(path: Path) -> DeltaTable:
        try:
            return DeltaTable(str(path))
        except TableNotFoundError:
            raise NotFound(f"table {table_label(path)} not found") from None

    @staticmethod
    def _version_of(path: Path, latest: DeltaTable, version: int | None) -> DeltaTable:
        """The table at ``version`` to restore: a Conflict naming the version when a vacuum
        removed data files it needs (reads of it are a NotFound, in ``_at``)."""
        table = TableReads._load_version(path, latest, version)
        if table is not latest and not all(Path(f).exists() for f in table.file_uris()):
            raise Conflict(
                f"version {version} of the table cannot be restored: a vacuum removed its data "
                "files",
                field="version",
                version=version,
            )
        return table

    @staticmethod
    def _load_version(path: Path, latest: DeltaTable, version: int | None) -> DeltaTable:
        if version is None or version == latest.version():
            return latest
        if not 0 <= version <= latest.version():
            raise NotFound(
                f"the table has no version {version} (versions 0 to {latest.version()})",
                field="version",
            )
        try:
            return DeltaTable(str(path), version=version)
        except Exception as exc:
            raise NotFound(
                f"version {version} of the table can no longer be read: {masked_reason(exc, path)}"
            ) from None


def table_label(location: Path | str) -> str:
    """The logical name ``project.table`` of the table stored at ``.../project/table``: what
    messages show instead of a server path."""
    path = Path(str(location).removeprefix("file://"))
    return f"{path.parent.name}.{path.name}"


def masked_reason(exc: Exception, location: Path | str) -> str:
    """``exc``'s message with the table's location replaced by its logical name."""
    text, local = str(exc), str(location).removeprefix("file://")
    for spelling in sorted({str(location), local, Path(local).absolute().as_uri()}, key=len)[::-1]:
        text = text.replace(spelling, table_label(location))
    return text


def arrow_schema(table: DeltaTable) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def _require_files(files: list[str], version: int) -> None:
    """NotFound when a vacuum removed files an older version needs."""
    if not all(Path(f).exists() for f in files):
        raise NotFound(
            f"version {version} of the table can no longer be read: a vacuum removed its files"
        )


def active_row_count(adds: pa.Table, files: list[str]) -> int:
    """Rows in the active files: from the log's statistics, else from the Parquet footers."""
    records = adds.column("num_records")
    if records.null_count == 0:
        return pc.sum(records).as_py() or 0
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
