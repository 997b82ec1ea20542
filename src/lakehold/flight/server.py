"""The Flight SQL server: each RPC's command dispatched to its handler (ADR 0038).

Served commands (``google.protobuf.Any`` messages of ``arrow.flight.protocol.sql``):

- GetFlightInfo: ``CommandStatementQuery``, ``CommandPreparedStatementQuery`` (run, governed:
  :mod:`lakehold.flight.statements`), ``CommandGetCatalogs``, ``CommandGetDbSchemas``,
  ``CommandGetTables``, ``CommandGetTableTypes``, ``CommandGetSqlInfo`` (a ticket that is the
  command itself, answered at DoGet: :mod:`lakehold.flight.catalog`, :mod:`.sql_info`);
- GetSchema: the catalog commands (their fixed schemas);
- DoGet: ``TicketStatementQuery`` and the catalog commands;
- DoAction: ``CreatePreparedStatement``, ``ClosePreparedStatement``, ``CancelFlightInfo``;
- DoPut: refused -- the endpoint only reads (PERMISSION_DENIED; parameters of a prepared
  statement: INVALID_ARGUMENT).

Anything else is UNIMPLEMENTED, naming what was asked. Every call is authenticated first
(:mod:`lakehold.flight.auth`) and serves in its caller's request context; errors are answered
by :mod:`lakehold.flight.errors`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.flight as flight
from google.protobuf.message import Message

from lakehold.errors import Forbidden, Invalid
from lakehold.flight import catalog, protocol, statements
from lakehold.flight.auth import (
    MIDDLEWARE,
    Authentication,
    Caller,
    CallState,
    HandshakeAccepted,
    serving_caller,
)
from lakehold.flight.errors import Unsupported, guarded
from lakehold.flight.sql_info import SCHEMA as SQL_INFO
from lakehold.flight.sql_info import sql_info
from lakehold.redaction import Redactor

if TYPE_CHECKING:
    from lakehold.runtime import Runtime

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
"""How long stopping waits for open calls to return."""
CREATE_PREPARED = "CreatePreparedStatement"
CLOSE_PREPARED = "ClosePreparedStatement"
CANCEL_FLIGHT_INFO = "CancelFlightInfo"
ACTIONS = (
    (CREATE_PREPARED, "Prepare a statement (its handle is its SQL; parameters are refused)"),
    (CLOSE_PREPARED, "Close a prepared statement (nothing to free)"),
    (CANCEL_FLIGHT_INFO, "Cancel the statement of a FlightInfo"),
)
READ_ONLY = (
    "Lakehold's Flight SQL endpoint only reads: {what} is not accepted (write with the "
    "table APIs, or CREATE TABLE ... AS SELECT over the HTTP statements API)"
)
_WRITES = ("CommandStatementUpdate", "CommandPreparedStatementUpdate", "CommandStatementIngest")


def _short(kind: str) -> str:
    return kind.rpartition(".")[2] or "an empty command"


def _refuse(kind: str) -> Unsupported:
    return Unsupported(f"Lakehold's Flight SQL endpoint does not implement {_short(kind)}")


@dataclass(frozen=True)
class _Metadata:
    """A metadata command: its message, its result's schema, its rows for a caller."""

    message: type[Message]
    schema: Callable[[Any], pa.Schema]
    rows: Callable[[Runtime, Caller, Any], pa.Table]


_METADATA = {
    protocol.name_of(entry.message): entry
    for entry in (
        _Metadata(
            protocol.CommandGetCatalogs,
            lambda command: catalog.CATALOGS,
            lambda runtime, caller, command: catalog.catalogs(),
        ),
        _Metadata(
            protocol.CommandGetDbSchemas, lambda command: catalog.DB_SCHEMAS, catalog.db_schemas
        ),
        _Metadata(protocol.CommandGetTables, catalog.tables_schema, catalog.tables),
        _Metadata(
            protocol.CommandGetTableTypes,
            lambda command: catalog.TABLE_TYPES,
            lambda runtime, caller, command: catalog.table_types(),
        ),
        _Metadata(
            protocol.CommandGetSqlInfo,
            lambda command: SQL_INFO,
            lambda runtime, caller, command: sql_info(command.info, runtime.settings.max_sql_chars),
        ),
    )
}
_STATEMENT = protocol.name_of(protocol.CommandStatementQuery)
_PREPARED = protocol.name_of(protocol.CommandPreparedStatementQuery)
_TICKET = protocol.name_of(protocol.TicketStatementQuery)


