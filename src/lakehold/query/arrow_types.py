"""Arrow types (the Delta schema as the caller gives it) as DuckDB SQL type names."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pt

from lakehold.errors import Invalid

_SIMPLE: dict[pa.DataType, str] = {
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float16(): "FLOAT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.string_view(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.large_binary(): "BLOB",
    pa.binary_view(): "BLOB",
    pa.date32(): "DATE",
    pa.date64(): "DATE",
    pa.null(): "INTEGER",
}

_TIMESTAMP = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}


def quote(name: str) -> str:
    """A DuckDB identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(arrow: pa.DataType) -> str:
    """The DuckDB type that DuckDB reads ``arrow`` as (Parquet written from Arrow)."""
    simple = _SIMPLE.get(arrow)
    if simple is not None:
        return simple
    if pt.is_timestamp(arrow):
        return "TIMESTAMPTZ" if arrow.tz is not None else _TIMESTAMP[arrow.unit]
    if pt.is_decimal(arrow):
        if arrow.precision > 38:
            raise Invalid(f"decimal precision {arrow.precision} is not supported")
        return f"DECIMAL({arrow.precision},{arrow.scale})"
    if pt.is_time(arrow):
        return "TIME"
    if pt.is_duration(arrow) or pt.is_interval(arrow):
        return "INTERVAL"
    if pt.is_fixed_size_binary(arrow):
        return "BLOB"
    if pt.is_list(arrow) or pt.is_large_list(arrow) or pt.is_list_view(arrow):
        return f"{duckdb_type(arrow.value_type)}[]"
    if pt.is_fixed_size_list(arrow):
        return f"{duckdb_type(arrow.value_type)}[{arrow.list_size}]"
    if pt.is_map(arrow):
        return f"MAP({duckdb_type(arrow.key_type)}, {duckdb_type(arrow.item_type)})"
    if pt.is_struct(arrow):
        fields = ", ".join(f"{quote(f.name)} {duckdb_type(f.type)}" for f in arrow)
        return f"STRUCT({fields})"
    if pt.is_dictionary(arrow):
        return duckdb_type(arrow.value_type)
    raise Invalid(f"column type {arrow} is not supported by the query engine")
