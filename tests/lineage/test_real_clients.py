"""The real ``openlineage-python`` HTTP transport and ``marquez-python`` client against a
running Lakehold server (uvicorn on a free port, in a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from marquez_client import MarquezClient
from marquez_client.errors import APIError
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl
from openlineage.client.facet_v2 import schema_dataset, sql_job
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

from tests.servers import served
from tests.sharing import new_user


@pytest.fixture
def server(runtime, admin_token) -> Iterator[str]:
    with served(runtime) as url:
        yield url


def _schema(*names: str) -> schema_dataset.SchemaDatasetFacet:
    fields = [schema_dataset.SchemaDatasetFacetFields(name=n, type="BIGINT") for n in names]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def _events() -> tuple[str, list[RunEvent]]:
    run = Run(runId=str(generate_new_uuid()))
    job = Job(
        namespace="airflow",
        name="warehouse.load_totals",
        facets={"sql": sql_job.SQLJobFacet(query="SELECT sum(amount) AS total FROM orders")},
    )
    orders = InputDataset(namespace="pg", name="shop.orders", facets={"schema": _schema("amount")})
    lineage = cl.ColumnLineageDatasetFacet(
        fields={
            "total": cl.Fields(
                inputFields=[cl.InputField(namespace="pg", name="shop.orders", field="amount")],
                transformationDescription="sum",
                transformationType="AGGREGATION",
            )
        }
    )
    totals = OutputDataset(
        namespace="pg",
        name="shop.totals",
        facets={"schema": _schema("total"), "columnLineage": lineage},
    )
    events = [
        RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=run,
            job=job,
            producer="https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python",
            inputs=[orders],
            outputs=[totals] if state == RunState.COMPLETE else [],
        )
        for state in (RunState.START, RunState.COMPLETE)
    ]
    return run.runId, events


def _writer(runtime, admin, *namespaces: str) -> str:
    """An administrator-issued lineage:write token of a new user, bound to ``namespaces``."""
    new_user(runtime, admin, "airflow-bot")
    issued = runtime.security.create_token(
        admin,
        "airflow",
        username="airflow-bot",
        scopes=["lineage:write"],
        namespaces=list(namespaces),
    )
    return issued.value


def _client(server: str, token: str) -> OpenLineageClient:
    auth = ApiKeyTokenProvider({"apiKey": token})
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=server, auth=auth)))


def test_openlineage_client_then_marquez_client(server, runtime, admin, admin_token) -> None:
    openlineage = _client(server, _writer(runtime, admin, "airflow", "pg"))
    run_id, events = _events()
    for event in events:
        openlineage.emit(event)
    openlineage.emit(events[0])  # a duplicate delivery is harmless

    marquez = MarquezClient(url=server, api_key=admin_token)
    names = [n["name"] for n in marquez.list_namespaces()["namespaces"]]
    assert {"airflow", "pg"} <= set(names)
    assert marquez.get_namespace("pg")["name"] == "pg"
    datasets = marquez.list_datasets("pg")
    assert datasets["totalCount"] == 2
    totals = marquez.get_dataset("pg", "shop.totals")
    assert [f["name"] for f in totals["fields"]] == ["total"]
    versions = marquez.list_dataset_versions("pg", "shop.totals")
    assert versions["versions"][0]["createdByRun"]["id"] == run_id
    job = marquez.get_job("airflow", "warehouse.load_totals")
    assert job["latestRun"]["state"] == "COMPLETED"
    assert job["outputs"] == [{"namespace": "pg", "name": "shop.totals"}]
    assert marquez.list_jobs("airflow")["totalCount"] == 1
    runs = marquez.list_job_runs("airflow", "warehouse.load_totals")
    assert [r["id"] for r in runs["runs"]] == [run_id]
    assert marquez.get_job_run(run_id)["state"] == "COMPLETED"
    columns = marquez.get_column_lineage_by_dataset("pg", "shop.totals")
    total = next(n for n in columns["graph"] if n["id"] == "datasetField:pg:shop.totals:total")
    assert total["data"]["inputFields"][0]["field"] == "amount"
    by_field = marquez.get_column_lineage_by_dataset_field("pg", "shop.totals", "total")
    assert "datasetField:pg:shop.orders:amount" in {n["id"] for n in by_field["graph"]}
    assert marquez.list_tags() == {"tags": []}
    graph = httpx.get(
        f"{server}/api/v1/lineage",
        params={"nodeId": "dataset:pg:shop.orders"},
        headers={"Authorization": f"Bearer {admin_token}"},
    ).json()
    assert {n["id"] for n in graph["graph"]} == {
        "dataset:pg:shop.orders",
        "job:airflow:warehouse.load_totals",
        "dataset:pg:shop.totals",
    }
    with pytest.raises(APIError):
        marquez.get_dataset("pg", "nope")


def test_openlineage_client_without_a_token_is_refused(server) -> None:
    openlineage = OpenLineageClient(transport=HttpTransport(HttpConfig(url=server)))
    _, events = _events()
    with pytest.raises(Exception) as refused:  # requests.HTTPError from the transport
        openlineage.emit(events[0])
    assert "401" in str(refused.value)


def test_a_writer_bound_to_other_namespaces_is_refused(server, runtime, admin) -> None:
    openlineage = _client(server, _writer(runtime, admin, "airflow"))
    _, events = _events()
    openlineage.emit(events[0])  # job in airflow; the pg input is only read
    with pytest.raises(Exception) as refused:
        openlineage.emit(events[1])  # writes pg:shop.totals
    assert "403" in str(refused.value)
