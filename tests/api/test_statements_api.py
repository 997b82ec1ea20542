"""Statements API: submit, describe, page results as JSON/CSV/Arrow, cancel; sync query."""

from __future__ import annotations

import io
import time

import pyarrow as pa

from tests.scenarios.helpers import create_table, ok, setup_project


def _wait(client, statement_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = ok(client.get(f"/api/v1/statements/{statement_id}"))
        if described["status"] in ("FINISHED", "FAILED", "ABORTED"):
            return described
        time.sleep(0.05)
    raise AssertionError(f"statement {statement_id} did not finish")


def test_submit_describe_and_page(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "store_sales", "retail_store_sales.csv")
    submitted = ok(
        client.post(
            "/api/v1/statements",
            json={"sql": "select sale_id, sale_amount from retail.store_sales order by sale_id"},
        ),
        201,
    )
    assert submitted["assets"] == ["retail.store_sales"]
    done = _wait(client, submitted["id"])
    assert done["status"] == "FINISHED" and done["result_rows"] == 20
    assert done["duration_ms"] is not None and done["has_result_set"]

    first = ok(client.get(f"/api/v1/statements/{done['id']}/result", params={"limit": 8}))
    assert [c["name"] for c in first["columns"]] == ["sale_id", "sale_amount"]
    assert [r["sale_id"] for r in first["rows"]] == list(range(1, 9))
    assert first["next_offset"] == 8 and first["total_rows"] == 20
    last = ok(
        client.get(f"/api/v1/statements/{done['id']}/result", params={"offset": 16, "limit": 8})
    )
    assert [r["sale_id"] for r in last["rows"]] == [17, 18, 19, 20]
    assert last["next_offset"] is None

    csv = client.get(f"/api/v1/statements/{done['id']}/result", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].replace('"', "") == "sale_id,sale_amount"
    assert len(csv.text.splitlines()) == 21
    arrow = client.get(f"/api/v1/statements/{done['id']}/result", params={"format": "arrow"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.num_rows == 20 and table.column_names == ["sale_id", "sale_amount"]

    listed = ok(client.get("/api/v1/statements"))
    assert listed[0]["id"] == done["id"]


def test_errors_are_immediate_and_located(client) -> None:
    setup_project(client, "retail")
    syntax = client.post("/api/v1/statements", json={"sql": "select * fro retail.x"})
    assert syntax.status_code == 400, syntax.text
    assert syntax.json()["position"] is not None and syntax.json()["line"] == 1
    unknown = client.post("/api/v1/statements", json={"sql": "select * from retail.nope"})
    assert unknown.status_code == 404
    write = client.post("/api/v1/query", json={"sql": "drop table retail.nope"})
    assert write.status_code in (400, 403)
    files = client.post("/api/v1/query", json={"sql": "select * from read_csv('/etc/passwd')"})
    assert files.status_code in (400, 403) and "root:" not in files.text
    missing = client.get("/api/v1/statements/doesnotexist")
    assert missing.status_code == 404


def test_failed_statement_records_error(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "customer", "retail_customer.csv")
    bad = ok(
        client.post(
            "/api/v1/statements",
            json={"sql": "select cast(cust_name as integer) from retail.customer"},
        ),
        201,
    )
    done = _wait(client, bad["id"])
    assert done["status"] == "FAILED"
    assert "convert" in done["error"].lower() or "cast" in done["error"].lower()
    assert client.get(f"/api/v1/statements/{bad['id']}/result").status_code == 409


def test_cancel_long_statement(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "customer", "retail_customer.csv")
    slow = "select count(*) from range(1000000000) a, range(1000000000) b, retail.customer c"
    submitted = ok(client.post("/api/v1/statements", json={"sql": slow}), 201)
    time.sleep(0.3)
    cancelled = client.post(f"/api/v1/statements/{submitted['id']}/cancel")
    assert cancelled.status_code in (200, 409)
    assert _wait(client, submitted["id"])["status"] == "ABORTED"


def test_sync_query_limit_formats_and_dialect(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "store_sales", "retail_store_sales.csv")
    limited = ok(
        client.post("/api/v1/query", json={"sql": "select * from retail.store_sales", "limit": 5})
    )
    assert len(limited["rows"]) == 5 and limited["truncated"] is True
    csv = client.post("/api/v1/query", params={"format": "csv"}, json={"sql": "select 1 as one"})
    assert csv.text.splitlines() == ["one", "1"]
    pg = ok(
        client.post(
            "/api/v1/query",
            json={
                "sql": "select sale_amount::int as a from retail.store_sales where sale_id = 1",
                "dialect": "postgres",
            },
        )
    )
    assert pg["rows"] == [{"a": 150}]
    bare = ok(
        client.post(
            "/api/v1/query",
            json={"sql": "select count(*) as n from store_sales", "project": "retail"},
        )
    )
    assert bare["rows"] == [{"n": 20}]


def test_statement_timeout(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "customer", "retail_customer.csv")
    slow = "select count(*) from range(1000000000) a, range(1000000000) b, retail.customer c"
    submitted = ok(
        client.post("/api/v1/statements", json={"sql": slow, "timeout_seconds": 0.5}), 201
    )
    done = _wait(client, submitted["id"])
    assert done["status"] == "FAILED" and "time" in done["error"].lower()
    sync = client.post("/api/v1/query", json={"sql": slow, "timeout_seconds": 0.5})
    assert sync.status_code == 408, sync.text


def test_time_travel_by_version_and_timestamp(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "customer", "retail_customer.csv")
    time.sleep(0.05)
    ok(
        client.post(
            "/api/v1/projects/retail/tables/customer/writes",
            data={"mode": "append"},
            files={"file": ("more.csv", b"cust_id,cust_name\n42,New Person\n")},
        )
    )
    history = ok(client.get("/api/v1/projects/retail/tables/customer/history"))
    first = history[-1]["timestamp"].replace("T", " ")

    def count(at: str) -> int:
        sql = f"select count(*) as n from retail.customer {at}"
        return ok(client.post("/api/v1/query", json={"sql": sql}))["rows"][0]["n"]

    assert count("") == 7
    assert count("version as of 0") == 6
    assert count(f"timestamp as of '{first}'") == 6
    assert (
        client.post(
            "/api/v1/query", json={"sql": "select * from retail.customer version as of 9"}
        ).status_code
        == 404
    )
    early = client.post(
        "/api/v1/query",
        json={"sql": "select * from retail.customer timestamp as of '2000-01-01 00:00:00'"},
    )
    assert early.status_code == 404
    bad = client.post(
        "/api/v1/query", json={"sql": "select * from retail.customer timestamp as of 'soon'"}
    )
    assert bad.status_code == 400


def test_repeated_column_names_keep_every_value(client) -> None:
    sql = {"sql": "select 1 as a, 2 as a, null as a"}
    objects = ok(client.post("/api/v1/query", json=sql))
    assert objects["row_format"] == "objects"
    assert [(c["name"], c["key"]) for c in objects["columns"]] == [
        ("a", "a"),
        ("a", "a_1"),
        ("a", "a_2"),
    ]
    assert objects["rows"] == [{"a": 1, "a_1": 2, "a_2": None}]
    arrays = ok(client.post("/api/v1/query", params={"row_format": "arrays"}, json=sql))
    assert arrays["row_format"] == "arrays" and arrays["rows"] == [[1, 2, None]]
    assert [c["name"] for c in arrays["columns"]] == ["a", "a", "a"]
    csv = client.post("/api/v1/query", params={"format": "csv"}, json=sql)
    assert csv.text.splitlines() == ["a,a,a", "1,2,"]
    arrow = client.post("/api/v1/query", params={"format": "arrow"}, json=sql)
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.column_names == ["a", "a", "a"]
    assert [c.to_pylist() for c in table.columns] == [[1], [2], [None]]
    bad = client.post("/api/v1/query", params={"row_format": "dicts"}, json=sql)
    assert bad.status_code in (400, 422)

    submitted = ok(client.post("/api/v1/statements", json=sql), 201)
    done = _wait(client, submitted["id"])
    page = ok(
        client.get(f"/api/v1/statements/{done['id']}/result", params={"row_format": "arrays"})
    )
    assert page["rows"] == [[1, 2, None]] and page["next_offset"] is None
    page = ok(client.get(f"/api/v1/statements/{done['id']}/result"))
    assert page["rows"] == [{"a": 1, "a_1": 2, "a_2": None}]


def test_select_star_join_keeps_both_key_columns(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "store_sales", "retail_store_sales.csv")
    create_table(client, "retail", "customer", "retail_customer.csv")
    sql = (
        "select * from retail.store_sales s left join retail.customer c "
        "on s.cust_id = c.cust_id where s.cust_id = 26009249"
    )
    result = ok(client.post("/api/v1/query", json={"sql": sql}))
    keys = [c["key"] for c in result["columns"]]
    names = [c["name"] for c in result["columns"]]
    assert names.count("cust_id") == 2 and keys[names.index("cust_id")] == "cust_id"
    assert result["rows"] and all(r["cust_id"] == 26009249 for r in result["rows"])
    assert all(r["cust_id_1"] is None for r in result["rows"])  # no such customer


def test_decimal_text_is_exact(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "store_sales", "retail_store_sales.csv")
    sql = "select sum(sale_amount) as s, min(sale_amount) as m from retail.store_sales"
    result = ok(client.post("/api/v1/query", json={"sql": sql}))
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types["m"] == "DECIMAL(18,2)" and types["s"].startswith("DECIMAL(")
    assert result["rows"] == [{"s": "3530.50", "m": "75.50"}]


def test_decimal_inference_takes_only_one_scale_of_decimal_text(client) -> None:
    setup_project(client, "retail")
    data = (
        b"money,negative,mixed,measure,rate,exponent,huge,empty\n"
        b"150.00,-0.25,1.50,1.5,0.125,1e3,1234567890123456789012345678901234567.50,\n"
        b"75.50,12.75,2.25,,1.500,2.00,1.00,\n"
        b",-3.10,3.125,4.0,2.000,3.00,2.00,\n"
    )
    ok(
        client.post(
            "/api/v1/projects/retail/tables",
            data={"name": "numbers"},
            files={"file": ("numbers.csv", data)},
        ),
        201,
    )
    result = ok(
        client.post(
            "/api/v1/query",
            json={
                "sql": "select sum(money) as money, sum(negative) as negative, max(mixed) as "
                "mixed, max(measure) as measure, max(rate) as rate, max(exponent) as exponent, "
                "max(huge) as huge from retail.numbers",
                "project": "retail",
            },
        )
    )
    types = {c["name"]: c["type"] for c in result["columns"]}
    assert types["mixed"] == types["exponent"] == types["huge"] == types["measure"] == "DOUBLE"
    assert types["rate"] == "DECIMAL(18,3)" and result["rows"][0]["rate"] == "2.000"
    assert result["rows"][0]["money"] == "225.50" and result["rows"][0]["negative"] == "9.40"
