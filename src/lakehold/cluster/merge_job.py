"""MERGE and CDC as DuckDB tasks on Ray, committed once (ADR 40, "Table jobs").

The lakehouse engine prepares the source exactly as for a local merge (keys checked, the last
change of each key, the schema reconciled) and hands it to :meth:`RayMerge.merge` in place of
:func:`~lakehold.lakehouse.merge.execute_merge`, with the same semantics:

- The source is staged as Parquet under the warehouse's ``.staging`` (sorted by key, in files
  of bounded size), invisible to Delta and deleted afterwards.
- The target files a source key may be in -- by the ``minValues``/``maxValues`` of the first
  key column in their add actions (every file without them) -- each get a task that rewrites
  the file with the staged files overlapping its key range merged in (copy-on-write: D drops
  the row; I, U or a plain merge update the source's columns when a value differs, NULL-safe).
  A file where nothing changes is left as it is.
- Each staged file gets a task writing its rows (not deletes) whose key no overlapping target
  file holds: the inserts. A table column the source lacks is NULL in them.
- One commit: the removes of the rewritten files and the adds of every new file, at the
  version read, with the merge's metrics; nothing changed, no commit (as delta-rs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable

from lakehold.cluster import table_jobs, write_task
from lakehold.cluster.routing import ClusterOptions
from lakehold.cluster.table_jobs import DataFile
from lakehold.lakehouse.merge import OP, quote
from lakehold.lakehouse.reading import arrow_schema
from lakehold.lakehouse.schema import Evolution

STAGED_FILE_BYTES = 256 << 20
"""Bytes of one staged source file (each is one insert task)."""
_STAGING_MEMORY = "512MB"
_ONE_FILE = 1 << 62
_MILLISECOND = {"s": 1, "ms": 1, "us": 1_000, "ns": 1_000_000}
_TAKEN = ("filename", "file_row_number")  # the columns DuckDB's read_parquet adds
_INTERNAL = "__lakehold_"  # the prefix of the tasks' own names


class RayMerge:
    """A merge engine for :meth:`~lakehold.lakehouse.tables.DeltaTables.write` running on a
    Ray cluster (:class:`~lakehold.lakehouse.merge.MergeEngine`)."""

    name = "ray"

    def __init__(self, cluster: ClusterOptions, warehouse: Path) -> None:
        self.cluster = cluster
        self.warehouse = Path(warehouse)

    def unsupported(
        self, table: DeltaTable, evolution: Evolution, keys: Sequence[str]
    ) -> str | None:
        """Why this merge must run in process, or None. Floating-point keys stay in process:
        DuckDB's join matches NaN to NaN and its sort makes -0.0 a 0.0 key, delta-rs does
        neither."""
        if evolution.added:
            return "the batch adds columns to the table"
        if evolution.rewrite_needed:
            return "the batch widens a column's type"
        floats = [k for k in keys if pa.types.is_floating(evolution.schema.field(k).type)]
        if floats:
            return f"key column {floats[0]!r} is a floating-point number"
        taken = [n for n in evolution.schema.names if n in _TAKEN or n.startswith(_INTERNAL)]
        if taken:
            return f"column {taken[0]!r} has a name the cluster's tasks use"
        return table_jobs.unsupported(table)

    def merge(
        self,
        table: DeltaTable,
        source: pa.Table | pa.RecordBatchReader,
        *,
        keys: Sequence[str],
        commit: CommitProperties,
    ) -> dict[str, Any]:
        """MERGE ``source`` into ``table`` on ``keys`` (see the module); Delta's merge
        metrics, and ``engine``."""
        with table_jobs.staging(self.warehouse) as folder:
            db = duckdb.connect(config={"memory_limit": _STAGING_MEMORY, "threads": 2})
            try:
                db.execute("SET temp_directory = ?", [str(folder / "duckdb")])
                plan = _Plan(db, table, source, list(keys), folder)
            finally:
                db.close()
            return self._run(table, plan, commit)

    def _run(self, table: DeltaTable, plan: _Plan, commit: CommitProperties) -> dict[str, Any]:
        common = {
            "schema": plan.schema,
            "keys": plan.keys,
            "op": OP if OP in plan.columns else None,
            "folder": str(table_jobs.table_folder(table)),
            "memory_limit": self.cluster.memory_limit,
        }
        values = [c for c in plan.columns if c not in plan.keys and c != OP]
        rewrites = [
            {
                **common,
                "target": file.path,
                "sources": sources,
                "values": values,
                "prefix": table_jobs.new_prefix(),
                "max_rows": _ONE_FILE,
            }
            for file, sources in plan.rewrites
        ]
        columns = [c for c in plan.columns if c != OP]
        inserts = [
            {
                **common,
                "source": source,
                "targets": targets,
                "columns": columns,
                "prefix": table_jobs.new_prefix(),
                "max_rows": plan.rows_per_file,
            }
            for source, targets in plan.inserts
        ]
        work = [(write_task.merge_file, job) for job in rewrites]
        work += [(write_task.insert_rows, job) for job in inserts]
        done = table_jobs.run_tasks(work, self.cluster)
        rewritten, inserted = done[: len(rewrites)], done[len(rewrites) :]
        try:
            changed = [
                file
                for (file, _), result in zip(plan.rewrites, rewritten, strict=True)
                if result["updated"] or result["deleted"]
            ]
            results = rewritten + inserted
            adds = table_jobs.add_actions(results, data_change=True)
            metrics = {
                "num_source_rows": plan.source_rows,
                "num_target_rows_inserted": sum(r["inserted"] for r in inserted),
                "num_target_rows_updated": sum(r["updated"] for r in rewritten),
                "num_target_rows_deleted": sum(r["deleted"] for r in rewritten),
                "num_output_rows": sum(f["rows"] for r in results for f in r["files"]),
                "num_target_files_scanned": len(plan.rewrites),
                "num_target_files_added": len(adds),
                "num_target_files_removed": len(changed),
            }
            if adds or changed:
                removes = table_jobs.remove_actions(changed, data_change=True)
                table_jobs.commit(table, [*adds, *removes], commit, metrics)
        except BaseException:
            table_jobs.delete_outputs(rewrites + inserts)
            raise
        return {**metrics, "engine": self.name}


class _Plan:
    """The staged source and the tasks it needs: the target files to rewrite (each with the
    staged files overlapping it) and the staged files to insert from (each with the target
    files overlapping it)."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        table: DeltaTable,
        source: pa.Table | pa.RecordBatchReader,
        keys: list[str],
        folder: Path,
    ) -> None:
        self.keys = keys
        self.schema = arrow_schema(table)
        self.columns = list(source.schema.names)
        staged = folder / "source"
        db.register("__lakehold_source", source)
        order = ", ".join(quote(k) for k in keys)
        db.execute(
            f"COPY (SELECT * FROM __lakehold_source ORDER BY {order}) TO '{_text(staged)}' "
            f"(FORMAT parquet, FILE_SIZE_BYTES {STAGED_FILE_BYTES}, ROW_GROUP_SIZE 122880)"
        )
        files, stats = table_jobs.data_files(table, keys[:1])
        self.rows_per_file = table_jobs.rows_per_file(files, table_jobs.target_file_size(table))
        key = quote(keys[0])
        scan = f"read_parquet('{_text(staged)}/*.parquet', filename=true, hive_partitioning=false)"
        ranges = db.execute(
            f"SELECT filename, min({key}) AS lo, max({key}) AS hi, count(*) AS n FROM {scan} "
            "GROUP BY filename ORDER BY lo"
        ).to_arrow_table()
        ranges = ranges.filter(pc.greater(ranges["n"], 0))
        self.source_rows = sum(ranges.column("n").to_pylist())
        db.register("__lakehold_staged", ranges)
        db.register("__lakehold_files", _bounds(stats, keys[0], len(files)))
        candidates = (
            "SELECT f.* FROM __lakehold_files f WHERE f.lo IS NULL OR f.hi IS NULL UNION ALL "
            f"SELECT f.* FROM __lakehold_files f ASOF JOIN (SELECT {key} AS k FROM "
            f"read_parquet('{_text(staged)}/*.parquet', hive_partitioning=false)) s "
            "ON f.lo <= s.k "
            "WHERE f.lo IS NOT NULL AND f.hi IS NOT NULL AND s.k <= f.hi"
        )
        pairs = db.execute(
            f"SELECT c.i, s.filename FROM ({candidates}) c JOIN __lakehold_staged s ON "
            "(c.lo IS NULL OR s.hi >= c.lo) AND (c.hi IS NULL OR s.lo <= c.hi) ORDER BY c.i, s.lo"
        ).fetchall()
        by_file: dict[int, list[str]] = {}
        by_source: dict[str, list[str]] = {
            name: [] for name in ranges.column("filename").to_pylist()
        }
        for index, name in pairs:
            by_file.setdefault(index, []).append(name)
            by_source[name].append(files[index].path)
        self.rewrites: list[tuple[DataFile, list[str]]] = [
            (files[i], names) for i, names in by_file.items()
        ]
        self.inserts = list(by_source.items())


def _bounds(stats: pa.Table, key: str, count: int) -> pa.Table:
    """Each file's index and the bounds of ``key`` in its statistics (NULL when unknown);
    a timestamp's maximum widened by a millisecond (writers round it down)."""
    index = pa.array(range(count), pa.int64())
    if f"min.{key}" not in stats.column_names or f"max.{key}" not in stats.column_names:
        nulls = pa.nulls(count)
        return pa.table({"i": index, "lo": nulls, "hi": nulls})
    low, high = stats.column(f"min.{key}"), stats.column(f"max.{key}")
    if pa.types.is_timestamp(high.type):
        unit = high.type.unit
        high = pc.add(high, pa.scalar(_MILLISECOND[unit], pa.duration(unit)))
    return pa.table({"i": index, "lo": low, "hi": high})


def _text(path: Path) -> str:
    return str(path).replace("'", "''")
