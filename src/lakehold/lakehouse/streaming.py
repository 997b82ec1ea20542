"""Streamed loads: a file too large to hold in memory read as a sequence of Arrow tables.

The first ``SAMPLE_BYTES`` of the file (whole rows) are read in memory by the ordinary
readers, with every check they make: header, type inference (DECIMAL, time of day as text,
the int64 overflow refusal), explicit types. The rest of the file is read in chunks with the
sample's types; a value in a later chunk that does not fit them is refused (Invalid naming its
line and column for CSV and JSON lines) while the write is still uncommitted, so nothing is
written. Smaller files, and a JSON array, are read whole (:func:`open_source` returns None).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lakehold.errors import Invalid
from lakehold.lakehouse import int64, json_reader
from lakehold.lakehouse.conversion import type_name
from lakehold.lakehouse.csv_reader import (
    NULL_VALUES,
    field_count_problem,
    first_unconvertible,
    read_csv,
)
from lakehold.lakehouse.encoding import invalid_byte
from lakehold.lakehouse.json_reader import read_json
from lakehold.lakehouse.readers import convert_columns

SAMPLE_BYTES = 16 << 20
"""Files larger than this stream; the sample read in memory is about this size (its checks
hold a few copies of it: about 110 MB of memory for a 16 MB sample of CSV)."""
CHUNK_BYTES = 1 << 20
"""About the size of each chunk read after the sample (larger chunks read a little faster,
but pyarrow reads several ahead: 4 MB chunks cost about 150 MB more memory than 1 MB)."""
_LOCATE_ROWS = 100_000
_HINT = "give the column an explicit type to load it"


@dataclass
class Stream:
    """A file read as ``sample`` (in memory, fully checked) and then :meth:`rest`."""

    path: Path
    fmt: str
    sample: pa.Table
    types: dict[str, pa.DataType]
    _offset: int = 0
    _block: int = 0
    _raw: pa.Schema | None = None
    _batches_done: int = 0
    error: Invalid | None = field(default=None, init=False)
    """The first problem met while streaming (re-raised by the writer after the failed write)."""

    def rest(self) -> Iterator[pa.Table]:
        """The rows after the sample, chunk by chunk, typed as the sample."""
        try:
            if self.fmt == "csv":
                yield from self._csv_rest()
            elif self.fmt == "jsonl":
                yield from self._json_rest()
            elif self.fmt == "parquet":
                yield from _parquet_batches(self.path, self.types, skip=self._batches_done)
            else:
                yield from _ipc_batches(self.path, self.types, skip=self._batches_done)
        except Invalid as exc:
            self.error = exc
            raise

    def whole(self) -> pa.Table:
        """The sample and the rest in one table (for writes that need every row at once)."""
        tables = [self.sample, *self.rest()]
        return pa.concat_tables(tables, promote_options="permissive")

    def fail(self, problem: Invalid) -> Invalid:
        """Record ``problem`` as the stream's error; returns it."""
        self.error = self.error or problem
        return self.error

    def _csv_rest(self) -> Iterator[pa.Table]:
        schema = self.sample.schema
        types = {f.name: (pa.string() if pa.types.is_null(f.type) else f.type) for f in schema}
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            try:
                reader = pacsv.open_csv(
                    handle,
                    read_options=pacsv.ReadOptions(
                        column_names=schema.names, block_size=max(CHUNK_BYTES, self._block)
                    ),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                    convert_options=_convert_options(types),
                )
                for batch in reader:
                    yield pa.Table.from_batches([batch])
            except pa.ArrowInvalid as exc:
                raise _locate_csv(self.path, types) or Invalid(
                    f"cannot read the CSV file: {exc}"
                ) from None

    def _json_rest(self) -> Iterator[pa.Table]:
        raw = self._raw if self._raw is not None else self.sample.schema
        schema = pa.schema(
            [pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in raw]
        )
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            try:
                reader = pajson.open_json(
                    handle,
                    read_options=pajson.ReadOptions(block_size=max(CHUNK_BYTES, self._block)),
                    parse_options=pajson.ParseOptions(
                        explicit_schema=schema, unexpected_field_behavior="error"
                    ),
                )
                for batch in reader:
                    yield convert_columns(pa.Table.from_batches([batch]), self.types, None)
            except (pa.ArrowInvalid, Invalid) as exc:
                problem = _locate_json(self.path, schema)
                if problem is not None:
                    raise problem from None
                if isinstance(exc, Invalid):
                    raise
                raise Invalid(f"cannot read the JSON file: {exc}") from None


