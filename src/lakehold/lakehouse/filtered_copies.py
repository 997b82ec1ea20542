"""Filtered copies of Delta data files: a source file's rows, projected to the granted
columns and passing the row filter, written to one Parquet file with its Delta statistics.

A copy is read by DuckDB in a private connection that may open exactly the files being
copied (``allowed_paths``, external access off, configuration locked), so a row filter,
validated upstream, still cannot read anything else. Column names are quoted; partition
values and the columns a file predates are joined in as a one-row Arrow table, typed by the
table's schema, never spliced into the SQL. The rows are streamed from DuckDB into the Parquet
writer batch by batch, cast to the copy's schema; a copy without rows is not written.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakehold.errors import Invalid
from lakehold.lakehouse.file_stats import FileStats
from lakehold.lakehouse.merge import quote

CHANGE_TYPE = "_change_type"
"""The column of a change data file naming each row's change."""
_UPDATES = "('update_preimage', 'update_postimage')"
_IMAGES = "__lakehold_images"
_BATCH_ROWS = 1 << 20
_COMPRESSION = "snappy"
_WORKERS = max(1, min(4, os.cpu_count() or 1))
"""Files copied at a time (DuckDB reads a small file on one thread)."""
_CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
}


@dataclass(frozen=True)
class SourceFile:
    """A data or change file of the source table."""

    path: Path
    """Its absolute path."""
    partition: pa.Table | None = None
    """Its partition values: one row, typed as the table's partition columns."""


@dataclass(frozen=True)
class Projection:
    """What a recipient may see of the source table: columns and rows."""

    schema: pa.Schema
    """The source table's schema (partition columns included)."""
    columns: tuple[str, ...]
    """The granted columns, in the source's order."""
    row_filter: str | None

    @property
    def copy_schema(self) -> pa.Schema:
        return pa.schema([self.schema.field(name) for name in self.columns])


@dataclass(frozen=True)
class Copy:
    """A written copy."""

    rows: int
    size: int
    stats: str
    """Its Delta statistics (JSON)."""


class Copier:
    """A private DuckDB connection that may read exactly ``files`` (a context manager), and
    the copies it makes of them."""

    def __init__(self, projection: Projection, files: Iterable[Path]) -> None:
        self.projection = projection
        self._lock = threading.Lock()  # a connection is not thread-safe: its cursors are
        self._db = duckdb.connect(":memory:", config=dict(_CONFIG))
        try:
            self._db.execute("SET GLOBAL TimeZone='UTC'")
            allowed = ", ".join(_literal(str(path)) for path in files)
            self._db.execute(f"SET allowed_paths=[{allowed}]")
            self._db.execute("SET enable_external_access=false")
            self._db.execute("SET lock_configuration=true")
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> Copier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._db.close()

    def copy_files(self, jobs: Sequence[tuple[SourceFile, Path]]) -> list[Copy | None]:
        """:meth:`copy_file` of each (source, destination), several at a time."""
        if len(jobs) < 2:
            return [self.copy_file(source, destination) for source, destination in jobs]
        with ThreadPoolExecutor(min(len(jobs), _WORKERS)) as pool:
            return list(pool.map(lambda job: self.copy_file(*job), jobs))

    def copy_file(self, source: SourceFile, destination: Path) -> Copy | None:
        """Write the granted rows and columns of the data file ``source`` to
        ``destination``; None (nothing written) if no row is granted."""
        projection = self.projection
        select = ", ".join(quote(c) for c in projection.columns)
        with self._cursor([source]) as (cursor, relations):
            sql = f"SELECT {select} FROM {relations[0]} WHERE {_condition(projection)}"
            return _write(cursor, sql, [str(source.path)], projection.copy_schema, destination)

    def copy_changes(
        self, sources: Sequence[SourceFile], keys: Sequence[str], destination: Path
    ) -> Copy | None:
        """Write the granted change rows of one commit's change data files ``sources`` (with
        ``_change_type``) to ``destination``; None if none is granted.

        With the table's ``keys``, an update whose row leaves the granted rows is a delete
        of its pre-image, one whose row enters them an insert of its post-image (the two
        images of a key are paired across the commit's files); without keys each image is
        kept or dropped on its own."""
        projection = self.projection
        schema = projection.copy_schema.append(pa.field(CHANGE_TYPE, pa.string()))
        select = ", ".join(quote(c) for c in projection.columns)
        change = quote(CHANGE_TYPE)
        with self._cursor(sources) as (cursor, relations):
            changes = " UNION ALL BY NAME ".join(f"SELECT * FROM {r}" for r in relations)
            visible = f"SELECT * FROM ({changes}) WHERE {_condition(projection)}"
            if keys and all(k in projection.schema.names for k in keys):
                partition = ", ".join(quote(k) for k in keys)
                sql = (
                    f"SELECT {select}, CASE WHEN {change} IN {_UPDATES} AND {_IMAGES} < 2 THEN "
                    f"(CASE WHEN {change} = 'update_preimage' THEN 'delete' ELSE 'insert' END) "
                    f"ELSE {change} END AS {change} FROM (SELECT *, count(*) OVER (PARTITION BY "
                    f"{partition}, {change} IN {_UPDATES}) AS {_IMAGES} FROM ({visible}))"
                )
            else:
                sql = f"SELECT {select}, {change} FROM ({visible})"
            return _write(cursor, sql, [str(s.path) for s in sources], schema, destination)

    @contextlib.contextmanager
    def _cursor(
        self, sources: Sequence[SourceFile]
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[str]]]:
        """A cursor of the connection and, for each source, a relation (SQL) holding every
        column of the table (and the file's other columns): the file's own, its partition
        values and, as NULL, the columns it predates. The file's path is the statement's
        parameter at the source's position."""
        with self._lock:
            cursor = self._db.cursor()
        try:
            relations = []
            for position, source in enumerate(sources, start=1):
                scan = f"read_parquet(${position})"
                filled = _filled_columns(self.projection.schema, source)
                if filled is not None:
                    name = f"__lakehold_filled_{position}"
                    cursor.register(name, filled)
                    scan = f"{scan} CROSS JOIN {quote(name)}"
                relations.append(f"(SELECT * FROM {scan})")
            yield cursor, relations
        finally:
            with self._lock:
                cursor.close()


