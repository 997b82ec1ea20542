"""The catalog commands of Flight SQL, answered from what the caller may read.

Lakehold has no catalog level: GetCatalogs is empty (as Dremio's is, which clients handle),
each project is a database schema (``db_schema_name``) and each table a table of type
``TABLE``, so that a client writes ``"project"."table"``, the name a statement takes. The
tables and columns are those of :class:`lakehold.governance.readable_tables.ReadableTables`:
the caller's projects' tables, and those granted to the project it acts in with the granted
columns only. The result schemas are Flight SQL's, field for field (clients compare them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakehold.errors import Invalid
from lakehold.flight.auth import Caller

if TYPE_CHECKING:
    from lakehold.governance.readable_tables import ReadableTable
    from lakehold.runtime import Runtime

TABLE_TYPE = "TABLE"
SEARCH_ESCAPE = "\\"
"""What escapes ``%`` and ``_`` in a name pattern (``SQL_SEARCH_STRING_ESCAPE``)."""
MAX_PATTERN_CHARS = 1000
"""The longest name pattern (names are far shorter)."""

CATALOGS = pa.schema([pa.field("catalog_name", pa.utf8(), nullable=False)])
DB_SCHEMAS = pa.schema(
    [pa.field("catalog_name", pa.utf8()), pa.field("db_schema_name", pa.utf8(), nullable=False)]
)
TABLES = pa.schema(
    [
        pa.field("catalog_name", pa.utf8()),
        pa.field("db_schema_name", pa.utf8()),
        pa.field("table_name", pa.utf8(), nullable=False),
        pa.field("table_type", pa.utf8(), nullable=False),
    ]
)
TABLES_WITH_SCHEMA = TABLES.append(pa.field("table_schema", pa.binary(), nullable=False))
TABLE_TYPES = pa.schema([pa.field("table_type", pa.utf8(), nullable=False)])


_ANY_RUN = object()
_ANY_ONE = object()


def _tokens(pattern: str) -> list[object]:
    """A name pattern as literal characters, :data:`_ANY_RUN` (``%``, runs of them as one)
    and :data:`_ANY_ONE` (``_``)."""
    tokens: list[object] = []
    escaped = False
    for char in pattern:
        if escaped:
            tokens.append(char)
            escaped = False
        elif char == SEARCH_ESCAPE:
            escaped = True
        elif char == "%":
            if not tokens or tokens[-1] is not _ANY_RUN:
                tokens.append(_ANY_RUN)
        else:
            tokens.append(_ANY_ONE if char == "_" else char)
    return tokens


def _matches(tokens: list[object], name: str) -> bool:
    """Whether ``name`` matches the pattern's tokens: greedy, going back only to the last
    ``%`` (at most length of name x length of pattern steps, never exponential)."""
    if len(tokens) - tokens.count(_ANY_RUN) > len(name):
        return False
    t = n = 0
    star, resume = -1, 0
    while n < len(name):
        token = tokens[t] if t < len(tokens) else None
        if token is _ANY_RUN:
            star, resume = t, n
            t += 1
        elif token is not None and (token is _ANY_ONE or token == name[n]):
            t += 1
            n += 1
        elif star >= 0:
            resume += 1
            t, n = star + 1, resume
        else:
            return False
    return all(token is _ANY_RUN for token in tokens[t:])


def matcher(pattern: str | None) -> Callable[[str], bool]:
    """A test of names against a Flight SQL name pattern (``%`` any run, ``_`` any one
    character, ``\\`` escapes them; None: every name). Patterns are matched without regular
    expressions: a pattern such as ``%a%a%a...b`` cannot make a call backtrack for hours
    (and hold the interpreter lock)."""
    if pattern is None:
        return lambda name: True
    if len(pattern) > MAX_PATTERN_CHARS:
        raise Invalid(f"a name pattern is at most {MAX_PATTERN_CHARS} characters", field="pattern")
    tokens = _tokens(pattern)
    return lambda name: _matches(tokens, name)


def _optional(command: Any, field: str) -> str | None:
    return getattr(command, field) if command.HasField(field) else None


def _no_catalog(command: Any) -> bool:
    """Whether the command's catalog filter lets rows without a catalog through."""
    return _optional(command, "catalog") in (None, "")


def catalogs() -> pa.Table:
    """GetCatalogs: none."""
    return CATALOGS.empty_table()


def table_types() -> pa.Table:
    """GetTableTypes."""
    return pa.table({"table_type": [TABLE_TYPE]}, schema=TABLE_TYPES)


def db_schemas(runtime: Runtime, caller: Caller, command: Any) -> pa.Table:
    """GetDbSchemas: the projects whose tables the caller may list."""
    names: list[str] = []
    if _no_catalog(command):
        wanted = matcher(_optional(command, "db_schema_filter_pattern"))
        listed = runtime.readable_tables.list_projects(caller.principal, caller.project)
        names = [name for name in listed if wanted(name)]
    return pa.table({"catalog_name": [None] * len(names), "db_schema_name": names}, DB_SCHEMAS)


def tables_schema(command: Any) -> pa.Schema:
    """GetTables' result schema: with ``table_schema`` when the command includes schemas."""
    return TABLES_WITH_SCHEMA if command.include_schema else TABLES


def tables(runtime: Runtime, caller: Caller, command: Any) -> pa.Table:
    """GetTables: the tables the caller may read; with ``include_schema``, the Arrow schema of
    each (the columns it may see), IPC-encapsulated."""
    found: list[ReadableTable] = []
    types = set(command.table_types)
    if _no_catalog(command) and (not types or TABLE_TYPE in types):
        in_schema = matcher(_optional(command, "db_schema_filter_pattern"))
        named = matcher(_optional(command, "table_name_filter_pattern"))
        listed = runtime.readable_tables.list_tables(caller.principal, caller.project)
        found = [t for t in listed if in_schema(t.project) and named(t.name)]
    columns: dict[str, list[Any]] = {
        "catalog_name": [None] * len(found),
        "db_schema_name": [t.project for t in found],
        "table_name": [t.name for t in found],
        "table_type": [TABLE_TYPE] * len(found),
    }
    if not command.include_schema:
        return pa.table(columns, schema=TABLES)
    columns["table_schema"] = [_described(t).serialize().to_pybytes() for t in found]
    return pa.table(columns, schema=TABLES_WITH_SCHEMA)


def _described(table: ReadableTable) -> pa.Schema:
    """The table's schema with Flight SQL's column metadata."""
    fields = []
    for column, field in zip(table.columns, table.schema, strict=True):
        metadata = {
            "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME": table.project,
            "ARROW:FLIGHT:SQL:TABLE_NAME": table.name,
            "ARROW:FLIGHT:SQL:TYPE_NAME": column.data_type,
            "ARROW:FLIGHT:SQL:IS_READ_ONLY": "1",
            "ARROW:FLIGHT:SQL:IS_SEARCHABLE": "1",
        }
        if column.description:
            metadata["ARROW:FLIGHT:SQL:REMARKS"] = column.description
        fields.append(field.with_metadata(metadata))
    return pa.schema(fields)