def open_source(
    source: Path, fmt: str, types: Mapping[str, pa.DataType], *, sample_bytes: int | None = None
) -> Stream | None:
    """A :class:`Stream` over the file ``source`` when it is larger than the sample, else None
    (read it whole). ``types`` are the explicit column types."""
    limit = SAMPLE_BYTES if sample_bytes is None else sample_bytes
    try:
        size = Path(source).stat().st_size
    except OSError:
        return None
    if size <= limit or fmt not in ("csv", "jsonl", "parquet", "arrow"):
        return None
    path = Path(source)
    if fmt == "csv":
        with path.open("rb") as handle:
            head = handle.read(limit)
        cut = _record_boundary(head)
        if cut <= 0:
            return None
        sample = read_csv(head[:cut], types)
        for name in types:
            if name not in sample.column_names:
                raise Invalid(f"column {name!r} is not in the file", column=name)
        longest = max(map(len, head[:cut].split(b"\n")))  # a record must fit in a block
        return Stream(path, fmt, sample, dict(types), _offset=cut, _block=8 * longest)
    if fmt == "jsonl":
        with path.open("rb") as handle:
            head = handle.read(limit)
        cut = head.rfind(b"\n") + 1
        if cut <= 0 or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            return None  # a JSON array is read whole
        head = head[:cut]
        raw = read_json(head, typed=types)
        sample = convert_columns(raw, types, lambda: json_reader.row_lines(head))
        longest = max(map(len, head.split(b"\n")))
        return Stream(
            path, fmt, sample, dict(types), _offset=cut, _block=8 * longest, _raw=raw.schema
        )
    reader = _parquet_batches if fmt == "parquet" else _ipc_batches
    batches, held = [], 0
    for table in reader(path, types):
        batches.append(table)
        held += table.nbytes
        if held >= limit:
            break
    if not batches:
        return None
    sample = pa.concat_tables(batches)
    return Stream(path, fmt, sample, dict(types), _batches_done=len(batches))


def schema_changed(expected: pa.Schema, got: pa.Schema) -> Invalid:
    """The refusal of a later chunk whose schema ``got`` is not the first rows' ``expected``."""
    for column in got:
        index = expected.get_field_index(column.name)
        if index < 0 or expected.field(index).type != column.type:
            was = type_name(expected.field(index).type) if index >= 0 else "absent"
            return Invalid(
                f"column {column.name!r}: later rows need {type_name(column.type)}, but the "
                f"file's first rows gave {was}; give the column an explicit type",
                column=column.name,
            )
    return Invalid("later rows of the file need another schema than its first rows")


def _record_boundary(head: bytes) -> int:
    """Offset just after the last complete record of ``head`` (a quote count that is even
    before a newline marks the newline as a record's end)."""
    end = head.rfind(b"\n")
    while end >= 0:
        if head.count(b'"', 0, end) % 2 == 0:
            return end + 1
        end = head.rfind(b"\n", 0, end)
    return -1


