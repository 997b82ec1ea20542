"""Table service: lakehouse tables as catalog assets. Every write refreshes the asset.

A create or drop is an intent recorded before the Delta commit and completed in the catalog
transaction (:mod:`lakehold.catalog.intents`), so a crash in between is finished or undone by
the reconciler; a write's Delta commit comes first and the asset follows it, never backwards.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog import intents
from lakehold.catalog.intents import refresh_asset
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.types import schema_from_types
from lakehold.catalog.views import AssetView
from lakehold.cluster.routing import ClusterOptions, Engine, choose_engine
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, authorize
from lakehold.kernel.audit import audited
from lakehold.lakehouse import folders
from lakehold.lakehouse.readers import Format, format_from_name, read_batch, source_lines
from lakehold.lakehouse.retention import VacuumPlan
from lakehold.lakehouse.streaming import Stream, open_source
from lakehold.lakehouse.tables import DeltaTables, HistoryEntry, Snapshot, WriteResult
from lakehold.lineage.emitter import LineageEmitter, recorded_write
from lakehold.names import check_sql_name
from lakehold.observability import instruments, tracing
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Asset, Project

log = logging.getLogger(__name__)

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
        fmt = self._format()
        types = schema_from_types(self.column_types) if self.column_types else None
        return read_batch(self.source, fmt, column_types=types)

    def open(self) -> pa.Table | Stream:
        """Like :meth:`read`, but a file larger than the in-memory sample is a
        :class:`Stream`: its first rows read and checked now, the rest read while it is
        written (for create, append and overwrite; merge and CDC :meth:`read` it whole)."""
        if isinstance(self.source, Path):
            fmt = self._format()
            types = schema_from_types(self.column_types) if self.column_types else None
            stream = open_source(self.source, fmt, types or {})
            if stream is not None:
                return stream
        return self.read()

    def size_bytes(self) -> int:
        """How many bytes the data takes (its file, its bytes, or its Arrow buffers)."""
        if isinstance(self.source, pa.Table):
            return self.source.nbytes
        if isinstance(self.source, bytes):
            return len(self.source)
        return self.source.stat().st_size

    def lines(self) -> list[int] | None:
        """The file line of each row (text formats), to name lines in errors about rows."""
        if isinstance(self.source, pa.Table):
            return None
        return source_lines(self.source, self._format())

    def _format(self) -> Format:
        return cast(Format, self.fmt) or format_from_name(self.name or str(self.source))


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did, and the asset after it."""

    result: WriteResult
    asset: AssetView

    def span_attributes(self) -> dict[str, str | int]:
        """What the write's span records (ADR 0036)."""
        done = self.result
        return {
            "lakehold.table.operation": done.operation,
            "lakehold.table.version": done.version,
            "lakehold.table.engine": done.engine,
        }


