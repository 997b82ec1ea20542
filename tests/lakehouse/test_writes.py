"""Writes: append, overwrite, merge, CDC, key errors, widening and atomicity."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.lakehouse import DeltaTables, streaming
from lakehold.lakehouse import merge as merge_module
from lakehold.lakehouse.csv_reader import read_csv, row_lines
from lakehold.lakehouse.readers import read_batch


@pytest.fixture
def people(tables: DeltaTables) -> Path:
    path = tables.path_for("hr", "people")
    data = pa.table({"id": [1, 2, 3], "name": ["ann", "bob", "cy"], "age": [30, 40, 50]})
    tables.create(path, data, keys=["id"], committer="hr")
    return path


def by_id(tables: DeltaTables, path: Path) -> dict[int, dict]:
    return {row["id"]: row for row in tables.read(path).to_pylist()}


def refused(call, *args, **kwargs) -> Invalid:
    with pytest.raises(Invalid) as caught:
        call(*args, **kwargs)
    return caught.value


# -- create -----------------------------------------------------------------------------------


def test_create_refuses_an_existing_table(tables: DeltaTables, people: Path) -> None:
    with pytest.raises(Conflict):
        tables.create(people, pa.table({"id": [1]}), committer="hr")


@pytest.mark.parametrize(
    ("data", "column"),
    [
        (pa.table({"id": [1, 2]}), "code"),
        (pa.table({"code": [1, None]}), "code"),
        (pa.table({"code": [1, 2, 1]}), "code"),
    ],
    ids=["missing", "null", "duplicate"],
)
def test_create_checks_keys(tables: DeltaTables, data, column) -> None:
    path = tables.path_for("p", "t")
    error = refused(tables.create, path, data, keys=["code"], committer="hr")
    assert (error.details["field"], error.details["column"]) == ("keys", column)
    assert not path.exists()


def test_create_refuses_a_missing_committer(tables: DeltaTables) -> None:
    error = refused(tables.create, tables.path_for("p", "t"), pa.table({"a": [1]}), committer="")
    assert error.details["field"] == "committer"


def test_path_for_refuses_path_tricks(tables: DeltaTables) -> None:
    assert tables.path_for("sales", "orders") == tables.root / "sales" / "orders"
    assert refused(tables.path_for, "..", "x").details["field"] == "project"
    assert refused(tables.path_for, "p", "a/b").details["field"] == "table"


def test_writes_to_a_missing_table_are_not_found(tables: DeltaTables) -> None:
    with pytest.raises(NotFound):
        tables.write(
            tables.path_for("p", "none"), pa.table({"a": [1]}), mode="append", committer="x"
        )


# -- append and overwrite ---------------------------------------------------------------------


def test_append_adds_rows_and_columns(tables: DeltaTables, people: Path) -> None:
    result = tables.write(
        people, pa.table({"id": [4], "email": ["d@x"]}), mode="append", committer="hr"
    )
    assert (result.operation, result.rows_inserted, result.version) == ("APPEND", 1, 1)
    assert result.schema_changes == ["added column 'email' (string)"]
    rows = by_id(tables, people)
    assert rows[4] == {"id": 4, "name": None, "age": None, "email": "d@x"}
    assert rows[1]["email"] is None


def test_overwrite_replaces_rows_and_keeps_the_union_schema(
    tables: DeltaTables, people: Path
) -> None:
    result = tables.write(
        people, pa.table({"id": [9], "team": ["x"]}), mode="overwrite", committer="hr"
    )
    assert (result.rows_inserted, result.rows_deleted) == (1, 3)
    assert result.snapshot.schema.names == ["id", "name", "age", "team"]
    assert tables.read(people).to_pylist() == [{"id": 9, "name": None, "age": None, "team": "x"}]


def test_overwrite_can_replace_the_schema(tables: DeltaTables, people: Path) -> None:
    result = tables.write(
        people, pa.table({"code": ["a"]}), mode="overwrite", committer="hr", replace_schema=True
    )
    assert result.snapshot.schema.names == ["code"]
    assert tables.read(people, version=0).num_rows == 3


def test_append_widens_int_to_double(tables: DeltaTables, people: Path) -> None:
    result = tables.write(
        people, pa.table({"id": [4], "age": [20.5]}), mode="append", committer="hr"
    )
    assert result.schema_changes == ["widened column 'age' from int64 to double"]
    assert result.snapshot.schema.field("age").type == pa.float64()
    assert sorted(tables.read(people).column("age").to_pylist()) == [20.5, 30.0, 40.0, 50.0]
    assert tables.read(people, version=0).schema.field("age").type == pa.int64()


def test_appending_an_integer_beyond_int64_to_a_key_column_is_refused(
    tables: DeltaTables, people: Path
) -> None:
    # Issue 11: the CSV reader read 1e23 as a double and the key column silently became DOUBLE.
    error = refused(read_csv, b"id,name\n7,g\n8,h\n100000000000000000000000,i\n")
    assert error.details == {"line": 4, "column": "id"}
    assert "100000000000000000000000" in error.message
    batch = pa.table({"id": [7.0, 8.0, 1e23], "name": ["g", "h", "i"]})
    error = refused(tables.write, people, batch, mode="append", keys=["id"], committer="hr")
    assert (error.details["column"], error.details["row"]) == ("id", 3)
    assert tables.snapshot(people).version == 0
    assert tables.read(people).schema.field("id").type == pa.int64()


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"id": 7}\n\n{"id": 100000000000000000000000}\n', {"line": 3}),
        (b'[{"id": 7}, {"id": 100000000000000000000000}]', {"row": 2}),
    ],
    ids=["lines", "array"],
)
def test_json_integers_beyond_int64_are_refused_unless_typed(data, where) -> None:
    # Issue 11: JSON lines read them as doubles; a JSON array failed with an OverflowError.
    error = refused(read_batch, data, "jsonl")
    assert error.details == {"column": "id", **where}
    typed = read_batch(data, "jsonl", column_types={"id": pa.float64()})
    assert typed.column("id").to_pylist() == [7.0, 1e23]


def test_an_explicit_type_accepts_integers_beyond_int64(tables: DeltaTables, people: Path) -> None:
    data = b"id,name\n7,g\n100000000000000000000000,i\n"
    batch = read_csv(data, {"id": pa.float64()})
    result = tables.write(
        people, batch, mode="append", keys=["id"], declared=["id"], committer="hr"
    )
    assert result.snapshot.schema.field("id").type == pa.float64()
    assert 1e23 in tables.read(people).column("id").to_pylist()


def test_whole_doubles_within_int64_keep_an_integer_key(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [7.0, 8.0], "name": ["g", "h"]})
    result = tables.write(people, batch, mode="append", keys=["id"], committer="hr")
    assert result.snapshot.schema.field("id").type == pa.int64()
    assert result.schema_changes == []


@pytest.mark.parametrize("mode", ["append", "merge", "cdc"])
def test_a_batch_without_rows_writes_nothing(tables: DeltaTables, people: Path, mode) -> None:
    # Issue 11: a header-only append made an empty new version.
    batch = pa.table({"id": pa.array([], pa.int64()), "op": pa.array([], pa.string())})
    if mode != "cdc":
        batch = batch.drop_columns(["op"])
    result = tables.write(people, batch, mode=mode, keys=["id"], committer="hr")
    assert result.no_op is True
    assert result.message == "the batch has no rows: nothing was written"
    assert (result.version, tables.snapshot(people).version) == (0, 0)
    assert len(tables.history(people)) == 1
    assert result.rows_inserted == result.rows_written == 0


def test_a_batch_without_rows_still_checks_its_header(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": pa.array([], pa.int64()), "ID": pa.array([], pa.int64())})
    refused(tables.write, people, batch, mode="append", committer="hr")


def test_an_overwrite_without_rows_empties_the_table(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": pa.array([], pa.int64())})
    result = tables.write(people, batch, mode="overwrite", committer="hr")
    assert (result.no_op, result.version, result.snapshot.num_rows) == (False, 1, 0)


# -- merge ------------------------------------------------------------------------------------


def test_merge_upserts_and_last_duplicate_wins(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [2, 4, 2], "name": ["b1", "dee", "b2"], "age": [41, 20, 42]})
    result = tables.write(people, batch, mode="merge", keys=["id"], committer="hr")
    assert (result.operation, result.rows_inserted, result.rows_updated) == ("MERGE", 1, 1)
    rows = by_id(tables, people)
    assert rows[2] == {"id": 2, "name": "b2", "age": 42}
    assert rows[4]["name"] == "dee"
    assert rows[1]["name"] == "ann"


def test_merge_only_rewrites_rows_that_differ(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [1, 2], "name": ["ann", None], "age": [30, 40]})
    result = tables.write(people, batch, mode="merge", keys=["id"], committer="hr")
    assert result.rows_updated == 1  # NULL differs from 'bob'; row 1 is identical
    assert by_id(tables, people)[2]["name"] is None


def test_merge_with_new_columns_leaves_other_rows_null(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [1, 2, 5], "name": ["ann", "bob", "eve"], "age": [30, 40, 9]})
    batch = batch.append_column("city", pa.array([None, "Oslo", "Rome"]))
    result = tables.write(people, batch, mode="merge", keys=["id"], committer="hr")
    assert result.schema_changes == ["added column 'city' (string)"]
    assert (result.rows_inserted, result.rows_updated) == (1, 1)
    assert {k: v["city"] for k, v in by_id(tables, people).items()} == {
        1: None,
        2: "Oslo",
        3: None,
        5: "Rome",
    }


def test_merge_widening_rewrites_then_merges(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [1, 7], "age": [31.5, 1.25]})
    result = tables.write(people, batch, mode="merge", keys=["id"], committer="hr")
    assert result.schema_changes == ["widened column 'age' from int64 to double"]
    rows = by_id(tables, people)
    assert rows[1] == {"id": 1, "name": "ann", "age": 31.5}  # name absent: kept
    assert rows[7] == {"id": 7, "name": None, "age": 1.25}
    assert rows[2]["age"] == 40.0
    operations = [entry.operation for entry in tables.history(people)]
    assert operations[:2] == ["MERGE", "EVOLVE SCHEMA"]


def test_merge_key_errors(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [1], "name": ["x"]})
    write = tables.write
    missing = refused(write, people, batch, mode="merge", keys=None, committer="hr")
    assert missing.details["field"] == "keys"
    not_in_table = refused(write, people, batch, mode="merge", keys=["name2"], committer="hr")
    assert (not_in_table.details["field"], not_in_table.details["column"]) == ("keys", "name2")
    not_in_batch = refused(write, people, batch, mode="merge", keys=["age"], committer="hr")
    assert not_in_batch.details["column"] == "age"
    nulls = pa.table({"id": pa.array([None], pa.int64()), "name": ["x"]})
    assert (
        refused(write, people, nulls, mode="merge", keys=["id"], committer="hr").details["row"] == 1
    )
    wide = pa.table({"id": [1.5]})
    assert (
        refused(write, people, wide, mode="merge", keys=["id"], committer="hr").details["column"]
        == "id"
    )


def test_a_merge_reports_the_duplicate_rows_it_collapsed(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [2, 4, 2, 2], "name": ["b1", "dee", "b2", "b3"], "age": [1, 2, 3, 4]})
    result = tables.write(people, batch, mode="merge", keys=["id"], committer="hr")
    assert result.duplicates_collapsed == 2
    assert by_id(tables, people)[2]["name"] == "b3"
    unique = pa.table({"id": [5], "name": ["e"], "age": [5]})
    assert (
        tables.write(people, unique, mode="merge", keys=["id"], committer="hr").duplicates_collapsed
        == 0
    )


@pytest.mark.parametrize("mode", ["merge", "cdc"])
def test_on_duplicate_error_refuses_a_key_twice(tables: DeltaTables, people: Path, mode) -> None:
    batch = pa.table({"id": [2, 4, 2], "name": ["b1", "dee", "b2"], "op": ["U", "I", "U"]})
    if mode == "merge":
        batch = batch.drop_columns(["op"])
    error = refused(
        tables.write, people, batch, mode=mode, keys=["id"], on_duplicate="error", committer="hr"
    )
    assert error.message == "duplicate key (id=2) on rows 1 and 3 of the batch"
    assert (error.details["column"], error.details["rows"]) == ("id", [1, 3])
    assert tables.snapshot(people).version == 0


def test_on_duplicate_error_names_the_lines_of_the_file(tables: DeltaTables, people: Path) -> None:
    data = b'id,name\n2,"b\none"\n4,dee\n2,b2\n'
    error = refused(
        tables.write,
        people,
        read_csv(data),
        mode="merge",
        keys=["id"],
        on_duplicate="error",
        lines=lambda: row_lines(data),
        committer="hr",
    )
    assert error.message == "duplicate key (id=2) on rows 1 and 3 of the batch (lines 2 and 5)"
    assert (error.details["line"], error.details["lines"]) == (5, [2, 5])


def test_on_duplicate_is_last_or_error(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [5]})
    error = refused(
        tables.write, people, batch, mode="merge", keys=["id"], on_duplicate="first", committer="x"
    )
    assert error.details["field"] == "on_duplicate"


# -- CDC --------------------------------------------------------------------------------------


def test_cdc_operations(tables: DeltaTables, people: Path) -> None:
    batch = pa.table(
        {
            "op": ["d", "i", "U", "D", "u"],
            "id": [1, 2, 8, 9, 3],
            "name": ["gone", "bob2", "new", "never", "cy2"],
            "age": [0, 41, 8, 9, 51],
        }
    )
    result = tables.write(people, batch, mode="cdc", keys=["id"], committer="cdc")
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (1, 2, 1)
    rows = by_id(tables, people)
    assert sorted(rows) == [2, 3, 8]
    assert (rows[2]["name"], rows[3]["name"], rows[8]["name"]) == ("bob2", "cy2", "new")
    assert result.snapshot.schema.names == ["id", "name", "age"]


def test_cdc_last_change_by_row_order(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"op": ["U", "D", "I"], "id": [1, 1, 1], "name": ["a", "b", "c"]})
    tables.write(people, batch, mode="cdc", keys=["id"], committer="cdc")
    assert by_id(tables, people)[1]["name"] == "c"


def test_cdc_custom_operation_column(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"change": ["D"], "id": [2]})
    tables.write(people, batch, mode="cdc", keys=["id"], op_column="change", committer="cdc")
    assert sorted(by_id(tables, people)) == [1, 3]


def test_cdc_refuses_bad_operations(tables: DeltaTables, people: Path) -> None:
    write = tables.write
    bad = pa.table({"op": ["U", "X"], "id": [1, 2]})
    error = refused(write, people, bad, mode="cdc", keys=["id"], committer="cdc")
    assert (error.details["row"], error.details["column"]) == (2, "op")
    assert "'X'" in error.message
    no_op = pa.table({"id": [1]})
    assert (
        refused(write, people, no_op, mode="cdc", keys=["id"], committer="cdc").details["column"]
        == "op"
    )
    no_seq = pa.table({"op": ["U"], "id": [1]})
    missing_order = refused(
        write, people, no_seq, mode="cdc", keys=["id"], order_column="seq", committer="cdc"
    )
    assert missing_order.details["column"] == "seq"
    null_seq = pa.table({"op": ["U"], "seq": pa.array([None], pa.int64()), "id": [1]})
    null_order = refused(
        write, people, null_seq, mode="cdc", keys=["id"], order_column="seq", committer="cdc"
    )
    assert null_order.details["row"] == 1
    assert tables.snapshot(people).version == 0


# -- partial batches (columns of the table absent from the batch) -----------------------------


def upsert(tables: DeltaTables, path: Path, batch: pa.Table, mode: str):
    """Merge ``batch``, or apply it as CDC updates/inserts (``op`` U) when ``mode`` is cdc."""
    if mode == "cdc":
        batch = batch.add_column(0, "op", pa.array(["U"] * batch.num_rows))
    return tables.write(path, batch, mode=mode, keys=["id"], committer="hr")


@pytest.mark.parametrize("mode", ["merge", "cdc"])
def test_a_partial_batch_keeps_absent_columns_on_update_and_nulls_them_on_insert(
    tables: DeltaTables, people: Path, mode: str
) -> None:
    result = upsert(tables, people, pa.table({"id": [1, 4], "age": [31, 20]}), mode)
    assert (result.rows_updated, result.rows_inserted, result.schema_changes) == (1, 1, [])
    assert by_id(tables, people) == {
        1: {"id": 1, "name": "ann", "age": 31},
        2: {"id": 2, "name": "bob", "age": 40},
        3: {"id": 3, "name": "cy", "age": 50},
        4: {"id": 4, "name": None, "age": 20},
    }


def test_a_partial_cdc_batch_updates_inserts_and_deletes(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"op": ["U", "I", "D"], "id": [2, 5, 3], "name": ["bob2", "eve", None]})
    result = tables.write(people, batch, mode="cdc", keys=["id"], committer="cdc")
    assert (result.rows_updated, result.rows_inserted, result.rows_deleted) == (1, 1, 1)
    assert by_id(tables, people) == {
        1: {"id": 1, "name": "ann", "age": 30},
        2: {"id": 2, "name": "bob2", "age": 40},
        5: {"id": 5, "name": "eve", "age": None},
    }


@pytest.mark.parametrize("mode", ["merge", "cdc"])
@pytest.mark.parametrize(
    "nulls", [pa.array([None], pa.int64()), pa.nulls(1)], ids=["typed", "null-typed"]
)
def test_a_null_carried_by_the_batch_overwrites(
    tables: DeltaTables, people: Path, mode: str, nulls: pa.Array
) -> None:
    result = upsert(tables, people, pa.table({"id": [1], "age": nulls}), mode)
    assert result.rows_updated == 1
    assert by_id(tables, people)[1] == {"id": 1, "name": "ann", "age": None}


@pytest.mark.parametrize("mode", ["merge", "cdc"])
def test_reapplying_a_partial_batch_changes_nothing(
    tables: DeltaTables, people: Path, mode: str
) -> None:
    batch = pa.table({"id": [1, 2, 4], "age": [31, None, 20]})
    first = upsert(tables, people, batch, mode)
    assert (first.rows_updated, first.rows_inserted) == (2, 1)
    data = tables.read(people).sort_by("id")
    again = upsert(tables, people, batch, mode)
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)
    assert again.version == first.version
    assert tables.read(people).sort_by("id").equals(data)


@pytest.mark.parametrize("mode", ["merge", "cdc"])
def test_a_partial_batch_with_a_new_column(tables: DeltaTables, people: Path, mode: str) -> None:
    # Row 1 is matched but unchanged: it must not take anything from the batch.
    batch = pa.table({"id": [1, 2, 6], "city": [None, "Oslo", "Rome"]})
    result = upsert(tables, people, batch, mode)
    assert result.schema_changes == ["added column 'city' (string)"]
    assert (result.rows_updated, result.rows_inserted) == (1, 1)
    assert by_id(tables, people) == {
        1: {"id": 1, "name": "ann", "age": 30, "city": None},
        2: {"id": 2, "name": "bob", "age": 40, "city": "Oslo"},
        3: {"id": 3, "name": "cy", "age": 50, "city": None},
        6: {"id": 6, "name": None, "age": None, "city": "Rome"},
    }
    again = upsert(tables, people, batch, mode)
    assert (again.rows_updated, again.rows_inserted, again.version) == (0, 0, result.version)


def test_a_merge_of_keys_only_inserts_new_keys_and_updates_nothing(
    tables: DeltaTables, people: Path
) -> None:
    result = tables.write(
        people, pa.table({"id": [1, 9]}), mode="merge", keys=["id"], committer="hr"
    )
    assert (result.rows_updated, result.rows_inserted) == (0, 1)
    rows = by_id(tables, people)
    assert rows[1] == {"id": 1, "name": "ann", "age": 30}
    assert rows[9] == {"id": 9, "name": None, "age": None}


def test_append_still_fills_absent_columns_with_null(tables: DeltaTables, people: Path) -> None:
    tables.write(people, pa.table({"id": [1], "age": [99]}), mode="append", committer="hr")
    rows = [row for row in tables.read(people).to_pylist() if row["id"] == 1]
    assert sorted(rows, key=lambda row: row["age"]) == [
        {"id": 1, "name": "ann", "age": 30},
        {"id": 1, "name": None, "age": 99},
    ]


# -- atomicity --------------------------------------------------------------------------------


def test_a_bad_value_on_the_last_row_writes_nothing(tables: DeltaTables, people: Path) -> None:
    batch = pa.table({"id": [4, 5, 6], "age": ["1", "2", "old"]})
    for mode in ("append", "overwrite", "merge"):
        error = refused(tables.write, people, batch, mode=mode, keys=["id"], committer="hr")
        assert (error.details["column"], error.details["row"]) == ("age", 3)
    assert tables.snapshot(people).version == 0
    assert tables.snapshot(people).num_rows == 3


def test_a_widening_that_fails_while_rewriting_writes_nothing(tables: DeltaTables) -> None:
    path = tables.path_for("p", "big")
    tables.create(path, pa.table({"id": [1], "n": [2**53 + 1]}), committer="x")
    batch = pa.table({"id": [2], "n": [0.5]})
    for mode in ("append", "merge"):
        error = refused(tables.write, path, batch, mode=mode, keys=["id"], committer="x")
        assert error.details["column"] == "n"
    assert tables.snapshot(path).version == 0
    assert tables.read(path).column("n").to_pylist() == [2**53 + 1]


def test_a_merge_failing_after_the_rewrite_restores_the_table(
    tables: DeltaTables, people: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: no input makes delta-rs fail a merge after a valid rewrite.
    def failing_merge(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(merge_module, "execute_merge", failing_merge)
    monkeypatch.setattr("lakehold.lakehouse.tables.execute_merge", failing_merge)
    before = tables.read(people).sort_by("id")
    with pytest.raises(OSError):
        tables.write(
            people, pa.table({"id": [1], "age": [0.5]}), mode="merge", keys=["id"], committer="hr"
        )
    assert tables.read(people).sort_by("id").equals(before)
    assert tables.snapshot(people).schema.field("age").type == pa.int64()
    assert [e.operation for e in tables.history(people, limit=2)] == ["ROLLBACK", "EVOLVE SCHEMA"]


# -- streamed loads (a file larger than the in-memory sample) ----------------------------------


def _big_csv(path: Path, rows: int, *, late: str | None = None) -> Path:
    lines = ["id,amount,label,note"]
    for i in range(1, rows + 1):
        note = '"two\nlines"' if i % 97 == 0 else ("" if i < rows // 2 else "x")
        lines.append(f"{i},{i % 1000}.{i % 100:02d},label {i % 7},{note}")
    if late is not None:
        lines.append(late)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape"))
    return path


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "SAMPLE_BYTES", 4096)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 8192)


def _streamed(path: Path, types: dict[str, pa.DataType] | None = None) -> streaming.Stream:
    stream = streaming.open_source(path, "csv", types or {})
    assert stream is not None
    assert 0 < stream.sample.num_rows < _last_line(path) - 100  # the rest streams
    return stream


@pytest.mark.usefixtures("small_sample")
def test_a_streamed_create_holds_the_same_table(tables: DeltaTables, tmp_path: Path) -> None:
    source = _big_csv(tmp_path / "big.csv", 3000)
    whole, streamed = tables.path_for("p", "whole"), tables.path_for("p", "streamed")
    tables.create(whole, read_batch(source, "csv"), committer="t")
    result = tables.create(streamed, _streamed(source), committer="t")
    assert result.rows_inserted == 3000
    assert tables.read(streamed).schema == tables.read(whole).schema
    assert tables.read(streamed).sort_by("id").equals(tables.read(whole).sort_by("id"))
    assert pa.types.is_decimal(tables.read(streamed).schema.field("amount").type)
    assert len(tables.history(streamed)) == 1


@pytest.mark.usefixtures("small_sample")
@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_a_streamed_write_holds_the_same_rows(
    tables: DeltaTables, tmp_path: Path, mode: str
) -> None:
    source = _big_csv(tmp_path / "big.csv", 3000)
    whole, streamed = tables.path_for("p", "whole"), tables.path_for("p", "streamed")
    first = pa.table({"id": [0], "extra": ["kept"]})
    for path in (whole, streamed):
        tables.create(path, first, committer="t")
    tables.write(whole, read_batch(source, "csv"), mode=mode, committer="t")
    result = tables.write(streamed, _streamed(source), mode=mode, committer="t")
    assert result.rows_inserted == 3000
    assert tables.read(streamed).sort_by("id").equals(tables.read(whole).sort_by("id"))


@pytest.mark.usefixtures("small_sample")
@pytest.mark.parametrize(
    ("late", "words"),
    [
        ("abc,1.00,x,y", "value 'abc' cannot be converted to int64"),
        ("99999999999999999999999,1.00,x,y", "does not fit in a 64-bit integer"),
        ("1,2.50,x", "expected 4 fields, got 3"),
        ("1,2.50,x,caf\udce9", "is not valid UTF-8"),
    ],
)
def test_a_contradiction_in_a_late_chunk_writes_nothing(
    tables: DeltaTables, tmp_path: Path, late: str, words: str
) -> None:
    source = _big_csv(tmp_path / "big.csv", 3000, late=late)
    created = tables.path_for("p", "created")
    error = refused(tables.create, created, _streamed(source), committer="t")
    assert words in error.message
    assert error.details["line"] == _last_line(source)
    assert f"line {_last_line(source)}" in error.message
    assert not created.exists()
    appended = tables.path_for("p", "appended")
    tables.create(appended, pa.table({"id": [0]}), committer="t")
    error = refused(tables.write, appended, _streamed(source), mode="append", committer="t")
    assert words in error.message
    assert tables.history(appended)[0].version == 0
    assert tables.read(appended).num_rows == 1


def _last_line(path: Path) -> int:
    return path.read_bytes().count(b"\n")
