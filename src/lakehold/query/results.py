"""Statement results: paging through the stored Arrow IPC file, and output formats.

JSON rows are JSON-safe and lossless where JSON allows:

- DECIMAL -> string (``"12.30"``, exact; parse it as a decimal, not as a float), except
  DECIMAL(p, 0) (also HUGEINT, e.g. ``sum`` of BIGINT) -> integer;
- DATE, TIME, TIMESTAMP -> ISO 8601 strings (``"2024-01-31"``, ``"2024-01-31T12:00:00+00:00"``);
- INTERVAL -> ISO 8601 duration string (``"P1M2DT3.5S"``);
- BLOB -> base64 string; UUID -> string;
- NaN and infinities -> the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- integers stay JSON numbers (clients in JavaScript lose precision beyond 2**53);
- MAP with string keys -> object, other MAPs -> list of ``[key, value]`` pairs.

Every column is kept, in order, even where names repeat (``select 1 as a, 2 as a``, or
``select *`` over a join): rows as objects use each column's unique ``key`` (its name, or
``a_1``, ``a_2``... for a repeated name; see :func:`unique_keys`), rows as arrays are in column
order; CSV and Arrow IPC keep the names as they are.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

from lakehold.query.arrow_types import duckdb_type


def write_result(table: pa.Table, path: Path) -> int:
    """Store ``table`` as an Arrow IPC file (atomically); its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    partial.replace(path)
    return path.stat().st_size


def row_count(path: Path) -> int:
    """Rows stored in a result file."""
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def read_page(path: Path, offset: int, limit: int) -> pa.Table:
    """Rows ``offset`` to ``offset + limit`` of a result file (memory-mapped, no full read)."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be 0 or more")
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        batches: list[pa.RecordBatch] = []
        start, wanted = offset, limit
        for i in range(reader.num_record_batches):
            if wanted <= 0:
                break
            batch = reader.get_batch(i)
            if start >= batch.num_rows:
                start -= batch.num_rows
                continue
            part = batch.slice(start, wanted)
            batches.append(part)
            wanted -= part.num_rows
            start = 0
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return table.combine_chunks() if batches else table


def read_batches(
    path: Path, max_bytes: int
) -> tuple[pa.Schema, Generator[pa.RecordBatch, None, None]]:
    """The schema of a result file and its rows as record batches of about ``max_bytes`` at
    most (slices of the stored batches: memory-mapped, never the whole file in memory)."""
    with pa.memory_map(str(path)) as source:
        schema = pa.ipc.open_file(source).schema

    def batches() -> Generator[pa.RecordBatch, None, None]:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                step = max(1, batch.num_rows * max_bytes // max(batch.nbytes, 1))
                for start in range(0, batch.num_rows, step):
                    yield batch.slice(start, step)

    return schema, batches()


def column_metadata(schema: pa.Schema) -> list[dict[str, Any]]:
    """Name, unique key (see :func:`unique_keys`), SQL type and nullability of each column."""
    keys = unique_keys(schema.names)
    return [
        {
            "name": field.name,
            "key": key,
            "type": _sql_type(field.type),
            "nullable": field.nullable,
        }
        for field, key in zip(schema, keys, strict=True)
    ]


def unique_keys(names: Sequence[str]) -> list[str]:
    """A unique key per column, in order: its name, or for a name seen before the name with
    the first free suffix ``_1``, ``_2``... (never another column's own name).

    ``["a", "a", "a_1", "a"]`` -> ``["a", "a_2", "a_1", "a_3"]``.
    """
    taken = set(names)
    used: set[str] = set()
    keys: list[str] = []
    for name in names:
        key = name
        if key in used:
            n = 1
            while f"{name}_{n}" in taken or f"{name}_{n}" in used:
                n += 1
            key = f"{name}_{n}"
        used.add(key)
        keys.append(key)
    return keys


def _sql_type(arrow: pa.DataType) -> str:
    try:
        return duckdb_type(arrow)
    except Exception:
        return str(arrow)


def to_json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts keyed by each column's unique key (:func:`unique_keys`: the
    column name unless it repeats); see the module docstring for the conversions."""
    keys = unique_keys(table.column_names)
    return [dict(zip(keys, values, strict=True)) for values in to_json_arrays(table)]


def to_json_arrays(table: pa.Table) -> list[list[Any]]:
    """Rows as JSON-safe lists of values in column order (every column, names repeated or not)."""
    columns = [
        _json_values(column, field.type)
        for column, field in zip(table.columns, table.schema, strict=True)
    ]
    if not columns:
        return [[] for _ in range(table.num_rows)]
    return [list(values) for values in zip(*columns, strict=True)]


def to_csv_bytes(table: pa.Table, *, header: bool = True) -> bytes:
    """CSV (RFC 4180 quoting, only where needed) with a header of the column names as they
    are (repeated names repeated, in order; ``header=False`` leaves it out, for the next page
    of a stream); values as in JSON rows, nested values as JSON text, NULL as an empty field,
    booleans as ``true``/``false``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(table.column_names)
    columns = [
        [_csv(value) for value in (_json_values(column, field.type))]
        for column, field in zip(table.columns, table.schema, strict=True)
    ]
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue().encode("utf-8")


def _json_values(column: pa.ChunkedArray, arrow: pa.DataType) -> list[Any]:
    convert = _converter(arrow)
    values = column.to_pylist()
    return [convert(v) for v in values] if convert else values


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_arrow_ipc_stream(table: pa.Table) -> bytes:
    """The table in the Arrow IPC streaming format."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _converter(arrow: pa.DataType) -> Any:
    """A function making one Python value of ``arrow`` JSON-safe, or None if it already is."""
    if pt.is_integer(arrow) or pt.is_boolean(arrow) or pt.is_string(arrow):
        return None
    if pt.is_large_string(arrow) or pt.is_null(arrow):
        return None
    if pt.is_decimal(arrow) and arrow.scale == 0:
        return _integer
    if pt.is_list(arrow) or pt.is_large_list(arrow) or pt.is_fixed_size_list(arrow):
        item = _converter(arrow.value_type) or _same
        return lambda v: None if v is None else [item(x) for x in v]
    if pt.is_map(arrow):
        key, value = _converter(arrow.key_type) or _same, _converter(arrow.item_type) or _same
        if pt.is_string(arrow.key_type) or pt.is_large_string(arrow.key_type):
            return lambda v: None if v is None else {k: value(x) for k, x in v}
        return lambda v: None if v is None else [[key(k), value(x)] for k, x in v]
    if pt.is_struct(arrow):
        fields = [(f.name, _converter(f.type) or _same) for f in arrow]
        return lambda v: None if v is None else {n: c(v.get(n)) for n, c in fields}
    return _scalar


def _same(value: Any) -> Any:
    return value


def _integer(value: Any) -> Any:
    return None if value is None else int(value)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return _duration(0, value.days, value.seconds * 1_000_000_000 + value.microseconds * 1000)
    if isinstance(value, pa.MonthDayNano):
        return _duration(value.months, value.days, value.nanoseconds)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _scalar(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scalar(v) for v in value]
    return str(value)


def _duration(months: int, days: int, nanoseconds: int) -> str:
    years, months = divmod(months, 12) if months >= 0 else (0, months)
    seconds = decimal.Decimal(nanoseconds) / decimal.Decimal(1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    date = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    time = "".join(f"{_plain(n)}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = "P" + date + (f"T{time}" if time else "")
    return text if text != "P" else "PT0S"


def _plain(number: decimal.Decimal) -> str:
    return format(number.normalize(), "f")