class FlightSqlServer(flight.FlightServerBase):
    """Lakehold's Flight SQL endpoint on ``location`` (``grpc://host:port`` or
    ``grpc+tls://...`` with ``tls_certificates``)."""

    def __init__(
        self,
        runtime: Runtime,
        location: str,
        *,
        tls_certificates: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.redactor = Redactor.of(runtime.settings)
        super().__init__(
            location,
            auth_handler=HandshakeAccepted(),
            tls_certificates=tls_certificates,
            middleware={MIDDLEWARE: Authentication(runtime, self.redactor)},
        )
        self.runtime = runtime
        self.stopping = threading.Event()

    # -- the RPCs: each runs its handler below, errors answered without server internals ----
    get_flight_info = guarded("_get_flight_info")
    get_schema = guarded("_get_schema")
    do_get = guarded("_do_get")
    do_put = guarded("_do_put")
    do_action = guarded("_do_action")
    list_actions = guarded("_list_actions")
    list_flights = guarded("_list_flights")
    do_exchange = guarded("_do_exchange")

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop serving: no new call is accepted, waiting statements are cancelled, streams
        end, and the server stops once its calls have returned -- waiting at most
        ``grace_seconds`` for them: a stream whose client stopped reading (but holds its
        connection) is blocked in gRPC, where nothing but its client ends it."""
        self.stopping.set()
        stopper = threading.Thread(target=self.shutdown, name="flight-sql-stop", daemon=True)
        stopper.start()
        stopper.join(grace_seconds)
        if stopper.is_alive():
            log.warning(
                "Flight SQL endpoint stopped with calls still open after %g s "
                "(clients that stopped reading their results)",
                grace_seconds,
            )

    # -- handlers ------------------------------------------------------------------------------

    def _get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        caller = _caller(context)
        kind, value = protocol.unpack(descriptor.command or b"")
        with serving_caller(caller):
            if kind in (_STATEMENT, _PREPARED):
                sql = self._sql(kind, value)
                abandoned = self._abandoned(context)
                view = statements.run(self.runtime, caller, sql, abandoned)
                return statements.flight_info(self.runtime, caller, descriptor, view)
            if kind in _METADATA:  # answered at DoGet of a ticket that is the command itself
                metadata = _METADATA[kind]
                schema = metadata.schema(protocol.parse(metadata.message, value))
                ticket = flight.Ticket(descriptor.command)
                return flight.FlightInfo(schema, descriptor, [flight.FlightEndpoint(ticket, [])])
            raise _refuse(kind)

    def _sql(self, kind: str, value: bytes) -> str:
        if kind == _PREPARED:
            prepared = protocol.parse(protocol.CommandPreparedStatementQuery, value)
            return statements.sql_of(prepared.prepared_statement_handle)
        command = protocol.parse(protocol.CommandStatementQuery, value)
        if command.HasField("transaction_id"):
            raise Invalid(statements.NO_TRANSACTIONS, field="transaction_id")
        return command.query

    def _abandoned(self, context: flight.ServerCallContext) -> Callable[[], bool]:
        return lambda: self.stopping.is_set() or context.is_cancelled()

    def _get_schema(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.SchemaResult:
        kind, value = protocol.unpack(descriptor.command or b"")
        if kind in _METADATA:
            metadata = _METADATA[kind]
            return flight.SchemaResult(metadata.schema(protocol.parse(metadata.message, value)))
        if kind in (_STATEMENT, _PREPARED):
            raise Unsupported(
                "the schema of a statement is known once it has run: execute it "
                "(GetFlightInfo answers its schema)"
            )
        raise _refuse(kind)

    def _do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        caller = _caller(context)
        kind, value = protocol.unpack(ticket.ticket)
        with serving_caller(caller):
            if kind == _TICKET:
                handle = protocol.parse(protocol.TicketStatementQuery, value)
                statement_id = statements.statement_of(handle.statement_handle)
                answering = (self.redactor, self.stopping)
                return statements.result(self.runtime, caller, statement_id, *answering)
            if kind in _METADATA:
                metadata = _METADATA[kind]
                command = protocol.parse(metadata.message, value)
                return flight.RecordBatchStream(metadata.rows(self.runtime, caller, command))
            raise _refuse(kind)

    def _do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        kind, _ = protocol.unpack(descriptor.command or b"")
        if kind == _PREPARED:
            raise Invalid(statements.NO_PARAMETERS, field="parameters")
        if _short(kind) in _WRITES:
            raise Forbidden(READ_ONLY.format(what=_short(kind)))
        raise _refuse(kind)

    def _do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        caller = _caller(context)
        body = action.body.to_pybytes() if action.body is not None else b""
        with serving_caller(caller):
            if action.type == CREATE_PREPARED:
                kind, value = protocol.unpack(body)
                if kind != protocol.name_of(protocol.ActionCreatePreparedStatementRequest):
                    raise Invalid(
                        f"{CREATE_PREPARED} takes an ActionCreatePreparedStatementRequest"
                    )
                request = protocol.parse(protocol.ActionCreatePreparedStatementRequest, value)
                if request.HasField("transaction_id"):
                    raise Invalid(statements.NO_TRANSACTIONS, field="transaction_id")
                sql = statements.check_sql(self.runtime, request.query)
                prepared = protocol.ActionCreatePreparedStatementResult(
                    prepared_statement_handle=statements.prepared_handle(sql)
                )
                return [protocol.pack(prepared)]
            if action.type == CLOSE_PREPARED:
                return []
            if action.type == CANCEL_FLIGHT_INFO:
                request = protocol.parse(protocol.CancelFlightInfoRequest, body)
                info = protocol.flight_info(request.info)
                status = statements.cancel(self.runtime, caller, info)
                answer = protocol.CancelFlightInfoResult(status=status)
                return [answer.SerializeToString()]
            raise Unsupported(
                f"Lakehold's Flight SQL endpoint does not implement the action {action.type!r}"
            )

    def _list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return list(ACTIONS)

    def _list_flights(
        self, context: flight.ServerCallContext, criteria: bytes
    ) -> Iterator[flight.FlightInfo]:
        return iter(())

    def _do_exchange(self, context: flight.ServerCallContext, *args: Any) -> None:
        raise Unsupported("Lakehold's Flight SQL endpoint does not implement DoExchange")


def _caller(context: flight.ServerCallContext) -> Caller:
    state = context.get_middleware(MIDDLEWARE)
    assert isinstance(state, CallState)  # every call passed Authentication
    return state.caller
