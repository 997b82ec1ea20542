"""Result formats: JSON-safe rows, CSV, Arrow IPC, column metadata."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa

from lakehold.query import (
    column_metadata,
    prepare,
    run,
    to_arrow_ipc_stream,
    to_csv_bytes,
    to_json_rows,
)
from lakehold.query.results import to_json_arrays, unique_keys

SQL = """
SELECT
    42::BIGINT AS n,
    12.30::DECIMAL(10, 2) AS price,
    sum(x) AS total,
    DATE '2024-01-31' AS d,
    TIMESTAMPTZ '2024-01-31 12:00:00+00' AS ts,
    TIMESTAMP '2024-01-31 12:00:00.5' AS local_ts,
    TIME '08:30:00' AS t,
    'abc'::BLOB AS b,
    'nan'::DOUBLE AS not_a_number,
    'inf'::DOUBLE AS infinite,
    1.5::DOUBLE AS x,
    INTERVAL '1 month 2 days 3.5 seconds' AS i,
    [1, 2, NULL] AS l,
    {'k': 12.5::DECIMAL(4, 1), 'when': DATE '2020-01-01'} AS s,
    MAP {'a': 1, 'b': 2} AS m,
    NULL::VARCHAR AS nothing,
    true AS flag
FROM (SELECT 9007199254740993::BIGINT AS x UNION ALL SELECT 1)
"""


def result():
    return run(prepare(SQL), {}, max_rows=10).table


def test_json_rows_are_json_safe_and_lossless():
    (row,) = to_json_rows(result())
    assert row == {
        "n": 42,
        "price": "12.30",
        "total": 9007199254740994,
        "d": "2024-01-31",
        "ts": "2024-01-31T12:00:00+00:00",
        "local_ts": "2024-01-31T12:00:00.500000",
        "t": "08:30:00",
        "b": "YWJj",
        "not_a_number": "NaN",
        "infinite": "Infinity",
        "x": 1.5,
        "i": "P1M2DT3.5S",
        "l": [1, 2, None],
        "s": {"k": "12.5", "when": "2020-01-01"},
        "m": {"a": 1, "b": 2},
        "nothing": None,
        "flag": True,
    }
    json.dumps(row, allow_nan=False)


def test_csv_has_a_header_and_flattens_nested_values():
    rows = list(csv.DictReader(io.StringIO(to_csv_bytes(result()).decode())))
    assert rows[0]["price"] == "12.30"
    assert rows[0]["b"] == "YWJj"
    assert json.loads(rows[0]["l"]) == [1, 2, None]
    assert json.loads(rows[0]["s"]) == {"k": "12.5", "when": "2020-01-01"}
    assert rows[0]["i"] == "P1M2DT3.5S"


def test_arrow_ipc_stream_round_trips():
    table = result().drop_columns(["not_a_number"])  # NaN != NaN
    assert pa.ipc.open_stream(to_arrow_ipc_stream(table)).read_all().equals(table)


def test_column_metadata_gives_sql_types():
    columns = {c["name"]: c for c in column_metadata(result().schema)}
    assert columns["n"]["type"] == "BIGINT"
    assert columns["price"]["type"] == "DECIMAL(10,2)"
    assert columns["ts"]["type"] == "TIMESTAMPTZ"
    assert columns["l"]["type"] == "INTEGER[]"
    assert columns["nothing"]["nullable"] is True
    assert set(columns["s"]) == {"name", "key", "type", "nullable"}
    assert columns["s"]["key"] == "s"


def test_empty_result_formats():
    table = run(prepare("SELECT 1 AS a WHERE false"), {}, max_rows=10).table
    assert to_json_rows(table) == []
    assert to_json_arrays(table) == []
    assert to_csv_bytes(table).decode().strip() == "a"


REPEATED = "SELECT 1 AS a, 2 AS a, NULL AS a, 'x' AS a_1, 'y' AS b"


def repeated():
    return run(prepare(REPEATED), {}, max_rows=10).table


def test_repeated_names_keep_every_column_in_json():
    table = repeated()
    assert table.column_names == ["a", "a", "a", "a_1", "b"]
    metadata = column_metadata(table.schema)
    assert [(c["name"], c["key"]) for c in metadata] == [
        ("a", "a"),
        ("a", "a_2"),
        ("a", "a_3"),
        ("a_1", "a_1"),
        ("b", "b"),
    ]
    assert to_json_rows(table) == [{"a": 1, "a_2": 2, "a_3": None, "a_1": "x", "b": "y"}]
    assert to_json_arrays(table) == [[1, 2, None, "x", "y"]]


def test_unique_keys_never_take_another_columns_name():
    assert unique_keys(["a", "b"]) == ["a", "b"]
    assert unique_keys(["a", "a", "a"]) == ["a", "a_1", "a_2"]
    assert unique_keys(["a", "a", "a_1", "a_1"]) == ["a", "a_2", "a_1", "a_1_1"]


def test_repeated_names_keep_every_column_in_csv_and_arrow():
    table = repeated()
    lines = to_csv_bytes(table).decode().splitlines()
    assert lines == ["a,a,a,a_1,b", "1,2,,x,y"]
    assert list(csv.reader(io.StringIO(to_csv_bytes(table, header=False).decode()))) == [
        ["1", "2", "", "x", "y"]
    ]
    back = pa.ipc.open_stream(to_arrow_ipc_stream(table)).read_all()
    assert back.column_names == ["a", "a", "a", "a_1", "b"]
    assert [c.to_pylist() for c in back.columns] == [[1], [2], [None], ["x"], ["y"]]
