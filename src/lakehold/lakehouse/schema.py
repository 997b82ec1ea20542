"""Schema evolution: reconcile a batch with a table's schema before any write.

Rules: new columns are appended to the table schema; table columns missing from the batch
get NULL in new rows (a merge leaves them unchanged in the rows it updates); a column of
null type (no values) takes the table type, or string when new; the table type is widened
only safely (int8/16/32 -> int64, int -> double, float -> double);
batch values are converted to the table type when every value converts (text to numbers,
dates, booleans; any value to a string column), otherwise the batch is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.types as pat

from lakehold.errors import Invalid
from lakehold.lakehouse.conversion import convert, type_name


@dataclass(frozen=True)
class Evolution:
    """The outcome of reconciling a batch with a table schema."""

    batch: pa.Table
    """The batch, converted to ``schema`` (missing columns filled with NULL)."""
    schema: pa.Schema
    """The table schema after the write."""
    changes: list[str] = field(default_factory=list)
    """Human-readable schema changes, in the order applied."""
    added: list[str] = field(default_factory=list)
    """New columns, appended to the table schema."""
    widened: dict[str, tuple[pa.DataType, pa.DataType]] = field(default_factory=dict)
    """Column -> (old type, new type): existing data must be rewritten."""
    missing: list[str] = field(default_factory=list)
    """Table columns absent from the batch."""

    @property
    def rewrite_needed(self) -> bool:
        """True when a column type changes, so existing files must be rewritten."""
        return bool(self.widened)

    @property
    def carried(self) -> pa.Table:
        """``batch`` without the ``missing`` columns: only the columns the batch carries.

        A merge updates these columns alone, so an absent column keeps its stored value.
        """
        return self.batch.drop_columns(self.missing) if self.missing else self.batch


def evolve(
    table_schema: pa.Schema | None,
    batch: pa.Table,
    *,
    keys: Sequence[str] = (),
    declared: Collection[str] = (),
) -> Evolution:
    """Reconcile ``batch`` with ``table_schema`` (None for a new table).

    Key columns are never widened to a floating-point type by inference: only when the
    batch's type of that column was ``declared`` (explicit column types). Raises Invalid
    naming the column on any change that cannot be applied safely; nothing is changed then.
    """
    if not batch.column_names:
        raise Invalid("the batch has no columns")
    _check_names(batch.column_names)
    if table_schema is None:
        return _first_schema(batch)
    table_schema = normalize_schema(table_schema)
    by_name = {f.name: f for f in table_schema}
    folded = {name.casefold(): name for name in table_schema.names}
    changes: list[str] = []
    widened: dict[str, tuple[pa.DataType, pa.DataType]] = {}
    columns: dict[str, pa.ChunkedArray] = {}
    fields: list[pa.Field] = []
    for name in table_schema.names:
        old = by_name[name].type
        if name not in batch.column_names:
            fields.append(pa.field(name, old))
            continue
        values = _storable(batch.column(name), name)
        new = _reconcile(name, old, values, is_key=name in keys, declared=name in declared)
        if new != old:
            widened[name] = (old, new)
            changes.append(f"widened column {name!r} from {type_name(old)} to {type_name(new)}")
        columns[name] = convert(values, new, column=name)
        fields.append(pa.field(name, new))
    added: list[str] = []
    for name in batch.column_names:
        if name in by_name:
            continue
        if name.casefold() in folded:
            raise Invalid(
                f"column {name!r} differs only by case from table column "
                f"{folded[name.casefold()]!r}",
                column=name,
            )
        values = _storable(batch.column(name), name)
        if pat.is_null(values.type):
            values = values.cast(pa.string())
            changes.append(f"added column {name!r} (string: no values yet)")
        else:
            changes.append(f"added column {name!r} ({type_name(values.type)})")
        added.append(name)
        columns[name] = values
        fields.append(pa.field(name, values.type))
    schema = pa.schema(fields)
    missing = [name for name in table_schema.names if name not in batch.column_names]
    arrays = [
        columns[f.name]
        if f.name in columns
        else pa.chunked_array([pa.nulls(batch.num_rows, f.type)])
        for f in schema
    ]
    return Evolution(
        batch=pa.Table.from_arrays(arrays, schema=schema),
        schema=schema,
        changes=changes,
        added=added,
        widened=widened,
        missing=missing,
    )


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with Delta-storable types, nullable fields and no metadata."""
    return pa.schema([pa.field(f.name, storable_type(f.type, f.name)) for f in schema])


