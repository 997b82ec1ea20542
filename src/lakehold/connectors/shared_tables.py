"""Another organisation's shared tables, read through the Delta Sharing client: crawled as
source tables, and read by sync jobs as batches of changes.

Engine layer (plain values). A crawl lists every table of every share the profile may read
and describes it from its metadata. A sync job reads one table, ``share.schema.table``, and
its watermark is the table's version: a full read (the first run of any job, every run of a
``full`` one, and whenever the provider has no change data feed for the versions since the
last run, or its version went back) queries the newest version's files and marks the batch
to ``replace`` the target; an incremental read asks the provider's change data feed for the
versions after the last one and turns its rows into changes: ``insert`` is I, ``delete`` D,
``update_postimage`` U (pre-images are dropped), ``add`` files insert their rows, ``remove``
files delete theirs. Changes are ordered by version (deletes first within one), and the sync
engine's checks and "latest change of each key" (:func:`~lakehold.connectors.sync_engine.collect`)
do the rest, so a shared table is checked exactly as a database table is.

Files are downloaded one at a time into a private folder of the staging area, within a byte
budget for the whole read, read as Parquet (partition values added from the file's line), and
deleted. A URL the provider says has expired, or refuses, is replaced by querying again (the
same version or versions) for fresh URLs, at most :data:`MAX_REQUERIES` times per read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehold.connectors.delta_sharing_client import (
    ByteBudget,
    FileUrlRefused,
    NoChangeDataFeed,
    SharedFile,
    SharedTable,
    SharingClient,
    TableAnswer,
    TableMetadata,
)
from lakehold.connectors.introspect import Discovery, SourceColumn, SourceTable, matches
from lakehold.connectors.sync_engine import (
    BATCH_ROWS,
    MODES,
    Progress,
    SyncBatch,
    SyncDefinition,
    collect,
)
from lakehold.errors import Invalid, SourceUnavailable

VERSION = "_commit_version"
"""The version each change came from (the watermark column of the batch)."""
CHANGE = "_change_type"
"""A change data file's kind of change; in the batch, the row's operation (I, U or D)."""
_ORDER = "__lakehold_order"
_PREIMAGE = "update_preimage"
_ACTIONS = {"file": "U", "add": "I", "remove": "D"}
EXPIRY_MARGIN_S = 5.0
"""A URL expiring within this is replaced before it is fetched."""
MAX_REQUERIES = 3
SHARED_TABLE = "shared table"


def server_version(client: SharingClient) -> tuple[str, int]:
    """What a connection test shows: the shares the profile reads, and their tables."""
    shares = client.shares()
    tables = sum(len(client.tables(share)) for share in shares)
    named = ", ".join(shares[:5]) + (", ..." if len(shares) > 5 else "")
    return f"Delta Sharing: {len(shares)} share(s) ({named})", tables


def discover(
    client: SharingClient,
    schemas: Sequence[str],
    include: Sequence[str],
    exclude: Sequence[str],
    type_name: Callable[[pa.DataType], str],
) -> Discovery:
    """Every table of every share the profile reads, as a source table of schema
    ``share.schema`` (matching ``schemas``, default all), named like ``include`` and unlike
    ``exclude``; columns typed by ``type_name``. A table whose metadata cannot be read is an
    error of the crawl, not its failure."""
    found = Discovery()
    patterns = list(schemas) or ["*"]
    for share in client.shares():
        for table in client.tables(share):
            schema = f"{table.share}.{table.schema}"
            wanted = not include or matches(table.name, include)
            if not matches(schema, patterns) or not wanted or matches(table.name, exclude):
                continue
            try:
                metadata = client.metadata(table)
                columns = tuple(
                    SourceColumn(f.name, type_name(f.type), f.nullable) for f in metadata.schema
                )
            except (SourceUnavailable, Invalid) as error:
                found.errors.append({"table": str(table), "message": error.message})
                continue
            found.tables.append(SourceTable(schema, table.name, SHARED_TABLE, columns))
    return found


def check_definition(definition: SyncDefinition) -> None:
    """Invalid naming the field for a sync job that cannot read a shared table."""
    if definition.source_query is not None:
        raise Invalid(
            "a shared table is read whole: give source_table as share.schema.table, no query",
            field="source_query",
        )
    SharedTable.parse(definition.source_table)
    if definition.mode not in MODES:
        raise Invalid(f"unknown mode {definition.mode!r} (full or incremental)", field="mode")
    if definition.watermark_column:
        raise Invalid(
            "the watermark of a shared table is its version: give no watermark column",
            field="watermark_column",
        )
    for name, given in (
        ("delete_column", definition.delete_column),
        ("operation_column", definition.operation_column),
    ):
        if given:
            raise Invalid(
                f"a shared table's deletes come from its change data feed: give no {name}",
                field=name,
            )
    if definition.mode == "incremental" and not definition.key_columns:
        raise Invalid("an incremental sync needs key columns", field="key_columns")
    if len(set(definition.key_columns)) != len(definition.key_columns):
        raise Invalid("a key column is named twice", field="key_columns")


def describe(client: SharingClient, definition: SyncDefinition) -> pa.Schema:
    """The shared table's columns, the job's named columns checked against them."""
    check_definition(definition)
    schema = client.metadata(SharedTable.parse(definition.source_table)).schema
    definition.check_columns(schema)
    return schema


def read_changes(
    client: SharingClient,
    definition: SyncDefinition,
    last_watermark: str | None,
    *,
    max_bytes: int,
    progress: Progress | None = None,
) -> SyncBatch:
    """The changes of the shared table since version ``last_watermark`` (incremental), or
    all of it (a batch that replaces the target). Nothing is written anywhere."""
    check_definition(definition)
    table = SharedTable.parse(definition.source_table)
    newest = client.version(table)
    after = _version(last_watermark) if definition.mode == "incremental" else None
    budget = ByteBudget(max_bytes)
    if after is not None and after <= newest:
        changes = _changes(client, table, after, newest, budget)
        if changes is not None:
            return _batch(
                client, definition, changes, last_watermark, newest, progress, whole=False
            )
    answer = client.query(table, newest)
    rows = _frame(client, answer, answer.metadata, lambda: client.query(table, newest), budget)
    return _batch(client, definition, rows, last_watermark, newest, progress, whole=True)


def _changes(
    client: SharingClient, table: SharedTable, after: int, newest: int, budget: ByteBudget
) -> pa.Table | None:
    """The change rows of the versions after ``after`` up to ``newest``; None when the
    provider has no change data feed for them."""
    if after == newest:
        return _frame(client, None, client.metadata(table), lambda: None, budget)
    try:
        answer = client.changes(table, after + 1, newest)
    except NoChangeDataFeed:
        return None
    return _frame(
        client, answer, answer.metadata, lambda: client.changes(table, after + 1, newest), budget
    )


def _version(watermark: str | None) -> int | None:
    if watermark is None:
        return None
    if not watermark.strip().isdigit():
        raise Invalid(
            f"watermark {watermark!r} is not a shared table's version", field="last_watermark"
        )
    return int(watermark)


def _batch(
    client: SharingClient,
    definition: SyncDefinition,
    rows: pa.Table,
    last_watermark: str | None,
    version: int,
    progress: Progress | None,
    *,
    whole: bool,
) -> SyncBatch:
    """``rows`` (with their version and operation) checked and resolved by the sync engine."""
    reading = replace(
        definition,
        mode="full" if whole else "incremental",
        watermark_column=VERSION,
        operation_column=CHANGE,
    )
    reader = pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches(BATCH_ROWS))
    batch = collect(reading, reader, client.spec, last_watermark, progress, rows.num_rows)
    return replace(
        batch, rows=batch.rows.drop_columns([VERSION]), watermark=str(version), replace=whole
    )


def _frame(
    client: SharingClient,
    answer: TableAnswer | None,
    metadata: TableMetadata,
    again: Callable[[], TableAnswer | None],
    budget: ByteBudget,
) -> pa.Table:
    """Every row of the answer's files with its version and operation, in change order."""
    schema = _with_change(metadata.schema)
    parts = []
    if answer is not None:
        for file, data in fetch_files(client, answer, again, budget):
            parts.append(_rows(file, data, metadata, answer.version))
    if not parts:
        return schema.empty_table()
    rows = pa.concat_tables(parts).sort_by([(VERSION, "ascending"), (_ORDER, "ascending")])
    return rows.drop_columns([_ORDER])


