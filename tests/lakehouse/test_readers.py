"""Reading batches: formats, inference, and malformed input located by line and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehold.errors import Invalid, NotFound
from lakehold.lakehouse import format_from_name, read_batch, streaming


def invalid(data: bytes, fmt: str = "csv", **options) -> Invalid:
    with pytest.raises(Invalid) as caught:
        read_batch(data, fmt, **options)
    return caught.value


# -- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("A.CSV", "csv"),
        ("x.parquet", "parquet"),
        ("x.jsonl", "jsonl"),
        ("x.ndjson", "jsonl"),
        ("x.json", "jsonl"),
        ("x.arrow", "arrow"),
        ("x.arrows", "arrow"),
        ("x.ipc", "arrow"),
    ],
)
def test_format_from_name(name: str, fmt: str) -> None:
    assert format_from_name(name) == fmt


def test_unknown_suffix_is_refused_naming_the_format_field() -> None:
    with pytest.raises(Invalid) as caught:
        format_from_name("report.xlsx")
    assert caught.value.details["field"] == "format"


def test_unknown_format_is_refused() -> None:
    assert invalid(b"a\n1\n", "xml").details["field"] == "format"


def test_csv_infers_types_and_reads_empty_columns_as_null(scenario) -> None:
    table = read_batch(scenario("schema_evolution_1.csv"), "csv")
    assert table.schema.field("object_id").type == pa.int64()
    assert table.schema.field("new_column_add").type == pa.null()
    assert table.to_pylist()[0]["object_name"] == "obj1"

    dates = read_batch(b"d,n,b\n2024-01-02,1.5,true\n,,\n", "csv")
    assert dates.schema.types == [pa.date32(), pa.float64(), pa.bool_()]
    assert dates.to_pylist()[1] == {"d": None, "n": None, "b": None}


def test_csv_keeps_na_as_text_and_reads_quoted_newlines() -> None:
    table = read_batch(b'region,note\nNA,"two\nlines"\nEU,""\n', "csv")
    assert table.to_pylist() == [
        {"region": "NA", "note": "two\nlines"},
        {"region": "EU", "note": ""},
    ]


def test_csv_time_of_day_stays_text() -> None:
    table = read_batch(b"at,n\n10:30:00,1\n", "csv")
    assert table.schema.field("at").type == pa.string()


def test_csv_column_types_convert() -> None:
    table = read_batch(b"id,code\n1,007\n", "csv", column_types={"code": pa.string()})
    assert table.to_pylist() == [{"id": 1, "code": "007"}]


def test_parquet_from_bytes_and_path(tmp_path: Path) -> None:
    source = pa.table({"id": [1, 2], "name": ["a", "b"]})
    pq.write_table(source, tmp_path / "x.parquet")
    assert read_batch(tmp_path / "x.parquet", "parquet").equals(source)
    data = (tmp_path / "x.parquet").read_bytes()
    assert read_batch(data, "parquet", column_types={"id": pa.float64()}).column(
        "id"
    ).to_pylist() == [1.0, 2.0]


def test_arrow_file_and_stream() -> None:
    source = pa.table({"id": [1, 2]})
    for new in (pa.ipc.new_file, pa.ipc.new_stream):
        sink = pa.BufferOutputStream()
        with new(sink, source.schema) as writer:
            writer.write_table(source)
        assert read_batch(sink.getvalue().to_pybytes(), "arrow").equals(source)


def test_jsonl_and_json_array() -> None:
    lines = read_batch(b'{"a": 1, "b": "x"}\n\n{"a": 2}\n', "jsonl")
    assert lines.to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    array = read_batch(b'[{"a": 1}, {"a": 2}]', "jsonl")
    assert array.to_pylist() == [{"a": 1}, {"a": 2}]


def test_schema_requires_its_columns_and_converts() -> None:
    schema = pa.schema([("id", pa.int32()), ("name", pa.string())])
    table = read_batch(b"name,id\nx,1\n", "csv", schema=schema)
    assert table.schema == schema
    missing = invalid(b"id\n1\n", schema=schema)
    assert missing.details["column"] == "name"
    extra = invalid(b"id,name,more\n1,x,y\n", schema=schema)
    assert extra.details["column"] == "more"


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_batch(tmp_path / "nope.csv", "csv")


# -- malformed CSV ----------------------------------------------------------------------------


def test_csv_too_few_fields() -> None:
    error = invalid(b"a,b,c\n1,2,3\n4,5\n6,7,8\n")
    assert error.details == {"line": 3, "column": "c"}
    assert "expected 3 fields, got 2" in error.message


def test_csv_too_many_fields() -> None:
    error = invalid(b"a,b,c\n1,2,3\n\n4,5,6,7\n")
    assert (error.details["line"], error.details["column"]) == (4, 4)
    assert "expected 3 fields, got 4" in error.message


def test_csv_field_count_counts_lines_of_quoted_newlines() -> None:
    error = invalid(b'a,b\n1,"x\ny"\n2,3,4\n')
    assert error.details["line"] == 4


def test_csv_unterminated_quote() -> None:
    error = invalid(b'a,b\n1,x\n2,"open\n3,4\n')
    assert error.details == {"line": 3, "column": "b"}
    assert "unterminated quote" in error.message


def test_csv_not_utf8() -> None:
    error = invalid("id,name\n1,ok\n2,caf\xe9\n".encode("latin-1"))
    assert (error.details["line"], error.details["column"]) == (3, 6)
    assert "0xe9" in error.message and "UTF-8" in error.message


def test_csv_not_utf8_in_a_file_pyarrow_rejects() -> None:
    error = invalid(b"id,name\n1,\xff\xfe\n2,x,y\n")
    assert (error.details["line"], error.details["column"]) == (2, 3)


def test_csv_value_not_of_the_requested_type() -> None:
    error = invalid(b"id,amount\n1,10\n2,ten\n", column_types={"amount": pa.int64()})
    assert error.details["line"] == 3
    assert error.details["column"] == "amount"
    assert "'ten'" in error.message and "int64" in error.message


def test_csv_empty_or_duplicate_header() -> None:
    assert invalid(b"").details["line"] == 1
    duplicate = invalid(b"a,b,a\n1,2,3\n")
    assert duplicate.details == {"line": 1, "column": "a"}


# -- malformed JSON lines ---------------------------------------------------------------------


def test_jsonl_invalid_json_line() -> None:
    error = invalid(b'{"a": 1}\n{"a": 2,}\n', "jsonl")
    assert error.details["line"] == 2
    assert "invalid JSON" in error.message


def test_jsonl_line_that_is_not_an_object() -> None:
    assert invalid(b'{"a": 1}\n[1, 2]\n', "jsonl").details["line"] == 2


def test_jsonl_value_kind_changes() -> None:
    error = invalid(b'{"a": 1}\n\n{"a": "x"}\n', "jsonl")
    assert error.details == {"line": 3, "column": "a"}


def test_jsonl_not_utf8() -> None:
    error = invalid(b'{"a": "ok"}\n{"a": "\xff"}\n', "jsonl")
    assert (error.details["line"], error.details["column"]) == (2, 8)


def test_jsonl_value_not_of_the_requested_type() -> None:
    error = invalid(b'{"n": "1"}\n\n{"n": "x"}\n', "jsonl", column_types={"n": pa.int64()})
    assert (error.details["line"], error.details["column"], error.details["row"]) == (3, "n", 2)


def test_jsonl_dates() -> None:
    table = read_batch(b'{"d": "2024-01-02"}\n', "jsonl", column_types={"d": pa.date32()})
    assert table.to_pylist() == [{"d": dt.date(2024, 1, 2)}]


def test_not_parquet_or_arrow() -> None:
    assert invalid(b"not parquet", "parquet").details["field"] == "source"
    assert invalid(b"not arrow", "arrow").details["field"] == "source"


# -- streamed reads of large files -------------------------------------------------------------


def _stream_tables(stream: streaming.Stream) -> pa.Table:
    return pa.concat_tables([stream.sample, *stream.rest()], promote_options="permissive")


@pytest.mark.parametrize("fmt", ["parquet", "arrow-file", "arrow-stream"])
def test_binary_files_stream_batch_by_batch(tmp_path: Path, fmt: str) -> None:
    source = pa.table({"id": list(range(200_000)), "name": [f"n{i}" for i in range(200_000)]})
    path = tmp_path / "x.bin"
    if fmt == "parquet":
        pq.write_table(source, path, row_group_size=10_000)
    else:
        new = pa.ipc.new_file if fmt == "arrow-file" else pa.ipc.new_stream
        with new(path, source.schema) as writer:
            for batch in source.to_batches(max_chunksize=10_000):
                writer.write_batch(batch)
    kind = "parquet" if fmt == "parquet" else "arrow"
    stream = streaming.open_source(path, kind, {"id": pa.float64()}, sample_bytes=100_000)
    assert stream is not None
    assert 0 < stream.sample.num_rows < source.num_rows
    whole = read_batch(path, kind, column_types={"id": pa.float64()})
    assert _stream_tables(stream).equals(whole)


def test_small_files_and_json_arrays_are_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id\n1\n")
    assert streaming.open_source(path, "csv", {}) is None
    (tmp_path / "x.json").write_text("[" + ", ".join(['{"id": 1}'] * 1000) + "]")
    assert streaming.open_source(tmp_path / "x.json", "jsonl", {}, sample_bytes=100) is None


def test_json_lines_stream_and_name_the_line_of_a_late_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    rows = [f'{{"id": {i}, "name": "n{i}", "score": {i}.5, "gone": null}}' for i in range(5000)]
    path.write_text("\n".join(rows) + "\n")
    stream = streaming.open_source(path, "jsonl", {"id": pa.float64()}, sample_bytes=2000)
    assert stream is not None
    assert 0 < stream.sample.num_rows < 5000
    whole = read_batch(path, "jsonl", column_types={"id": pa.float64()})
    streamed = _stream_tables(stream)  # "gone" has no values: null, then string
    assert streamed.equals(whole.cast(streamed.schema))
    for late, words in (
        ('{"id": 1, "name": "x", "score": "high"}', "column 'score': value \"high\""),
        ('{"id": 99999999999999999999999}', "does not fit in a 64-bit integer"),
        ('{"id": 1, "other": 2}', "column 'other' is not in the file's first rows"),
        ('{"id": 1,', "invalid JSON"),
    ):
        path.write_text("\n".join([*rows, late]) + "\n")
        stream = streaming.open_source(path, "jsonl", {}, sample_bytes=2000)
        assert stream is not None
        with pytest.raises(Invalid, match="line 5001") as caught:
            _stream_tables(stream)
        assert words in caught.value.message
        assert caught.value.details["line"] == 5001


def test_a_streamed_csv_keeps_the_sample_checks(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    rows = "".join(f"{i},{i}.50,12:00:00\n" for i in range(5000))
    path.write_text("id,price,at\n" + rows)
    stream = streaming.open_source(path, "csv", {"id": pa.string()}, sample_bytes=2000)
    assert stream is not None
    read = _stream_tables(stream)
    assert read.equals(read_batch(path, "csv", column_types={"id": pa.string()}))
    assert read.schema.field("price").type == pa.decimal128(18, 2)
    assert read.schema.field("at").type == pa.string()  # time of day stays text
    path.write_text("id,id\n" + "1,2\n" * 1000)
    with pytest.raises(Invalid, match="appears twice"):
        streaming.open_source(path, "csv", {}, sample_bytes=100)
