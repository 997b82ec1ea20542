"""``engine: ray`` end to end: through the statements API, the SDK's shapes and the CLI, on
SQLite and PostgreSQL metadata, with the grant, audit, record and paging of any statement."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.store.models import AuditEvent
from tests.cluster.retail import share_retail
from tests.ops.samples import project, sample
from tests.scenarios.helpers import ok
from tests.sharing import client_for

SCENARIO = (
    "select * from retail.store_sales sales left join retail.customer customer "
    "on sales.cust_id = customer.cust_id inner join retail.inventory inventory "
    "on sales.prod_id = inventory.prod_id where inventory.active = 'Y'"
)
TOTALS = (
    "select sales.cust_id, count(*) as sales, sum(sales.sale_amount) as amount "
    "from retail.store_sales sales group by sales.cust_id order by sales.cust_id"
)


@dataclass
class Served:
    runtime: Runtime
    owner_token: str
    analyst_token: str

    def analyst(self) -> TestClient:
        return client_for(self.runtime, self.analyst_token)  # type: ignore[return-value]


def _serve(settings: Settings) -> Iterator[Served]:
    runtime = Runtime(settings)
    try:
        yield Served(runtime, *share_retail(runtime))
    finally:
        runtime.close()


@pytest.fixture
def served(tmp_path: Path, database_url: str, lakehold_free_cluster: str) -> Iterator[Served]:
    """Scenario 3 on a server whose statements may run on the cluster when asked."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        ray_address=lakehold_free_cluster,
        statement_timeout_seconds=30,
    )
    yield from _serve(settings)


def _query(http: TestClient, sql: str, **extra: object) -> tuple[list[dict], dict]:
    """The rows of ``POST /query`` and the record of its statement."""
    response = http.post("/api/v1/query", json={"sql": sql, "project": "analysts", **extra})
    rows = ok(response)["rows"]
    record = ok(http.get(f"/api/v1/statements/{response.headers['x-statement-id']}"))
    return rows, record


def _ended(http: TestClient, statement_id: str) -> dict:
    """The statement once it has ended (long-polls)."""
    done = {"status": "SUBMITTED"}
    while done["status"] not in ("FINISHED", "FAILED", "ABORTED"):
        done = ok(
            http.get(
                f"/api/v1/statements/{statement_id}",
                params={"wait_seconds": 30, "seen_status": done["status"]},
            )
        )
    return done


def _statement_audit(runtime: Runtime, *, allowed: bool) -> list[AuditEvent]:
    with runtime.store.session() as session:
        query = select(AuditEvent).where(
            AuditEvent.action == "statement", AuditEvent.allowed == allowed
        )
        events = list(session.scalars(query))
        session.expunge_all()
        return events


def _key(row: dict) -> tuple:
    return tuple(str(v) for v in row.values())


def test_the_analyst_reads_scenario_3_on_the_cluster(served: Served) -> None:
    ended = {"project": project("analysts"), "state": "FINISHED", "engine": "ray"}
    before = sample("lakehold_statements_total", **ended)
    with served.analyst() as analyst:
        rows, record = _query(analyst, SCENARIO, engine="ray")
        local, local_record = _query(analyst, SCENARIO, engine="duckdb")
    audit = _statement_audit(served.runtime, allowed=True)
    assert len(rows) == 7
    assert sum(Decimal(r["sale_amount"]) for r in rows) == Decimal("1500.00")
    assert not any("cust_email" in r for r in rows)
    assert sorted(rows, key=_key) == sorted(local, key=_key)
    assert (record["engine"], local_record["engine"]) == ("ray", "duckdb")
    assert record["status"] == "FINISHED" and record["result_rows"] == 7
    assert sample("lakehold_statements_total", **ended) == before + 1
    engines = {e.details.get("statement"): e.details.get("engine") for e in audit}
    assert engines[record["id"]] == "ray" and engines[local_record["id"]] == "duckdb"


def test_a_submitted_statement_pages_its_result(served: Served) -> None:
    body = {"sql": TOTALS, "project": "retail", "engine": "ray"}
    with client_for(served.runtime, served.owner_token) as owner:
        submitted = ok(owner.post("/api/v1/statements", json=body), 201)
        assert submitted["engine"] == "ray"
        done = _ended(owner, submitted["id"])
        assert done["status"] == "FINISHED", done
        url = f"/api/v1/statements/{submitted['id']}/result"
        first = ok(owner.get(url, params={"limit": 4}))
        rest = ok(owner.get(url, params={"offset": first["next_offset"], "limit": 100}))
        local = ok(owner.post("/api/v1/query", json={**body, "engine": "duckdb"}))
    assert first["total_rows"] == done["result_rows"] == len(local["rows"])
    assert first["rows"] + rest["rows"] == local["rows"]  # ordered: the same rows in order
    assert [c["type"] for c in first["columns"]] == [c["type"] for c in local["columns"]]


