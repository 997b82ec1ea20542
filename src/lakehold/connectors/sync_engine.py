"""The sync engine: read the changes of one source table or query, check and resolve them.

No store, no users: given a :class:`ConnectionSpec`, a :class:`SyncDefinition` and the last
watermark, :func:`read_changes` reads the rows through the source's scanner
(``postgres_query`` / ``mysql_query``, so the watermark filter and the ordering run in the
source database), streams them in Arrow record batches, splits off the rows failing the
declared checks (with a reason), keeps the latest change of each key (by watermark, then by
read order) and returns the changes, the rejected rows and the new maximum watermark.

As with any watermark, the source must stamp changes with increasing values: a row committed
later with a watermark at or below one already read is not picked up until it changes again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from lakehold.connectors.attach import ConnectionSpec, attach, redact
from lakehold.errors import Invalid, SourceUnavailable
from lakehold.lakehouse.keys import last_per_key

Mode = Literal["full", "incremental"]
MODES: tuple[Mode, ...] = ("full", "incremental")
Progress = Callable[[int, int | None], None]
"""Called as ``progress(rows_done, rows_total_or_None)`` after each batch read."""

ALIAS = "lakehold_source"
OPERATION = "__lakehold_sync_op"
"""The normalized change of each row (I, U or D) in the engine's output."""
ERROR_REASON = "_error_reason"
BATCH_ROWS = 100_000
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "allow_unsigned_extensions": True,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
_QUERY_FUNCTIONS = {"postgresql": "postgres_query", "mysql": "mysql_query"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_OPERATIONS = ("I", "U", "D")


@dataclass(frozen=True)
class SyncDefinition:
    """What to read and how: a source table (``schema.table``) or a query in the source's
    own SQL, full or incremental by a watermark column, key columns, a delete rule (a boolean
    ``delete_column``, true = deleted; or an ``operation_column`` holding I, U or D) and the
    columns that must not be NULL (key columns never may)."""

    source_table: str | None = None
    source_query: str | None = None
    mode: Mode = "full"
    watermark_column: str | None = None
    key_columns: tuple[str, ...] = ()
    delete_column: str | None = None
    operation_column: str | None = None
    not_null_columns: tuple[str, ...] = ()

    def check(self) -> None:
        """Invalid naming the field for a definition that can never work (no source needed)."""
        if (self.source_table is None) == (self.source_query is None):
            raise Invalid("give a source table or a source query (one of the two)", field="source")
        if self.source_table is not None:
            table_parts(self.source_table)
        elif not (self.source_query or "").strip().rstrip(";").strip():
            raise Invalid("the source query is empty", field="source_query")
        if self.mode not in MODES:
            raise Invalid(f"unknown mode {self.mode!r} (full or incremental)", field="mode")
        if self.mode == "incremental":
            if not self.watermark_column:
                raise Invalid(
                    "an incremental sync needs a watermark column", field="watermark_column"
                )
            if not self.key_columns:
                raise Invalid("an incremental sync needs key columns", field="key_columns")
        if self.delete_column and self.operation_column:
            raise Invalid(
                "give a delete column or an operation column, not both", field="operation_column"
            )
        if len(set(self.key_columns)) != len(self.key_columns):
            raise Invalid("a key column is named twice", field="key_columns")
        for name in (self.delete_column, self.operation_column):
            if name and name in self.key_columns:
                raise Invalid(f"column {name!r} cannot be a key and a delete rule", field="keys")

    def validate(self, schema: pa.Schema) -> None:
        """Invalid naming the field when a declared column is not in the source's ``schema``."""
        self.check()
        self.check_columns(schema)

    def check_columns(self, schema: pa.Schema) -> None:
        """Invalid naming the field when a declared column is not in ``schema`` (or a
        reserved name is)."""
        named = [
            ("watermark_column", [self.watermark_column] if self.watermark_column else []),
            ("key_columns", list(self.key_columns)),
            ("delete_column", [self.delete_column] if self.delete_column else []),
            ("operation_column", [self.operation_column] if self.operation_column else []),
            ("not_null_columns", list(self.not_null_columns)),
        ]
        for field, columns in named:
            for column in columns:
                if column not in schema.names:
                    raise Invalid(
                        f"{field}: the source has no column {column!r} "
                        f"(columns: {', '.join(schema.names)})",
                        field=field,
                        column=column,
                    )
        if self.delete_column:
            kind = schema.field(self.delete_column).type
            if not (pa.types.is_boolean(kind) or pa.types.is_integer(kind)):
                raise Invalid(
                    f"delete column {self.delete_column!r} must be boolean (true = deleted)",
                    field="delete_column",
                )
        for name in (OPERATION, ERROR_REASON):
            if name in schema.names:
                raise Invalid(f"source column name {name!r} is reserved", field="source")

    @property
    def checked_columns(self) -> list[tuple[str, str]]:
        """(column, reason) of each NOT NULL check, keys first."""
        checks = [(k, f"key column {k!r} is NULL") for k in self.key_columns]
        checks += [
            (c, f"column {c!r} is NULL") for c in self.not_null_columns if c not in self.key_columns
        ]
        return checks


@dataclass(frozen=True)
class SyncBatch:
    """The outcome of a read: the changes to apply, the rejected rows, the new watermark."""

    rows: pa.Table
    """The latest valid change of each key (every source column except the operation column;
    in full mode only the rows to keep)."""
    operations: pa.ChunkedArray
    """I, U or D for each row of ``rows``."""
    rejected: pa.Table
    """Rows failing a check: each source column as a string, and ``_error_reason``."""
    rows_read: int
    watermark: str | None
    """The largest watermark read (the last one when nothing was read), as text."""
    replace: bool = False
    """``rows`` are the whole source: the target is overwritten, even by an incremental job."""

    def as_cdc(self) -> pa.Table:
        """``rows`` with the operation column ``OPERATION`` (for a CDC merge)."""
        return self.rows.append_column(OPERATION, self.operations)


# -- reading ----------------------------------------------------------------------------------


@contextmanager
def open_source(spec: ConnectionSpec) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private DuckDB database with ``spec`` attached read-only as ``ALIAS``."""
    if spec.kind not in _QUERY_FUNCTIONS:
        raise Invalid(
            f"sync jobs read postgresql or mysql connections, not {spec.kind!r}",
            field="connection",
        )
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        attach(connection, spec, ALIAS)
        yield connection
    finally:
        connection.close()


def describe(spec: ConnectionSpec, definition: SyncDefinition) -> pa.Schema:
    """The Arrow schema of the source; Invalid when the table or query cannot be read."""
    definition.check()
    with open_source(spec) as connection:
        try:
            return _schema(connection, spec, definition)
        except SourceUnavailable as error:
            field = "source_table" if definition.source_table else "source_query"
            raise Invalid(error.message, field=field) from None


def read_changes(
    spec: ConnectionSpec,
    definition: SyncDefinition,
    last_watermark: str | None,
    *,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> SyncBatch:
    """Read the source (incremental: rows with ``watermark > last_watermark`` only, ordered
    by watermark in the source), check and resolve them. Nothing is written anywhere."""
    definition.check()
    with open_source(spec) as connection:
        schema = _schema(connection, spec, definition)
        definition.validate(schema)
        after = last_watermark if definition.mode == "incremental" else None
        literal = None
        if after is not None:
            assert definition.watermark_column is not None
            literal = sql_literal(after, schema.field(definition.watermark_column).type, spec.kind)
        select = source_select(definition, spec.kind, after=literal)
        total = None
        if progress is not None:
            counted = f"SELECT count(*) FROM ({select}) AS lakehold_count"
            total = _run(connection, spec, _scan(spec.kind, counted)).read_all()[0][0].as_py()
            progress(0, total)
        order = f" ORDER BY {quote(definition.watermark_column, spec.kind)}" if after else ""
        reader = _run(connection, spec, _scan(spec.kind, select + order), batch_rows)
        return collect(definition, reader, spec, last_watermark, progress, total)


def collect(
    definition: SyncDefinition,
    reader: pa.RecordBatchReader,
    spec: ConnectionSpec,
    last_watermark: str | None,
    progress: Progress | None,
    total: int | None,
) -> SyncBatch:
    """The batch of the rows ``reader`` gives: checked, each key's latest change (by the
    watermark column, then read order), the largest watermark."""
    valid: list[pa.RecordBatch] = []
    rejected: list[pa.RecordBatch] = []
    rows_read, high = 0, None
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowException, duckdb.Error) as error:
            raise _unavailable(spec, error) from None
        rows_read += batch.num_rows
        reasons = _reasons(batch, definition)
        failed = pc.is_valid(reasons)
        valid.append(_with_operation(batch.filter(pc.invert(failed)), definition))
        if pc.any(failed).as_py():
            rejected.append(_as_strings(batch.filter(failed), reasons.filter(failed)))
        if definition.watermark_column:
            found = pc.max(batch.column(definition.watermark_column)).as_py()
            if found is not None and (high is None or found > high):
                high = found
        if progress is not None:
            progress(rows_read, total)
    rows = pa.Table.from_batches(valid, _with_operation_schema(reader.schema, definition))
    if definition.key_columns:
        rows = last_per_key(rows, list(definition.key_columns), definition.watermark_column)
    if definition.mode == "full":
        rows = rows.filter(pc.not_equal(rows.column(OPERATION), "D"))
    return SyncBatch(
        rows=rows.drop_columns([OPERATION]),
        operations=rows.column(OPERATION),
        rejected=pa.Table.from_batches(rejected, _rejected_schema(reader.schema)),
        rows_read=rows_read,
        watermark=watermark_text(high) if high is not None else last_watermark,
    )


# -- checks and operations --------------------------------------------------------------------


def _reasons(batch: pa.RecordBatch, definition: SyncDefinition) -> pa.Array:
    """The reason each row is rejected (the first failing check), NULL for a valid row."""
    reasons = pa.nulls(batch.num_rows, pa.string())
    checks: list[tuple[pa.Array, pa.Array | str]] = [
        (pc.is_null(batch.column(column)), reason) for column, reason in definition.checked_columns
    ]
    if definition.operation_column:
        values = _normalized(batch.column(definition.operation_column))
        bad = pc.invert(pc.fill_null(pc.is_in(values, pa.array(_OPERATIONS)), False))
        shown = pc.fill_null(batch.column(definition.operation_column).cast(pa.string()), "NULL")
        reason = pc.binary_join_element_wise(
            f"column {definition.operation_column!r} holds '", shown, "'; expected I, U or D", ""
        )
        checks.append((bad, reason))
    for failed, reason in reversed(checks):
        reasons = pc.if_else(failed, reason, reasons)
    return reasons


def _normalized(column: pa.Array) -> pa.Array:
    text = column if pa.types.is_string(column.type) else column.cast(pa.string())
    return pc.utf8_upper(pc.utf8_trim_whitespace(text))


def _with_operation(batch: pa.RecordBatch, definition: SyncDefinition) -> pa.RecordBatch:
    """The valid rows with ``OPERATION`` appended (the operation column dropped)."""
    if definition.operation_column:
        operations = _normalized(batch.column(definition.operation_column))
        batch = batch.drop_columns([definition.operation_column])
    elif definition.delete_column:
        flag = pc.fill_null(batch.column(definition.delete_column).cast(pa.bool_()), False)
        operations = pc.if_else(flag, "D", "U")
    else:
        operations = pa.repeat(pa.scalar("U"), batch.num_rows)
    return batch.append_column(OPERATION, operations.cast(pa.string()))


def _with_operation_schema(schema: pa.Schema, definition: SyncDefinition) -> pa.Schema:
    if definition.operation_column:
        schema = schema.remove(schema.get_field_index(definition.operation_column))
    return schema.append(pa.field(OPERATION, pa.string()))


def _rejected_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in [*schema.names, ERROR_REASON]])


def _as_strings(batch: pa.RecordBatch, reasons: pa.Array) -> pa.RecordBatch:
    """Every column of ``batch`` as text, plus the reason."""
    columns = []
    for column in batch.columns:
        try:
            columns.append(column.cast(pa.string()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            columns.append(pa.array([None if v is None else str(v) for v in column.to_pylist()]))
    return pa.RecordBatch.from_arrays([*columns, reasons], schema=_rejected_schema(batch.schema))


# -- SQL for the source -----------------------------------------------------------------------


def table_parts(name: str) -> list[str]:
    """``schema.table`` (or ``table``) as its parts; Invalid for anything else."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise Invalid(
            f"source table {name!r} must be schema.table (letters, digits, _)",
            field="source_table",
        )
    return parts


