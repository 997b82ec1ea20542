"""Delta file statistics (the ``stats`` JSON of an ``add`` action), gathered batch by batch
as a Parquet file is written.

``numRecords``, and per top-level column ``nullCount`` and, for ordered scalar types, the
``minValues`` / ``maxValues`` bounds a reader may skip the file by. Every bound is safe: a
timestamp is written in milliseconds (the minimum rounded down, the maximum up), a string
longer than 32 characters is cut (the maximum then followed by the last code point), a
decimal that a JSON number cannot hold exactly and a NaN or infinite float have no bound.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

STRING_PREFIX = 32
"""Characters of a string bound kept (as Delta writers do)."""
_LAST = chr(0x10FFFF)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_MS = {"ms": 1, "us": 1_000, "ns": 1_000_000}


class FileStats:
    """The statistics of the rows written to one file, batch by batch."""

    def __init__(self, schema: pa.Schema) -> None:
        self._schema = schema
        self.rows = 0
        self._nulls = {f.name: 0 for f in schema if not pa.types.is_nested(f.type)}
        self._bounds: dict[str, tuple[Any, Any]] = {}
        self._unbounded: set[str] = set()

    def add(self, batch: pa.RecordBatch) -> None:
        """Count ``batch`` (of the schema given) in."""
        self.rows += batch.num_rows
        for field, column in zip(self._schema, batch.columns, strict=True):
            if field.name not in self._nulls:
                continue
            self._nulls[field.name] += column.null_count
            if not _bounded(field.type) or column.null_count == len(column):
                continue
            low, high = _min_max(column)
            if low is None or high is None:
                self._unbounded.add(field.name)
                continue
            known = self._bounds.get(field.name)
            self._bounds[field.name] = (
                (low, high) if known is None else (min(known[0], low), max(known[1], high))
            )

    def json(self) -> str:
        """The ``stats`` value of the file's add action."""
        low: dict[str, Any] = {}
        high: dict[str, Any] = {}
        for field in self._schema:
            bounds = self._bounds.get(field.name)
            if bounds is None or field.name in self._unbounded:
                continue
            first = _json_bound(field.type, bounds[0], upper=False)
            last = _json_bound(field.type, bounds[1], upper=True)
            if first is not None and last is not None:
                low[field.name], high[field.name] = first, last
        return json.dumps(
            {"numRecords": self.rows, "minValues": low, "maxValues": high, "nullCount": self._nulls}
        )


def _bounded(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
    )


def _min_max(column: pa.Array | pa.ChunkedArray) -> tuple[Any, Any]:
    """The column's (min, max) as Python values; timestamps as integers of their unit,
    None for a float column holding a NaN."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        column = column.cast(pa.int64())
    elif pa.types.is_floating(kind) and pc.any(pc.is_nan(column)).as_py():
        return None, None
    found = pc.min_max(column)
    return found["min"].as_py(), found["max"].as_py()


def _json_bound(kind: pa.DataType, value: Any, *, upper: bool) -> Any:
    """``value`` as Delta writes a bound of type ``kind``, rounded outwards; None if it
    cannot be written exactly."""
    if pa.types.is_timestamp(kind):
        if kind.unit == "s":
            millis = value * 1000
        else:
            per_ms = _PER_MS[kind.unit]
            millis = -(-value // per_ms) if upper else value // per_ms
        try:
            moment = _EPOCH + timedelta(milliseconds=millis)
        except OverflowError:
            return None
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return text + "Z" if kind.tz is not None else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        number = float(value)
        return number if Decimal(repr(number)) == value else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) > STRING_PREFIX:
        return value[:STRING_PREFIX] + _LAST if upper else value[:STRING_PREFIX]
    return value
