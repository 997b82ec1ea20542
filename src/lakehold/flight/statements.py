"""Statements over Flight SQL, through the governed statement service.

GetFlightInfo of a ``CommandStatementQuery`` (or of a prepared statement) submits the SQL as
``POST /api/v1/statements`` does -- the same parse, sandbox, access decision, record and audit,
timeout and row limit (``LAKEHOLD_MAX_ROWS``), its result stored in the result store -- with
``read_only`` (no CREATE TABLE ... AS SELECT here), and waits for its end; a client that
cancels the call (or goes away) cancels the statement. The FlightInfo carries the result's
schema, its row count and one ticket (``TicketStatementQuery`` holding the statement id); the
DoGet of that ticket streams the stored result as record batches of at most
:data:`MAX_BATCH_BYTES`, read from the file as they are sent (never the whole result in
memory), after checking again that the statement is the caller's.

A prepared statement is stateless: its handle is its SQL (:func:`prepared_handle`), so any
server process executes it and closing it frees nothing. Parameters are refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.flight as flight

from lakehold.errors import Cancelled, Conflict, Invalid, LakeholdError, Timeout
from lakehold.flight import protocol
from lakehold.flight.auth import Caller
from lakehold.flight.errors import INTERNAL, guarded_batches
from lakehold.governance.statement_wait import timed_out, wait_until_ended
from lakehold.redaction import Redactor

if TYPE_CHECKING:
    from lakehold.governance.statement_views import StatementView
    from lakehold.runtime import Runtime

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""Result batches are sent at about this size at most (clients' gRPC messages are bounded,
e.g. 16 MiB by default in ADBC's driver)."""
HANDLE_PREFIX = b"lakehold.sql.v1:"
NO_PARAMETERS = "query parameters are not supported"
NO_TRANSACTIONS = "transactions are not supported: every statement runs on its own"
SHUTTING_DOWN = "the server is shutting down"


def prepared_handle(sql: str) -> bytes:
    """The handle of a prepared statement: its SQL."""
    return HANDLE_PREFIX + sql.encode("utf-8")


def sql_of(handle: bytes) -> str:
    """The SQL of a prepared statement's handle."""
    if not handle.startswith(HANDLE_PREFIX):
        raise Invalid("not a prepared statement handle of this server", field="handle")
    try:
        return handle[len(HANDLE_PREFIX) :].decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("not a prepared statement handle of this server", field="handle") from None


def statement_of(handle: bytes) -> str:
    """The statement id of a ``TicketStatementQuery``'s handle."""
    try:
        return handle.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("not a statement ticket of this server", field="ticket") from None


def check_sql(runtime: Runtime, sql: str) -> str:
    """``sql``, within ``LAKEHOLD_MAX_SQL_CHARS`` (the HTTP API's bound and message)."""
    limit = runtime.settings.max_sql_chars
    if len(sql) > limit:
        raise Invalid(
            f"sql is longer than {limit} characters (LAKEHOLD_MAX_SQL_CHARS)",
            field="sql",
            limit="LAKEHOLD_MAX_SQL_CHARS",
        )
    return sql


def run(runtime: Runtime, caller: Caller, sql: str, abandoned: Callable[[], bool]) -> StatementView:
    """Submit ``sql`` as the caller, in its project, and wait for its end: its record once
    FINISHED; its error otherwise (a failed statement's message as its record gives it)."""
    service = runtime.statements
    principal = caller.principal
    submitted = service.submit(
        principal, check_sql(runtime, sql), project=caller.project, read_only=True
    )
    view = wait_until_ended(service, principal, submitted.id, abandoned=abandoned)
    if view.status == "ABORTED":
        raise Cancelled(view.error or "the statement was cancelled")
    if timed_out(view):
        raise Timeout(str(view.error))  # the timeout's own message
    if view.status != "FINISHED":
        if view.error in (None, INTERNAL):
            raise LakeholdError(INTERNAL)
        raise Invalid(view.error or INTERNAL, field="sql")
    return view


def flight_info(
    runtime: Runtime, caller: Caller, descriptor: flight.FlightDescriptor, view: StatementView
) -> flight.FlightInfo:
    """The FlightInfo of a finished statement: its result's schema and size, one ticket."""
    stream = runtime.statements.result_stream(caller.principal, view.id, max_bytes=MAX_BATCH_BYTES)
    stream.batches.close()  # only the schema is needed here
    handle = protocol.TicketStatementQuery(statement_handle=view.id.encode())
    ticket = flight.Ticket(protocol.pack(handle))
    metadata = json.dumps({"statement_id": view.id, "truncated": view.truncated})
    return flight.FlightInfo(
        stream.schema,
        descriptor,
        [flight.FlightEndpoint(ticket, [])],
        total_records=stream.total_rows,
        total_bytes=view.result_size_bytes or -1,
        ordered=True,
        app_metadata=metadata.encode(),
    )


def result(
    runtime: Runtime,
    caller: Caller,
    statement_id: str,
    redactor: Redactor,
    stopping: threading.Event,
) -> flight.RecordBatchStream:
    """The stored result of one of the caller's finished statements, batch by batch (cut short
    with UNAVAILABLE once the server is ``stopping``)."""
    stream = runtime.statements.result_stream(
        caller.principal, statement_id, max_bytes=MAX_BATCH_BYTES
    )
    batches = guarded_batches(redactor, _until(stopping, stream.batches))
    return flight.RecordBatchStream(pa.RecordBatchReader.from_batches(stream.schema, batches))


def _until(
    stopping: threading.Event, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if stopping.is_set():
            raise flight.FlightUnavailableError(SHUTTING_DOWN)
        yield batch


def cancel(runtime: Runtime, caller: Caller, info: flight.FlightInfo) -> int:
    """CancelFlightInfo: cancel the statement of ``info``'s ticket; Flight's CancelStatus."""
    for endpoint in info.endpoints:
        kind, value = protocol.unpack(endpoint.ticket.ticket)
        if kind != protocol.name_of(protocol.TicketStatementQuery):
            continue
        handle = protocol.parse(protocol.TicketStatementQuery, value)
        try:
            runtime.statements.cancel(caller.principal, statement_of(handle.statement_handle))
        except Conflict:  # it has ended: its result stays readable
            return protocol.CANCEL_STATUS_NOT_CANCELLABLE
        return protocol.CANCEL_STATUS_CANCELLED
    return protocol.CANCEL_STATUS_NOT_CANCELLABLE