def _nullable(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column nullable (a provider's NOT NULL is not checked here)."""
    return pa.schema([f.with_nullable(True) for f in schema])


def _with_change(schema: pa.Schema) -> pa.Schema:
    columns = _nullable(schema)
    return columns.append(pa.field(VERSION, pa.int64())).append(pa.field(CHANGE, pa.string()))


def fetch_files(
    client: SharingClient,
    answer: TableAnswer,
    again: Callable[[], TableAnswer | None],
    budget: ByteBudget,
) -> Iterator[tuple[SharedFile, pa.Table]]:
    """Each file of ``answer`` downloaded and read, fresh URLs asked for when one expired
    (a file is the same in the new answer by its action, id and version: a changes answer
    may list one file twice, added then removed)."""
    latest = {_key(f): f for f in answer.files}
    requeried = 0
    client.staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=client.staging, prefix="sharing-") as folder:
        for listed in answer.files:
            while True:
                file = latest.get(_key(listed))
                if file is None:
                    raise SourceUnavailable(
                        f"connection {client.name!r}: file {listed.id} left the table while "
                        "it was read; run the sync again"
                    )
                try:
                    if file.expires_within(EXPIRY_MARGIN_S):
                        raise FileUrlRefused("expired")
                    path = client.download(file, Path(folder), budget)
                    break
                except FileUrlRefused as refused:
                    if requeried >= MAX_REQUERIES:
                        raise SourceUnavailable(
                            f"connection {client.name!r}: the provider's file URLs kept being "
                            f"refused or expiring ({refused.message})"
                        ) from None
                    requeried += 1
                    fresh = again()
                    latest = {_key(f): f for f in fresh.files} if fresh is not None else {}
            try:
                data = pq.read_table(path)
            except (pa.ArrowException, OSError):
                raise SourceUnavailable(
                    f"connection {client.name!r}: file {file.id} is not a Parquet file"
                ) from None
            finally:
                path.unlink(missing_ok=True)
            yield listed, data


def _key(file: SharedFile) -> tuple[str, str, int | None]:
    return file.action, file.id, file.version


def _rows(file: SharedFile, data: pa.Table, metadata: TableMetadata, version: int) -> pa.Table:
    """A file's rows in the table's columns (partition values added, missing columns NULL),
    with their version, operation and order within the version (deletes first)."""
    count = data.num_rows
    columns = []
    for field in metadata.schema:
        if field.name in data.column_names:
            column = data.column(field.name)
        elif field.name in file.partition_values:
            value = file.partition_values[field.name]
            column = pa.repeat(pa.scalar(value, pa.string()), count)
        else:
            column = pa.nulls(count, field.type)
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise SourceUnavailable(
                f"the provider's file {file.id}: column {field.name!r} is not of its declared "
                f"type {field.type}"
            ) from None
    rows = pa.Table.from_arrays(columns, schema=_nullable(metadata.schema))
    if file.action == "cdf":
        if CHANGE not in data.column_names:
            raise SourceUnavailable(
                f"the provider's change data file {file.id} has no {CHANGE} column"
            )
        change = pc.cast(data.column(CHANGE), pa.string())
        operation = pc.if_else(
            pc.equal(change, "delete"), "D", pc.if_else(pc.equal(change, "insert"), "I", "U")
        )
        keep = pc.fill_null(pc.not_equal(change, _PREIMAGE), False)
        rows = rows.append_column(CHANGE, operation).filter(keep)
    else:
        rows = rows.append_column(CHANGE, pa.repeat(pa.scalar(_ACTIONS[file.action]), count))
    stamp = file.version if file.version is not None else version
    rows = rows.add_column(
        len(metadata.schema), VERSION, pa.repeat(pa.scalar(stamp), rows.num_rows)
    )
    order = pc.if_else(pc.equal(rows.column(CHANGE), "D"), 0, 1).cast(pa.int8())
    return rows.append_column(_ORDER, order)
