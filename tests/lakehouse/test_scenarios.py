"""Scenarios 1 (insurance CDC) and 2 (schema evolution) on real Delta tables."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from lakehold.errors import Invalid
from lakehold.lakehouse import DeltaTables, Snapshot, read_batch


def rows_by(table: pa.Table, key: str) -> dict[object, dict[str, object]]:
    return {row[key]: row for row in table.to_pylist()}


def duckdb_rows(snapshot: Snapshot, sql: str = "select * from t") -> list[tuple]:
    """Query a snapshot's files the way the query engine does."""
    connection = duckdb.connect()
    connection.read_parquet(snapshot.files, union_by_name=True).create_view("t")
    return connection.execute(sql).fetchall()


# -- scenario 1 -------------------------------------------------------------------------------


@pytest.fixture
def policies(tables: DeltaTables, scenario):
    path = tables.path_for("insurance", "policies")
    full = read_batch(scenario("insurance_full_load.csv"), "csv")
    result = tables.create(path, full, keys=["policy_id"], committer="loader")
    assert (result.version, result.operation, result.snapshot.num_rows) == (0, "CREATE", 25)
    return path


def test_full_load_then_cdc_upserts(tables: DeltaTables, scenario, policies) -> None:
    before = rows_by(tables.read(policies), "policy_id")
    changes = read_batch(scenario("insurance_cdc_1.csv"), "csv")
    result = tables.write(policies, changes, mode="cdc", keys=["policy_id"], committer="glue")
    assert result.operation == "CDC MERGE"
    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (2, 3, 0)
    assert result.snapshot.num_rows == 27

    after = rows_by(tables.read(policies), "policy_id")
    assert len(after) == 27
    assert after[100462]["expiry_date"] == dt.date(2024, 12, 31)
    assert after[100463]["insured_value"] == 1000000
    assert after[100475]["flood"] == "Y"
    assert {110001, 110002} <= after.keys()
    changed = {100462, 100463, 100475, 110001, 110002}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    assert "op" not in tables.snapshot(policies).schema.names

    previous = rows_by(tables.read(policies, version=result.version - 1), "policy_id")
    assert previous == before
    assert duckdb_rows(result.snapshot, "select count(*) from t") == [(27,)]


def test_reapplying_a_cdc_batch_changes_nothing(tables: DeltaTables, scenario, policies) -> None:
    changes = read_batch(scenario("insurance_cdc_1.csv"), "csv")
    first = tables.write(policies, changes, mode="cdc", keys=["policy_id"], committer="glue")
    data = tables.read(policies).sort_by("policy_id")
    again = tables.write(policies, changes, mode="cdc", keys=["policy_id"], committer="glue")
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)
    assert again.version >= first.version
    assert tables.read(policies).sort_by("policy_id").equals(data)


def test_cdc_deletes_and_ordering(tables: DeltaTables, scenario, policies) -> None:
    tables.write(
        policies,
        read_batch(scenario("insurance_cdc_1.csv"), "csv"),
        mode="cdc",
        keys=["policy_id"],
        committer="glue",
    )
    result = tables.write(
        policies,
        read_batch(scenario("insurance_cdc_2.csv"), "csv"),
        mode="cdc",
        keys=["policy_id"],
        order_column="seq",
        committer="glue",
    )
    assert result.snapshot.num_rows == 26
    assert result.rows_deleted == 1
    after = rows_by(tables.read(policies), "policy_id")
    assert 200242 not in after
    assert 999999 not in after
    assert after[110001]["insured_value"] == 260000
    assert after[110001]["flood"] == "Y"
    assert not {"seq", "op"} & set(result.snapshot.schema.names)


def test_cdc_order_column_beats_row_order(tables: DeltaTables, policies) -> None:
    batch = pa.table(
        {
            "op": ["U", "U"],
            "seq": [2, 1],
            "policy_id": [100462, 100462],
            "insured_value": [2, 1],
        }
    )
    tables.write(
        policies,
        batch,
        mode="cdc",
        keys=["policy_id"],
        order_column="seq",
        keep_order_column=True,
        committer="glue",
    )
    row = rows_by(tables.read(policies), "policy_id")[100462]
    assert (row["insured_value"], row["seq"]) == (2, 2)


# -- scenario 2 -------------------------------------------------------------------------------


def load_object_batches(tables: DeltaTables, scenario) -> tuple:
    path = tables.path_for("replica", "object")
    results = [
        tables.create(
            path,
            read_batch(scenario("schema_evolution_1.csv"), "csv"),
            keys=["object_id"],
            committer="replicator",
        )
    ]
    for number in (2, 3, 4):
        batch = read_batch(scenario(f"schema_evolution_{number}.csv"), "csv")
        results.append(
            tables.write(path, batch, mode="merge", keys=["object_id"], committer="replicator")
        )
    return path, results


def test_schema_evolution_of_a_replicated_table(tables: DeltaTables, scenario) -> None:
    path, results = load_object_batches(tables, scenario)
    assert results[1].schema_changes == ["added column 'test_column' (int64)"]
    assert results[2].schema_changes == ["added column 'new_field_2' (string)"]
    assert results[3].schema_changes == []

    snapshot = tables.snapshot(path)
    assert snapshot.num_rows == 4
    assert {"test_column", "new_field_1", "new_field_2"} <= set(snapshot.schema.names)
    rows = rows_by(tables.read(path), "object_name")
    assert [rows[f"obj{i}"]["new_field_1"] for i in (1, 2, 3, 4)] == [None] * 4
    assert {name: row["new_field_2"] for name, row in rows.items()} == {
        "obj1": None,
        "obj2": None,
        "obj3": "new-3",
        "obj4": None,
    }
    assert rows["obj4"]["test_column"] == 44

    # A query written against the first schema still runs, on the files as DuckDB reads them.
    first = "select object_id, object_name, object_description, new_field_1 from t order by 1"
    assert [r[:2] for r in duckdb_rows(snapshot, first)] == [
        (1, "obj1"),
        (2, "obj2"),
        (3, "obj3"),
        (4, "obj4"),
    ]
    for number, result in enumerate(results, start=1):
        assert tables.read(path, version=result.version).num_rows == number


def test_unsafe_type_change_is_refused_and_writes_nothing(tables: DeltaTables, scenario) -> None:
    path, results = load_object_batches(tables, scenario)
    batch = pa.table({"object_id": [5], "object_name": ["obj5"], "test_column": ["fifty"]})
    with pytest.raises(Invalid) as caught:
        tables.write(path, batch, mode="merge", keys=["object_id"], committer="replicator")
    assert caught.value.details["column"] == "test_column"
    assert "'fifty'" in caught.value.message
    assert tables.snapshot(path).version == results[-1].version
    assert tables.snapshot(path).num_rows == 4
