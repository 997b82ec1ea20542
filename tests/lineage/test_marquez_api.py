"""Marquez-compatible reads: paths, JSON shapes, paging, search, tags, OpenAPI."""

from __future__ import annotations

import uuid

import pytest

from lakehold.api.app import create_app
from tests.lineage.events import PRODUCER, column_lineage, dataset, run_event

PATHS = (
    "/api/v1/lineage",
    "/api/v1/lineage/batch",
    "/api/v1/column-lineage",
    "/api/v1/search",
    "/api/v1/tags",
    "/api/v1/namespaces",
    "/api/v1/namespaces/{namespace}",
    "/api/v1/namespaces/{namespace}/datasets",
    "/api/v1/namespaces/{namespace}/datasets/{name}",
    "/api/v1/namespaces/{namespace}/datasets/{name}/versions",
    "/api/v1/namespaces/{namespace}/jobs",
    "/api/v1/namespaces/{namespace}/jobs/{name}",
    "/api/v1/namespaces/{namespace}/jobs/{name}/versions",
    "/api/v1/namespaces/{namespace}/jobs/{name}/runs",
    "/api/v1/jobs/runs/{run_id}",
    "/api/v1/jobs",
)
PG = "postgres://db:5432"


@pytest.fixture
def loaded(client) -> str:
    run_id = str(uuid.uuid4())
    tags = {"_producer": PRODUCER, "_schemaURL": "x", "tags": [{"key": "pii", "value": "true"}]}
    orders = dataset(PG, "public.orders", "id", "amount", tags=tags)
    lineage = column_lineage(total=[(PG, "public.orders", "amount")])
    events = [
        run_event("START", "daily.totals", run_id=run_id, inputs=[orders]),
        run_event(
            "COMPLETE",
            "daily.totals",
            run_id=run_id,
            inputs=[orders],
            outputs=[dataset(PG, "public.totals", "total", columnLineage=lineage)],
            time="2026-11-23T10:05:00Z",
        ),
    ]
    assert client.post("/api/v1/lineage/batch", json=events).status_code == 200
    return run_id


def test_openapi_lists_the_lineage_endpoints(runtime) -> None:
    paths = create_app(runtime).openapi()["paths"]
    for path in PATHS:
        assert path in paths, path


def test_namespaces_datasets_and_versions(client, loaded) -> None:
    names = [n["name"] for n in client.get("/api/v1/namespaces").json()["namespaces"]]
    assert names == ["airflow", PG]
    ns = client.get("/api/v1/namespaces/postgres:%2F%2Fdb:5432").json()
    assert set(ns) >= {"name", "createdAt", "updatedAt", "ownerName", "description"}
    listed = client.get("/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets?limit=1").json()
    assert listed["totalCount"] == 2 and len(listed["datasets"]) == 1
    second = client.get("/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets?limit=1&offset=1")
    assert second.json()["datasets"][0]["name"] == "public.totals"
    orders = client.get("/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets/public.orders").json()
    assert orders["id"] == {"namespace": PG, "name": "public.orders"}
    assert set(orders) >= {
        "type", "name", "physicalName", "createdAt", "updatedAt", "namespace", "sourceName",
        "fields", "tags", "lastModifiedAt", "description", "currentVersion", "facets",
    }  # fmt: skip
    assert [f["name"] for f in orders["fields"]] == ["id", "amount"]
    assert orders["tags"] == ["pii"] and "schema" in orders["facets"]
    versions = client.get(
        "/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets/public.totals/versions"
    ).json()
    assert versions["totalCount"] == 1
    assert versions["versions"][0]["createdByRun"]["state"] == "COMPLETED"
    missing = client.get("/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets/nope")
    assert missing.status_code == 404
    assert client.get("/api/v1/namespaces/nope").status_code == 404


def test_jobs_runs_and_job_versions(client, loaded) -> None:
    job = client.get("/api/v1/namespaces/airflow/jobs/daily.totals").json()
    assert job["id"] == {"namespace": "airflow", "name": "daily.totals"}
    assert job["type"] == "BATCH" and job["latestRun"]["id"] == loaded
    assert job["latestRun"]["state"] == "COMPLETED"
    assert job["inputs"] == [{"namespace": PG, "name": "public.orders"}]
    assert job["outputs"] == [{"namespace": PG, "name": "public.totals"}]
    runs = client.get("/api/v1/namespaces/airflow/jobs/daily.totals/runs").json()
    assert runs["totalCount"] == 1 and runs["runs"][0]["state"] == "COMPLETED"
    run = client.get(f"/api/v1/jobs/runs/{loaded}").json()
    assert run["jobVersion"]["version"] == job["currentVersion"]
    assert client.get(f"/api/v1/jobs/runs/{uuid.uuid4()}").status_code == 404
    versions = client.get("/api/v1/namespaces/airflow/jobs/daily.totals/versions").json()
    assert versions["versions"][0]["version"] == job["currentVersion"]
    assert client.get("/api/v1/jobs").json()["totalCount"] == 1
    assert client.get("/api/v1/namespaces/airflow/jobs").json()["jobs"][0]["name"] == "daily.totals"