def partition_row(schema: pa.Schema, values: Mapping[str, str | None]) -> pa.Table | None:
    """The partition values of a log action (Delta's text; empty is NULL) as one row typed
    by ``schema``; None for an unpartitioned file."""
    if not values:
        return None
    fields = [schema.field(name) for name in values]
    return pa.table([_partition_value(f, values[f.name]) for f in fields], schema=pa.schema(fields))


def _condition(projection: Projection) -> str:
    """The row filter as a WHERE condition (NULL is false), on lines of its own: a ``--``
    comment in it cannot hide the SQL after it."""
    if projection.row_filter is None or not projection.row_filter.strip():
        return "true"
    return f"COALESCE((\n{projection.row_filter}\n), false)"


def _filled_columns(schema: pa.Schema, source: SourceFile) -> pa.Table | None:
    """One row: the partition values of ``source`` and NULL for the table's other columns
    its Parquet file lacks (typed by ``schema``); None if the file has every column."""
    present = set(pq.read_schema(source.path).names)
    missing = [f for f in schema if f.name not in present]
    if not missing:
        return None
    partition = source.partition
    values = [
        partition.column(f.name).cast(f.type)
        if partition is not None and f.name in partition.column_names
        else pa.nulls(1, f.type)
        for f in missing
    ]
    return pa.table(values, schema=pa.schema(missing))


def _partition_value(field: pa.Field, text: str | None) -> pa.Array:
    """A Delta partition value (serialized as text; empty is NULL) as a one-value array."""
    if text is None or text == "":
        return pa.nulls(1, field.type)
    value = pa.array([text], pa.string())
    if pa.types.is_timestamp(field.type):  # Delta writes them without a zone, in UTC
        naive = value.cast(pa.timestamp(field.type.unit))
        return naive.cast(field.type)
    return value.cast(field.type)


def _write(
    db: duckdb.DuckDBPyConnection,
    sql: str,
    parameters: list[str],
    schema: pa.Schema,
    destination: Path,
) -> Copy | None:
    """Stream the rows of ``sql`` into ``destination`` (written aside, then renamed into
    place: a crash never leaves a partial copy under its name)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    aside = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    stats = FileStats(schema)
    writer: pq.ParquetWriter | None = None
    try:
        with _filter_errors():
            for batch in db.execute(sql, parameters).to_arrow_reader(_BATCH_ROWS):
                if batch.num_rows == 0:
                    continue
                batch = batch.rename_columns(schema.names).cast(schema)
                if writer is None:
                    writer = pq.ParquetWriter(aside, schema, compression=_COMPRESSION)
                writer.write_batch(batch)
                stats.add(batch)
        if writer is None:
            return None
        writer.close()
        writer = None
        os.replace(aside, destination)
    finally:
        if writer is not None:
            writer.close()
        aside.unlink(missing_ok=True)
    return Copy(rows=stats.rows, size=destination.stat().st_size, stats=stats.json())


@contextlib.contextmanager
def _filter_errors() -> Iterator[None]:
    """DuckDB's refusals of the row filter as Invalid (field ``row_filter``): its message's
    first line when it names the filter's mistake, never a value of the table's rows."""
    try:
        yield
    except duckdb.PermissionException:
        raise Invalid("the row filter may not read files", field="row_filter") from None
    except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException) as exc:
        first = str(exc).splitlines()[0]
        raise Invalid(
            f"the row filter does not apply to the table: {first}", field="row_filter"
        ) from None
    except (duckdb.ConversionException, duckdb.OutOfRangeException):
        raise Invalid(
            "the row filter fails on a row of the table (a value does not convert)",
            field="row_filter",
        ) from None


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
