"""Reading one batch of rows from CSV, JSON lines, Parquet or Arrow IPC into an Arrow table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq

from lakehold.errors import Invalid, NotFound
from lakehold.lakehouse import csv_reader
from lakehold.lakehouse.conversion import convert
from lakehold.lakehouse.csv_reader import read_csv
from lakehold.lakehouse.json_reader import read_json, row_lines

Format = Literal["csv", "parquet", "jsonl", "arrow"]
FORMATS: tuple[str, ...] = get_args(Format)

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".ipc": "arrow",
    ".feather": "arrow",
}


def format_from_name(name: str) -> Format:
    """The format a file name's suffix announces, e.g. ``"sales.csv"`` -> ``"csv"``."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in _SUFFIXES:
        known = ", ".join(sorted(_SUFFIXES))
        raise Invalid(
            f"cannot tell the format of {name!r} from its suffix (known: {known})",
            field="format",
        )
    return _SUFFIXES[suffix]


def read_batch(
    source: bytes | Path,
    fmt: Format,
    *,
    schema: pa.Schema | None = None,
    column_types: dict[str, pa.DataType] | None = None,
) -> pa.Table:
    """Read ``source`` (its bytes, or a local file) in format ``fmt``.

    ``column_types`` converts the named columns; ``schema`` requires exactly its columns and
    converts them to its types (``column_types`` wins where both name a column). Malformed
    input raises Invalid with the 1-based ``line`` and ``column`` of the problem where the
    format has lines, else the 1-based ``row``.
    """
    if fmt not in FORMATS:
        raise Invalid(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="format")
    data = _bytes(source)
    types = {**({f.name: f.type for f in schema} if schema else {}), **(column_types or {})}
    if fmt == "csv":
        table = read_csv(data, types)
        _require_columns(table, types)
    elif fmt == "jsonl":
        table = convert_columns(read_json(data, typed=types), types, lambda: row_lines(data))
    elif fmt == "parquet":
        table = convert_columns(_read_parquet(data), types, None)
    else:
        table = convert_columns(_read_ipc(data), types, None)
    return _conform(table, schema) if schema is not None else table


def source_lines(source: bytes | Path, fmt: Format) -> list[int] | None:
    """1-based line of each row of a CSV or JSON lines source (None for binary formats), to
    name lines in errors about rows; reads the source again."""
    if fmt == "csv":
        return csv_reader.row_lines(_bytes(source))
    if fmt == "jsonl":
        data = _bytes(source)
        return None if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[") else row_lines(data)
    return None


def _bytes(source: bytes | Path) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"file {Path(source).name!r} not found") from None
    except IsADirectoryError:
        raise Invalid(f"{Path(source).name!r} is a directory, not a file", field="source") from None


def _read_parquet(data: bytes) -> pa.Table:
    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid(f"not a valid Parquet file: {exc}", field="source") from None


def _read_ipc(data: bytes) -> pa.Table:
    for open_reader in (pa.ipc.open_file, pa.ipc.open_stream):
        try:
            return open_reader(pa.BufferReader(data)).read_all()
        except (pa.ArrowInvalid, OSError):
            continue
    raise Invalid("not a valid Arrow IPC file or stream", field="source")


def convert_columns(
    table: pa.Table,
    types: Mapping[str, pa.DataType],
    lines: Callable[[], list[int]] | None,
) -> pa.Table:
    """``table`` with the named columns converted to ``types``; Invalid names the column and
    the row (the line, where ``lines`` gives the line of each row)."""
    _require_columns(table, types)
    for name, target in types.items():
        index = table.column_names.index(name)
        try:
            column = convert(table.column(index), target, column=name)
        except Invalid as exc:
            row = exc.details.get("row")
            if lines is None or row is None:
                raise
            line = lines()[row - 1]
            raise Invalid(f"line {line}, {exc.message}", line=line, column=name, row=row) from None
        table = table.set_column(index, pa.field(name, target), column)
    return table


def _require_columns(table: pa.Table, names: Mapping[str, pa.DataType]) -> None:
    for name in names:
        if name not in table.column_names:
            raise Invalid(f"column {name!r} is not in the file", column=name)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        raise Invalid(f"column {extra[0]!r} is not in the expected schema", column=extra[0])
    return table.select(schema.names)