def test_lineage_graph_shape(client, loaded) -> None:
    response = client.get(
        "/api/v1/lineage", params={"nodeId": f"dataset:{PG}:public.orders", "depth": 2}
    )
    assert response.status_code == 200, response.text
    nodes = {n["id"]: n for n in response.json()["graph"]}
    job = nodes["job:airflow:daily.totals"]
    assert job["type"] == "JOB" and job["data"]["name"] == "daily.totals"
    assert job["data"]["latestRun"] == {"id": loaded, "state": "COMPLETED"}
    assert job["inEdges"] == [
        {"origin": f"dataset:{PG}:public.orders", "destination": "job:airflow:daily.totals"}
    ]
    assert job["outEdges"][0]["destination"] == f"dataset:{PG}:public.totals"
    assert nodes[f"dataset:{PG}:public.totals"]["type"] == "DATASET"
    bad = client.get("/api/v1/lineage", params={"nodeId": "table:x"})
    assert bad.status_code == 400 and bad.json()["field"] == "nodeId"
    assert client.get("/api/v1/lineage", params={"nodeId": "dataset:a:b"}).status_code == 404
    assert (
        client.get("/api/v1/lineage", params={"nodeId": "job:airflow:x", "depth": -1}).status_code
        == 400
    )
    columns = client.get(
        "/api/v1/column-lineage", params={"nodeId": f"dataset:{PG}:public.totals"}
    ).json()
    total = next(n for n in columns["graph"] if n["id"].endswith(":total"))
    assert total["type"] == "DATASET_FIELD"
    assert total["data"]["inputFields"][0]["field"] == "amount"


def test_search_and_tags(client, loaded) -> None:
    found = client.get("/api/v1/search", params={"q": "TOTALS"}).json()
    assert found["totalCount"] == 2
    assert {r["type"] for r in found["results"]} == {"DATASET", "JOB"}
    assert set(found["results"][0]) == {"type", "name", "updatedAt", "namespace", "nodeId"}
    jobs = client.get("/api/v1/search", params={"q": "totals", "filter": "JOB"}).json()
    assert [r["nodeId"] for r in jobs["results"]] == ["job:airflow:daily.totals"]
    assert client.get("/api/v1/search", params={"q": "x", "sort": "SIZE"}).status_code == 400
    assert client.get("/api/v1/search", params={"q": "%"}).json()["totalCount"] == 0
    assert client.get("/api/v1/tags").json() == {"tags": [{"name": "pii", "description": None}]}


MARQUEZ_RUN_STATES = {"NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED"}


@pytest.mark.parametrize(
    ("events", "shown"),
    [
        (["START"], "RUNNING"),
        (["START", "RUNNING"], "RUNNING"),
        (["START", "COMPLETE"], "COMPLETED"),
        (["START", "FAIL"], "FAILED"),
        (["START", "ABORT"], "ABORTED"),
        (["START", "OTHER"], "RUNNING"),
        (["OTHER"], "NEW"),
    ],
)
def test_run_states_are_marquez_run_states(client, events, shown) -> None:
    """Runs show Marquez's RunState (its openapi.yml), not the OpenLineage event type."""
    run_id = str(uuid.uuid4())
    batch = [
        run_event(kind, "etl.load", run_id=run_id, time=f"2026-11-23T10:0{i}:00Z")
        for i, kind in enumerate(events)
    ]
    assert client.post("/api/v1/lineage/batch", json=batch).status_code == 200
    run = client.get(f"/api/v1/jobs/runs/{run_id}").json()
    assert run["state"] == shown and shown in MARQUEZ_RUN_STATES
    job = client.get("/api/v1/namespaces/airflow/jobs/etl.load").json()
    assert job["latestRun"]["state"] == shown
    assert [r["state"] for r in job["latestRuns"]] == [shown]
    runs = client.get("/api/v1/namespaces/airflow/jobs/etl.load/runs").json()["runs"]
    assert [r["state"] for r in runs] == [shown]
    graph = client.get("/api/v1/lineage", params={"nodeId": "job:airflow:etl.load"}).json()
    [node] = [n for n in graph["graph"] if n["id"] == "job:airflow:etl.load"]
    assert node["data"]["latestRun"]["state"] == shown
