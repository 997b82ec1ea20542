"""Execute pass: run a :class:`Plan` on a fresh, locked-down in-memory DuckDB database.

Per statement, before any user SQL runs:

1. take a database no other statement has used (:mod:`lakehold.query.databases`); a plan
   over federated tables attaches their sources, read-only, through the scanner extensions
   (:mod:`lakehold.connectors.attach`). A plan that reads federated sources and no data file
   may instead take a database that an earlier statement left with the very same sources
   attached and the very same setup below (:mod:`lakehold.query.federated`); if the
   statement fails there, it runs once more on a new database (the source may have changed);
2. set ``threads`` (default: the usable cores) and ``memory_limit``;
3. ``SET allowed_paths=[<exactly the plan's files>]``, ``SET enable_external_access=false``
   (no other file, no directory, no ATTACH, COPY, INSTALL, LOAD, EXPORT), then
   ``SET lock_configuration=true`` (no SET/RESET/PRAGMA changes after). Extension
   auto-install and auto-load are off from the start (``databases``).

This is defence in depth: the plan's SQL was already checked, but a gap in that check still
cannot read a file the plan does not name, or change the configuration. On the governed path
the plan's files are the statement's private links (:mod:`lakehold.query.scan_files`), so
no path an attacker could know -- a table's own data files included -- is readable.

The plan's views are defined in the statement itself, as ``WITH <view> AS NOT MATERIALIZED
(...)``: DuckDB plans an inlined CTE exactly like a view (projections and filters are pushed
into the Parquet scans), and it saves a ``CREATE VIEW`` (~1 ms) per table and statement.

The result is streamed and cut at ``max_rows`` (``truncated`` tells whether rows were left).
A timeout or :meth:`CancelHandle.cancel` interrupts the connection and raises Timeout or
Cancelled. DuckDB errors become Lakehold errors whose messages name tables as the user wrote
them and never show file paths (:mod:`lakehold.query.messages`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import duckdb
import pyarrow as pa

from lakehold.connectors.attach import attach, redact
from lakehold.errors import Invalid, LakeholdError
from lakehold.query import databases, federated
from lakehold.query.cancel import CancelHandle
from lakehold.query.messages import is_interrupt, translate
from lakehold.query.model import Plan
from lakehold.query.sandboxes import Sandbox

_MAX_BATCH = 1 << 20
_CONNECT_TIMEOUT = 10  # seconds to reach an external source
_GRACE_S = 2.0  # how long an interrupted federated statement may take to stop
_POLL_S = 0.05


def execute(
    plan: Plan,
    *,
    max_rows: int,
    timeout_s: float | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    cancel: CancelHandle | None = None,
    keep_order: bool = True,
) -> tuple[pa.Table, bool]:
    """Run ``plan``; the first ``max_rows`` rows and whether more were left out.

    ``keep_order=False`` (a statement whose answer does not depend on the order rows are read
    in, :mod:`lakehold.query.ordering`) lets DuckDB drop insertion order, so that the LIMIT
    barrier of a row filter runs in parallel.
    """
    if max_rows < 0:
        raise Invalid("max_rows must be 0 or more", field="max_rows")
    handle = cancel or CancelHandle()
    handle.check()

    def work() -> tuple[pa.Table, bool]:
        return _execute(plan, max_rows, timeout_s, threads, memory_limit, handle, keep_order)

    if plan.attachments:
        return _bounded(work, handle, timeout_s)
    return work()


def _execute(
    plan: Plan,
    max_rows: int,
    timeout_s: float | None,
    threads: int | None,
    memory_limit: str | None,
    handle: CancelHandle,
    keep_order: bool = True,
) -> tuple[pa.Table, bool]:
    setup = setup_sql(plan, threads=threads, memory_limit=memory_limit, keep_order=keep_order)
    connect = int(min(timeout_s or _CONNECT_TIMEOUT, _CONNECT_TIMEOUT)) or 1
    pool_key = None
    if plan.attachments and not plan.files:  # its databases may serve the next statement
        pool_key = federated.key(plan.attachments, connect, timeout_s or 0, setup)
        connection = federated.take(pool_key)
        if connection is not None:
            try:
                return _run(plan, connection, None, setup, max_rows, timeout_s, handle, pool_key)
            except _Stale:  # the source may have changed since it was attached: once more
                pass
    connection = databases.take_federated() if plan.attachments else databases.take()
    return _run(plan, connection, connect, setup, max_rows, timeout_s, handle, pool_key)


class _Stale(Exception):
    """A statement failed on a pooled database (it may hold a source's outdated catalog)."""


def _run(
    plan: Plan,
    connection: databases.Connection,
    connect: int | None,
    setup: str,
    max_rows: int,
    timeout_s: float | None,
    handle: CancelHandle,
    pool_key: str | None,
) -> tuple[pa.Table, bool]:
    """Run ``plan`` on ``connection``: a new database (``connect``: the seconds to reach a
    source) is attached and set up first, a pooled one (``connect`` None) already was. The
    database is given back to the pool (``pool_key``) only when the statement succeeded, read
    its whole result and was not interrupted; it is closed otherwise."""
    keep = False
    try:
        handle.attach(connection, timeout_s)
        try:
            if connect is not None:
                for attachment in plan.attachments:
                    attach(
                        connection,
                        attachment.source,
                        attachment.alias,
                        connect_timeout_s=connect,
                        statement_timeout_s=timeout_s or 0,
                        schema=attachment.schema,
                    )
                    handle.check()
                connection.execute(setup)
            handle.check()
            table, truncated = _query(connection, plan, max_rows, handle)
            keep = pool_key is not None and not truncated
            return table, truncated
        except LakeholdError:
            raise
        except (duckdb.Error, pa.ArrowException, OSError) as e:
            if handle.reason is not None or is_interrupt(e):
                raise handle.error() from None
            if connect is None:
                raise _Stale from None
            error = translate(e, plan.names, plan.files)
            for attachment in plan.attachments:  # a source's error may quote its settings
                error.message = redact(error.message, attachment.source)
                error.args = (error.message,)
            raise error from None
        finally:
            handle.detach()
    finally:
        if keep and pool_key is not None and handle.reason is None:
            federated.give(pool_key, connection)
        else:
            databases.discard(connection)


def execute_in(
    sandbox: Sandbox,
    plan: Plan,
    *,
    max_rows: int,
    timeout_s: float | None = None,
    cancel: CancelHandle | None = None,
) -> tuple[pa.Table, bool]:
    """Run ``plan`` (whose files are links in ``sandbox``'s directory) on a new cursor of the
    already locked ``sandbox``; the first ``max_rows`` rows and whether more were left out.
    The sandbox is marked reusable only when the statement succeeded."""
    if max_rows < 0:
        raise Invalid("max_rows must be 0 or more", field="max_rows")
    handle = cancel or CancelHandle()
    handle.check()
    sandbox.reusable = False
    cursor = sandbox.connection.cursor()  # a client context of its own, closed at the end
    try:
        handle.attach(cursor, timeout_s)
        try:
            outcome = _query(cursor, plan, max_rows, handle)
        except LakeholdError:
            raise
        except (duckdb.Error, pa.ArrowException, OSError) as e:
            if handle.reason is not None or is_interrupt(e):
                raise handle.error() from None
            raise translate(e, plan.names, plan.files) from None
        finally:
            handle.detach()
        sandbox.reusable = handle.reason is None
        return outcome
    finally:
        cursor.close()


def _query(
    connection: databases.Connection, plan: Plan, max_rows: int, handle: CancelHandle
) -> tuple[pa.Table, bool]:
    result = connection.execute(statement_sql(plan))
    return _read(result.to_arrow_reader(min(max_rows + 1, _MAX_BATCH)), max_rows, handle)


def _bounded(
    work: Callable[[], tuple[pa.Table, bool]], handle: CancelHandle, timeout_s: float | None
) -> tuple[pa.Table, bool]:
    """Run ``work`` in a thread of its own and stop waiting for it once it was interrupted
    (timeout or cancel) and did not stop within ``_GRACE_S``: a scanner waiting on a source
    does not always see DuckDB's interrupt, and a statement must not hang past its timeout.
    The abandoned thread ends when the source answers (PostgreSQL stops the query itself at
    the statement timeout) and then closes its database."""
    outcome: list[tuple[pa.Table, bool]] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as e:  # handed to the caller's thread
            failure.append(e)
        finally:
            done.set()

    threading.Thread(target=run, name="lakehold-federated-statement", daemon=True).start()
    deadline = time.monotonic() + timeout_s + _GRACE_S if timeout_s else None
    stopped_at: float | None = None
    while not done.wait(_POLL_S):
        now = time.monotonic()
        if handle.reason is not None and stopped_at is None:
            stopped_at = now
        if (stopped_at is not None and now - stopped_at > _GRACE_S) or (
            deadline is not None and now > deadline
        ):
            raise handle.error()
    if failure:
        raise failure[0]
    return outcome[0]


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


def setup_sql(
    plan: Plan,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    keep_order: bool = True,
) -> str:
    """Statements run before the plan: resources and insertion order, then the lockdown."""
    statements = []
    if threads is not None:
        if threads < 1:
            raise Invalid("threads must be 1 or more", field="threads")
        if threads != databases.default_threads():  # databases start with the default
            statements.append(f"SET threads={int(threads)}")
    if memory_limit is not None:
        statements.append(f"SET memory_limit={_string(memory_limit)}")
    if not keep_order:
        statements.append("SET preserve_insertion_order=false")
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
