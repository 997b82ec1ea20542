"""The engine of a statement without a Ray cluster: in process, and `ray` refused clearly.

Statements on a real cluster are in tests/cluster (their own CI step).
"""

from __future__ import annotations

from tests.scenarios.helpers import create_table, ok, setup_project


def _sales(client) -> None:
    setup_project(client, "retail")
    create_table(client, "retail", "store_sales", "retail_store_sales.csv")


def test_statements_record_the_engine_they_ran_on(client) -> None:
    _sales(client)
    sql = "select count(*) as n from retail.store_sales"
    ran = client.post("/api/v1/query", json={"sql": sql})
    assert ok(ran)["rows"] == [{"n": 20}]
    described = ok(client.get(f"/api/v1/statements/{ran.headers['x-statement-id']}"))
    assert described["engine"] == "duckdb"
    submitted = ok(client.post("/api/v1/statements", json={"sql": sql, "engine": "duckdb"}), 201)
    assert submitted["engine"] == "duckdb"


def test_ray_without_a_cluster_is_refused_naming_the_setting(client) -> None:
    _sales(client)
    for path in ("/api/v1/query", "/api/v1/statements"):
        refused = client.post(
            path, json={"sql": "select count(*) from retail.store_sales", "engine": "ray"}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] == "engine"
        assert "LAKEHOLD_RAY_ADDRESS" in refused.json()["message"]
    denied = ok(client.get("/api/v1/audit", params={"action": "statement", "allowed": False}))
    assert any("LAKEHOLD_RAY_ADDRESS" in (event.get("reason") or "") for event in denied)


def test_an_unknown_engine_names_the_field(client) -> None:
    _sales(client)
    refused = client.post("/api/v1/query", json={"sql": "select 1", "engine": "spark"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == "engine"
