"""CSV files with a header: pyarrow parses; a slower pass locates the problem when it fails."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakehold.errors import Invalid
from lakehold.lakehouse import int64
from lakehold.lakehouse.conversion import first_failure, type_name
from lakehold.lakehouse.encoding import decode_utf8

# Only these read as NULL: "NA", "N/A" or "nan" are values (a region code, a name).
NULL_VALUES = ["", "NULL", "null"]


def read_csv(data: bytes, column_types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """Parse CSV ``data``; Invalid names the line and column of the first problem.

    Columns whose values are all empty are of null type. Time-of-day values stay text
    (Delta Lake has no time type) unless ``column_types`` asks otherwise. Decimal text with
    one scale (money: ``150.00``, ``75.50``) reads as DECIMAL, exact (:func:`decimal_type`).
    """
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise Invalid("the CSV file is empty: a header line is required", line=1)
    requested = dict(column_types or {})
    try:
        table = _parse(data, requested)
    except pa.ArrowInvalid as exc:
        problem = locate_problem(data, requested)
        raise problem or Invalid(f"cannot read the CSV file: {exc}") from None
    if data.count(b'"') % 2 or _has_undecoded_text(table, requested):
        # pyarrow accepts an unterminated quote and invalid UTF-8 (as binary) silently.
        problem = locate_problem(data, requested)
        if problem is not None:
            raise problem
    _check_header(table.column_names)
    _check_integer_overflow(data, table, requested)
    return _exact_decimals(data, _times_as_text(data, table, requested), requested)


def locate_problem(data: bytes, column_types: Mapping[str, pa.DataType]) -> Invalid | None:
    """The first problem in ``data`` (encoding, quoting, field count, value), or None."""
    try:
        text = decode_utf8(data)
    except Invalid as exc:
        return exc
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        return _scan(text, column_types)
    finally:
        csv.field_size_limit(limit)


def row_lines(data: bytes) -> list[int]:
    """1-based first line of each data row of CSV ``data`` (a quoted value may span lines)."""
    text = decode_utf8(data)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        starts: list[int] = []
        previous, header = 0, False
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            if header:
                starts.append(start)
            header = True
        return starts
    finally:
        csv.field_size_limit(limit)


def _parse(data: bytes, column_types: Mapping[str, pa.DataType]) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in data),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(column_types),
            null_values=NULL_VALUES,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _scan(text: str, column_types: Mapping[str, pa.DataType]) -> Invalid | None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    starts: list[int] = []  # first line of each data record
    values: dict[str, list[str]] = {}
    positions: dict[str, int] = {}
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            if header is None:
                header = record
                positions = {name: i for i, name in enumerate(header) if name in column_types}
                values = {name: [] for name in positions}
                continue
            if len(record) != len(header):
                return field_count_problem(start, header, record)
            starts.append(start)
            for name, i in positions.items():
                values[name].append(record[i])
    except csv.Error as exc:
        return _quoting_problem(text, previous + 1, header or [], str(exc))
    return _value_problem(values, column_types, starts)


def field_count_problem(line: int, header: list[str], record: list[str]) -> Invalid:
    """A record of ``line`` whose number of fields differs from the header's."""
    expected, got = len(header), len(record)
    column: str | int = header[got] if got < expected else expected + 1
    return Invalid(f"line {line}: expected {expected} fields, got {got}", line=line, column=column)


def _quoting_problem(text: str, line: int, header: list[str], reason: str) -> Invalid:
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    found = _find_quote_problem(text, offset)
    if found is None:
        return Invalid(f"line {line}: {reason}", line=line)
    kind, field, at = found
    at_line = line + text.count("\n", offset, at)
    column: str | int = header[field] if field < len(header) else field + 1
    where = f"field {field + 1}" + (f" ({header[field]!r})" if field < len(header) else "")
    if kind == "unterminated":
        message = f"line {at_line}, {where}: unterminated quote (the quoted value never ends)"
    else:
        message = f"line {at_line}, {where}: unexpected text after a closing quote"
    return Invalid(message, line=at_line, column=column)


def _find_quote_problem(text: str, offset: int) -> tuple[str, int, int] | None:
    """(kind, 0-based field, offset) of the first quoting problem in the record at ``offset``."""
    field, at_field_start, i, end = 0, True, offset, len(text)
    while i < end:
        char = text[i]
        if at_field_start and char == '"':
            opened, i = i, i + 1
            while True:
                j = text.find('"', i)
                if j < 0:
                    return "unterminated", field, opened
                if text.startswith('""', j):
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < end and text[i] not in ",\r\n":
                return "after", field, i
            at_field_start = False
            continue
        if char == ",":
            field, at_field_start = field + 1, True
        elif char in "\r\n":
            return None
        else:
            at_field_start = False
        i += 1
    return None


def first_unconvertible(
    values: Mapping[str, list[str]], column_types: Mapping[str, pa.DataType]
) -> tuple[int, str, str, pa.DataType] | None:
    """The first row (and its column, text and target type) whose text does not convert to its
    column's type; columns without a type, or of text, always convert."""
    found: tuple[int, str, str, pa.DataType] | None = None
    nulls = set(NULL_VALUES)
    for name, texts in values.items():
        target = column_types.get(name)
        if target is None or pa.types.is_string(target):
            continue
        array = pa.chunked_array(
            [pa.array([None if t in nulls else t for t in texts], pa.string())]
        )
        row = first_failure(array, functools.partial(pc.cast, target_type=target))
        if row is not None and (found is None or row < found[0]):
            found = (row, name, texts[row], target)
    return found