def test_a_statement_that_does_not_split_is_refused_with_the_reason(served: Served) -> None:
    sql = "select count(distinct cust_id) as customers from retail.store_sales"
    with served.analyst() as analyst:
        refused = analyst.post(
            "/api/v1/query", json={"sql": sql, "project": "analysts", "engine": "ray"}
        )
    denied = _statement_audit(served.runtime, allowed=False)
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == "engine"
    assert "cannot run on the Ray engine" in refused.json()["message"]
    assert "DISTINCT" in refused.json()["message"]
    assert any("Ray engine" in (event.reason or "") for event in denied)


def test_create_table_as_select_runs_its_select_on_the_cluster(served: Served) -> None:
    sql = (
        "create table analysts.widget_sales as select sales.cust_id, sum(sales.sale_amount) "
        "as amount from retail.store_sales sales group by sales.cust_id"
    )
    with served.analyst() as analyst:
        created, record = _query(analyst, sql, engine="ray")
        copied = ok(
            analyst.post(
                "/api/v1/query",
                json={"sql": "select sum(amount) as total from analysts.widget_sales"},
            )
        )["rows"]
        history = ok(analyst.get("/api/v1/projects/analysts/tables/widget_sales/history"))
    assert created[0]["created"] is True and record["engine"] == "ray"
    assert Decimal(copied[0]["total"]) == Decimal("1500.00")  # the analyst's rows only
    assert len(history) == 1


def test_statements_reaching_the_threshold_go_to_the_cluster_by_themselves(
    tmp_path: Path, database_url: str, lakehold_free_cluster: str
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        ray_address=lakehold_free_cluster,
        ray_threshold_bytes=1,
    )
    window = (
        "select sale_id, sum(sale_amount) over (order by sale_id) as running "
        "from retail.store_sales order by sale_id"
    )
    for served in _serve(settings):
        with served.analyst() as analyst:
            rows, record = _query(analyst, SCENARIO)
            ran, ran_record = _query(analyst, window)  # does not split: stays in process
            small, small_record = _query(analyst, "select 42 as answer")  # reads no file
    assert record["engine"] == "ray" and len(rows) == 7
    assert ran_record["engine"] == "duckdb" and len(ran) == 7
    assert small_record["engine"] == "duckdb" and small == [{"answer": 42}]


def test_the_cli_runs_sql_on_the_cluster(served: Served, database_url: str) -> None:
    env = {
        "LAKEHOLD_HOME": str(served.runtime.settings.home),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_RAY_ADDRESS": served.runtime.settings.ray_address or "",
        "LAKEHOLD_TOKEN": served.analyst_token,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(
        app,
        [
            "sql",
            "select count(*) as n, sum(sale_amount) as total from retail.store_sales",
            "--project",
            "analysts",
            "--engine",
            "ray",
            "--format",
            "csv",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "7,1500.00"
    with served.analyst() as analyst:
        latest = ok(analyst.get("/api/v1/statements", params={"limit": 1}))[0]
    assert latest["engine"] == "ray"


def test_a_statement_chosen_by_size_falls_back_when_the_cluster_refuses_it(
    tmp_path: Path, database_url: str, lakehold_free_cluster: str
) -> None:
    """Partial results beyond LAKEHOLD_RAY_MAX_PARTIAL_BYTES: asked for, the statement is
    refused naming the engine; chosen by size, it runs in process and its record says so."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        ray_address=lakehold_free_cluster,
        ray_threshold_bytes=1,
        ray_max_partial_bytes=1,
    )
    for served in _serve(settings):
        with client_for(served.runtime, served.owner_token) as owner:
            body = {"sql": TOTALS, "project": "retail"}
            refused = owner.post("/api/v1/query", json={**body, "engine": "ray"})
            ran, record = _query(owner, TOTALS, project="retail")
            local = ok(owner.post("/api/v1/query", json={**body, "engine": "duckdb"}))["rows"]
            submitted = ok(owner.post("/api/v1/statements", json=body), 201)
            done = _ended(owner, submitted["id"])
    assert refused.status_code == 400 and refused.json()["field"] == "engine"
    assert "exceed" in refused.json()["message"]
    assert ran == local and record["engine"] == "duckdb"
    assert submitted["engine"] == "ray"  # as chosen when it was submitted
    assert done["status"] == "FINISHED" and done["engine"] == "duckdb"
