"""Scenario: lineage of a star schema built on TICKIT staging tables (through the HTTP API).

After "Automate data lineage on Amazon MWAA with OpenLineage": staging tables are loaded, a
user dimension and a sales fact are built with SQL, and the lineage graph shows how each was
derived -- here recorded by Lakehold itself, with column lineage, run states and statistics.
An external tool (the real ``openlineage-python`` client over HTTP) adds a job downstream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from tests.scenarios.helpers import ok, query, setup_project
from tests.servers import served
from tests.sharing import add_member, client_for, new_user

DATA = Path(__file__).resolve().parents[1] / "data" / "tickit"
NS = "lakehold"

DIM_USER = """
CREATE TABLE tickit.dim_user AS
WITH purchases AS (
    SELECT buyerid, count(*) AS orders, sum(pricepaid) AS spent
    FROM tickit.sales GROUP BY buyerid
)
SELECT u.userid AS user_key,
       u.firstname || ' ' || u.lastname AS full_name,
       u.city,
       coalesce(p.orders, 0) AS orders,
       CASE WHEN p.spent > 500 THEN 'gold' ELSE 'standard' END AS tier
FROM tickit.users u LEFT JOIN purchases p ON p.buyerid = u.userid
"""

FACT_SALES = """
CREATE TABLE tickit.fact_sales AS
SELECT s.salesid AS sale_key, s.buyerid AS user_key, e.eventname,
       s.qtysold, s.pricepaid - s.commission AS net_amount
FROM tickit.sales s JOIN tickit.event e ON e.eventid = s.eventid
WHERE s.qtysold > 1
"""


def node(kind: str, name: str, namespace: str = NS) -> str:
    return f"{kind}:{namespace}:{name}"


def load(client, table: str) -> None:
    path = DATA / f"{table}.csv"
    files = {"file": (path.name, path.read_bytes())}
    ok(client.post("/api/v1/projects/tickit/tables", data={"name": table}, files=files), 201)


def graph(client, node_id: str, depth: int = 5) -> dict[str, dict]:
    found = ok(client.get("/api/v1/lineage", params={"nodeId": node_id, "depth": depth}))
    return {n["id"]: n for n in found["graph"]}


def origins(nodes: dict[str, dict], node_id: str) -> set[str]:
    return {e["origin"] for e in nodes[node_id]["inEdges"]}


def runs(client, job: str) -> list[dict]:
    return ok(client.get(f"/api/v1/namespaces/{NS}/jobs/{job}/runs"))["runs"]


def statistics(client, table: str, run_id: str) -> int:
    """``outputStatistics.rowCount`` of the version of ``table`` that run ``run_id`` wrote."""
    versions = ok(client.get(f"/api/v1/namespaces/{NS}/datasets/tickit.{table}/versions"))
    [version] = [v for v in versions["versions"] if (v["createdByRun"] or {}).get("id") == run_id]
    return version["facets"]["outputStatistics"]["rowCount"]


@pytest.fixture
def server(runtime) -> Iterator[str]:
    """A real HTTP server (uvicorn) serving the test's runtime."""
    with served(runtime) as url:
        yield url


