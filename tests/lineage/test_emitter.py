"""Lineage of Lakehold's own jobs: each table write and CTAS is one run (START + outcome)."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pytest

from lakehold.catalog.tables import DataSource
from lakehold.errors import Invalid, NotFound
from lakehold.lineage.emitter import PRODUCER, RUN_EVENT_URL, LineageEmitter
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests.sharing import new_user


class Spy:
    """A recorder that keeps the events and passes them on to the real lineage service."""

    def __init__(self, runtime: Runtime) -> None:
        self.events: list[dict[str, Any]] = []
        self.real = runtime.lineage

    def record(self, events: list[dict[str, Any]]) -> int:
        self.events.extend(events)
        return self.real.record(events)

    def runs(self) -> list[list[str]]:
        """Event types per run, in order of first appearance."""
        by_run: dict[str, list[str]] = {}
        for event in self.events:
            by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
        return list(by_run.values())


@pytest.fixture
def spy(runtime: Runtime, admin: Principal) -> Spy:
    spy = Spy(runtime)
    runtime.table_service.lineage = LineageEmitter(spy, runtime.settings.lineage_namespace)
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(admin, "shop", "Sales")
    return spy


def csv(text: str) -> DataSource:
    return DataSource(text.encode(), fmt="csv")


def test_create_is_a_start_complete_pair_with_schema_and_statistics(runtime, admin, spy) -> None:
    outcome = runtime.table_service.create_table(
        admin, "shop", "orders", csv("id,amount\n1,2.5\n2,4.0\n3,1.0\n"), keys=["id"]
    )
    start, complete = spy.events
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"]
    uuid.UUID(start["run"]["runId"], version=4)
    assert start["eventTime"] <= complete["eventTime"]
    assert complete["producer"] == PRODUCER == "https://github.com/lakehold/lakehold/0.1.0"
    assert complete["schemaURL"] == RUN_EVENT_URL
    job = complete["job"]
    assert (job["namespace"], job["name"]) == ("lakehold", "shop.create.orders")
    job_type = job["facets"]["jobType"]
    assert (job_type["processingType"], job_type["integration"], job_type["jobType"]) == (
        "BATCH",
        "LAKEHOLD",
        "WRITE",
    )
    assert complete["inputs"] == []
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == ("lakehold", "shop.orders")
    assert output["facets"]["schema"]["fields"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "amount", "type": "DOUBLE"},
    ]
    assert output["facets"]["dataSource"]["name"] == "lakehold"
    assert output["facets"]["dataSource"]["uri"].startswith("file://")
    statistics = output["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == 3
    assert statistics["size"] == outcome.asset.size_bytes > 0
    assert "outputFacets" not in start["outputs"][0]


@pytest.mark.parametrize(
    ("mode", "data", "rows"),
    [
        ("append", "id,amount\n4,1.0\n5,2.0\n", 2),
        ("overwrite", "id,amount\n9,9.0\n", 1),
        ("merge", "id,amount\n1,7.0\n6,1.0\n", 2),
        ("cdc", "id,amount,op\n1,,D\n2,8.0,U\n7,1.0,I\n", 2),
    ],
)
def test_each_write_mode_is_one_run(runtime, admin, spy, mode, data, rows) -> None:
    runtime.table_service.create_table(
        admin, "shop", "orders", csv("id,amount\n1,2.5\n2,4.0\n3,1.0\n"), keys=["id"]
    )
    spy.events.clear()
    outcome = runtime.table_service.write(admin, "shop", "orders", csv(data), mode=mode)
    assert spy.runs() == [["START", "COMPLETE"]]
    complete = spy.events[-1]
    assert complete["job"]["name"] == f"shop.{mode}.orders"
    [output] = complete["outputs"]
    statistics = output["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == rows
    assert ("size" in statistics) == (mode == "overwrite")
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == ["id", "amount"]
    assert outcome.result.rows_inserted + outcome.result.rows_updated == rows


def test_a_failing_write_records_fail_and_still_raises(runtime, admin, spy) -> None:
    runtime.table_service.create_table(admin, "shop", "orders", csv("id,amount\n1,2.5\n"))
    spy.events.clear()
    with pytest.raises(Invalid) as raised:
        runtime.table_service.write(
            admin, "shop", "orders", csv("id,amount\n2,not-a-number\n"), mode="append"
        )
    assert spy.runs() == [["START", "FAIL"]]
    fail = spy.events[-1]
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == raised.value.message
    assert error["programmingLanguage"] == "PYTHON"
    assert "outputFacets" not in fail["outputs"][0]
    assert fail["job"]["name"] == "shop.append.orders"


def test_refused_writes_are_not_runs(runtime, admin, spy) -> None:
    eve = runtime.security.authenticate(new_user(runtime, admin, "eve")[1])
    with pytest.raises(NotFound):
        runtime.table_service.create_table(eve, "shop", "x", csv("a\n1\n"))
    with pytest.raises(Invalid):
        runtime.table_service.create_table(admin, "shop", "Bad Name", csv("a\n1\n"))
    with pytest.raises(Invalid):
        runtime.table_service.write(admin, "shop", "x", csv("a\n1\n"), mode="upsert")
    assert spy.events == []


def test_recording_failure_never_breaks_a_write(runtime, admin, spy, caplog) -> None:
    class Broken:
        def record(self, events: list[dict[str, Any]]) -> int:
            raise RuntimeError("lineage store is down")

    runtime.table_service.lineage = LineageEmitter(Broken(), "lakehold")
    outcome = runtime.table_service.create_table(admin, "shop", "t", csv("a\n1\n"))
    assert outcome.asset.row_count == 1
    assert "could not record lineage events" in caplog.text


def test_ctas_is_one_run_with_inputs_sql_and_column_lineage(runtime, admin, spy) -> None:
    runtime.table_service.create_table(
        admin, "shop", "orders", csv("id,cust,amount\n1,a,2\n2,a,3\n3,b,5\n")
    )
    spy.events.clear()
    sql = (
        "CREATE TABLE shop.totals AS SELECT cust, sum(amount) AS total "
        "FROM shop.orders WHERE amount > 1 GROUP BY cust"
    )
    runtime.statements.execute(admin, sql, project="shop")
    assert spy.runs() == [["START", "COMPLETE"]]
    start, complete = spy.events
    job = complete["job"]
    assert job["name"] == "shop.ctas.totals"
    assert job["facets"]["jobType"]["jobType"] == "CTAS"
    assert job["facets"]["sql"]["query"] == sql
    [source] = complete["inputs"]
    assert (source["namespace"], source["name"]) == ("lakehold", "shop.orders")
    assert [f["name"] for f in source["facets"]["schema"]["fields"]] == ["id", "cust", "amount"]
    [output] = complete["outputs"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2
    lineage = output["facets"]["columnLineage"]
    assert lineage == start["outputs"][0]["facets"]["columnLineage"]
    assert lineage["fields"]["total"]["inputFields"] == [
        {
            "namespace": "lakehold",
            "name": "shop.orders",
            "field": "amount",
            "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "masking": False}],
        }
    ]
    assert [(f["field"], f["transformations"][0]["subtype"]) for f in lineage["dataset"]] == [
        ("amount", "FILTER"),
        ("cust", "GROUP_BY"),
    ]


def test_failing_ctas_records_fail(runtime, admin, spy) -> None:
    runtime.table_service.create_table(admin, "shop", "orders", csv("id,code\n1,x1\n"))
    spy.events.clear()
    with pytest.raises(Invalid) as raised:
        runtime.statements.execute(
            admin,
            "CREATE TABLE shop.bad AS SELECT CAST(code AS INTEGER) AS n FROM shop.orders",
            project="shop",
        )
    assert spy.runs() == [["START", "FAIL"]]
    assert spy.events[-1]["job"]["name"] == "shop.ctas.bad"
    assert spy.events[-1]["run"]["facets"]["errorMessage"]["message"] == raised.value.message


def test_emit_sync_names_the_external_source(runtime, admin, spy) -> None:
    emitter = runtime.table_service.lineage
    source = pa.schema([("id", pa.int64())])
    with emitter.emit_sync(
        "shop",
        "customers",
        source_namespace="postgres://db.example.com:5432",
        source_name="crm.public.customers",
        source_schema=source,
    ):
        runtime.table_service.create_table(admin, "shop", "customers", csv("id\n1\n2\n"))
    assert spy.runs() == [["START", "COMPLETE"]]
    complete = spy.events[-1]
    assert complete["job"]["name"] == "shop.sync.customers"
    assert complete["job"]["facets"]["jobType"]["jobType"] == "SYNC"
    assert complete["inputs"][0]["namespace"] == "postgres://db.example.com:5432"
    assert complete["inputs"][0]["facets"]["schema"]["fields"] == [{"name": "id", "type": "BIGINT"}]
    assert complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2
