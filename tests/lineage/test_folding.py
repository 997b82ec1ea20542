"""Folding: dataset versions, job versions, run states, edges and column lineage."""

from __future__ import annotations

import uuid

from tests.lineage.events import column_lineage, dataset, run_event


def _run(admin, runtime, job, inputs, outputs, *, sql=None, end="COMPLETE", minute=0):
    run_id = str(uuid.uuid4())
    start = f"2026-11-23T10:{minute:02d}:00Z"
    stop = f"2026-11-23T10:{minute:02d}:30Z"
    runtime.lineage.record(
        [
            run_event("START", job, run_id=run_id, inputs=inputs, time=start, sql=sql),
            run_event(end, job, run_id=run_id, inputs=inputs, outputs=outputs, time=stop, sql=sql),
        ]
    )
    return run_id


def test_run_states_and_times(runtime, admin) -> None:
    done = _run(admin, runtime, "etl", [dataset("pg", "src")], [dataset("pg", "dst")])
    failed = _run(admin, runtime, "etl", [dataset("pg", "src")], [], end="FAIL", minute=5)
    run = runtime.lineage.run(admin, done)
    assert run["state"] == "COMPLETED"
    assert run["startedAt"] == "2026-11-23T10:00:00Z" and run["endedAt"] == "2026-11-23T10:00:30Z"
    assert run["durationMs"] == 30_000
    assert run["inputDatasetVersions"][0]["datasetVersionId"]["name"] == "src"
    assert run["outputDatasetVersions"][0]["datasetVersionId"]["name"] == "dst"
    assert runtime.lineage.run(admin, failed)["state"] == "FAILED"
    runs = runtime.lineage.runs(admin, "airflow", "etl")
    assert [r["id"] for r in runs["runs"]] == [failed, done]  # newest first
    assert runtime.lineage.job(admin, "airflow", "etl")["latestRun"]["id"] == failed


def test_out_of_order_events_keep_the_terminal_state(runtime, admin) -> None:
    run_id = str(uuid.uuid4())
    runtime.lineage.record(
        [run_event("COMPLETE", "late", run_id=run_id, time="2026-11-23T11:00:00Z")]
    )
    runtime.lineage.record([run_event("START", "late", run_id=run_id, time="2026-11-23T10:00:00Z")])
    runtime.lineage.record(
        [run_event("RUNNING", "late", run_id=run_id, time="2026-11-23T10:30:00Z")]
    )
    run = runtime.lineage.run(admin, run_id)
    assert run["state"] == "COMPLETED" and run["startedAt"] == "2026-11-23T10:00:00Z"


def test_dataset_versions_per_writing_run_and_per_schema_change(runtime, admin) -> None:
    _run(admin, runtime, "w", [], [dataset("pg", "t", "a")])
    _run(admin, runtime, "w", [], [dataset("pg", "t", "a")], minute=1)
    versions = runtime.lineage.dataset_versions(admin, "pg", "t")
    assert versions["totalCount"] == 2  # one per COMPLETE run writing it
    assert versions["versions"][0]["createdByRun"]["state"] == "COMPLETED"
    later = "2026-11-23T12:00:00Z"
    runtime.lineage.record(
        [run_event("START", "r", inputs=[dataset("pg", "t", "a", "b")], time=later)]
    )
    current = runtime.lineage.dataset(admin, "pg", "t")
    assert [f["name"] for f in current["fields"]] == ["a", "b"]
    versions = runtime.lineage.dataset_versions(admin, "pg", "t")
    assert versions["totalCount"] == 3
    assert versions["versions"][0]["version"] == current["currentVersion"]
    assert [f["name"] for f in versions["versions"][0]["fields"]] == ["a", "b"]


def test_job_versions_change_with_inputs_outputs_and_sql(runtime, admin) -> None:
    _run(admin, runtime, "j", [dataset("pg", "a")], [dataset("pg", "out")], sql="select 1")
    _run(
        admin, runtime, "j", [dataset("pg", "a")], [dataset("pg", "out")], sql="select 1", minute=1
    )
    assert runtime.lineage.job_versions(admin, "airflow", "j")["totalCount"] == 1
    _run(
        admin, runtime, "j", [dataset("pg", "b")], [dataset("pg", "out")], sql="select 1", minute=2
    )
    _run(
        admin, runtime, "j", [dataset("pg", "b")], [dataset("pg", "out")], sql="select 2", minute=3
    )
    versions = runtime.lineage.job_versions(admin, "airflow", "j")
    assert versions["totalCount"] == 3
    assert versions["versions"][0]["facets"]["sql"]["query"] == "select 2"
    job = runtime.lineage.job(admin, "airflow", "j")
    assert job["currentVersion"] == versions["versions"][0]["version"]
    assert job["inputs"] == [{"namespace": "pg", "name": "b"}]  # edges of the current version
    graph = runtime.lineage.lineage(admin, "dataset:pg:out", depth=5)
    ids = {n["id"] for n in graph["graph"]}
    assert ids == {"dataset:pg:out", "job:airflow:j", "dataset:pg:b"}


def test_column_lineage_from_the_facet(runtime, admin) -> None:
    lineage = column_lineage(total=[("pg", "orders", "amount"), ("pg", "orders", "tax")])
    out = dataset("pg", "totals", "total", columnLineage=lineage)
    _run(admin, runtime, "agg", [dataset("pg", "orders", "amount", "tax")], [out])
    graph = runtime.lineage.column_lineage(admin, "datasetField:pg:totals:total", depth=3)
    nodes = {n["id"]: n for n in graph["graph"]}
    total = nodes["datasetField:pg:totals:total"]
    assert {e["origin"] for e in total["inEdges"]} == {
        "datasetField:pg:orders:amount",
        "datasetField:pg:orders:tax",
    }
    assert total["data"]["fieldType"] == "VARCHAR"
    assert total["data"]["inputFields"][0]["transformations"][0]["type"] == "DIRECT"
    down = runtime.lineage.column_lineage(admin, "dataset:pg:orders", depth=3, with_downstream=True)
    assert "datasetField:pg:totals:total" in {n["id"] for n in down["graph"]}
    by_job = runtime.lineage.column_lineage(admin, "job:airflow:agg", depth=1)
    assert "datasetField:pg:totals:total" in {n["id"] for n in by_job["graph"]}
    assert runtime.lineage.dataset(admin, "pg", "totals")["columnLineage"][0]["name"] == "total"


def test_graph_depth_counts_jobs(runtime, admin) -> None:
    for i in range(4):
        _run(admin, runtime, f"step{i}", [dataset("pg", f"d{i}")], [dataset("pg", f"d{i + 1}")])
    near = runtime.lineage.lineage(admin, "dataset:pg:d0", depth=1)
    assert {n["id"] for n in near["graph"]} == {
        "dataset:pg:d0",
        "job:airflow:step0",
        "dataset:pg:d1",
    }
    far = runtime.lineage.lineage(admin, "dataset:pg:d0", depth=20)
    assert len(far["graph"]) == 9
