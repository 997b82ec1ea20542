"""The one task a Ray worker runs: a partial query on a fresh, locked DuckDB (ADR 40).

This module imports the standard library, ``duckdb`` and ``pyarrow`` only. The coordinator
ships :func:`partial` to the workers *by value* (:func:`lakehold.cluster.ray_client.remote`),
so a worker needs DuckDB and read access to the task's files -- never Lakehold, the metadata
store or any credential: the grant is already compiled into the text it receives.
"""

from __future__ import annotations

import shutil
import tempfile

import duckdb
import pyarrow as pa

_BATCH = 1 << 16


def partial(setup: str, statement: str, limit: int | None) -> pa.Buffer:
    """Run ``setup`` (resources, then the lockdown: ``allowed_paths`` = the task's files,
    external access off, configuration locked) and ``statement`` on a new in-memory DuckDB
    with one thread; its rows (at most ``limit`` + 1 of them when ``limit`` is set) as an
    Arrow IPC stream (which, unlike Ray's own Arrow serializer, keeps repeated column names)."""
    spill = tempfile.mkdtemp(prefix="lakehold-task-")
    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": 1,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "python_enable_replacements": False,
            "temp_directory": spill,
        },
    )
    try:
        connection.execute("SET TimeZone='UTC'")
        connection.execute(setup)
        result = connection.execute(statement)
        if limit is None:
            return _stream(result.to_arrow_table())
        return _stream(_first(result.to_arrow_reader(min(limit + 1, _BATCH)), limit + 1))
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)


def _first(reader: pa.RecordBatchReader, rows: int) -> pa.Table:
    batches: list[pa.RecordBatch] = []
    read = 0
    while read < rows:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        batches.append(batch)
        read += batch.num_rows
    return pa.Table.from_batches(batches, schema=reader.schema).slice(0, rows)


def _stream(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
