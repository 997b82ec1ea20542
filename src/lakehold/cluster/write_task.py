"""The tasks of table jobs on a Ray worker: DuckDB reads, pyarrow writes, nothing else.

Each task receives plain values (paths, column names, the table's Arrow schema) and writes
new Parquet files under the table's folder, named ``<prefix>-c000.snappy.parquet``,
``-c001``... (invisible to Delta until the coordinator commits them); it returns what their
add actions need: name, size, rows and Delta statistics, made by the ``stats`` class the
coordinator ships with the task (:class:`lakehold.lakehouse.file_stats.FileStats`, by value).
A task that fails deletes what it wrote. This module imports no Lakehold: it is shipped to
the workers by value.

- :func:`merge_file`: one target file, copy-on-write -- its rows no source key matches, the
  updated rows (the source's columns over the target's), the deleted keys dropped.
- :func:`insert_rows`: the source rows of one staged file whose keys no target file holds.
- :func:`compact_files`: several files of the table rewritten as one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROW = "__lakehold_row"
DELETE = "__lakehold_delete"
UPDATE = "__lakehold_update"
_BATCH_ROWS = 65_536
_FILES = "hive_partitioning=false"
"""Columns come from the files only: a ``name=value`` folder on the path adds none."""


class Stats(Protocol):
    rows: int

    def add(self, batch: pa.RecordBatch) -> None: ...

    def json(self) -> str: ...


def merge_file(job: dict[str, Any], stats: Callable[[pa.Schema], Stats]) -> dict[str, Any]:
    """Rewrite the target file ``job["target"]`` with the staged source ``job["sources"]``
    merged in, when a row changes (else nothing is written).

    ``job``: ``target``, ``sources``, ``schema`` (the table's), ``keys``, ``values`` (the
    source's other columns), ``op`` (the CDC operation column, or None), ``folder``,
    ``prefix``, ``max_rows``, ``memory_limit``."""
    schema: pa.Schema = job["schema"]
    keys, values, op = job["keys"], job["values"], job["op"]
    present = set(pq.read_schema(job["target"]).names)
    aliases = {name: f"__lakehold_s{i}" for i, name in enumerate([*keys, *values])}
    picked = [f"{_q(name)} AS {alias}" for name, alias in aliases.items()]
    if op is not None:
        picked.append(f"{_q(op)} AS __lakehold_op")
    scan = f"read_parquet($1, file_row_number=true, {_FILES})"
    target = f"(SELECT *, file_row_number AS {ROW} FROM {scan}) t"
    source = f"(SELECT {', '.join(picked)} FROM read_parquet($2, {_FILES})) s"
    on = " AND ".join(f"t.{_q(k)} = s.{aliases[k]}" for k in keys)
    deleted = "s.__lakehold_op = 'D'" if op is not None else "false"
    changed = " OR ".join(f"{_target(c, present)} IS DISTINCT FROM s.{aliases[c]}" for c in values)
    updated = f"NOT ({deleted}) AND ({changed})" if values else "false"
    parameters = [job["target"], job["sources"]]
    with _connection(job, [job["target"], *job["sources"]]) as db:
        counts = db.execute(
            f"SELECT count(*) FILTER (WHERE {updated}), count(*) FILTER (WHERE {deleted}) "
            f"FROM {target} JOIN {source} ON {on}",
            parameters,
        ).fetchone()
        update_count, delete_count = counts if counts is not None else (0, 0)
        if not update_count and not delete_count:
            return {"files": [], "updated": 0, "deleted": 0}
        matched = f"s.{aliases[keys[0]]} IS NOT NULL"
        flagged = (
            f"SELECT *, coalesce({matched} AND ({updated}), false) AS {UPDATE}, "
            f"coalesce({matched} AND ({deleted}), false) AS {DELETE} "
            f"FROM {target} LEFT JOIN {source} ON {on}"
        )
        columns = ", ".join(
            f"CASE WHEN {UPDATE} THEN {aliases[c]} ELSE {_target(c, present, '')} END AS {_q(c)}"
            if c in values
            else f"{_target(c, present, '')} AS {_q(c)}"
            for c in schema.names
        )
        sql = f"SELECT {columns} FROM ({flagged}) WHERE NOT {DELETE} ORDER BY {ROW}"
        files = _write(db, sql, parameters, job, stats)
    return {"files": files, "updated": update_count, "deleted": delete_count}


def insert_rows(job: dict[str, Any], stats: Callable[[pa.Schema], Stats]) -> dict[str, Any]:
    """Write the rows of the staged source file ``job["source"]`` (not deletes) whose keys
    no file of ``job["targets"]`` holds (the target files whose key ranges overlap it).

    ``job``: ``source``, ``targets``, ``schema``, ``keys``, ``columns`` (the source's table
    columns), ``op``, ``folder``, ``prefix``, ``max_rows``, ``memory_limit``."""
    schema: pa.Schema = job["schema"]
    keys, op, targets = job["keys"], job["op"], job["targets"]
    carried = set(job["columns"])
    columns = ", ".join(f"s.{_q(c)}" if c in carried else f"NULL AS {_q(c)}" for c in schema.names)
    conditions = [f"s.{_q(op)} <> 'D'"] if op is not None else []
    if targets:
        on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)
        scan = f"read_parquet($2, union_by_name=true, {_FILES})"
        conditions.append(f"NOT EXISTS (SELECT 1 FROM {scan} t WHERE {on})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    sql = f"SELECT {columns} FROM read_parquet($1, {_FILES}) s {where}"
    parameters: list[Any] = [job["source"]] + ([targets] if targets else [])
    with _connection(job, [job["source"], *targets]) as db:
        files = _write(db, sql, parameters, job, stats)
    return {"files": files, "inserted": sum(f["rows"] for f in files)}


def compact_files(job: dict[str, Any], stats: Callable[[pa.Schema], Stats]) -> dict[str, Any]:
    """Rewrite the files ``job["files"]`` (in order) as one file or more of at most
    ``max_rows`` rows, each with every column of ``schema`` (NULL where a file lacks it)."""
    schema: pa.Schema = job["schema"]
    present = set().union(*(pq.read_schema(path).names for path in job["files"]))
    columns = ", ".join(_target(c, present, "") + f" AS {_q(c)}" for c in schema.names)
    sql = f"SELECT {columns} FROM read_parquet($1, union_by_name=true, {_FILES})"
    with _connection(job, job["files"]) as db:
        files = _write(db, sql, [job["files"]], job, stats)
    return {"files": files}


# -- DuckDB and the Parquet writer ---------------------------------------------------------------


@contextlib.contextmanager
def _connection(job: dict[str, Any], paths: Sequence[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private DuckDB (one thread, the job's memory limit) that may read ``paths`` only."""
    spill = tempfile.mkdtemp(prefix="lakehold-task-")
    config: dict[str, Any] = {
        "threads": 1,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "python_enable_replacements": False,
        "temp_directory": spill,
    }
    if job.get("memory_limit"):
        config["memory_limit"] = job["memory_limit"]
    db = duckdb.connect(":memory:", config=config)
    try:
        db.execute("SET TimeZone='UTC'")
        db.execute(f"SET allowed_paths=[{', '.join(_literal(p) for p in paths)}]")
        db.execute("SET enable_external_access=false")
        db.execute("SET lock_configuration=true")
        yield db
    finally:
        db.close()
        shutil.rmtree(spill, ignore_errors=True)


def _write(
    db: duckdb.DuckDBPyConnection,
    sql: str,
    parameters: list[Any],
    job: dict[str, Any],
    stats: Callable[[pa.Schema], Stats],
) -> list[dict[str, Any]]:
    """Stream the rows of ``sql`` (the table's columns, in order) into files of at most
    ``job["max_rows"]`` rows; their add action facts. Deletes them all if it fails."""
    schema: pa.Schema = job["schema"]
    folder, prefix, limit = Path(job["folder"]), job["prefix"], job["max_rows"]
    written: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    counted: Stats | None = None
    path: Path | None = None

    def close() -> None:
        nonlocal writer
        if writer is None or counted is None or path is None:
            return
        writer.close()
        writer = None
        size = path.stat().st_size
        written.append(
            {"path": path.name, "size": size, "rows": counted.rows, "stats": counted.json()}
        )

    try:
        for batch in db.execute(sql, parameters).to_arrow_reader(_BATCH_ROWS):
            batch = batch.rename_columns(schema.names).cast(schema)
            while batch.num_rows:
                if writer is None:
                    path = folder / f"{prefix}-c{len(written):03d}.snappy.parquet"
                    writer = pq.ParquetWriter(path, schema, compression="snappy")
                    counted = stats(schema)
                assert counted is not None
                part = batch.slice(0, limit - counted.rows)
                writer.write_batch(part)
                counted.add(part)
                batch = batch.slice(part.num_rows)
                if counted.rows >= limit:
                    close()
        close()
    except BaseException:
        if writer is not None:
            writer.close()
        for name in [f["path"] for f in written] + ([path.name] if path else []):
            (folder / name).unlink(missing_ok=True)
        raise
    return written


def _target(column: str, present: set[str], alias: str = "t.") -> str:
    """The target's value of ``column`` (NULL in a file written before the column existed)."""
    return f"{alias}{_q(column)}" if column in present else "NULL"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