def test_star_schema_lineage(runtime, admin, client, server) -> None:
    setup_project(client, "tickit")
    for table in ("users", "event", "sales"):
        load(client, table)
    built = query(client, DIM_USER)
    assert built[0]["rows"] == 12
    assert query(client, FACT_SALES)[0]["rows"] == 8

    # The dimension is derived from the staging tables through the CTAS job.
    dim, ctas = node("dataset", "tickit.dim_user"), node("job", "tickit.ctas.dim_user")
    nodes = graph(client, dim)
    assert origins(nodes, dim) == {ctas}
    assert origins(nodes, ctas) == {
        node("dataset", "tickit.users"),
        node("dataset", "tickit.sales"),
    }
    assert origins(nodes, node("dataset", "tickit.users")) == {node("job", "tickit.create.users")}
    assert nodes[ctas]["data"]["latestRun"]["state"] == "COMPLETED"

    # Exact column lineage of the dimension.
    columns = ok(client.get("/api/v1/column-lineage", params={"nodeId": dim, "depth": 1}))
    derived = {
        n["data"]["field"]: sorted(
            (i["dataset"], i["field"], t["type"], t["subtype"])
            for i in n["data"]["inputFields"]
            for t in i["transformations"]
        )
        for n in columns["graph"]
        if n["data"]["dataset"] == "tickit.dim_user"
    }
    assert derived == {
        "user_key": [("tickit.users", "userid", "DIRECT", "IDENTITY")],
        "full_name": [
            ("tickit.users", "firstname", "DIRECT", "TRANSFORMATION"),
            ("tickit.users", "lastname", "DIRECT", "TRANSFORMATION"),
        ],
        "city": [("tickit.users", "city", "DIRECT", "IDENTITY")],
        "orders": [],
        "tier": [("tickit.sales", "pricepaid", "INDIRECT", "CONDITIONAL")],
    }

    # Runs completed; their output statistics are the tables' row counts.
    for table, operation, rows in (
        ("users", "create", 12),
        ("dim_user", "ctas", 12),
        ("fact_sales", "ctas", 8),
    ):
        [run] = runs(client, f"tickit.{operation}.{table}")
        assert run["state"] == "COMPLETED"
        assert statistics(client, table, run["id"]) == rows
        assert ok(client.get(f"/api/v1/projects/tickit/assets/{table}"))["row_count"] == rows

    # A CTAS that fails at run time (a bad cast) is a FAILED run with the error message.
    bad = client.post(
        "/api/v1/query",
        json={
            "sql": "CREATE TABLE tickit.bad AS SELECT CAST(username AS INTEGER) AS n "
            "FROM tickit.users"
        },
    )
    assert bad.status_code == 400, bad.text
    [failed] = runs(client, "tickit.ctas.bad")
    assert failed["state"] == "FAILED"
    assert failed["facets"]["errorMessage"]["message"] == bad.json()["message"]
    assert client.get("/api/v1/projects/tickit/assets/bad").status_code == 404

    # An external tool reads fact_sales: its job joins the same graph downstream.
    token = ok(
        client.post(
            "/api/v1/tokens",
            json={
                "name": "airflow",
                "scopes": ["lineage:write"],
                "namespaces": ["airflow", "reporting"],
            },
        ),
        201,
    )["value"]
    transport = HttpTransport(
        HttpConfig(url=server, auth=ApiKeyTokenProvider({"apiKey": token}), timeout=10)
    )
    airflow = OpenLineageClient(transport=transport)
    run_id = str(uuid.uuid4())
    for state in (RunState.START, RunState.COMPLETE):
        airflow.emit(
            RunEvent(
                eventType=state,
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId=run_id),
                job=Job(namespace="airflow", name="rs_staging_to_dm.sales_report"),
                inputs=[InputDataset(namespace=NS, name="tickit.fact_sales")],
                outputs=[OutputDataset(namespace="reporting", name="sales_report")],
                producer="https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python",
            )
        )
    report_job = node("job", "rs_staging_to_dm.sales_report", "airflow")
    nodes = graph(client, dim, depth=10)
    downstream = graph(client, node("dataset", "tickit.fact_sales"))
    assert origins(downstream, report_job) == {node("dataset", "tickit.fact_sales")}
    assert origins(downstream, node("dataset", "sales_report", "reporting")) == {report_job}
    assert node("dataset", "tickit.sales") in origins(
        downstream, node("job", "tickit.ctas.fact_sales")
    )
    assert report_job in nodes  # the staging sales table links both marts

    # The asset's own lineage endpoint: upstream and downstream, linked back to assets.
    around = ok(client.get("/api/v1/projects/tickit/assets/fact_sales/lineage"))
    upstream = {n["id"]: n for n in around["upstream"]}
    assert node("job", "tickit.ctas.fact_sales") in upstream
    assert upstream[node("dataset", "tickit.event")]["asset"] == {
        "project": "tickit",
        "name": "event",
    }
    assert [n["id"] for n in around["downstream"]] == [
        report_job,
        node("dataset", "sales_report", "reporting"),
    ]
    assert around["downstream"][1]["asset"] is None
    only_up = ok(
        client.get(
            "/api/v1/projects/tickit/assets/dim_user/lineage",
            params={"direction": "upstream", "depth": 1},
        )
    )
    assert "downstream" not in only_up
    assert {n["id"] for n in only_up["upstream"]} == {
        ctas,
        node("dataset", "tickit.users"),
        node("dataset", "tickit.sales"),
    }
    assert {n["data"]["field"] for n in only_up["columnLineage"]} >= {"user_key", "tier"}

    # A user of another project, without a grant, sees the report's upstream only as
    # opaque placeholders, and cannot read the asset's lineage at all.
    setup_project(client, "marketing")
    analyst, analyst_token = new_user(runtime, admin, "analyst")
    add_member(runtime, "marketing", analyst, "contributor")
    with client_for(runtime, analyst_token) as other:
        seen = graph(other, node("dataset", "sales_report", "reporting"), depth=10)
        assert report_job in seen
        hidden = [
            n for n in seen.values() if n["id"].startswith(("dataset:hidden:", "job:hidden:"))
        ]
        assert len(hidden) >= 6  # fact_sales, sales, event and the jobs writing them
        assert all(n["data"]["name"] is None for n in hidden)
        assert not any("tickit" in node_id for node_id in seen)
        assert other.get("/api/v1/projects/tickit/assets/fact_sales/lineage").status_code == 404
