"""Key columns: their validation, and keeping the last row of each key in a batch."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lakehold.errors import Invalid

_POSITION = "__lakehold_position"


def check_key_columns(
    keys: Sequence[str] | None, *, batch: pa.Table, table_columns: Sequence[str] | None = None
) -> list[str]:
    """The key columns, each present in the table (when given) and in the batch."""
    if not keys:
        raise Invalid("key columns are required for this write", field="keys")
    if isinstance(keys, str):
        keys = [keys]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            raise Invalid(f"key column {key!r} is named twice", field="keys", column=key)
        if table_columns is not None and key not in table_columns:
            raise Invalid(
                f"key column {key!r} is not a column of the table", field="keys", column=key
            )
        if key not in batch.column_names:
            raise Invalid(f"key column {key!r} is not in the batch", field="keys", column=key)
    return list(keys)


def check_no_null_keys(batch: pa.Table, keys: Sequence[str]) -> None:
    """Refuse a batch with an empty key value, naming the first such row."""
    for key in keys:
        column = batch.column(key)
        if column.null_count:
            raise null_key(key, pc.index(pc.is_null(column), True).as_py() + 1)


def null_key(key: str, row: int) -> Invalid:
    """The refusal of an empty value of key column ``key`` on (1-based) ``row``."""
    return Invalid(f"key column {key!r} is empty on row {row}", field="keys", column=key, row=row)


def check_unique_keys(batch: pa.Table, keys: Sequence[str]) -> None:
    """Refuse a batch where two rows have the same key, naming both rows."""
    grouped = (
        _positions(batch.select(keys))
        .group_by(list(keys))
        .aggregate([(_POSITION, "min"), (_POSITION, "max"), (_POSITION, "count")])
    )
    duplicates = grouped.filter(pc.greater(grouped[f"{_POSITION}_count"], 1))
    if duplicates.num_rows:
        first = duplicates.sort_by(f"{_POSITION}_min").slice(0, 1).to_pylist()[0]
        values = {k: first[k] for k in keys}
        rows = first[f"{_POSITION}_min"], first[f"{_POSITION}_max"]
        raise duplicate_key(values, *rows, first[f"{_POSITION}_count"])


def duplicate_key(values: dict[str, object], first: int, last: int, count: int) -> Invalid:
    """The refusal of a key (``values`` by key column) held by ``count`` rows of a batch, the
    first and last at 0-based positions ``first`` and ``last``."""
    value = ", ".join(f"{k}={v!r}" for k, v in values.items())
    also = f" (and {count - 2} more)" if count > 2 else ""
    return Invalid(
        f"duplicate key ({value}) on rows {first + 1} and {last + 1}{also} of the batch",
        field="keys",
        column=next(iter(values)),
        row=last + 1,
        rows=[first + 1, last + 1],
    )


def last_per_key(batch: pa.Table, keys: Sequence[str], order_column: str | None = None) -> pa.Table:
    """The last row of each key, by ``order_column`` then row order; rows keep their order."""
    if len(keys) == 1 and pc.count_distinct(batch.column(keys[0])).as_py() == batch.num_rows:
        return batch  # the common case, found without grouping
    if order_column is None:
        order = row_numbers(batch.num_rows)
        keyed = batch.select(keys)
    else:
        order = pc.sort_indices(batch, sort_keys=[(order_column, "ascending")])  # stable
        keyed = batch.select(keys).take(order)
    last = _positions(keyed).group_by(list(keys)).aggregate([(_POSITION, "max")])
    if last.num_rows == batch.num_rows:
        return batch
    chosen = pc.take(order, last[f"{_POSITION}_max"])
    return batch.take(pc.take(chosen, pc.sort_indices(chosen)))


def row_numbers(count: int) -> pa.Array:
    """0, 1, ... count - 1 as int64 (without a Python loop)."""
    if count == 0:
        return pa.array([], pa.int64())
    ones = pa.nulls(count, pa.int64()).fill_null(1)
    return pc.subtract(pc.cumulative_sum(ones), 1)


def _positions(table: pa.Table) -> pa.Table:
    return table.append_column(_POSITION, row_numbers(table.num_rows))
