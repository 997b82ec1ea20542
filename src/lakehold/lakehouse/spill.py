"""Merge and CDC of a streamed file: the batch spilled to disk and reduced out of core.

A :class:`~lakehold.lakehouse.streaming.Stream` is written chunk by chunk to a Parquet file
in a private folder under the warehouse's ``.spill`` (with each row's position and, for CDC,
its normalized operation). DuckDB, with a bounded memory limit and its temporary files in the
same folder, then answers the checks of the in-memory path (empty keys, duplicate keys, bad
operations, empty order values: the same errors, naming the same rows) and the position of
the last row of each key; those rows are read back from the Parquet file in their file order
and handed on chunk by chunk. The folder is deleted when the batch is closed.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehold.lakehouse.keys import duplicate_key, null_key, row_numbers
from lakehold.lakehouse.merge import OP, normalized_operations, quote
from lakehold.lakehouse.streaming import Stream, schema_changed

SPILL = ".spill"
"""The warehouse folder holding spilled batches (one private folder per write)."""
MEMORY_LIMIT = "256MB"
"""DuckDB's memory limit while reducing a spilled batch (beyond it, it spills to disk)."""
_POSITION = "__lakehold_spill_position"
_BATCH_ROWS = 65_536


class SpilledBatch:
    """A streamed batch on disk, with the queries a merge or CDC needs (a context manager)."""

    def __init__(self, stream: Stream, root: Path, *, op_column: str | None = None) -> None:
        folder = Path(root) / SPILL
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(dir=folder))
        self.path = self.folder / "batch.parquet"
        self.column_names = list(stream.sample.column_names)
        try:
            self.rows = _write(stream, self.path, op_column)
            self._db = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})
            self._db.execute("SET temp_directory = ?", [str(self.folder / "duckdb")])
            self._db.execute("SET preserve_insertion_order = false")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._scan = f"read_parquet('{_literal(self.path)}')"

    def __enter__(self) -> SpilledBatch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release DuckDB and delete the spilled files."""
        self._db.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def check_no_null_keys(self, keys: Sequence[str]) -> None:
        """Refuse an empty key value, naming its row (as :func:`keys.check_no_null_keys`)."""
        for key in keys:
            position = self._first(f"{quote(key)} IS NULL")
            if position is not None:
                raise null_key(key, position + 1)

    def check_unique_keys(self, keys: Sequence[str]) -> None:
        """Refuse a key held twice (as :func:`keys.check_unique_keys`)."""
        group = ", ".join(map(quote, keys))
        found = self._db.execute(
            f"SELECT min({_POSITION}), max({_POSITION}), count(*) FROM {self._scan} "
            f"GROUP BY {group} HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
        ).fetchone()
        if found is not None:
            first, last, count = found
            row = self.row(first, keys)
            raise duplicate_key({k: row[k] for k in keys}, first, last, count)

    def first_invalid_operation(self) -> int | None:
        """The position of the first row whose operation is not I, U or D."""
        return self._first(f"{OP} IS NULL")

    def first_null(self, column: str) -> int | None:
        """The position of the first row where ``column`` is empty."""
        return self._first(f"{quote(column)} IS NULL")

    def row(self, position: int, columns: Sequence[str]) -> dict[str, object]:
        """The values of ``columns`` in the row at ``position``."""
        found = pq.read_table(
            self.path, columns=list(columns), filters=[(_POSITION, "=", position)]
        )
        return found.slice(0, 1).to_pylist()[0]

    def last_per_key(
        self, keys: Sequence[str], order_column: str | None = None, drop: Sequence[str] = ()
    ) -> Iterator[pa.Table]:
        """The last row of each key, by ``order_column`` then row order, in file order and
        without the columns ``drop`` (as :func:`keys.last_per_key`)."""
        group = ", ".join(map(quote, keys))
        query = f"SELECT max({_POSITION}) AS p FROM {self._scan} GROUP BY {group} ORDER BY p"
        if order_column is not None:  # the latest order value of each key, then its last row
            order = quote(order_column)
            query = (
                f"WITH latest AS (SELECT {group}, max({order}) AS o FROM {self._scan} "
                f"GROUP BY {group}) SELECT max({_POSITION}) AS p FROM {self._scan} "
                f"JOIN latest USING ({group}) WHERE {order} = latest.o GROUP BY {group} ORDER BY p"
            )
        chosen = self._db.execute(query).to_arrow_reader(_BATCH_ROWS)
        pending = pa.array([], pa.int64())
        for chunk in pq.ParquetFile(self.path).iter_batches(batch_size=_BATCH_ROWS):
            positions = chunk.column(_POSITION)
            start, end = positions[0].as_py(), positions[-1].as_py()
            while not len(pending) or pending[-1].as_py() <= end:
                try:
                    more = chosen.read_next_batch().column(0)
                except StopIteration:
                    break
                pending = pa.concat_arrays([pending, more])
            cut = pc.sum(pc.less_equal(pending, end), min_count=0).as_py() or 0
            if cut:
                rows = pa.Table.from_batches([chunk]).take(pc.subtract(pending[:cut], start))
                pending = pending[cut:]
                yield rows.drop_columns([_POSITION, *drop])

    def _first(self, condition: str) -> int | None:
        found = self._db.execute(
            f"SELECT min({_POSITION}) FROM {self._scan} WHERE {condition}"
        ).fetchone()
        return None if found is None or found[0] is None else int(found[0])


def sweep(root: Path, *, max_age_seconds: float = 86_400) -> int:
    """Delete spill folders older than ``max_age_seconds`` under the warehouse ``root`` (left by
    a killed process); the number deleted."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for folder in (Path(root) / SPILL).glob("*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed += 1
        except FileNotFoundError:  # another process swept it
            continue
    return removed


def _write(stream: Stream, path: Path, op_column: str | None) -> int:
    """Write the stream's rows to ``path`` with their positions (and, when the batch has
    ``op_column``, the normalized operation, NULL where invalid); the row count."""
    schema = pa.schema(
        [
            pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
            for f in stream.sample.schema
        ]
    )
    marked = op_column is not None and op_column in schema.names and OP not in schema.names
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in itertools.chain([stream.sample], stream.rest()):
            chunk = _conform(stream, chunk, schema)
            if marked:
                normalized, valid = normalized_operations(chunk.column(op_column))
                nulls = pa.nulls(len(normalized), pa.string())
                chunk = chunk.append_column(OP, pc.if_else(valid, normalized, nulls))
            positions = pc.add(row_numbers(chunk.num_rows), rows)
            chunk = chunk.append_column(_POSITION, positions)
            if writer is None:
                writer = pq.ParquetWriter(
                    path,
                    chunk.schema,
                    compression="none",
                    use_dictionary=False,
                    write_statistics=[_POSITION],
                )
            writer.write_table(chunk)
            rows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def _conform(stream: Stream, chunk: pa.Table, schema: pa.Schema) -> pa.Table:
    """``chunk`` with the spill's ``schema`` (a column with no values takes its type)."""
    if chunk.schema == schema:
        return chunk
    for field in chunk.schema:
        index = schema.get_field_index(field.name)
        fits = index >= 0 and field.type in (schema.field(index).type, pa.null())
        if not fits or chunk.num_columns != len(schema):
            raise stream.fail(schema_changed(schema, chunk.schema))
    return chunk.cast(schema)


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