class TableService:
    """Create, write, inspect and maintain lakehouse tables."""

    def __init__(
        self,
        store: Store,
        tables: DeltaTables,
        lineage: LineageEmitter | None = None,
        *,
        cluster: ClusterOptions | None = None,
    ) -> None:
        self.store = store
        self.tables = tables
        self.lineage = lineage
        self.cluster = cluster
        """The Ray cluster merges, CDC writes and compactions may run on (ADR 40)."""
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def _managed(self, session: Session, principal: Principal, project: str) -> Project:
        found = readable_project(session, principal, project)
        authorize(principal, Action.TABLE_WRITE, found, session=session)
        return found

    def _refreshed(self, asset_id: str, snapshot: Snapshot) -> AssetView:
        """Copy a committed snapshot onto the asset (row-locked; an asset already at a newer
        version, refreshed by another process, stays as it is)."""
        with self.store.session() as session:
            query = select(Asset).where(Asset.id == asset_id).with_for_update()
            asset = session.scalar(query)
            if asset is None:
                raise NotFound("the table was dropped during the write")
            refresh_asset(asset, snapshot)
            return AssetView.of(asset)

    def _claim(self, path: Path, intent_id: str, qualified: str) -> None:
        """Make ``path`` free for the create of ``intent_id``: Conflict while another live
        process creates or drops a table there; intents of dead processes are settled first,
        and a table folder no asset and no intent explains is quarantined (never deleted)."""
        intents.settle_dead(self.store, self.tables, path, besides=intent_id)
        with self.store.session() as session:
            if session.scalar(select(Asset.id).where(Asset.storage_path == str(path))):
                raise Conflict(f"table '{qualified}' already exists", field="name")
        if (path / folders.LOG).is_dir():
            moved = folders.quarantine(self.tables.root, path)
            self.tables.forget(path)
            log.warning(
                "moved orphan table folder %s to %s",
                folders.relative(self.tables.root, path),
                folders.relative(self.tables.root, moved),
            )

    @tracing.spanned("lakehold.table.write", WriteOutcome.span_attributes)
    @audited("table.create")
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
        change_data_feed: bool = False,
    ) -> WriteOutcome:
        """Create table ``project.name`` from data; it becomes an asset of the project.

        ``commit_metadata`` is added to the first commit (e.g. the sources of a CTAS);
        ``change_data_feed`` records row changes (``delta.enableChangeDataFeed``: what a
        Delta Sharing recipient reads as the table's change data feed)."""
        check_sql_name("table", name)
        qualified = f"{project}.{name}"
        with self.store.session() as session:
            found = self._managed(session, principal, project)
            if session.query(Asset).filter_by(project_id=found.id, name=name).first():
                raise Conflict(f"table '{qualified}' already exists", field="name")
        batch = data.open()
        path = self.tables.path_for(project, name)
        details = {"description": description, "tags": sorted(set(tags or [])), "keys": keys}
        with self._locks[str(path)]:
            intent = intents.begin(
                self.store, "create", found, name, path, user_id=principal.user_id, details=details
            )
            try:
                self._claim(path, intent, qualified)
                with instruments.table_commit(project, "create"):
                    result = self.tables.create(
                        path,
                        batch,
                        keys=keys or None,
                        committer=principal.username,
                        metadata=commit_metadata,
                        change_data_feed=change_data_feed,
                    )
            except BaseException:
                intents.roll_back(self.store, intent)
                raise
            try:
                with self.store.session() as session:
                    if not intents.still_pending(session, intent):
                        # a reconciler took the intent for a dead process's: the table is
                        # already adopted (or undone); the data is not ours to delete
                        raise Conflict(f"table '{qualified}' already exists", field="name")
                    asset = Asset(
                        project_id=found.id,
                        name=name,
                        description=description,
                        tags=sorted(set(tags or [])),
                        storage_path=str(path),
                        key_columns=list(keys or []),
                        created_by=principal.user_id,
                    )
                    session.add(asset)
                    refresh_asset(asset, result.snapshot)
                    intents.end(session, intent, intents.DONE)
                    session.flush()
                    view = AssetView.of(asset)
            except Conflict:
                raise
            except Exception:
                self.tables.drop(path)
                intents.roll_back(self.store, intent)
                raise
            return WriteOutcome(result, view)

    @tracing.spanned("lakehold.table.write", WriteOutcome.span_attributes)
    @audited("table.write")
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
        on_duplicate: Literal["last", "error"] = "last",
        engine: Engine | None = None,
    ) -> WriteOutcome:
        """Append, overwrite, merge (upsert on keys) or CDC-merge data into a table.

        A merge or CDC batch holding a key twice keeps its last row (the result counts the
        rows collapsed) or, with ``on_duplicate="error"``, is refused. A batch without rows
        (other than an overwrite) writes nothing: the result is a no-op with a message.
        ``engine="ray"`` runs a merge or CDC write as tasks on the Ray cluster (appends and
        overwrites run in process); None runs it there when a cluster is configured and the
        batch reaches its threshold. The result says which engine ran and, when the cluster
        was asked for but could not run it, why."""
        if mode not in ("append", "overwrite", "merge", "cdc"):
            raise Invalid(f"unknown write mode '{mode}'", field="mode")
        chosen = choose_engine(self.cluster, engine, data.size_bytes())
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            asset_id, path, declared = asset.id, asset.storage_path, list(asset.key_columns or [])
        batch = data.open()  # a large file streams; a merge or CDC of one spills (lakehouse.spill)
        merge_keys = keys or declared
        if mode in ("merge", "cdc") and not merge_keys:
            raise Invalid(
                f"{mode} needs key columns: declare them on the table or pass keys", field="keys"
            )
        merge_engine = None
        if chosen == "ray" and self.cluster is not None and mode in ("merge", "cdc"):
            from lakehold.cluster.merge_job import RayMerge  # only with a cluster

            merge_engine = RayMerge(self.cluster, self.tables.root)
        with self._locks[path], instruments.table_commit(project, mode) as commit:
            result = self.tables.write(
                Path(path),
                batch,
                mode=mode,
                keys=merge_keys or None,
                committer=principal.username,
                op_column=op_column,
                order_column=order_column,
                declared=list(data.column_types or ()),
                on_duplicate=on_duplicate,
                lines=data.lines,
                merge_engine=merge_engine,
            )
            if engine == "ray" and merge_engine is None:
                note = f"{mode} writes run in process: the cluster runs merges and CDC writes"
                result = dataclasses.replace(result, engine_note=note)
            commit.report(written=not result.no_op, merge_rows=result.source_rows or None)
            return WriteOutcome(result, self._refreshed(asset_id, result.snapshot))

    def history(
        self, principal: Principal, project: str, name: str, limit: int | None = None
    ) -> list[HistoryEntry]:
        """Versions of a table, newest first."""
        with self.store.session() as session:
            asset = find_asset(session, readable_project(session, principal, project), name)
            return self.tables.history(Path(asset.storage_path), limit=limit)

    @audited("table.restore")
    def restore(self, principal: Principal, project: str, name: str, version: int) -> WriteOutcome:
        """Restore a table to an earlier version (as a new version)."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            asset_id, path = asset.id, asset.storage_path
        with self._locks[path]:
            with instruments.table_commit(project, "restore"):
                result = self.tables.restore(Path(path), version, committer=principal.username)
            return WriteOutcome(result, self._refreshed(asset_id, result.snapshot))

    @audited("table.vacuum")
    def vacuum(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        retention_hours: int = 168,
        dry_run: bool = False,
        force: bool = False,
    ) -> VacuumPlan:
        """Delete files no longer referenced by versions newer than the retention period.

        Below 168 hours only with ``force``, which only an administrator may pass (and which
        never goes below the table's own ``delta.deletedFileRetentionDuration``)."""
        if force:
            authorize(principal, Action.TABLE_VACUUM_FORCE)
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            path = asset.storage_path
        with self._locks[path], instruments.table_commit(project, "vacuum") as commit:
            plan = self.tables.vacuum(
                Path(path),
                retention_hours=retention_hours,
                dry_run=dry_run,
                force=force,
                committer=principal.username,
            )
            commit.report(written=not dry_run, files_removed=len(plan.files))
            return plan

    @audited("table.optimize")
    def optimize(
        self, principal: Principal, project: str, name: str, *, engine: Engine | None = None
    ) -> dict:
        """Compact small files into larger ones: as tasks on the Ray cluster with
        ``engine="ray"``, or with None when a cluster is configured and the table reaches its
        threshold; the metrics say which ``engine`` ran."""
        with self.store.session() as session:
            asset = find_asset(session, self._managed(session, principal, project), name)
            asset_id, path = asset.id, asset.storage_path
        size = self.tables.snapshot(Path(path)).size_bytes if engine is None else 0
        compactor = None
        if choose_engine(self.cluster, engine, size) == "ray" and self.cluster is not None:
            from lakehold.cluster.compact_job import RayCompactor  # only with a cluster

            compactor = RayCompactor(self.cluster)
        with self._locks[path]:
            with instruments.table_commit(project, "optimize"):
                metrics = self.tables.optimize(
                    Path(path), committer=principal.username, compactor=compactor
                )
            self._refreshed(asset_id, self.tables.snapshot(Path(path), version=metrics["version"]))
            return metrics

    @audited("table.drop")
    def drop_table(self, principal: Principal, project: str, name: str) -> None:
        """Delete a table and its asset: intent, then the asset and the folder (moved to the
        trash) in one transaction, then the trash is emptied."""
        with self.store.session() as session:
            found = self._managed(session, principal, project)
            asset = find_asset(session, found, name)
            asset_id, path = asset.id, Path(asset.storage_path)
        with self._locks[str(path)]:
            intents.settle_dead(self.store, self.tables, path)
            with self.store.session() as session:
                if session.get(Asset, asset_id) is None:
                    return  # an interrupted drop of this table was just finished
            intent = intents.begin(
                self.store,
                "drop",
                found,
                name,
                path,
                user_id=principal.user_id,
                details={"asset_id": asset_id},
            )
            moved: Path | None = None
            try:
                with self.store.session() as session:
                    row = session.get(Asset, asset_id)
                    if row is None:
                        raise NotFound(f"table '{project}.{name}' not found")
                    session.delete(row)
                    session.flush()
                    moved = self.tables.move_to_trash(path, intent)
                    intents.end(session, intent, intents.DONE)
            except BaseException:
                if moved is not None and not path.exists():
                    moved.rename(path)
                intents.roll_back(self.store, intent)
                raise
            self.tables.empty_trash(intent)