def _value_problem(
    values: dict[str, list[str]], column_types: Mapping[str, pa.DataType], starts: list[int]
) -> Invalid | None:
    found = first_unconvertible(values, column_types)
    if found is None:
        return None
    row, name, value, target = found
    line = starts[row]
    return Invalid(
        f"line {line}, column {name!r}: value {value!r} cannot be converted to {type_name(target)}",
        line=line,
        column=name,
        row=row + 1,
    )


def _has_undecoded_text(table: pa.Table, requested: Mapping[str, pa.DataType]) -> bool:
    return any(
        pa.types.is_binary(field.type) and field.name not in requested for field in table.schema
    )


def _check_header(names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name.strip():
            raise Invalid(f"line 1: column {index} has no name", line=1, column=index)
        if name in seen:
            raise Invalid(f"line 1: column {name!r} appears twice", line=1, column=name)
        seen.add(name)


def _times_as_text(data: bytes, table: pa.Table, requested: Mapping[str, pa.DataType]) -> pa.Table:
    times = {
        field.name: pa.string()
        for field in table.schema
        if pa.types.is_time(field.type) and field.name not in requested
    }
    return _parse(data, {**requested, **times}) if times else table


_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def _check_integer_overflow(
    data: bytes, table: pa.Table, requested: Mapping[str, pa.DataType]
) -> None:
    """Refuse a column of integers that pyarrow read as floating point because one does not
    fit in 64 bits (the others would silently become 7.0, 8.0, 1e+23), naming its line;
    an explicit type for the column (``column_types``) accepts it."""
    suspects = int64.suspects(table, requested)
    if not suspects:
        return
    text = decode_utf8(data)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        found = _first_overflows(text, suspects)
    finally:
        csv.field_size_limit(limit)
    if found is None:
        return
    line, name, value = found
    raise int64.overflow(f"line {line}", value, name, line=line)


def _first_overflows(text: str, suspects: list[str]) -> tuple[int, str, str] | None:
    """(line, column, value) of the first integer beyond int64 in a column of integers."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((record for record in reader if record), [])
    positions = {name: header.index(name) for name in suspects if name in header}
    first: dict[str, tuple[int, str]] = {}
    previous, nulls = reader.line_num, set(NULL_VALUES)
    for record in reader:
        line, previous = previous + 1, reader.line_num
        for name, i in list(positions.items()):
            value = record[i] if i < len(record) else ""
            if value in nulls:
                continue
            if not _INTEGER.match(value):
                del positions[name]  # a real floating-point column
            elif name not in first and not int64.fits(int(value)):
                first[name] = (line, value.strip())
        if not positions:
            return None
    found = [(first[name][0], name) for name in positions if name in first]
    if not found:
        return None
    line, name = min(found)
    return line, name, first[name][1]


# Decimal inference: every non-empty value has a point and digits on both sides, e.g. 75.50.
_DECIMAL_TEXT = r"^-?[0-9]+\.[0-9]+$"
# One digit after the point (1.5, 4.0) reads as a measurement and stays DOUBLE; two or more
# in every value (150.00, 75.50, 0.125) as an exact amount.
MIN_DECIMAL_SCALE = 2
MAX_DECIMAL_SCALE = 18
MAX_DECIMAL_PRECISION = 38
DEFAULT_DECIMAL_PRECISION = 18


def decimal_type(texts: pa.Array | pa.ChunkedArray) -> pa.DataType | None:
    """DECIMAL(p, s) for a column of decimal text, or None where it is not one.

    Every non-empty value must match ``^-?\\d+\\.\\d+$`` with the same number ``s`` of
    digits after the point (2 to 18): money (``150.00``, ``75.50``), not measurements
    (``1.5``, ``4.0``, or ``1.5`` next to ``2.25``). ``p`` is 18 (room for later appends) or,
    where the values need more digits, up to 38; a column needing more stays floating point.
    """
    values = pc.drop_null(texts)
    if len(values) == 0 or not pc.all(pc.match_substring_regex(values, _DECIMAL_TEXT)).as_py():
        return None
    point = pc.find_substring(values, ".")
    scales = pc.subtract(pc.subtract(pc.utf8_length(values), point), 1)
    bounds = pc.min_max(scales).as_py()
    scale = bounds["min"]
    if scale != bounds["max"] or not MIN_DECIMAL_SCALE <= scale <= MAX_DECIMAL_SCALE:
        return None
    signs = pc.cast(pc.starts_with(values, "-"), pa.int32())
    digits = pc.max(pc.subtract(point, signs)).as_py() + scale
    if digits > MAX_DECIMAL_PRECISION:
        return None
    return pa.decimal128(max(digits, DEFAULT_DECIMAL_PRECISION), scale)


def _exact_decimals(data: bytes, table: pa.Table, requested: Mapping[str, pa.DataType]) -> pa.Table:
    """Floating-point columns (not given a type) whose text is decimal become DECIMAL."""
    candidates = [
        field.name
        for field in table.schema
        if pa.types.is_floating(field.type) and field.name not in requested
    ]
    if not candidates:
        return table
    texts = pacsv.read_csv(
        pa.BufferReader(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in data),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(candidates, pa.string()),
            include_columns=candidates,
            null_values=NULL_VALUES,
            strings_can_be_null=True,
        ),
    )
    for name in candidates:
        target = decimal_type(texts.column(name))
        if target is not None:
            index = table.schema.get_field_index(name)
            values = pc.cast(texts.column(name), target)
            table = table.set_column(index, pa.field(name, target), values)
    return table
