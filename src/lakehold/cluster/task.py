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
CUT = b"lakehold.cut"
"""Schema metadata of a result that stopped at its byte budget."""


def partial(
    setup: str, statement: str, limit: int | None, max_bytes: int | None = None
) -> pa.Buffer:
    """Run ``setup`` (resources, then the lockdown: ``allowed_paths`` = the task's files,
    external access off, configuration locked) and ``statement`` on a new in-memory DuckDB
    with one thread; its rows (at most ``limit`` + 1 of them when ``limit`` is set) as an
    Arrow IPC stream (which, unlike Ray's own Arrow serializer, keeps repeated column names).
    Once the rows read hold more than ``max_bytes``, it stops and marks the stream
    :data:`CUT` (in its schema's metadata): the coordinator must not merge such results."""
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
        rows = None if limit is None else limit + 1
        reader = result.to_arrow_reader(_BATCH if rows is None else min(rows, _BATCH))
        return _stream(_first(reader, rows, max_bytes))
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)


def _first(reader: pa.RecordBatchReader, rows: int | None, max_bytes: int | None) -> pa.Table:
    """The first ``rows`` rows (all when None); marked :data:`CUT` past ``max_bytes``."""
    batches: list[pa.RecordBatch] = []
    read = size = 0
    while rows is None or read < rows:
        if max_bytes is not None and size > max_bytes:
            schema = reader.schema.with_metadata({**(reader.schema.metadata or {}), CUT: b""})
            return pa.Table.from_batches(batches, schema=schema)
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        batches.append(batch)
        read += batch.num_rows
        size += batch.nbytes
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return table if rows is None else table.slice(0, rows)


def _stream(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()
