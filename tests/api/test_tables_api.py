"""Table API errors: every bad input is a 4xx naming the problem, and nothing is written."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from tests.scenarios.helpers import create_table, ok, query, setup_project


def _create(client, name: str, content: bytes, filename: str = "data.csv", **form):
    return client.post(
        "/api/v1/projects/p/tables",
        data={"name": name, **form},
        files={"file": (filename, content)},
    )


def test_malformed_csv_names_line_and_column(client) -> None:
    setup_project(client, "p")
    wrong_count = _create(client, "t1", b"a,b,c\n1,2,3\n4,5\n")
    assert wrong_count.status_code == 400, wrong_count.text
    assert wrong_count.json()["line"] == 3
    bad_quote = _create(client, "t2", b'a,b\n1,"unterminated\n2,3\n')
    assert bad_quote.status_code == 400 and bad_quote.json()["line"] == 2
    undecodable = _create(client, "t3", b"a,b\n1,caf\xe9\n")
    body = undecodable.json()
    assert undecodable.status_code == 400 and body["line"] == 2 and body["column"]
    bad_json = _create(client, "t4", b'{"a": 1}\n{"a": \n', filename="x.jsonl")
    assert bad_json.status_code == 400 and bad_json.json()["line"] == 2
    assert ok(client.get("/api/v1/projects/p/assets")) == []


def test_parquet_and_arrow_uploads_and_explicit_types(client) -> None:
    setup_project(client, "p")
    table = pa.table({"id": [1, 2], "name": ["a", "b"]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    created = _create(client, "pq", buffer.getvalue(), filename="t.parquet", keys="id")
    assert created.status_code == 201, created.text
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert _create(client, "ar", sink.getvalue(), filename="t.arrows").status_code == 201
    typed = _create(
        client, "typed", b"id,amount\n1,2.50\n", column_types='{"amount": "DECIMAL(10,2)"}'
    )
    assert typed.status_code == 201, typed.text
    types = {c["name"]: c["data_type"] for c in typed.json()["asset"]["columns"]}
    assert types["amount"] == "DECIMAL(10,2)"
    unknown_type = _create(client, "typed2", b"id\n1\n", column_types='{"id": "NOPE"}')
    assert unknown_type.status_code == 400 and unknown_type.json()["column"] == "id"
    assert query(client, "select count(*) as n from p.pq")[0]["n"] == 2


def test_wrong_key_column_and_names(client) -> None:
    setup_project(client, "p")
    wrong_key = _create(client, "t", b"a,b\n1,2\n", keys="nope")
    assert wrong_key.status_code == 400 and wrong_key.json()["field"] == "keys"
    bad_name = _create(client, "Bad-Name", b"a\n1\n")
    assert bad_name.status_code == 400 and bad_name.json()["field"] == "table"
    create_table(client, "p", "t", "retail_customer.csv")
    duplicate = _create(client, "t", b"a\n1\n")
    assert duplicate.status_code == 409
    merge_without_keys = client.post(
        "/api/v1/projects/p/tables/t/writes",
        data={"mode": "merge"},
        files={"file": ("x.csv", b"cust_id\n1\n")},
    )
    assert merge_without_keys.status_code == 400 and merge_without_keys.json()["field"] == "keys"
    unknown_mode = client.post(
        "/api/v1/projects/p/tables/t/writes",
        data={"mode": "upsertish"},
        files={"file": ("x.csv", b"cust_id\n1\n")},
    )
    assert unknown_mode.status_code == 400 and unknown_mode.json()["field"] == "mode"
    missing = client.post(
        "/api/v1/projects/p/tables/nope/writes", files={"file": ("x.csv", b"a\n1\n")}
    )
    assert missing.status_code == 404


def test_history_restore_vacuum_optimize(client) -> None:
    setup_project(client, "p")
    create_table(client, "p", "c", "retail_customer.csv")
    for _ in range(2):
        ok(
            client.post(
                "/api/v1/projects/p/tables/c/writes",
                data={"mode": "append"},
                files={"file": ("x.csv", b"cust_id,cust_name\n9,Extra\n")},
            )
        )
    history = ok(client.get("/api/v1/projects/p/tables/c/history"))
    assert [h["version"] for h in history] == [2, 1, 0]
    assert history[0]["metrics"]
    restored = ok(client.post("/api/v1/projects/p/tables/c/restore", json={"version": 0}))
    assert restored["asset"]["row_count"] == 6 and restored["result"]["version"] == 3
    optimized = ok(client.post("/api/v1/projects/p/tables/c/optimize"))
    assert isinstance(optimized, dict)
    dry = ok(
        client.post(
            "/api/v1/projects/p/tables/c/vacuum", json={"retention_hours": 0, "dry_run": True}
        )
    )
    assert dry["dry_run"] is True
    assert query(client, "select count(*) as n from p.c")[0]["n"] == 6
    assert client.delete("/api/v1/projects/p/tables/c").status_code == 204
    assert client.get("/api/v1/projects/p/assets/c").status_code == 404


def test_other_users_cannot_read_or_write(client, anonymous) -> None:
    setup_project(client, "p")
    create_table(client, "p", "c", "retail_customer.csv")
    client.post("/api/v1/users", json={"username": "mallory"})
    token = client.post("/api/v1/tokens", json={"name": "t", "username": "mallory"}).json()["value"]
    headers = {"Authorization": f"Bearer {token}"}
    write = anonymous.post(
        "/api/v1/projects/p/tables/c/writes",
        files={"file": ("x.csv", b"cust_id\n1\n")},
        headers=headers,
    )
    assert write.status_code == 404
    hidden = anonymous.post("/api/v1/query", json={"sql": "select * from p.c"}, headers=headers)
    missing = anonymous.post("/api/v1/query", json={"sql": "select * from p.zz"}, headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace("p.c", "X") == missing.json()["message"].replace(
        "p.zz", "X"
    )


def test_asset_metadata_is_editable_and_kept_up_to_date(client) -> None:
    setup_project(client, "p")
    created = create_table(client, "p", "c", "retail_customer.csv")["asset"]
    assert [c["name"] for c in created["columns"]] == [
        "cust_id",
        "cust_name",
        "cust_country",
        "cust_email",
    ]
    assert created["columns"][0]["data_type"] == "BIGINT" and created["size_bytes"] > 0
    patched = ok(
        client.patch(
            "/api/v1/projects/p/assets/c",
            json={
                "description": "Customers",
                "tags": ["pii", "retail", "pii"],
                "column_descriptions": {"cust_email": "Contact address"},
            },
        )
    )
    assert patched["description"] == "Customers" and patched["tags"] == ["pii", "retail"]
    email = next(c for c in patched["columns"] if c["name"] == "cust_email")
    assert email["description"] == "Contact address"
    bad = client.patch("/api/v1/projects/p/assets/c", json={"column_descriptions": {"nope": "x"}})
    assert bad.status_code == 400 and bad.json()["column"] == "nope"
    grown = ok(
        client.post(
            "/api/v1/projects/p/tables/c/writes",
            data={"mode": "append"},
            files={"file": ("x.csv", b"cust_id,cust_name,loyalty\n9,Extra,3\n")},
        )
    )["asset"]
    assert grown["row_count"] == 7 and grown["current_version"] == 1
    assert grown["updated_at"] >= patched["updated_at"]
    by_name = {c["name"]: c for c in grown["columns"]}
    assert by_name["loyalty"]["ordinal"] == 4
    assert by_name["cust_email"]["description"] == "Contact address"
    assert grown["description"] == "Customers"


def _write(client, table: str, content: bytes, **form):
    return client.post(
        f"/api/v1/projects/p/tables/{table}/writes",
        data=form,
        files={"file": ("batch.csv", content)},
    )


def _versions(client, table: str) -> list[int]:
    return [e["version"] for e in ok(client.get(f"/api/v1/projects/p/tables/{table}/history"))]


def test_an_integer_beyond_int64_in_a_key_column_is_refused(client) -> None:
    # Issue 11: the key column silently became DOUBLE (ids 7.0, 8.0, 1e+23).
    setup_project(client, "p")
    assert _create(client, "ids", b"id,name\n1,a\n", keys="id").status_code == 201
    refused = _write(client, "ids", b"id,name\n7,g\n8,h\n100000000000000000000000,i\n")
    assert refused.status_code == 400, refused.text
    assert (refused.json()["line"], refused.json()["column"]) == (4, "id")
    assert _versions(client, "ids") == [0]
    typed = _write(
        client,
        "ids",
        b"id,name\n7,g\n100000000000000000000000,i\n",
        column_types='{"id": "DOUBLE"}',
    )
    assert typed.status_code == 200, typed.text
    types = {c["name"]: c["data_type"] for c in typed.json()["asset"]["columns"]}
    assert types["id"] == "DOUBLE"


def test_a_header_only_append_is_a_no_op(client) -> None:
    setup_project(client, "p")
    assert _create(client, "t", b"id,name\n1,a\n", keys="id").status_code == 201
    for mode in ("append", "merge"):
        written = ok(_write(client, "t", b"id,name\n", mode=mode))
        assert written["result"]["no_op"] is True
        assert written["result"]["message"] == "the batch has no rows: nothing was written"
        assert written["result"]["version"] == written["asset"]["current_version"] == 0
    assert _versions(client, "t") == [0]
    appended = ok(_write(client, "t", b"id,name\n2,b\n"))["result"]
    assert (appended["no_op"], appended["message"], appended["version"]) == (False, None, 1)


def test_duplicate_keys_in_a_merge_are_counted_or_refused(client) -> None:
    setup_project(client, "p")
    assert _create(client, "t", b"id,name\n1,a\n", keys="id").status_code == 201
    batch = b"id,name\n2,b\n3,c\n2,b2\n2,b3\n"
    refused = _write(client, "t", batch, mode="merge", on_duplicate="error")
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert (body["column"], body["rows"], body["lines"]) == ("id", [1, 4], [2, 5])
    assert body["message"] == (
        "duplicate key (id=2) on rows 1 and 4 (and 1 more) of the batch (lines 2 and 5)"
    )
    assert _versions(client, "t") == [0]
    bad_option = _write(client, "t", batch, mode="merge", on_duplicate="first")
    assert bad_option.status_code == 400
    merged = ok(_write(client, "t", batch, mode="merge"))["result"]
    assert (merged["duplicates_collapsed"], merged["rows_inserted"]) == (2, 2)
    names = {r["id"]: r["name"] for r in query(client, "select id, name from p.t")}
    assert names == {1: "a", 2: "b3", 3: "c"}
