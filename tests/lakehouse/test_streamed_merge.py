"""Merge and CDC of a streamed file (spilled to disk) give what the in-memory path gives."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehold.errors import Invalid
from lakehold.lakehouse import DeltaTables
from lakehold.lakehouse.readers import read_batch, source_lines
from lakehold.lakehouse.spill import SPILL, sweep
from lakehold.lakehouse.streaming import Stream, open_source

START = pa.table({"id": [1, 2, 3], "name": ["ann", "bob", "cy"], "age": [30, 40, 50]})


def _file(tmp_path: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"batch.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return path
    names = list(rows[0])
    lines = [",".join(names)]
    lines += [",".join("" if row.get(n) is None else str(row[n]) for n in names) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _write(
    tables: DeltaTables, name: str, source: Callable[[], pa.Table | Stream | None], **kwargs: Any
) -> Any:
    path = tables.path_for("p", name)
    tables.create(path, START, keys=["id"], committer="t")
    try:
        result = tables.write(path, source(), committer="t", **kwargs)
    except Invalid as error:
        return error.message, error.details, tables.read(path).sort_by("id").to_pylist()
    read = tables.read(path)
    rows = read.sort_by("id").to_pylist()
    counts = (
        result.rows_inserted,
        result.rows_updated,
        result.rows_deleted,
        result.rows_written,
        result.duplicates_collapsed,
        result.schema_changes,
        result.no_op,
    )
    return counts, read.schema, rows


def _both(tables: DeltaTables, file: Path, fmt: str, **kwargs: Any) -> tuple[Any, Any]:
    """The in-memory and the streamed outcome of the same write of ``file``."""
    lines = lambda: source_lines(file, fmt)  # noqa: E731
    whole = _write(tables, "whole", lambda: read_batch(file, fmt), lines=lines, **kwargs)
    first_lines = sum(len(line) for line in file.read_bytes().splitlines(keepends=True)[:2])
    stream = lambda: open_source(file, fmt, {}, sample_bytes=first_lines)  # noqa: E731
    streamed = _write(tables, "streamed", stream, lines=lines, **kwargs)
    assert not any((tables.root / SPILL).iterdir())  # the spilled files are gone
    return whole, streamed


def _rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": 10 + i, "name": f"n{i}", "age": i, **extra} for i in range(count)]


MERGE_BATCHES = {
    "duplicates": [
        *_rows(6),
        {"id": 2, "name": "bob2", "age": 41},
        {"id": 12, "name": "last", "age": 7},
    ],
    "unchanged": [{"id": 1, "name": "ann", "age": 30}, *_rows(5)],
    "new column": [{**row, "city": "oslo"} for row in _rows(6)] + [{"id": 3, "city": "rome"}],
    "widened": [{"id": 1, "name": "ann", "age": 30.5}, *_rows(5, age=1.25)],
    "null key": [*_rows(4), {"id": None, "name": "x", "age": 1}],
    "overflow": [*_rows(4), {"id": 99999999999999999999, "name": "x", "age": 1}],
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("case", list(MERGE_BATCHES))
def test_merge_of_a_stream_matches_the_in_memory_merge(
    tables: DeltaTables, tmp_path: Path, fmt: str, case: str
) -> None:
    file = _file(tmp_path, fmt, MERGE_BATCHES[case])
    whole, streamed = _both(tables, file, fmt, mode="merge", keys=["id"])
    assert streamed == whole


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_duplicate_keys_refused_alike_with_their_lines(
    tables: DeltaTables, tmp_path: Path, fmt: str
) -> None:
    rows = [*_rows(5), {"id": 11, "name": "again", "age": 1}, *_rows(3), *_rows(1)]
    file = _file(tmp_path, fmt, rows)
    whole, streamed = _both(tables, file, fmt, mode="merge", keys=["id"], on_duplicate="error")
    assert streamed == whole
    message, details, _ = streamed
    header = 1 if fmt == "csv" else 0
    assert "duplicate key (id=10) on rows 1 and 10" in message
    assert details["lines"] == [1 + header, 10 + header]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_key_retyped_after_the_sample_is_refused_at_its_line(
    tables: DeltaTables, tmp_path: Path, fmt: str
) -> None:
    """In memory the file's id column is DOUBLE, which a key refuses; streamed, the sample
    makes it BIGINT and the later value is refused by the reader. Both name the column."""
    file = _file(tmp_path, fmt, [*_rows(4), {"id": 1.5, "name": "x", "age": 1}])
    (_, whole, before), (message, streamed, after) = _both(
        tables, file, fmt, mode="merge", keys=["id"]
    )
    assert whole["column"] == streamed["column"] == "id" and before == after == START.to_pylist()
    assert streamed["line"] == (6 if fmt == "csv" else 5) and "int64" in message


def _changes(count: int) -> list[dict[str, Any]]:
    ops = ["I", "u", " d ", "U"]
    return [
        {"id": 1 + i % 7, "op": ops[i % 4], "seq": (i * 5) % 11, "name": f"c{i}", "age": i}
        for i in range(count)
    ]


CDC_BATCHES = {
    "ordered": (_changes(20), {"order_column": "seq"}),
    "by line": (_changes(20), {}),
    "kept order": (_changes(20), {"order_column": "seq", "keep_order_column": True}),
    "bad op": ([*_changes(6), {"id": 1, "op": "X", "seq": 1, "name": "x", "age": 1}], {}),
    "empty order": (
        [*_changes(6), {"id": 1, "op": "I", "seq": None, "name": "x", "age": 1}],
        {"order_column": "seq"},
    ),
    "no order column": (_changes(6), {"order_column": "missing"}),
    "no op column": (_changes(6), {"op_column": "operation"}),
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("case", list(CDC_BATCHES))
def test_cdc_of_a_stream_matches_the_in_memory_cdc(
    tables: DeltaTables, tmp_path: Path, fmt: str, case: str
) -> None:
    rows, options = CDC_BATCHES[case]
    file = _file(tmp_path, fmt, rows)
    whole, streamed = _both(tables, file, fmt, mode="cdc", keys=["id"], **options)
    assert streamed == whole


def test_the_streamed_cdc_deletes_updates_and_collapses(
    tables: DeltaTables, tmp_path: Path
) -> None:
    file = _file(tmp_path, "csv", _changes(20))
    _, (counts, _, rows) = _both(tables, file, "csv", mode="cdc", keys=["id"], order_column="seq")
    inserted, updated, deleted, _, collapsed, _, _ = counts
    assert (collapsed, inserted + updated + deleted) == (13, 7) and deleted > 0
    assert len(rows) == 3 + inserted - deleted


def test_a_long_stream_is_merged_across_chunks(tables: DeltaTables, tmp_path: Path) -> None:
    """Several file chunks and several spilled batches (64 Ki rows each) of the kept rows."""
    rows = [{"id": i % 90_000, "name": f"r{i}", "age": i} for i in range(150_000)]
    file = _file(tmp_path, "csv", rows)
    whole, streamed = _both(tables, file, "csv", mode="merge", keys=["id"])
    assert streamed == whole
    assert whole[0][4] == 60_000 and len(whole[2]) == 90_000


def test_sweep_removes_old_spill_folders(tmp_path: Path) -> None:
    old, new = tmp_path / SPILL / "old", tmp_path / SPILL / "new"
    for folder in (old, new):
        folder.mkdir(parents=True)
        (folder / "batch.parquet").write_bytes(b"x")
    os.utime(old, (0, 0))
    assert sweep(tmp_path) == 1 and not old.exists() and new.exists()
