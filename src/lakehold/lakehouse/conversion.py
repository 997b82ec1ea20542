"""Value conversion between Arrow types that names the first value that does not convert."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from lakehold.errors import Invalid

Values: TypeAlias = pa.Array | pa.ChunkedArray
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def convert(values: Values, target: pa.DataType, *, column: str) -> pa.ChunkedArray:
    """Cast ``values`` to ``target`` without losing information.

    Raises Invalid naming the column and the 1-based row of the first value that does not
    convert (the row is also given as the ``row`` detail).
    """
    values = _chunked(values)
    if values.type == target:
        return values
    cast = _caster(values.type, target)
    try:
        return _chunked(cast(values))
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _type_refusal(values.type, target, column) from exc
    except pa.ArrowInvalid as exc:
        row = first_failure(values, cast)
        if row is None:
            raise _type_refusal(values.type, target, column) from exc
        raise _conversion_error(column, values[row].as_py(), row, values.type, target) from exc


def _conversion_error(
    column: str, value: object, row: int, source: pa.DataType, target: pa.DataType
) -> Invalid:
    """The error for one value (``row`` is 0-based) that does not convert."""
    return Invalid(
        f"column {column!r}: value {_show(value)!r} on row {row + 1} cannot be converted "
        f"from {type_name(source)} to {type_name(target)}",
        column=column,
        row=row + 1,
    )


def first_failure(values: pa.ChunkedArray, cast: Callable[[Values], Values]) -> int | None:
    """0-based index of the first value ``cast`` refuses, by bisection (failure path only)."""
    values = values.combine_chunks()

    def fails(length: int) -> bool:
        try:
            cast(values.slice(0, length))
        except _CAST_ERRORS:
            return True
        return False

    if not fails(len(values)):
        return None
    low, high = 0, len(values)  # fails(high) is True; fails(low) is False (empty prefix)
    while high - low > 1:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle
    return high - 1


def type_name(data_type: pa.DataType) -> str:
    """A short, user-facing name of an Arrow type."""
    if pa.types.is_timestamp(data_type):
        return "timestamp with time zone" if data_type.tz else "timestamp"
    if pa.types.is_date32(data_type):
        return "date"
    return str(data_type)


def _caster(source: pa.DataType, target: pa.DataType) -> Callable[[Values], Values]:
    if pa.types.is_timestamp(source) and pa.types.is_date32(target):
        return _timestamp_to_date
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        # Unit changes truncate below a microsecond: Delta stores microseconds.
        return lambda values: pc.cast(values, target, safe=False)
    if _is_text(source) and pa.types.is_timestamp(target) and target.tz is not None:
        return lambda values: _text_to_zoned_timestamp(values, target)
    if pa.types.is_integer(source) and pa.types.is_decimal(target):
        return lambda values: _integer_to_decimal(values, target)
    return lambda values: pc.cast(values, target, safe=True)


def _integer_to_decimal(values: Values, target: pa.DataType) -> Values:
    """Integers to a decimal type, refusing only the values that do not fit: Arrow casts an
    integer type only to a precision that fits all of its values (21 digits for int64 at
    scale 2), so the cast goes through the widest decimal first."""
    wide = pc.cast(values, pa.decimal128(38, target.scale), safe=True)
    return pc.cast(wide, target, safe=True)


def _timestamp_to_date(values: Values) -> Values:
    """Timestamps to dates, refusing any value that is not at midnight."""
    dates = pc.cast(values, pa.date32(), safe=False)
    back = pc.cast(dates, values.type)
    if not pc.all(pc.or_kleene(pc.equal(back, values), pc.is_null(values))).as_py():
        raise pa.ArrowInvalid("timestamp has a time of day")
    return dates


def _text_to_zoned_timestamp(values: Values, target: pa.DataType) -> Values:
    """Text to a UTC timestamp: values with an offset keep it; values without one are UTC."""
    try:
        return pc.cast(values, target)
    except pa.ArrowInvalid:
        naive = pc.cast(values, pa.timestamp(target.unit))
        return pc.assume_timezone(naive, "UTC").cast(target)


def _type_refusal(source: pa.DataType, target: pa.DataType, column: str) -> Invalid:
    return Invalid(
        f"column {column!r}: {type_name(source)} values cannot be converted to {type_name(target)}",
        column=column,
    )


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def _chunked(values: Values) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])


def _show(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