def _convert_options(types: Mapping[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=dict(types),
        null_values=NULL_VALUES,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def _parquet_batches(
    path: Path, types: Mapping[str, pa.DataType], skip: int = 0
) -> Iterator[pa.Table]:
    try:
        parquet = pq.ParquetFile(path)
        for index, batch in enumerate(parquet.iter_batches(batch_size=65_536)):
            if index >= skip:
                yield convert_columns(pa.Table.from_batches([batch]), types, None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid(f"not a valid Parquet file: {exc}", field="source") from None


def _ipc_batches(path: Path, types: Mapping[str, pa.DataType], skip: int = 0) -> Iterator[pa.Table]:
    try:
        source = pa.memory_map(str(path))
        try:
            file_reader = pa.ipc.open_file(source)
            batches: Iterator[pa.RecordBatch] = (
                file_reader.get_batch(i) for i in range(file_reader.num_record_batches)
            )
        except (pa.ArrowInvalid, OSError):
            source = pa.memory_map(str(path))
            batches = iter(pa.ipc.open_stream(source))
        for index, batch in enumerate(batches):
            if index >= skip:
                yield convert_columns(pa.Table.from_batches([batch]), types, None)
    except (pa.ArrowInvalid, OSError):
        raise Invalid("not a valid Arrow IPC file or stream", field="source") from None


def _locate_csv(path: Path, types: Mapping[str, pa.DataType]) -> Invalid | None:
    """The first problem of the CSV file at ``path`` with the given types of every column,
    found by a second pass that reads it record by record (failure path only)."""
    with path.open("r", encoding="utf-8-sig", newline="", errors="strict") as text:
        limit = csv.field_size_limit()
        csv.field_size_limit(max(limit, path.stat().st_size + 1))
        try:
            return _scan(text, types)
        except UnicodeDecodeError:
            return _undecodable_line(path)
        finally:
            csv.field_size_limit(limit)


def _locate_json(path: Path, schema: pa.Schema) -> Invalid | None:
    """The first line of the JSON lines file at ``path`` that does not fit ``schema`` (the
    types of its first rows), read line by line (failure path only)."""
    types = {f.name: f.type for f in schema}
    with path.open("rb") as handle:
        for number, data in enumerate(handle, start=1):
            if not data.strip(b"\xef\xbb\xbf \t\r\n"):
                continue
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                return _undecodable_line(path)
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                return json_reader.invalid_json(number, exc)
            if not isinstance(row, dict):
                return Invalid(f"line {number}: expected a JSON object", line=number)
            for name, value in row.items():
                problem = _json_value_problem(number, name, value, types)
                if problem is not None:
                    return problem
    return None


def _json_value_problem(
    line: int, name: str, value: object, types: Mapping[str, pa.DataType]
) -> Invalid | None:
    if name not in types:
        return Invalid(
            f"line {line}: column {name!r} is not in the file's first rows; give the "
            "column a value (or null) in the first rows",
            line=line,
            column=name,
        )
    target = types[name]
    if value is None:
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_integer(target) and is_int and not int64.fits(value):  # type: ignore[arg-type]
        return int64.overflow(f"line {line}", str(value), name, line=line)
    fits = {
        "int": pa.types.is_integer(target) and is_int,
        "float": pa.types.is_floating(target) and (is_int or isinstance(value, float)),
        "str": pa.types.is_string(target) and isinstance(value, str),
        "bool": pa.types.is_boolean(target) and isinstance(value, bool),
    }
    simple = any(
        check(target)
        for check in (
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_string,
            pa.types.is_boolean,
        )
    )
    if simple and not any(fits.values()):
        return Invalid(
            f"line {line}, column {name!r}: value {json.dumps(value)[:40]} does not fit "
            f"{type_name(target)} (the type inferred from the file's first rows; {_HINT})",
            line=line,
            column=name,
        )
    return None


def _undecodable_line(path: Path) -> Invalid | None:
    """The first line of ``path`` that is not UTF-8, read line by line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = invalid_byte(line, exc.start)
                column = problem.details.get("column")
                return Invalid(
                    f"line {number}, column {column}: byte 0x{line[exc.start]:02x} is not "
                    "valid UTF-8 (files must be UTF-8 encoded)",
                    line=number,
                    column=column,
                )
    return None


def _scan(text: io.TextIOBase, types: Mapping[str, pa.DataType]) -> Invalid | None:
    reader = csv.reader(text, strict=True)
    header: list[str] | None = None
    starts: list[int] = []
    values: dict[str, list[str]] = {}
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if not record:
                continue
            if header is None:
                header = record
                values = {name: [] for name in header}
                continue
            if len(record) != len(header):
                return field_count_problem(start, header, record)
            starts.append(start)
            for name, value in zip(header, record, strict=True):
                values[name].append(value)
            if len(starts) >= _LOCATE_ROWS:
                problem = _value_problem(values, types, starts)
                if problem is not None:
                    return problem
                starts = []
                values = {name: [] for name in header}
    except csv.Error as exc:
        return Invalid(f"line {previous + 1}: {exc}", line=previous + 1)
    return _value_problem(values, types, starts)


def _value_problem(
    values: dict[str, list[str]], types: Mapping[str, pa.DataType], starts: list[int]
) -> Invalid | None:
    found = first_unconvertible(values, types)
    if found is None:
        return None
    row, name, value, target = found
    line = starts[row]
    if pa.types.is_integer(target) and _is_integer(value):
        return int64.overflow(f"line {line}", value.strip(), name, line=line)
    return Invalid(
        f"line {line}, column {name!r}: value {value!r} cannot be converted to "
        f"{type_name(target)} (the type inferred from the file's first rows; {_HINT})",
        line=line,
        column=name,
    )


def _is_integer(value: str) -> bool:
    text = value.strip().lstrip("+-")
    return text.isdigit()
