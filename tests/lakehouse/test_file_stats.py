"""Delta statistics of a written file: counts, and bounds that are always safe to skip by."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from lakehold.lakehouse.file_stats import FileStats


def _stats(*batches: pa.RecordBatch) -> dict:
    stats = FileStats(batches[0].schema)
    for batch in batches:
        stats.add(batch)
    return json.loads(stats.json())


def test_counts_and_bounds_over_batches() -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("day", pa.date32())])
    first = pa.record_batch([[3, None], ["b", "a"], [date(2024, 1, 2), None]], schema=schema)
    second = pa.record_batch(
        [[1, 9], [None, "c"], [date(2023, 5, 1), date(2024, 2, 1)]], schema=schema
    )
    assert _stats(first, second) == {
        "numRecords": 4,
        "minValues": {"id": 1, "name": "a", "day": "2023-05-01"},
        "maxValues": {"id": 9, "name": "c", "day": "2024-02-01"},
        "nullCount": {"id": 1, "name": 1, "day": 1},
    }


def test_timestamps_round_outwards_to_milliseconds() -> None:
    moments = [datetime(2024, 1, 1, 0, 0, 0, 1500, UTC), datetime(2024, 1, 1, 0, 0, 1, 2001, UTC)]
    batch = pa.record_batch(
        [pa.array(moments, pa.timestamp("us", tz="UTC")), pa.array(moments, pa.timestamp("us"))],
        names=["at", "local"],
    )
    stats = _stats(batch)
    assert stats["minValues"] == {
        "at": "2024-01-01T00:00:00.001Z",
        "local": "2024-01-01T00:00:00.001",
    }
    assert stats["maxValues"] == {
        "at": "2024-01-01T00:00:01.003Z",
        "local": "2024-01-01T00:00:01.003",
    }


def test_long_strings_are_cut_to_bounds_that_still_hold() -> None:
    low, high = "a" * 40, "b" * 40
    stats = _stats(pa.record_batch([[low, high]], names=["s"]))
    assert stats["minValues"]["s"] == "a" * 32 and stats["minValues"]["s"] <= low
    assert stats["maxValues"]["s"].startswith("b" * 32) and stats["maxValues"]["s"] > high


def test_values_without_an_exact_bound_have_none() -> None:
    batch = pa.record_batch(
        [
            pa.array([1.0, float("nan")]),
            pa.array([Decimal("0.1"), Decimal("12345678901234567890.12")], pa.decimal128(22, 2)),
            pa.array([Decimal("1.5"), Decimal("2.25")], pa.decimal128(5, 2)),
            pa.array([[1], [2]]),
            pa.array([None, None], pa.int64()),
        ],
        names=["f", "big", "small", "list", "empty"],
    )
    stats = _stats(batch)
    assert stats["minValues"] == {"small": 1.5} and stats["maxValues"] == {"small": 2.25}
    assert stats["nullCount"] == {"f": 0, "big": 0, "small": 0, "empty": 2}
