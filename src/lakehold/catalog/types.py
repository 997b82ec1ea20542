"""SQL type names as Arrow types, using DuckDB's own mapping so both sides agree."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from lakehold.errors import Invalid


def sql_type_to_arrow(type_name: str, *, column: str) -> pa.DataType:
    """The Arrow type DuckDB uses for SQL type ``type_name``; Invalid naming ``column``."""
    try:
        parsed = exp.DataType.build(type_name, dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError) as error:
        raise Invalid(f"column '{column}': unknown type '{type_name}'", column=column) from error
    with duckdb.connect() as con:
        try:
            relation = con.sql(f"SELECT CAST(NULL AS {parsed.sql(dialect='duckdb')}) AS c")
            return relation.to_arrow_table().schema.field(0).type
        except duckdb.Error as error:
            raise Invalid(
                f"column '{column}': unsupported type '{type_name}'", column=column
            ) from error


def schema_from_types(types: dict[str, str]) -> dict[str, pa.DataType]:
    """Arrow types for a ``{column: SQL type}`` mapping."""
    return {column: sql_type_to_arrow(name, column=column) for column, name in types.items()}
