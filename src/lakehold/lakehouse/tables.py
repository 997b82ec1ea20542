"""Delta tables: create, write (append, overwrite, merge, CDC), time travel and maintenance.

Every write validates and evolves the schema before it commits, so a refused write leaves
the table as it was. The one write made of two commits (a column widening, which rewrites
the table, then a merge) restores the previous version if its merge fails.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from lakehold.errors import Conflict, Invalid
from lakehold.lakehouse import folders, retention
from lakehold.lakehouse.delta_log import CHANGE_DATA_FEED
from lakehold.lakehouse.engines import Compactor, MergeEngine
from lakehold.lakehouse.history import commit_properties
from lakehold.lakehouse.keys import (
    check_key_columns,
    check_no_null_keys,
    check_unique_keys,
    last_per_key,
)
from lakehold.lakehouse.merge import (
    OP,
    check_change_columns,
    empty_order,
    execute_merge,
    invalid_operation,
    prepare_changes,
)
from lakehold.lakehouse.reading import (
    TableReads,
    active_row_count,
    arrow_schema,
    masked_reason,
    table_label,
)
from lakehold.lakehouse.results import HistoryEntry, Snapshot, WriteResult
from lakehold.lakehouse.retention import VacuumPlan
from lakehold.lakehouse.rewrite import rewrite
from lakehold.lakehouse.schema import Evolution, evolve
from lakehold.lakehouse.snapshots import SnapshotCache
from lakehold.lakehouse.spill import SpilledBatch
from lakehold.lakehouse.streaming import Stream, schema_changed

__all__ = ["MODES", "DeltaTables", "HistoryEntry", "Mode", "Snapshot", "WriteResult", "table_label"]

Mode = Literal["append", "overwrite", "merge", "cdc"]
MODES = ("append", "overwrite", "merge", "cdc")
OnDuplicate = Literal["last", "error"]
ON_DUPLICATE = ("last", "error")
NO_ROWS = "the batch has no rows: nothing was written"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

log = logging.getLogger(__name__)


class DeltaTables(TableReads):
    """The Delta tables stored under one root directory (``root/project/table``)."""

    def __init__(self, root: Path, *, cached_snapshots: int = 512) -> None:
        self.root = Path(root).absolute()
        self._snapshots = SnapshotCache(cached_snapshots)

    def path_for(self, project: str, table: str) -> Path:
        """Where the table ``table`` of ``project`` lives."""
        for field, name in (("project", project), ("table", table)):
            if not _NAME.match(name) or name in (".", ".."):
                raise Invalid(f"{field} name {name!r} is not a valid directory name", field=field)
        return self.root / project / table

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        path: Path,
        data: pa.Table | Stream,
        *,
        keys: list[str] | None = None,
        committer: str,
        metadata: dict[str, str] | None = None,
        change_data_feed: bool = False,
    ) -> WriteResult:
        """Create a table at ``path`` holding ``data``; Conflict if one exists there.

        ``metadata`` is extra custom commit metadata (string values). A :class:`Stream` is
        written chunk by chunk in one commit (with keys, it is read whole to check them).
        ``change_data_feed`` sets ``delta.enableChangeDataFeed``: merges, CDC writes, deletes
        and updates then also write their row changes (``_change_data`` files)."""
        path = Path(path).absolute()
        if DeltaTable.is_deltatable(str(path)):
            raise Conflict(f"table {table_label(path)} already exists")
        stream = data if isinstance(data, Stream) and keys is None else None
        if isinstance(data, Stream) and stream is None:
            data = data.whole()
        evolution = evolve(None, stream.sample if stream is not None else data)
        if keys is not None:
            keys = check_key_columns(keys, batch=evolution.batch)
            check_no_null_keys(evolution.batch, keys)
            check_unique_keys(evolution.batch, keys)
        commit = commit_properties(committer, "CREATE", keys=keys or (), extra=metadata)
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        source, counted = _source(
            evolution,
            stream.rest() if stream is not None else None,
            stream.fail if stream is not None else None,
            lambda chunk: evolve(None, chunk),
        )
        try:
            write_deltalake(
                path,
                source,
                mode="error",
                commit_properties=commit,
                configuration={CHANGE_DATA_FEED: "true"} if change_data_feed else None,
            )
        except Exception:
            if created:
                shutil.rmtree(path, ignore_errors=True)
            if stream is not None and stream.error is not None:
                raise stream.error from None
            raise
        rows = counted[0]
        return self._result(
            path, "CREATE", 0, inserted=rows, written=rows, changes=evolution.changes
        )

    def write(
        self,
        path: Path,
        data: pa.Table | Stream,
        *,
        mode: Mode,
        keys: list[str] | None = None,
        committer: str,
        op_column: str = "op",
        order_column: str | None = None,
        keep_order_column: bool = False,
        replace_schema: bool = False,
        declared: Collection[str] = (),
        on_duplicate: OnDuplicate = "last",
        lines: Callable[[], Sequence[int] | None] | None = None,
        merge_engine: MergeEngine | None = None,
    ) -> WriteResult:
        """Write ``data`` to the table at ``path``.

        ``append`` adds rows; ``overwrite`` replaces the rows (the schema stays the union of
        old and new columns unless ``replace_schema``); ``merge`` upserts on ``keys`` (the
        last row of a key wins); ``cdc`` applies the I/U/D operation in ``op_column``, the
        last change per key winning by ``order_column``, else by row order. With
        ``on_duplicate="error"`` a merge or CDC batch holding a key twice is refused instead;
        otherwise the result counts the rows collapsed. ``declared`` names the batch columns
        whose types were given explicitly: only those may change a key column's type. An
        append, merge or CDC batch without rows writes nothing (a no-op result, no commit).
        ``lines`` gives the file line of each batch row, for errors that name rows. A
        :class:`Stream` is appended or overwritten chunk by chunk in one commit; a merge or CDC
        spills it to disk and reduces it there (:mod:`~lakehold.lakehouse.spill`), then merges
        the rows kept chunk by chunk; an append that widens a column reads it whole. A merge
        or CDC runs on ``merge_engine`` (a Ray cluster) once prepared, unless the engine says
        it cannot (the result's ``engine_note`` then says why it ran in process).
        """
        path = Path(path).absolute()
        if mode not in MODES:
            raise Invalid(f"unknown write mode {mode!r} (known: {', '.join(MODES)})", field="mode")
        if on_duplicate not in ON_DUPLICATE:
            raise Invalid(
                f"on_duplicate is one of {', '.join(ON_DUPLICATE)}, not {on_duplicate!r}",
                field="on_duplicate",
            )
        if replace_schema and mode != "overwrite":
            raise Invalid("replace_schema applies to overwrite only", field="replace_schema")
        table = self._open(path)
        schema = arrow_schema(table)
        if mode in ("append", "overwrite"):
            return self._write_rows(
                path,
                table,
                schema,
                data,
                mode=mode,
                committer=committer,
                replace=replace_schema,
                keys=[k for k in keys or () if k in schema.names],
                declared=declared,
            )
        operation = "CDC MERGE" if mode == "cdc" else "MERGE"
        if isinstance(data, Stream):
            return self._merge_stream(
                path,
                table,
                data,
                keys=keys,
                cdc=mode == "cdc",
                changes=(op_column, order_column, keep_order_column),
                declared=declared,
                on_duplicate=on_duplicate,
                lines=lines,
                committer=committer,
                engine=merge_engine,
            )
        keys = check_key_columns(keys, batch=data, table_columns=schema.names)
        check_no_null_keys(data, keys)
        if data.num_rows == 0:
            evolve(schema, data, keys=keys, declared=declared)  # the header is still checked
            return self._no_op(path, operation, table.version())
        if on_duplicate == "error":
            _with_lines(lambda: check_unique_keys(data, keys), lines)
        received = data.num_rows
        if mode == "cdc":
            changes = prepare_changes(
                data,
                keys,
                op_column=op_column,
                order_column=order_column,
                keep_order_column=keep_order_column,
            )
            data = changes.rows.append_column(OP, changes.operations)
        else:
            data = last_per_key(data, keys)
        evolution = _merge_evolution(schema, data, keys, declared)
        result = self._merge(
            path, table, evolution, evolution.batch, keys, operation, committer, engine=merge_engine
        )
        return dataclasses.replace(result, duplicates_collapsed=received - data.num_rows)

    def restore(self, path: Path, version: int, *, committer: str) -> WriteResult:
        """Make ``version`` the table's current state again (as a new version)."""
        path = Path(path).absolute()
        table = self._open(path)
        self._version_of(path, table, version)
        if version == table.version():
            return self._result(path, "RESTORE", table.version())
        try:
            table.restore(version, commit_properties=commit_properties(committer, "RESTORE"))
        except CommitFailedError as exc:
            reason = masked_reason(exc, path)
            raise Conflict(f"the table changed during the restore: {reason}") from None
        return self._result(path, "RESTORE", table.version())

    # -- maintenance --------------------------------------------------------------------------

    def vacuum(
        self,
        path: Path,
        *,
        retention_hours: int = retention.MIN_RETENTION_HOURS,
        dry_run: bool = False,
        force: bool = False,
        committer: str,
    ) -> VacuumPlan:
        """Delete files no version newer than ``retention_hours`` needs; their names, relative
        to the table folder.

        Versions older than the retention can no longer be read afterwards, so a retention
        below 168 hours (or the table's longer ``delta.deletedFileRetentionDuration``) is
        refused unless ``force`` (which never goes below the table's own setting).
        """
        path = Path(path).absolute()
        table = self._open(path)
        if not dry_run:
            self._snapshots.forget(path)
        return retention.vacuum(
            table,
            retention_hours=retention_hours,
            dry_run=dry_run,
            force=force,
            committer=committer,
        )

    def optimize(
        self, path: Path, *, committer: str, compactor: Compactor | None = None
    ) -> dict[str, Any]:
        """Compact small files into larger ones (on ``compactor`` when it can); returns the
        compaction metrics, the ``engine`` that ran and, when one was refused, why."""
        path = Path(path).absolute()
        table = self._open(path)
        commit = commit_properties(committer, "OPTIMIZE")
        note = compactor.unsupported(table) if compactor is not None else None
        if compactor is not None and note is None:
            try:
                metrics = compactor.compact(table, commit=commit)
            except CommitFailedError as exc:
                reason = masked_reason(exc, path)
                raise Conflict(f"another write changed the table; try again ({reason})") from None
        else:
            if note is not None:
                log.info("optimize of %s runs in process: %s", table_label(path), note)
            metrics = table.optimize.compact(commit_properties=commit)
        engine = compactor.name if compactor is not None and note is None else "duckdb"
        return {
            "version": table.version(),
            "files_added": metrics.get("numFilesAdded", 0),
            "files_removed": metrics.get("numFilesRemoved", 0),
            **metrics,
            "engine": engine,
            **({"engine_note": note} if note is not None else {}),
        }

    def drop(self, path: Path) -> None:
        """Delete the table and all its files."""
        path = Path(path).absolute()
        self._open(path)
        self._snapshots.forget(path)
        shutil.rmtree(path)

    def move_to_trash(self, path: Path, token: str) -> Path | None:
        """Rename the table's folder to ``.trash/<token>`` (one atomic step that frees its
        name); None if it has no folder. :meth:`empty_trash` deletes it."""
        path = Path(path).absolute()
        self._snapshots.forget(path)
        return folders.move_to_trash(self.root, path, token)

    def empty_trash(self, token: str) -> None:
        folders.empty_trash(self.root, token)

    def forget(self, path: Path) -> None:
        """Drop cached snapshots of ``path`` (its folder was moved or replaced)."""
        self._snapshots.forget(Path(path).absolute())

    # -- internals ----------------------------------------------------------------------------

    def _merge_stream(
        self,
        path: Path,
        table: DeltaTable,
        stream: Stream,
        *,
        keys: Sequence[str] | None,
        cdc: bool,
        changes: tuple[str, str | None, bool],
        declared: Collection[str],
        on_duplicate: OnDuplicate,
        lines: Callable[[], Sequence[int] | None] | None,
        committer: str,
        engine: MergeEngine | None,
    ) -> WriteResult:
        """A merge or CDC of a streamed file: the checks, the last row of each key and the
        merge's source computed on disk, in the order and with the errors of the in-memory
        path; ``changes`` is the CDC's operation column, order column and whether to keep it."""
        schema = arrow_schema(table)
        operation = "CDC MERGE" if cdc else "MERGE"
        op_column, order_column, keep_order = changes
        with SpilledBatch(stream, self.root, op_column=op_column if cdc else None) as batch:
            keys = check_key_columns(keys, batch=stream.sample, table_columns=schema.names)
            batch.check_no_null_keys(keys)
            if batch.rows == 0:
                evolve(schema, stream.sample, keys=keys, declared=declared)
                return self._no_op(path, operation, table.version())
            if on_duplicate == "error":
                _with_lines(lambda: batch.check_unique_keys(keys), lines)
            drop: list[str] = []
            if cdc:
                names = batch.column_names
                check_change_columns(names, keys, op_column=op_column, order_column=order_column)
                row = batch.first_invalid_operation()
                if row is not None:
                    value = batch.row(row, [op_column])[op_column]
                    raise invalid_operation(op_column, row + 1, value)
                if order_column is not None:
                    row = batch.first_null(order_column)
                    if row is not None:
                        raise empty_order(order_column, row + 1)
                drop = [op_column] + ([order_column] if order_column and not keep_order else [])
            kept = batch.last_per_key(keys, order_column if cdc else None, drop)
            first = _merge_evolution(schema, next(kept), keys, declared)
            source, counted = _source(
                first,
                kept,
                stream.fail,
                lambda chunk: _merge_evolution(schema, chunk, keys, declared),
            )
            result = self._merge(
                path, table, first, source, keys, operation, committer, stream, engine
            )
            return dataclasses.replace(result, duplicates_collapsed=batch.rows - counted[0])

    def _write_rows(
        self,
        path: Path,
        table: DeltaTable,
        schema: pa.Schema,
        data: pa.Table | Stream,
        *,
        mode: Literal["append", "overwrite"],
        committer: str,
        replace: bool,
        keys: Sequence[str] = (),
        declared: Collection[str] = (),
    ) -> WriteResult:
        base = None if replace else schema

        def evolve_chunk(chunk: pa.Table) -> Evolution:
            return evolve(base, chunk, keys=keys, declared=declared)

        stream = data if isinstance(data, Stream) else None
        evolution = evolve_chunk(stream.sample if stream is not None else data)
        if stream is not None and mode == "append" and evolution.rewrite_needed:
            evolution = evolve_chunk(stream.whole())  # the rewrite holds it all
            stream = None
        source, counted = _source(
            evolution,
            stream.rest() if stream is not None else None,
            stream.fail if stream is not None else None,
            evolve_chunk,
        )
        rows = evolution.batch.num_rows
        if mode == "append" and rows == 0:
            return self._no_op(path, "APPEND", table.version())
        adds = pa.table(table.get_add_actions(flatten=False))
        existing = active_row_count(adds, table.file_uris())
        if mode == "append":
            commit = commit_properties(committer, "APPEND")
            written = rows
            if evolution.rewrite_needed:
                rewrite(table, evolution.schema, commit, extra=evolution.batch)
                written += existing
            else:
                self._commit_rows(table, evolution, "append", commit, source=source, stream=stream)
                rows = written = counted[0]
            return self._result(
                path,
                "APPEND",
                table.version(),
                inserted=rows,
                written=written,
                changes=evolution.changes,
            )
        deleted = existing
        commit = commit_properties(committer, "OVERWRITE", rows_deleted=deleted)
        schema_mode: Literal["overwrite"] | None = None
        if replace or evolution.rewrite_needed:
            schema_mode = "overwrite"
        self._commit_rows(
            table,
            evolution,
            "overwrite",
            commit,
            schema_mode=schema_mode,
            source=source,
            stream=stream,
        )
        rows = counted[0]
        changes = ["replaced the schema"] if replace else evolution.changes
        return self._result(
            path,
            "OVERWRITE",
            table.version(),
            inserted=rows,
            deleted=deleted,
            written=rows,
            changes=changes,
        )

    @staticmethod
    def _commit_rows(
        table: DeltaTable,
        evolution: Evolution,
        mode: Literal["append", "overwrite"],
        commit: CommitProperties,
        schema_mode: Literal["merge", "overwrite"] | None = None,
        *,
        source: pa.Table | pa.RecordBatchReader | None = None,
        stream: Stream | None = None,
    ) -> None:
        if schema_mode is None and evolution.added:
            schema_mode = "merge"
        try:
            write_deltalake(
                table,
                evolution.batch if source is None else source,
                mode=mode,
                schema_mode=schema_mode,
                commit_properties=commit,
            )
        except CommitFailedError as exc:
            reason = masked_reason(exc, table.table_uri)
            raise Conflict(f"another write changed the table; try again ({reason})") from None
        except Exception:
            if stream is not None and stream.error is not None:
                raise stream.error from None
            raise

    def _merge(
        self,
        path: Path,
        table: DeltaTable,
        evolution: Evolution,
        source: pa.Table | pa.RecordBatchReader,
        keys: Sequence[str],
        operation: str,
        committer: str,
        stream: Stream | None = None,
        engine: MergeEngine | None = None,
    ) -> WriteResult:
        """MERGE ``source`` (``evolution.batch``, or a reader of it and the chunks after it)
        after the schema change ``evolution`` asks for (undone if the merge fails), on
        ``engine`` when it can run it."""
        before = table.version()
        note = engine.unsupported(table, evolution, keys) if engine is not None else None
        if note is not None:
            log.info("merge into %s runs in process: %s", table_label(path), note)
            engine = None
        added = evolution.added
        if evolution.rewrite_needed:
            rewrite(table, evolution.schema, commit_properties(committer, "EVOLVE SCHEMA"))
            table, added = DeltaTable(str(path)), []
        elif evolution.batch.num_rows == 0 and not added:
            return self._result(path, operation, table.version())
        commit = commit_properties(committer, operation, keys=keys)
        try:
            if engine is not None:
                metrics = engine.merge(table, source, keys=keys, commit=commit)
            else:
                metrics = execute_merge(table, source, keys=keys, added=added, commit=commit)
        except Exception as exc:
            if evolution.rewrite_needed:
                self._roll_back(path, before, committer)
            if isinstance(exc, CommitFailedError):
                reason = masked_reason(exc, path)
                raise Conflict(f"another write changed the table; try again ({reason})") from None
            if stream is not None and stream.error is not None:
                raise stream.error from None
            raise
        result = self._result(
            path,
            operation,
            table.version(),
            inserted=metrics.get("num_target_rows_inserted", 0),
            updated=metrics.get("num_target_rows_updated", 0),
            deleted=metrics.get("num_target_rows_deleted", 0),
            written=metrics.get("num_output_rows", 0),
            changes=evolution.changes,
        )
        return dataclasses.replace(
            result,
            source_rows=metrics.get("num_source_rows", 0),
            engine=engine.name if engine is not None else "duckdb",
            engine_note=note,
        )

    def _no_op(self, path: Path, operation: str, version: int) -> WriteResult:
        """The result of a write that wrote nothing: the current version, no commit."""
        result = self._result(path, operation, version)
        return dataclasses.replace(result, no_op=True, message=NO_ROWS)

    @staticmethod
    def _roll_back(path: Path, version: int, committer: str) -> None:
        DeltaTable(str(path)).restore(
            version, commit_properties=commit_properties(committer, "ROLLBACK")
        )

    def _result(
        self,
        path: Path,
        operation: str,
        version: int,
        *,
        inserted: int = 0,
        updated: int = 0,
        deleted: int = 0,
        written: int = 0,
        changes: list[str] | None = None,
    ) -> WriteResult:
        # The version the handle that committed now holds: its own commit, never a later
        # commit of another process that a fresh read of the table would include.
        snapshot = self.snapshot(path, version=version)
        return WriteResult(
            version=snapshot.version,
            operation=operation,
            snapshot=snapshot,
            rows_inserted=inserted,
            rows_updated=updated,
            rows_deleted=deleted,
            rows_written=written,
            schema_changes=list(changes or []),
        )


def _merge_evolution(
    schema: pa.Schema, batch: pa.Table, keys: Sequence[str], declared: Collection[str]
) -> Evolution:
    """``batch`` (with an ``OP`` column for CDC) reconciled with ``schema``, its ``batch``
    being the merge's source: only the columns the batch carries (an absent column keeps its
    value on update and is NULL on insert), and ``OP``."""
    operations = batch.column(OP) if OP in batch.column_names else None
    rows = batch.drop_columns([OP]) if operations is not None else batch
    evolution = evolve(schema, rows, keys=keys, declared=declared)
    source = evolution.carried
    if operations is not None:
        source = source.append_column(OP, operations)
    return dataclasses.replace(evolution, batch=source, missing=[])


def _with_lines(
    check: Callable[[], None], lines: Callable[[], Sequence[int] | None] | None
) -> None:
    """Run the duplicate key ``check`` (Delta's MERGE refuses several source rows matching
    one target row); its refusal also names, when known, the rows' lines in the file."""
    try:
        check()
    except Invalid as error:
        rows: list[int] = error.details.get("rows") or []
        found = lines() if lines is not None and rows else None
        if not found or max(rows) > len(found):
            raise
        first, last = (found[row - 1] for row in rows)
        raise Invalid(
            f"{error.message} (lines {first} and {last})",
            **{**error.details, "line": last, "lines": [first, last]},
        ) from None


def _source(
    first: Evolution,
    rest: Iterator[pa.Table] | None,
    fail: Callable[[Invalid], Invalid] | None,
    evolve_chunk: Callable[[pa.Table], Evolution],
) -> tuple[pa.Table | pa.RecordBatchReader, list[int]]:
    """What to write: the evolved batch, or (streaming) a reader of it followed by each
    chunk of ``rest`` evolved the same way; and a counter of the rows it yielded (complete
    after the write). A chunk that needs another schema is refused through ``fail`` (the
    stream's: the write then fails before its commit and :attr:`Stream.error` says why)."""
    counted = [first.batch.num_rows]
    if rest is None or fail is None:
        return first.batch, counted
    schema = first.batch.schema

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first.batch.to_batches()
        for chunk in rest:
            try:
                evolved = evolve_chunk(chunk)
            except Invalid as exc:
                row = exc.details.get("row")
                if isinstance(row, int):
                    details = {**exc.details, "row": row + counted[0]}
                    exc = Invalid(f"{exc.message} (row {row + counted[0]} of the file)", **details)
                raise fail(exc) from None
            if evolved.batch.schema != schema:
                raise fail(schema_changed(schema, evolved.batch.schema))
            counted[0] += evolved.batch.num_rows
            yield from evolved.batch.to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches()), counted