def quote(name: str | None, kind: str) -> str:
    """An identifier in the source's dialect."""
    assert name is not None
    if kind == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def source_select(definition: SyncDefinition, kind: str, *, after: str | None = None) -> str:
    """``SELECT *`` of the source in its own dialect, with ``watermark > after`` (a literal)."""
    if definition.source_table is not None:
        origin = ".".join(quote(p, kind) for p in table_parts(definition.source_table))
    else:
        query = (definition.source_query or "").strip().rstrip(";").strip()
        origin = f"({query}) AS lakehold_query"
    select = f"SELECT * FROM {origin}"
    if after is not None:
        select += f" WHERE {quote(definition.watermark_column, kind)} > {after}"
    return select


def sql_literal(text: str, kind_of: pa.DataType, kind: str) -> str:
    """The watermark ``text`` as a literal of the source's dialect for a column of type
    ``kind_of``; Invalid when it cannot be one."""
    if (
        pa.types.is_integer(kind_of)
        or pa.types.is_decimal(kind_of)
        or pa.types.is_floating(kind_of)
    ):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise Invalid(f"watermark {text!r} is not a number", field="last_watermark") from None
        if not number.is_finite():
            raise Invalid(f"watermark {text!r} is not a number", field="last_watermark")
        return str(number)
    if kind == "mysql" and pa.types.is_timestamp(kind_of):
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        text = moment.isoformat(sep=" ")
    escaped = text.replace("'", "''")
    if kind == "mysql":
        escaped = escaped.replace("\\", "\\\\")
    return f"'{escaped}'"


