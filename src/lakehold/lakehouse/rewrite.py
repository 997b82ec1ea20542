"""Rewriting a table's rows to a widened schema, streamed batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lakehold.errors import Invalid
from lakehold.lakehouse.conversion import convert, type_name

if TYPE_CHECKING:
    import pyarrow.dataset as pads  # imports pandas: loaded by the rewrite, not by its importers


def rewrite(
    table: DeltaTable, schema: pa.Schema, commit: CommitProperties, *, extra: pa.Table | None = None
) -> None:
    """Replace ``table``'s files by its rows converted to ``schema``, plus ``extra`` rows.

    One commit, or none: a value that does not convert aborts the write with Invalid.
    """
    dataset = table.to_pyarrow_dataset()  # opened here: no Delta call may run inside the stream
    failures: list[Invalid] = []
    stream = pa.RecordBatchReader.from_batches(schema, _batches(dataset, schema, extra, failures))
    try:
        write_deltalake(
            table, stream, mode="overwrite", schema_mode="overwrite", commit_properties=commit
        )
    except Exception:
        if failures:
            raise failures[0] from None
        raise


def _batches(
    dataset: pads.Dataset, schema: pa.Schema, extra: pa.Table | None, failures: list[Invalid]
) -> Iterator[pa.RecordBatch]:
    try:
        for batch in dataset.to_batches():
            yield _conform(batch, schema)
    except Invalid as exc:
        failures.append(exc)
        raise
    if extra is not None:
        yield from extra.to_batches()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field in schema:
        if field.name not in batch.schema.names:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        values = batch.column(field.name)
        try:
            arrays.append(convert(values, field.type, column=field.name).combine_chunks())
        except Invalid as exc:
            raise Invalid(
                f"column {field.name!r} cannot change from {type_name(values.type)} to "
                f"{type_name(field.type)}: an existing value does not convert ({exc.message})",
                column=field.name,
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
