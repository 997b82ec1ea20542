"""The quick chart's data: an x column and numeric y columns of a result page, as the numbers
uPlot draws (``static/js/sql-chart.js``).

Columns are chosen by position, so repeated names are told apart. The x axis is numeric,
time (seconds since the epoch) or categorical (positions, with the values as labels).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

from lakehold.errors import Invalid

CHART_ROWS = 10_000
"""The chart draws at most this many rows, from the start of the result."""


def numeric(arrow: pa.DataType) -> bool:
    """Whether a column of ``arrow`` values can be a y series."""
    return pt.is_integer(arrow) or pt.is_floating(arrow) or pt.is_decimal(arrow)


def _temporal(arrow: pa.DataType) -> bool:
    return pt.is_timestamp(arrow) or pt.is_date(arrow)


def series(table: pa.Table, x: int, ys: list[int], *, total_rows: int) -> dict[str, Any]:
    """The chart of ``table``: x values (and labels when categorical), one series per y."""
    width = table.num_columns
    if x >= width:
        raise Invalid(f"the result has {width} columns; x must be below {width}", field="x")
    if not ys:
        raise Invalid("choose at least one column for the y axis", field="y")
    for y in ys:
        if y >= width or not numeric(table.schema.field(y).type):
            raise Invalid(f"y column {y} is not a numeric column of the result", field="y")
    x_type = table.schema.field(x).type
    raw = table.column(x).to_pylist()
    labels: list[str] | None = None
    if numeric(x_type):
        kind, xs = "number", [_number(v) for v in raw]
    elif _temporal(x_type):
        kind, xs = "time", [_seconds(v) for v in raw]
    else:
        kind, xs = "category", [float(i) for i in range(len(raw))]
        labels = ["NULL" if v is None else str(v) for v in raw]
    return {
        "x": {"name": table.column_names[x], "kind": kind, "values": xs, "labels": labels},
        "series": [
            {
                "name": table.column_names[y],
                "values": [_number(v) for v in table.column(y).to_pylist()],
            }
            for y in ys
        ],
        "rows": table.num_rows,
        "total_rows": total_rows,
    }


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    return None