def watermark_text(value: Any) -> str:
    """A watermark value as text the source parses back (ISO dates and times)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _scan(kind: str, sql: str) -> str:
    """DuckDB SQL running ``sql`` in the source through its scanner's query function."""
    escaped = sql.replace("'", "''")
    return f"SELECT * FROM {_QUERY_FUNCTIONS[kind]}('{ALIAS}', '{escaped}')"


def _schema(
    connection: duckdb.DuckDBPyConnection, spec: ConnectionSpec, definition: SyncDefinition
) -> pa.Schema:
    """The source's columns, read with ``LIMIT 0`` (nothing is transferred)."""
    sql = f"{source_select(definition, spec.kind)} LIMIT 0"
    return _run(connection, spec, _scan(spec.kind, sql)).schema


def _run(
    connection: duckdb.DuckDBPyConnection, spec: ConnectionSpec, sql: str, batch_rows: int = 1
) -> pa.RecordBatchReader:
    try:
        return connection.execute(sql).to_arrow_reader(batch_rows)
    except duckdb.Error as error:
        raise _unavailable(spec, error) from None


def _unavailable(spec: ConnectionSpec, error: Exception) -> SourceUnavailable:
    return SourceUnavailable(
        f"connection {spec.name!r} ({spec.kind}) failed while reading: {redact(str(error), spec)}"
    )
