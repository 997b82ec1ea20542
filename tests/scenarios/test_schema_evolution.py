"""Scenario 2: schema evolution of a replicated table, four batches (through the API)."""

from __future__ import annotations

from tests.scenarios.helpers import create_table, ok, query, setup_project, write


def test_schema_evolution_union_schema_and_old_versions(client, tmp_path) -> None:
    setup_project(client, "replication")
    create_table(client, "replication", "object", "schema_evolution_1.csv", "object_id")
    for batch in (2, 3, 4):
        ok(write(client, "replication", "object", f"schema_evolution_{batch}.csv", mode="merge"))

    asset = ok(client.get("/api/v1/projects/replication/assets/object"))
    columns = [c["name"] for c in asset["columns"]]
    assert {"test_column", "new_field_1", "new_field_2"} <= set(columns)
    assert asset["row_count"] == 4

    rows = {r["object_id"]: r for r in query(client, "select * from replication.object")}
    assert sorted(rows) == [1, 2, 3, 4]
    assert [rows[i]["new_field_1"] for i in (2, 3, 4)] == [None, None, None]
    assert {i: rows[i]["new_field_2"] for i in rows} == {1: None, 2: None, 3: "new-3", 4: None}
    assert rows[4]["test_column"] == 44 and rows[1]["test_column"] is None
    assert rows[3]["object_description"] == "test-3"

    # A query written against the first schema still runs.
    first_schema = (
        "select object_name, object_description, new_column_add, new_field_1, object_id "
        "from replication.object order by object_id"
    )
    assert [r["object_name"] for r in query(client, first_schema)] == [
        "obj1",
        "obj2",
        "obj3",
        "obj4",
    ]

    # Every earlier version stays readable, with the rows and columns it had.
    for version, count in enumerate([1, 2, 3, 4]):
        old = query(client, f"select * from replication.object version as of {version}")
        assert len(old) == count
    v0 = query(client, "select * from replication.object version as of 0")
    assert "test_column" not in v0[0]

    # An unsafe change is refused naming the column, and nothing is written.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "object_name,test_column,object_description,new_column_add,object_id\n"
        "obj5,not-a-number,test-5,,5\n"
    )
    response = write(client, "replication", "object", bad, mode="merge")
    assert response.status_code == 400, response.text
    assert response.json()["column"] == "test_column"
    after = ok(client.get("/api/v1/projects/replication/assets/object"))
    assert after["current_version"] == asset["current_version"]
    assert len(query(client, "select * from replication.object")) == 4
