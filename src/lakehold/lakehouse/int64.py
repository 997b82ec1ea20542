"""Integers beyond 64 bits in text files: pyarrow reads such a column as floating point, and
every id would silently become 7.0, 8.0, 1e+23. The readers refuse it, naming the value."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehold.errors import Invalid

INT64 = (-(2**63), 2**63 - 1)


def fits(value: int) -> bool:
    """Whether ``value`` fits in a 64-bit integer (BIGINT)."""
    return INT64[0] <= value <= INT64[1]


def suspects(table: pa.Table, typed: Collection[str]) -> list[str]:
    """Columns read as floating point that hold only whole numbers, one of them beyond 64 bits
    (columns with an explicit type, ``typed``, are what the user asked for)."""
    return [
        field.name
        for field in table.schema
        if pa.types.is_floating(field.type)
        and field.name not in typed
        and _whole_beyond_int64(table.column(field.name))
    ]


def overflow(where: str, value: str, column: str, **details: Any) -> Invalid:
    """The error naming where (``line 4``, ``item 2``) a too-large integer stands."""
    shown = value if len(value) <= 40 else value[:37] + "..."
    return Invalid(
        f"{where}, column {column!r}: integer {shown} does not fit in a 64-bit integer "
        "(BIGINT); give the column an explicit type (for example DOUBLE or DECIMAL(38, 0)) "
        "to store it",
        column=column,
        **details,
    )


def _whole_beyond_int64(values: pa.ChunkedArray) -> bool:
    finite = values.filter(pc.is_finite(values))
    if len(finite) == 0 or not pc.all(pc.equal(pc.floor(finite), finite)).as_py():
        return False
    largest = pc.max(pc.abs(finite)).as_py()
    return largest is not None and largest >= 9.2e18
