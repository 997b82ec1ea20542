"""The Flight SQL protobuf messages Lakehold reads and writes, built at import time.

Flight SQL (``format/FlightSql.proto`` of Apache Arrow, package ``arrow.flight.protocol.sql``)
sends its commands as ``google.protobuf.Any`` messages in a FlightDescriptor's command, a
ticket or an action's body. The messages are declared here field by field (name, number, type,
proto3 ``optional``) and turned into classes by the ``protobuf`` runtime, in a pool of their
own: no ``protoc``, no generated module to keep in step (ADR 0038). Only what the endpoint
serves is declared; a command of any other type is recognised by its type URL alone.

The two messages of the core Flight protocol used by the ``CancelFlightInfo`` action (package
``arrow.flight.protocol``) are declared with their embedded ``FlightInfo`` as bytes: it is
read with ``pyarrow.flight.FlightInfo.deserialize``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

SQL_PACKAGE = "arrow.flight.protocol.sql"
FLIGHT_PACKAGE = "arrow.flight.protocol"
TYPE_URL_PREFIX = "type.googleapis.com/"

_F = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "bool": _F.TYPE_BOOL,
    "uint32": _F.TYPE_UINT32,
    "int32": _F.TYPE_INT32,
}

# message -> (field name, number, type, label): "" plain, "optional" (proto3 optional),
# "repeated". As in FlightSql.proto; enums are their int32 wire form.
_SQL_MESSAGES: dict[str, tuple[tuple[str, int, str, str], ...]] = {
    "CommandGetSqlInfo": (("info", 1, "uint32", "repeated"),),
    "CommandGetCatalogs": (),
    "CommandGetDbSchemas": (
        ("catalog", 1, "string", "optional"),
        ("db_schema_filter_pattern", 2, "string", "optional"),
    ),
    "CommandGetTables": (
        ("catalog", 1, "string", "optional"),
        ("db_schema_filter_pattern", 2, "string", "optional"),
        ("table_name_filter_pattern", 3, "string", "optional"),
        ("table_types", 4, "string", "repeated"),
        ("include_schema", 5, "bool", ""),
    ),
    "CommandGetTableTypes": (),
    "CommandStatementQuery": (
        ("query", 1, "string", ""),
        ("transaction_id", 2, "bytes", "optional"),
    ),
    "TicketStatementQuery": (("statement_handle", 1, "bytes", ""),),
    "CommandPreparedStatementQuery": (("prepared_statement_handle", 1, "bytes", ""),),
    "ActionCreatePreparedStatementRequest": (
        ("query", 1, "string", ""),
        ("transaction_id", 2, "bytes", "optional"),
    ),
    "ActionCreatePreparedStatementResult": (
        ("prepared_statement_handle", 1, "bytes", ""),
        ("dataset_schema", 2, "bytes", ""),
        ("parameter_schema", 3, "bytes", ""),
        ("is_update", 4, "bool", "optional"),
    ),
    "ActionClosePreparedStatementRequest": (("prepared_statement_handle", 1, "bytes", ""),),
}
_FLIGHT_MESSAGES: dict[str, tuple[tuple[str, int, str, str], ...]] = {
    "CancelFlightInfoRequest": (("info", 1, "bytes", ""),),
    "CancelFlightInfoResult": (("status", 1, "int32", ""),),
}


def _file(name: str, package: str, messages: dict[str, tuple[tuple[str, int, str, str], ...]]):
    proto = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    for message_name, fields in messages.items():
        message = proto.message_type.add(name=message_name)
        for field_name, number, kind, label in fields:
            field = message.field.add(
                name=field_name,
                number=number,
                type=_TYPES[kind],
                label=_F.LABEL_REPEATED if label == "repeated" else _F.LABEL_OPTIONAL,
                json_name=field_name,
            )
            if label == "optional":  # proto3 `optional`: a synthetic oneof of its own
                field.proto3_optional = True
                field.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{field_name}")
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file("lakehold/flight_sql.proto", SQL_PACKAGE, _SQL_MESSAGES))
_POOL.Add(_file("lakehold/flight.proto", FLIGHT_PACKAGE, _FLIGHT_MESSAGES))


def _class(package: str, name: str) -> type[Message]:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{package}.{name}"))


CommandGetSqlInfo = _class(SQL_PACKAGE, "CommandGetSqlInfo")
CommandGetCatalogs = _class(SQL_PACKAGE, "CommandGetCatalogs")
CommandGetDbSchemas = _class(SQL_PACKAGE, "CommandGetDbSchemas")
CommandGetTables = _class(SQL_PACKAGE, "CommandGetTables")
CommandGetTableTypes = _class(SQL_PACKAGE, "CommandGetTableTypes")
CommandStatementQuery = _class(SQL_PACKAGE, "CommandStatementQuery")
TicketStatementQuery = _class(SQL_PACKAGE, "TicketStatementQuery")
CommandPreparedStatementQuery = _class(SQL_PACKAGE, "CommandPreparedStatementQuery")
ActionCreatePreparedStatementRequest = _class(SQL_PACKAGE, "ActionCreatePreparedStatementRequest")
ActionCreatePreparedStatementResult = _class(SQL_PACKAGE, "ActionCreatePreparedStatementResult")
ActionClosePreparedStatementRequest = _class(SQL_PACKAGE, "ActionClosePreparedStatementRequest")
CancelFlightInfoRequest = _class(FLIGHT_PACKAGE, "CancelFlightInfoRequest")
CancelFlightInfoResult = _class(FLIGHT_PACKAGE, "CancelFlightInfoResult")

CANCEL_STATUS_CANCELLED = 1
CANCEL_STATUS_NOT_CANCELLABLE = 3
"""Values of Flight's ``CancelStatus`` enum."""


class Malformed(ValueError):
    """Bytes that are not the message they should be."""


def pack(message: Message) -> bytes:
    """``message`` wrapped in a ``google.protobuf.Any``, serialized."""
    wrapped = any_pb2.Any()
    wrapped.Pack(message)
    return wrapped.SerializeToString()


def unpack(data: bytes) -> tuple[str, bytes]:
    """The full type name (``arrow.flight.protocol.sql.CommandStatementQuery``) and value of
    a serialized ``Any``."""
    wrapped = any_pb2.Any()
    try:
        wrapped.ParseFromString(data)
    except DecodeError:
        raise Malformed("not a Flight SQL command (a protobuf Any)") from None
    return wrapped.type_url.rpartition("/")[2], wrapped.value


def name_of(kind: type[Message]) -> str:
    """The full type name of ``kind``, as :func:`unpack` gives it."""
    return kind.DESCRIPTOR.full_name


def flight_info(data: bytes) -> flight.FlightInfo:
    """A serialized core Flight ``FlightInfo`` (as ``CancelFlightInfoRequest`` embeds it)."""
    try:
        return flight.FlightInfo.deserialize(data)
    except (pa.ArrowInvalid, TypeError):
        raise Malformed("not a valid FlightInfo") from None


def parse(kind: type[Message], data: bytes) -> Any:
    """``data`` read as a ``kind`` message."""
    message = kind()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise Malformed(f"not a valid {kind.DESCRIPTOR.name}") from None
    return message
