"""A statement's whole result as a CSV, Arrow IPC stream or Parquet file, streamed page by page
from the statements service as the principal reads it (never all rows in memory at once).

CSV is :func:`lakehold.query.results.to_csv_bytes` (the API's CSV: header once, repeated names
kept, NULL an empty field); Arrow and Parquet are pyarrow's writers fed one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from lakehold.query.results import to_csv_bytes
from lakehold.security.principal import Principal

Format = Literal["csv", "parquet", "arrow"]

DOWNLOAD_ROWS = 50_000
"""Rows read from the service per page of a download."""
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
EXTENSIONS: dict[str, str] = {"csv": "csv", "arrow": "arrows", "parquet": "parquet"}


def stream(
    statements: Any, principal: Principal, statement_id: str, fmt: Format
) -> Iterator[bytes]:
    """The result's bytes in ``fmt``. The first page is read now, so a statement the principal
    may not read, or one not finished, raises here (before any response starts)."""
    first = statements.result(principal, statement_id, offset=0, limit=DOWNLOAD_ROWS)

    def pages() -> Iterator[pa.Table]:
        page = first
        yield page.table
        while page.next_offset is not None:
            page = statements.result(
                principal, statement_id, offset=page.next_offset, limit=DOWNLOAD_ROWS
            )
            yield page.table

    if fmt == "csv":
        return (to_csv_bytes(table, header=i == 0) for i, table in enumerate(pages()))
    return _written(pages(), first.table.schema, fmt)


class _Chunks:
    """A write-only file that keeps what was written until it is taken (its position keeps
    counting, as the Parquet writer's offsets need)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _written(tables: Iterator[pa.Table], schema: pa.Schema, fmt: Format) -> Iterator[bytes]:
    chunks = _Chunks()
    sink = pa.PythonFile(chunks, mode="w")
    writer: Any = (
        pq.ParquetWriter(sink, schema) if fmt == "parquet" else pa.ipc.new_stream(sink, schema)
    )
    with writer:
        for table in tables:
            writer.write_table(table)
            yield chunks.take()
    yield chunks.take()