def storable_type(data_type: pa.DataType, column: str) -> pa.DataType:
    """The type Delta Lake stores ``data_type`` as; Invalid when it has none."""
    if pat.is_dictionary(data_type):
        return storable_type(data_type.value_type, column)
    if (
        pat.is_null(data_type)
        or pat.is_boolean(data_type)
        or pat.is_signed_integer(data_type)
        or pat.is_float32(data_type)
        or pat.is_float64(data_type)
        or pat.is_date32(data_type)
        or pat.is_string(data_type)
        or pat.is_binary(data_type)
    ):
        return data_type
    simple = _SIMPLE.get(data_type)
    if simple is not None:
        return simple
    if pat.is_unsigned_integer(data_type):
        return pa.int64()
    if pat.is_timestamp(data_type):
        return pa.timestamp("us", tz="UTC" if data_type.tz else None)
    if pat.is_fixed_size_binary(data_type):
        return pa.binary()
    if pat.is_decimal(data_type) and data_type.precision <= 38:
        return pa.decimal128(data_type.precision, data_type.scale)
    if pat.is_list(data_type) or pat.is_large_list(data_type) or pat.is_fixed_size_list(data_type):
        return pa.list_(storable_type(data_type.value_type, column))
    if pat.is_struct(data_type):
        return pa.struct(
            [pa.field(f.name, storable_type(f.type, column)) for f in data_type.fields]
        )
    if pat.is_map(data_type):
        return pa.map_(
            storable_type(data_type.key_type, column), storable_type(data_type.item_type, column)
        )
    raise Invalid(
        f"column {column!r}: type {data_type} cannot be stored in a Delta table", column=column
    )


_SIMPLE: dict[pa.DataType, pa.DataType] = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.float16(): pa.float32(),
    pa.large_string(): pa.string(),
    pa.string_view(): pa.string(),
    pa.large_binary(): pa.binary(),
    pa.binary_view(): pa.binary(),
    pa.date64(): pa.date32(),
}


def _first_schema(batch: pa.Table) -> Evolution:
    columns, fields, changes = [], [], []
    for name in batch.column_names:
        values = _storable(batch.column(name), name)
        if pat.is_null(values.type):
            values = values.cast(pa.string())
            changes.append(f"column {name!r} has no values: typed as string")
        columns.append(values)
        fields.append(pa.field(name, values.type))
    schema = pa.schema(fields)
    return Evolution(
        batch=pa.Table.from_arrays(columns, schema=schema), schema=schema, changes=changes
    )


def _storable(values: pa.ChunkedArray, column: str) -> pa.ChunkedArray:
    target = storable_type(values.type, column)
    return values if target == values.type else convert(values, target, column=column)


def _reconcile(
    name: str, old: pa.DataType, values: pa.ChunkedArray, *, is_key: bool, declared: bool = False
) -> pa.DataType:
    """The column type after the write: ``old`` or a safe widening of it."""
    new = values.type
    if new == old or pat.is_null(new) or pat.is_string(old):
        return old
    if pat.is_integer(old) and pat.is_integer(new):
        return new if new.bit_width > old.bit_width else old
    if pat.is_integer(old) and (pat.is_floating(new) or pat.is_decimal(new)):
        problem = _conversion_problem(values, old, name)
        if problem is None:
            return old
        if is_key and not declared:
            row = problem.details.get("row")
            where = f" on row {row}" if row else ""
            raise Invalid(
                f"column {name!r} is a key: its type {type_name(old)} cannot change to "
                f"{type_name(new)} by inference (the batch holds a value{where} that is not "
                f"a whole number within {type_name(old)}); declare the column's type "
                "explicitly to change it",
                column=name,
                row=row,
            )
        return pa.float64()
    if pat.is_float32(old) and (pat.is_floating(new) or pat.is_integer(new)):
        return pa.float64()
    if _convertible(old, new):
        return old
    raise Invalid(
        f"column {name!r}: cannot change its type from {type_name(old)} to {type_name(new)} "
        "(only safe widenings are applied automatically)",
        column=name,
    )


def _convertible(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether ``new`` values may be converted into an ``old`` column (value by value)."""
    if pat.is_string(new):
        return not pat.is_nested(old)
    if pat.is_float64(old) or pat.is_decimal(old):
        return pat.is_integer(new) or pat.is_floating(new) or pat.is_decimal(new)
    if pat.is_timestamp(old):
        return pat.is_timestamp(new) or pat.is_date32(new)
    if pat.is_date32(old):
        return pat.is_timestamp(new)  # only values at midnight convert
    return pat.is_binary(old) and pat.is_string(new)


def _conversion_problem(
    values: pa.ChunkedArray, target: pa.DataType, column: str
) -> Invalid | None:
    """Why ``values`` do not convert to ``target`` (the row in its details), or None."""
    try:
        convert(values, target, column=column)
    except Invalid as problem:
        return problem
    return None


def _check_names(names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not name.strip():
            raise Invalid("a column has an empty name", column=name)
        other = seen.get(name.casefold())
        if other == name:
            raise Invalid(f"column {name!r} appears twice", column=name)
        if other is not None:
            raise Invalid(f"columns {other!r} and {name!r} differ only by case", column=name)
        seen[name.casefold()] = name
