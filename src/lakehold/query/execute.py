"""Execute pass: run a :class:`Plan` on a fresh, locked-down in-memory DuckDB database.

Per statement, before any user SQL runs:

1. take a database no other statement has used (:mod:`lakehold.query.databases`);
2. set ``threads`` (default: the usable cores) and ``memory_limit``;
3. ``SET allowed_paths=[<exactly the plan's files>]``, ``SET enable_external_access=false``
   (no other file, no ATTACH, COPY, INSTALL, LOAD, EXPORT), then
   ``SET lock_configuration=true`` (no SET/RESET/PRAGMA changes after). Extension
   auto-install and auto-load are off from the start (``databases``).

This is defence in depth: the plan's SQL was already checked, but a gap in that check still
cannot read a file the plan does not name, or change the configuration.

The plan's views are defined in the statement itself, as ``WITH <view> AS NOT MATERIALIZED
(...)``: DuckDB plans an inlined CTE exactly like a view (projections and filters are pushed
into the Parquet scans), and it saves a ``CREATE VIEW`` (~1 ms) per table and statement.

The result is streamed and cut at ``max_rows`` (``truncated`` tells whether rows were left).
A timeout or :meth:`CancelHandle.cancel` interrupts the connection and raises Timeout or
Cancelled. DuckDB errors become Lakehold errors whose messages name tables as the user wrote
them and never show file paths (:mod:`lakehold.query.messages`).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa

from lakehold.errors import Invalid, LakeholdError
from lakehold.query import databases
from lakehold.query.cancel import CancelHandle
from lakehold.query.messages import is_interrupt, translate
from lakehold.query.model import Plan

_MAX_BATCH = 1 << 20


def execute(
    plan: Plan,
    *,
    max_rows: int,
    timeout_s: float | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    cancel: CancelHandle | None = None,
) -> tuple[pa.Table, bool]:
    """Run ``plan``; the first ``max_rows`` rows and whether more were left out."""
    if max_rows < 0:
        raise Invalid("max_rows must be 0 or more", field="max_rows")
    handle = cancel or CancelHandle()
    handle.check()
    connection = databases.take()
    try:
        handle.attach(connection, timeout_s)
        try:
            connection.execute(setup_sql(plan, threads=threads, memory_limit=memory_limit))
            handle.check()
            result = connection.execute(statement_sql(plan))
            reader = result.to_arrow_reader(min(max_rows + 1, _MAX_BATCH))
            return _read(reader, max_rows, handle)
        except LakeholdError:
            raise
        except (duckdb.Error, pa.ArrowException, OSError) as e:
            if handle.reason is not None or is_interrupt(e):
                raise handle.error() from None
            raise translate(e, plan.names, plan.files) from None
        finally:
            handle.detach()
    finally:
        databases.discard(connection)


def _read(
    reader: pa.RecordBatchReader, max_rows: int, handle: CancelHandle
) -> tuple[pa.Table, bool]:
    batches: list[pa.RecordBatch] = []
    rows = 0
    while rows <= max_rows:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        batches.append(batch)
        rows += batch.num_rows
        handle.check()
    table = pa.Table.from_batches(batches, schema=reader.schema)
    if rows > max_rows:
        return table.slice(0, max_rows), True
    return table, False


def setup_sql(plan: Plan, *, threads: int | None = None, memory_limit: str | None = None) -> str:
    """Statements run before the plan: resources, then the lockdown."""
    statements = []
    if threads is not None:
        if threads < 1:
            raise Invalid("threads must be 1 or more", field="threads")
        if threads != databases.default_threads():  # databases start with the default
            statements.append(f"SET threads={int(threads)}")
    if memory_limit is not None:
        statements.append(f"SET memory_limit={_string(memory_limit)}")
    statements.extend(lockdown_sql(plan.files))
    return ";\n".join(statements)


def statement_sql(plan: Plan) -> str:
    """The plan's statement with its views defined as inlined CTEs."""
    if not plan.views:
        return plan.sql
    views = ", ".join(f"{view.name} AS NOT MATERIALIZED ({view.sql})" for view in plan.views)
    for keyword in ("WITH RECURSIVE ", "WITH "):
        if plan.sql[: len(keyword)].upper() == keyword:
            return f"{keyword}{views}, {plan.sql[len(keyword) :]}"
    return f"WITH {views} {plan.sql}"


def lockdown_sql(files: Iterable[str]) -> list[str]:
    """Statements that confine a connection to ``files`` and lock its configuration.

    (Extension auto-install and auto-load are already off: databases start that way.)
    """
    paths = ", ".join(_string(f) for f in files)
    return [
        f"SET allowed_paths=[{paths}]",
        "SET enable_external_access=false",
        "SET lock_configuration=true",
    ]


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
