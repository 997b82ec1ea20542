"""Table service: lakehouse tables as catalog assets. Every write refreshes the asset."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
from sqlalchemy.orm import Session

from lakehold.catalog.names import check_sql_name
from lakehold.catalog.search import index_asset
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.types import schema_from_types
from lakehold.catalog.views import AssetView
from lakehold.errors import Conflict, Invalid
from lakehold.governance import policy
from lakehold.lakehouse.readers import format_from_name, read_batch
from lakehold.lakehouse.tables import DeltaTables, HistoryEntry, Snapshot, WriteResult
from lakehold.lineage.emitter import LineageEmitter, recorded_write
from lakehold.query.arrow_types import duckdb_type
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Asset, AssetColumn, Project, utcnow

WriteMode = Literal["append", "overwrite", "merge", "cdc"]


@dataclass(frozen=True)
class DataSource:
    """Input data: a file path or bytes, in a named format (csv, parquet, jsonl, arrow), or
    an in-memory Arrow table (for example the rows of CREATE TABLE ... AS SELECT)."""

    source: Path | bytes | pa.Table
    fmt: str | None = None
    name: str | None = None
    column_types: dict[str, str] | None = None

    def read(self) -> pa.Table:
        """Parse the data; Invalid names the line and column of malformed input."""
        if isinstance(self.source, pa.Table):
            return self.source
        fmt = self.fmt or format_from_name(self.name or str(self.source))
        types = schema_from_types(self.column_types) if self.column_types else None
        return read_batch(self.source, fmt, column_types=types)


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did, and the asset after it."""

    result: WriteResult
    asset: AssetView


def _refresh(asset: Asset, snapshot: Snapshot) -> None:
    """Copy the technical metadata of a Delta snapshot onto the asset and its columns."""
    existing = {c.name: c for c in asset.columns}
    kept: list[AssetColumn] = []
    for ordinal, field in enumerate(snapshot.schema):
        column = existing.get(field.name) or AssetColumn(name=field.name)
        column.data_type = duckdb_type(field.type)
        column.nullable, column.ordinal = field.nullable, ordinal
        kept.append(column)
    asset.columns = kept
    asset.row_count = snapshot.num_rows
    asset.size_bytes = snapshot.size_bytes
    asset.current_version = snapshot.version
    asset.updated_at = utcnow()
    index_asset(asset)


class TableService:
    """Create, write, inspect and maintain lakehouse tables."""

    def __init__(
        self, store: Store, tables: DeltaTables, lineage: LineageEmitter | None = None
    ) -> None:
        self.store = store
        self.tables = tables
        self.lineage = lineage
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def _managed(self, session: Session, principal: Principal, project: str) -> Project:
        found = readable_project(session, principal, project)
        policy.require_role(session, principal, found, "contributor", "change its tables")
        return found

    @recorded_write("create")
    def create_table(
        self,
        principal: Principal,
        project: str,
        name: str,
        data: DataSource,
        *,
        keys: list[str] | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        commit_metadata: dict[str, str] | None = None,
    ) -> WriteOutcome:
        """Create table ``project.name`` from data; it becomes an asset of the project.

        ``commit_metadata`` is added to the first commit (e.g. the sources of a CTAS)."""
        check_sql_name("table", name)
        with self.store.session() as session:
            found = self._managed(session, principal, project)
            if session.query(Asset).filter_by(project_id=found.id, name=name).first():
                raise Conflict(f"table '{project}.{name}' already exists", field="name")
            batch = data.read()
            path = self.tables.path_for(project, name)
            with self._locks[str(path)]:
                result = self.tables.create(
                    path,
                    batch,
                    keys=keys or None,
                    committer=principal.username,
                    metadata=commit_metadata,
                )
                try:
                    asset = Asset(
                        project=found,
                        name=name,
                        description=description,
                        tags=sorted(set(tags or [])),
                        storage_path=str(path),
                        key_columns=list(keys or []),
                        created_by=principal.user_id,
                    )
                    session.add(asset)
                    _refresh(asset, result.snapshot)
                    session.flush()
                except Exception:
                    self.tables.drop(path)
                    raise
            return WriteOutcome(result, AssetView.of(asset))

    @recorded_write()
    def write(
        self,
        principal: Principal,
        project: str,
        name: str,
        data: DataSource,
        *,
        mode: WriteMode,
        keys: list[str] | None = None,
        op_column: str = "op",
        order_column: str | None = None,
    ) -> WriteOutcome:
        """Append, overwrite, merge (upsert on keys) or CDC-merge data into a table."""
        if mode not in ("append", "overwrite", "merge", "cdc"):
            raise Invalid(f"unknown write mode '{mode}'", field="mode")
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            batch = data.read()
            merge_keys = keys or list(asset.key_columns or [])
            if mode in ("merge", "cdc") and not merge_keys:
                raise Invalid(
                    f"{mode} needs key columns: declare them on the table or pass keys",
                    field="keys",
                )
            with self._locks[asset.storage_path]:
                result = self.tables.write(
                    Path(asset.storage_path),
                    batch,
                    mode=mode,
                    keys=merge_keys or None,
                    committer=principal.username,
                    op_column=op_column,
                    order_column=order_column,
                )
                _refresh(asset, result.snapshot)
            return WriteOutcome(result, AssetView.of(asset))

    def history(
        self, principal: Principal, project: str, name: str, limit: int | None = None
    ) -> list[HistoryEntry]:
        """Versions of a table, newest first."""
        with self.store.session() as session:
            asset = find_asset(session, readable_project(session, principal, project), name)
            return self.tables.history(Path(asset.storage_path), limit=limit)

    def restore(self, principal: Principal, project: str, name: str, version: int) -> WriteOutcome:
        """Restore a table to an earlier version (as a new version)."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            with self._locks[asset.storage_path]:
                result = self.tables.restore(
                    Path(asset.storage_path), version, committer=principal.username
                )
                _refresh(asset, result.snapshot)
            return WriteOutcome(result, AssetView.of(asset))

    def vacuum(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        retention_hours: int = 168,
        dry_run: bool = False,
    ) -> list[str]:
        """Delete files no longer referenced by versions newer than the retention period."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            with self._locks[asset.storage_path]:
                removed = self.tables.vacuum(
                    Path(asset.storage_path),
                    retention_hours=retention_hours,
                    dry_run=dry_run,
                    committer=principal.username,
                )
            return [Path(p).name for p in removed]

    def optimize(self, principal: Principal, project: str, name: str) -> dict:
        """Compact small files into larger ones."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            with self._locks[asset.storage_path]:
                metrics = self.tables.optimize(
                    Path(asset.storage_path), committer=principal.username
                )
                _refresh(asset, self.tables.snapshot(Path(asset.storage_path)))
            return metrics

    def drop_table(self, principal: Principal, project: str, name: str) -> None:
        """Delete a table and its asset."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            path = Path(asset.storage_path)
            session.delete(asset)
            session.flush()
            with self._locks[str(path)]:
                self.tables.drop(path)
