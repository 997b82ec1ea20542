"""Schema evolution rules, on Arrow schemas and batches only."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from lakehold.errors import Invalid
from lakehold.lakehouse import evolve

TABLE = pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.int64())])


def refused(schema: pa.Schema | None, batch: pa.Table, **options) -> Invalid:
    with pytest.raises(Invalid) as caught:
        evolve(schema, batch, **options)
    return caught.value


def test_new_table_types_empty_columns_as_string() -> None:
    evolution = evolve(None, pa.table({"id": [1], "empty": pa.nulls(1)}))
    assert evolution.schema.field("empty").type == pa.string()
    assert evolution.batch.schema == evolution.schema
    assert evolution.changes == ["column 'empty' has no values: typed as string"]


def test_new_columns_are_appended_and_missing_columns_get_null() -> None:
    batch = pa.table({"extra": ["x"], "id": [1]})
    evolution = evolve(TABLE, batch)
    assert evolution.schema.names == ["id", "name", "amount", "extra"]
    assert evolution.added == ["extra"]
    assert evolution.missing == ["name", "amount"]
    assert evolution.batch.to_pylist() == [{"id": 1, "name": None, "amount": None, "extra": "x"}]
    assert evolution.changes == ["added column 'extra' (string)"]
    assert not evolution.rewrite_needed


def test_null_column_takes_the_table_type_or_string_when_new() -> None:
    evolution = evolve(TABLE, pa.table({"id": [1], "amount": pa.nulls(1), "new": pa.nulls(1)}))
    assert evolution.schema.field("amount").type == pa.int64()
    assert evolution.schema.field("new").type == pa.string()
    assert evolution.changes == ["added column 'new' (string: no values yet)"]


def test_narrow_integers_widen_the_table_to_int64() -> None:
    schema = pa.schema([("n", pa.int32())])
    evolution = evolve(schema, pa.table({"n": pa.array([2**40], pa.int64())}))
    assert evolution.widened == {"n": (pa.int32(), pa.int64())}
    assert evolution.rewrite_needed
    assert evolution.changes == ["widened column 'n' from int32 to int64"]


def test_narrower_batch_integers_convert_to_the_table_type() -> None:
    evolution = evolve(TABLE, pa.table({"amount": pa.array([5], pa.int8())}))
    assert evolution.schema == TABLE
    assert evolution.batch.column("amount").type == pa.int64()


def test_fractional_values_widen_an_integer_column_to_double() -> None:
    evolution = evolve(TABLE, pa.table({"id": [1], "amount": [2.5]}))
    assert evolution.schema.field("amount").type == pa.float64()
    assert evolution.widened == {"amount": (pa.int64(), pa.float64())}


def test_whole_doubles_keep_an_integer_column() -> None:
    evolution = evolve(TABLE, pa.table({"amount": [2.0, None]}))
    assert evolution.schema == TABLE
    assert evolution.batch.column("amount").to_pylist() == [2, None]


def test_float32_widens_to_double() -> None:
    schema = pa.schema([("x", pa.float32())])
    evolution = evolve(schema, pa.table({"x": [0.1]}))
    assert evolution.schema.field("x").type == pa.float64()


def test_key_column_is_not_widened_to_double() -> None:
    error = refused(TABLE, pa.table({"id": [1.5]}), keys=["id"])
    assert error.details["column"] == "id"
    assert "key" in error.message


def test_text_converts_when_every_value_parses() -> None:
    evolution = evolve(TABLE, pa.table({"id": ["1", "2"], "amount": ["10", None]}))
    assert evolution.schema == TABLE
    assert evolution.batch.column("id").to_pylist() == [1, 2]


def test_text_that_does_not_parse_is_refused_naming_value_and_row() -> None:
    error = refused(TABLE, pa.table({"amount": ["10", "abc"]}))
    assert error.message == (
        "column 'amount': value 'abc' on row 2 cannot be converted from string to int64"
    )
    assert error.details == {"column": "amount", "row": 2}


def test_text_to_dates_booleans_and_timestamps() -> None:
    schema = pa.schema([("d", pa.date32()), ("b", pa.bool_()), ("t", pa.timestamp("us", tz="UTC"))])
    batch = pa.table({"d": ["2024-01-02"], "b": ["true"], "t": ["2024-01-02 03:04:05"]})
    row = evolve(schema, batch).batch.to_pylist()[0]
    assert row["d"] == dt.date(2024, 1, 2)
    assert row["b"] is True
    assert row["t"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_any_value_goes_into_a_string_column() -> None:
    evolution = evolve(TABLE, pa.table({"name": [42]}))
    assert evolution.schema == TABLE
    assert evolution.batch.column("name").to_pylist() == ["42"]


def test_a_string_column_is_never_changed_automatically() -> None:
    error = refused(pa.schema([("n", pa.int64())]), pa.table({"n": ["x"]}))
    assert error.details["column"] == "n"


def test_date_to_timestamp_is_not_a_safe_widening() -> None:
    schema = pa.schema([("d", pa.date32())])
    error = refused(schema, pa.table({"d": [dt.datetime(2024, 1, 2, 10, 30)]}))
    assert error.details["column"] == "d"
    midnight = evolve(schema, pa.table({"d": [dt.datetime(2024, 1, 2)]}))
    assert midnight.schema == schema


def test_incompatible_types_are_refused() -> None:
    error = refused(TABLE, pa.table({"amount": [True]}))
    assert error.details["column"] == "amount"
    assert "bool" in error.message


def test_column_names_differing_only_by_case_are_refused() -> None:
    assert refused(None, pa.table({"Id": [1], "id": [2]})).details["column"] == "id"
    assert refused(TABLE, pa.table({"ID": [1]})).details["column"] == "ID"


def test_duplicate_and_empty_column_names_are_refused() -> None:
    duplicate = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    assert "twice" in refused(None, duplicate).message
    assert refused(None, pa.table({" ": [1]})).details["column"] == " "


def test_types_are_made_storable() -> None:
    batch = pa.table(
        {
            "u": pa.array([1], pa.uint32()),
            "s": pa.array(["x"], pa.large_string()),
            "t": pa.array([1], pa.timestamp("ns", tz="Europe/Paris")),
        }
    )
    schema = evolve(None, batch).schema
    assert schema.types == [pa.int64(), pa.string(), pa.timestamp("us", tz="UTC")]


def test_types_without_a_delta_equivalent_are_refused() -> None:
    batch = pa.table({"at": pa.array([dt.time(10, 30)], pa.time64("us"))})
    assert refused(None, batch).details["column"] == "at"


def test_a_key_column_is_not_widened_by_inference_for_values_beyond_int64() -> None:
    # Issue 11: 1e23 does not fit in int64, so the key column became DOUBLE (7.0, 8.0, 1e+23).
    error = refused(TABLE, pa.table({"id": [7.0, 8.0, 1e23]}), keys=["id"])
    assert error.details == {"column": "id", "row": 3}
    assert "is a key" in error.message and "row 3" in error.message


def test_a_declared_type_may_change_a_key_column() -> None:
    evolution = evolve(TABLE, pa.table({"id": [7.0, 1e23]}), keys=["id"], declared=["id"])
    assert evolution.schema.field("id").type == pa.float64()
    assert evolution.widened == {"id": (pa.int64(), pa.float64())}


def test_integers_go_into_a_decimal_column_when_they_fit() -> None:
    money = pa.schema([("id", pa.int64()), ("value", pa.decimal128(18, 2))])
    evolution = evolve(money, pa.table({"id": [1, 2], "value": [250000, None]}))
    assert evolution.schema == money
    assert [
        str(v) if v is not None else None for v in evolution.batch.column("value").to_pylist()
    ] == ["250000.00", None]
    problem = refused(money, pa.table({"id": [1, 2], "value": [5, 10**17]}))
    assert problem.details["column"] == "value" and problem.details["row"] == 2
