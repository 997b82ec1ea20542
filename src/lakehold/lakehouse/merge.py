"""Upserts and change data capture as one Delta MERGE (source alias s, target alias t)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable

from lakehold.errors import Invalid
from lakehold.lakehouse.keys import last_per_key

OP = "__lakehold_op"
"""The normalized operation column (I, U or D) carried in a CDC merge source."""
OPERATIONS = ("I", "U", "D")


@dataclass(frozen=True)
class Changes:
    """A CDC batch reduced to the last change of each key."""

    rows: pa.Table
    """The rows to store (operation column removed, order column removed unless kept)."""
    operations: pa.ChunkedArray
    """The change of each row: I, U or D."""


def prepare_changes(
    batch: pa.Table,
    keys: Sequence[str],
    *,
    op_column: str,
    order_column: str | None,
    keep_order_column: bool,
) -> Changes:
    """Validate operations and order, and keep the last change of each key."""
    check_change_columns(batch.column_names, keys, op_column=op_column, order_column=order_column)
    operations, valid = normalized_operations(batch.column(op_column))
    if not pc.all(valid, min_count=0).as_py():
        row = pc.index(valid, False).as_py()
        raise invalid_operation(op_column, row + 1, batch.column(op_column)[row].as_py())
    if order_column is not None and batch.column(order_column).null_count:
        row = pc.index(pc.is_null(batch.column(order_column)), True).as_py() + 1
        raise empty_order(order_column, row)
    marked = batch.drop_columns([op_column]).append_column(OP, operations)
    latest = last_per_key(marked, keys, order_column)
    dropped = [OP] + ([order_column] if order_column and not keep_order_column else [])
    return Changes(rows=latest.drop_columns(dropped), operations=latest.column(OP))


def execute_merge(
    table: DeltaTable,
    source: pa.Table | pa.RecordBatchReader,
    *,
    keys: Sequence[str],
    added: Sequence[str],
    commit: CommitProperties,
) -> dict[str, Any]:
    """MERGE ``source`` into ``table`` on ``keys``; returns Delta's merge metrics.

    With an ``OP`` column in ``source``, D deletes a matched row and I or U upsert; without
    it every row upserts. Only the columns of ``source`` are written: a table column absent
    from ``source`` keeps its value in an updated row and is NULL in an inserted row, while
    a NULL value in ``source`` is written as NULL. A matched row is rewritten only when a
    value of a ``source`` column differs (NULL-safe), so re-applying a batch updates nothing.
    Columns in ``added`` are new to the table. A reader ``source`` is read once, as the
    merge runs (delta-rs's streamed execution), so it is never held whole in memory.
    """
    names = source.schema.names
    cdc = OP in names
    columns = [name for name in names if name != OP]
    values = [name for name in columns if name not in keys]
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
    merger = table.merge(
        source,
        on,
        source_alias="s",
        target_alias="t",
        merge_schema=bool(added),
        streamed_exec=isinstance(source, pa.RecordBatchReader),
        commit_properties=commit,
    )
    upsert = f"s.{OP} <> 'D'" if cdc else None
    if cdc:
        merger = merger.when_matched_delete(predicate=f"s.{OP} = 'D'")
    if values:
        # A new column has no target value to compare (t.c does not resolve), and delta-rs
        # 1.6 copies the source value of a new column into matched rows it does not update:
        # any non-NULL value of a new column must therefore update its row.
        changed = " OR ".join(
            f"(s.{quote(c)} IS NOT NULL)"
            if c in added
            else f"(s.{quote(c)} IS DISTINCT FROM t.{quote(c)})"
            for c in values
        )
        merger = merger.when_matched_update(
            updates={quote(c): f"s.{quote(c)}" for c in values},
            predicate=f"({upsert}) AND ({changed})" if upsert else changed,
        )
    merger = merger.when_not_matched_insert(
        updates={quote(c): f"s.{quote(c)}" for c in columns}, predicate=upsert
    )
    return merger.execute()


def quote(name: str) -> str:
    """A SQL identifier for ``name`` (double-quoted, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def check_change_columns(
    names: Sequence[str], keys: Sequence[str], *, op_column: str, order_column: str | None
) -> None:
    """Refuse a CDC batch (with columns ``names``) without its operation or order column."""
    if OP in names:
        raise Invalid(f"column name {OP!r} is reserved", column=OP)
    if op_column not in names:
        raise Invalid(
            f"the batch has no operation column {op_column!r}", field="op_column", column=op_column
        )
    if op_column in keys:
        raise Invalid(f"the operation column {op_column!r} cannot be a key", field="keys")
    if order_column is not None and order_column not in names:
        raise Invalid(
            f"the batch has no order column {order_column!r}",
            field="order_column",
            column=order_column,
        )


def normalized_operations(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """The operations of ``column`` as I, U or D, and whether each value is one of those."""
    text = column if pa.types.is_string(column.type) else column.cast(pa.string())
    normalized = pc.utf8_upper(pc.utf8_trim_whitespace(text))
    return normalized, pc.fill_null(pc.is_in(normalized, pa.array(OPERATIONS)), False)


def invalid_operation(name: str, row: int, value: object) -> Invalid:
    """The refusal of ``value`` in the operation column ``name`` on (1-based) ``row``."""
    return Invalid(
        f"row {row}: column {name!r} holds {value!r}; "
        "expected I (insert), U (update) or D (delete)",
        column=name,
        row=row,
    )


def empty_order(name: str, row: int) -> Invalid:
    """The refusal of an empty order column ``name`` on (1-based) ``row``."""
    return Invalid(f"order column {name!r} is empty on row {row}", column=name, row=row)
