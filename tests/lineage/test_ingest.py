"""Ingest: validation naming fields, duplicates, batch atomicity, the lineage:write scope."""

from __future__ import annotations

import uuid

from lakehold.store.lineage import LineageEvent
from tests.lineage.events import dataset, run_event
from tests.sharing import client_for, new_user


def test_one_event_is_201_and_a_duplicate_is_harmless(client) -> None:
    event = run_event("START", "etl.load", outputs=[dataset("pg", "public.orders", "id")])
    first = client.post("/api/v1/lineage", json=event)
    assert first.status_code == 201, first.text
    assert first.json() == {"accepted": 1, "duplicates": 0}
    again = client.post("/api/v1/lineage", json=event)
    assert again.status_code == 201 and again.json() == {"accepted": 0, "duplicates": 1}
    runs = client.get("/api/v1/namespaces/airflow/jobs/etl.load/runs").json()
    assert runs["totalCount"] == 1


def test_validation_errors_name_the_field(client) -> None:
    bad_run_id = run_event("START", "j")
    bad_run_id["run"]["runId"] = "not-a-uuid"
    response = client.post("/api/v1/lineage", json=bad_run_id)
    assert response.status_code == 400
    assert response.json()["field"] == "events[0].run.runId"
    cases = {
        "events[0].eventType": {**run_event("START", "j"), "eventType": "DONE"},
        "events[0].eventTime": {**run_event("START", "j"), "eventTime": "yesterday"},
        "events[0].producer": {k: v for k, v in run_event("START", "j").items() if k != "producer"},
        "events[0].job.name": {**run_event("START", "j"), "job": {"namespace": "n"}},
        "events[0].outputs[0].namespace": {**run_event("START", "j"), "outputs": [{"name": "x"}]},
        "events[0]": {"eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": "s"},
    }
    for field, event in cases.items():
        response = client.post("/api/v1/lineage", json=event)
        assert response.status_code == 400, (field, response.text)
        assert response.json()["field"] == field
    assert client.post("/api/v1/lineage", content=b"{not json").status_code == 400


def test_dataset_and_job_events_are_accepted(client) -> None:
    dataset_event = {
        "eventTime": "2026-11-23T10:00:00Z",
        "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": dataset("pg", "public.static", "a", "b"),
    }
    job_event = {
        "eventTime": "2026-11-23T10:00:00Z",
        "producer": "p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "dbt", "name": "model.static"},
        "inputs": [dataset("pg", "public.static")],
        "outputs": [dataset("pg", "public.derived")],
    }
    for event in (dataset_event, job_event):
        assert client.post("/api/v1/lineage", json=event).status_code == 201
    found = client.get("/api/v1/namespaces/pg/datasets/public.static").json()
    assert [f["name"] for f in found["fields"]] == ["a", "b"]
    job = client.get("/api/v1/namespaces/dbt/jobs/model.static").json()
    assert job["outputs"] == [{"namespace": "pg", "name": "public.derived"}]


def test_batch_counts_duplicates_and_is_atomic(runtime, client) -> None:
    events = [run_event("START", f"job{i}") for i in range(5)]
    response = client.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 200 and response.json() == {"accepted": 5, "duplicates": 0}
    again = client.post("/api/v1/lineage/batch", json={"events": [*events, events[0]]})
    assert again.json() == {"accepted": 0, "duplicates": 6}
    fresh = [run_event("START", f"other{i}") for i in range(4)]
    fresh[3]["run"]["runId"] = "nope"
    bad = client.post("/api/v1/lineage/batch", json={"events": fresh})
    assert bad.status_code == 400 and bad.json()["field"] == "events[3].run.runId"
    with runtime.store.session() as session:
        assert session.query(LineageEvent).count() == 5  # nothing of the bad batch
    assert client.post("/api/v1/lineage/batch", json={"events": 3}).status_code == 400


def test_ingest_needs_a_token_with_the_lineage_write_scope(runtime, admin, anonymous) -> None:
    event = run_event("START", "j", run_id=str(uuid.uuid4()))
    assert anonymous.post("/api/v1/lineage", json=event).status_code == 401
    assert anonymous.get("/api/v1/namespaces").status_code == 401
    _, plain = new_user(runtime, admin, "reader")
    with client_for(runtime, plain) as reader:
        refused = reader.post("/api/v1/lineage", json=event)
        assert refused.status_code == 403 and "lineage:write" in refused.json()["message"]
        assert reader.post("/api/v1/lineage/batch", json=[event]).status_code == 403
        asked = reader.post("/api/v1/tokens", json={"name": "ol", "scopes": ["lineage:write"]})
        assert asked.status_code == 403  # only administrators grant lineage:write
        bad_scope = reader.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
        assert bad_scope.status_code == 400 and bad_scope.json()["field"] == "scopes"
    with client_for(runtime, runtime.security.create_token(admin, "t").value) as admin_http:
        body = {"name": "ol", "username": "reader", "scopes": ["lineage:write"]}
        unbound = admin_http.post("/api/v1/tokens", json=body)
        assert unbound.status_code == 400 and unbound.json()["field"] == "namespaces"
        issued = admin_http.post("/api/v1/tokens", json={**body, "namespaces": ["airflow"]})
        assert issued.status_code == 201, issued.text
        assert issued.json()["scopes"] == ["lineage:write"]
        assert issued.json()["namespaces"] == ["airflow"]
    with client_for(runtime, issued.json()["value"]) as writer:
        assert writer.post("/api/v1/lineage", json=event).status_code == 201
