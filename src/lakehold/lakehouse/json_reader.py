"""JSON lines (one object per line), or one JSON array of objects; problems name their line."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from lakehold.errors import Invalid
from lakehold.lakehouse import int64
from lakehold.lakehouse.encoding import decode_utf8

_BLOCK_SIZE = 16 << 20  # one JSON line must fit in a block


def read_json(data: bytes, *, typed: Collection[str] = ()) -> pa.Table:
    """Parse JSON lines (or a JSON array of objects); Invalid names the line of a problem.

    An integer beyond 64 bits is refused unless its column is ``typed`` (given a type)."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return _read_array(data, typed)
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise Invalid("the JSON file is empty", line=1)
    try:
        table = pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(block_size=max(_BLOCK_SIZE, len(data) // 64)),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise locate_problem(data) or Invalid(f"cannot read the JSON file: {exc}") from None
    try:
        table.validate(full=True)  # pyarrow keeps invalid UTF-8 inside strings
    except pa.ArrowInvalid:
        decode_utf8(data)
        raise
    _check_integer_overflow(data, table, typed)
    return table


def _check_integer_overflow(data: bytes, table: pa.Table, typed: Collection[str]) -> None:
    """Refuse a column of integers that pyarrow read as floating point because one does not
    fit in 64 bits (the others would silently become 7.0, 8.0, 1e+23), naming its line."""
    suspects = set(int64.suspects(table, typed))
    if not suspects:
        return
    found: tuple[int, str, int] | None = None
    for number, line in enumerate(decode_utf8(data).split("\n"), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        for name in list(suspects):
            value = row.get(name)
            if isinstance(value, float):
                suspects.discard(name)  # a real floating-point column
            elif found is None and isinstance(value, int) and not int64.fits(value):
                found = (number, name, value)
        if not suspects:
            return
    if found is not None and found[1] in suspects:
        raise int64.overflow(f"line {found[0]}", str(found[2]), found[1], line=found[0])


def row_lines(data: bytes) -> list[int]:
    """1-based line of each row of a JSON lines file (blank lines hold no row)."""
    return [
        number
        for number, line in enumerate(data.split(b"\n"), start=1)
        if line.strip(b"\xef\xbb\xbf \t\r")
    ]


def invalid_json(line: int, error: json.JSONDecodeError) -> Invalid:
    """Line ``line`` of a JSON lines file is not valid JSON."""
    return Invalid(
        f"line {line}, column {error.colno}: invalid JSON: {error.msg}",
        line=line,
        column=error.colno,
    )


def locate_problem(data: bytes) -> Invalid | None:
    """The first problem in JSON lines ``data``: encoding, syntax, or a value kind that changes."""
    text = decode_utf8(data)
    kinds: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            return invalid_json(number, exc)
        if not isinstance(row, dict):
            return Invalid(f"line {number}: expected a JSON object, got {_kind(row)}", line=number)
        for name, value in row.items():
            kind = _kind(value)
            if kind == "null":
                continue
            first = kinds.setdefault(name, (kind, number))
            if first[0] != kind:
                return Invalid(
                    f"line {number}, column {name!r}: {kind} value, but line {first[1]} "
                    f"holds a {first[0]} in this column",
                    line=number,
                    column=name,
                )
    return None


def _read_array(data: bytes, typed: Collection[str]) -> pa.Table:
    text = decode_utf8(data)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.lineno, exc) from None
    bad = next((i for i, row in enumerate(rows) if not isinstance(row, dict)), None)
    if bad is not None:
        raise Invalid(f"item {bad + 1} of the JSON array is not an object", row=bad + 1)
    for number, row in enumerate(rows, start=1):
        for name, value in row.items():
            if isinstance(value, int) and not isinstance(value, bool) and not int64.fits(value):
                if name in typed:
                    row[name] = float(value)  # converted to its given type afterwards
                else:
                    raise int64.overflow(f"item {number}", str(value), name, row=number)
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise Invalid(f"cannot read the JSON array: {exc}") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
