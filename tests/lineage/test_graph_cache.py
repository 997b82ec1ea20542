"""The in-process lineage graph catches up with changes made elsewhere.

Each service keeps its own snapshot, as each API process does; a second service on its own
connection to the same store stands for another process. After every change the first
service's graph (advanced from its snapshot by the change) must equal the graph of a service
that loads everything afresh -- nodes, their order, their edges -- on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest

from lakehold.lineage.fold import dataset_id
from lakehold.lineage.graph_source import Snapshot
from lakehold.lineage.service import LineageService
from lakehold.store.db import Store
from tests.lineage.events import dataset, run_event


@pytest.fixture
def other(runtime, database_url) -> Iterator[LineageService]:
    """Another process's lineage service: its own store connection and graph cache."""
    store = Store(database_url, run_migrations=False)
    yield LineageService(store, runtime.lineage.namespace)
    store.close()


def _run(service: LineageService, job: str, inputs: list[str], outputs: list[str], end="COMPLETE"):
    run_id = str(uuid.uuid4())
    ins = [dataset("pg", n) for n in inputs]
    outs = [dataset("pg", n) for n in outputs]
    service.record(
        [
            run_event("START", job, run_id=run_id, inputs=ins),
            run_event(
                end, job, run_id=run_id, inputs=ins, outputs=outs, time="2026-11-23T10:01:00Z"
            )
            if end
            else run_event("RUNNING", job, run_id=run_id, inputs=ins),
        ]
    )


def _fresh(runtime, admin, node: str, depth: int = 20) -> dict:
    return LineageService(runtime.store, runtime.lineage.namespace).lineage(
        admin, node, depth=depth
    )


def _edges(graph: dict) -> set[tuple[str, str]]:
    return {(e["origin"], e["destination"]) for n in graph["graph"] for e in n["outEdges"]}


def test_a_change_by_another_process_is_seen(runtime, admin, other) -> None:
    _run(runtime.lineage, "extract", ["raw"], ["staged"])
    node = "dataset:pg:raw"
    before = runtime.lineage.lineage(admin, node)
    assert {n["id"] for n in before["graph"]} == {
        "dataset:pg:raw",
        "job:airflow:extract",
        "dataset:pg:staged",
    }
    _run(other, "report", ["staged"], ["summary"])
    after = runtime.lineage.lineage(admin, node)
    assert ("job:airflow:report", "dataset:pg:summary") in _edges(after)
    assert after == _fresh(runtime, admin, node)
    snapshot = runtime.lineage.graphs._snapshot
    assert isinstance(snapshot, Snapshot)  # advanced by the change, not loaded afresh:
    assert dataset_id("pg", "summary") in snapshot.touched
    assert dataset_id("pg", "raw") not in snapshot.touched


def test_replaced_edges_and_run_states_are_seen(runtime, admin, other) -> None:
    _run(runtime.lineage, "load", ["a", "b"], ["c"])
    _run(runtime.lineage, "publish", ["c"], ["d"])
    node = "dataset:pg:c"
    assert ("dataset:pg:a", "job:airflow:load") in _edges(runtime.lineage.lineage(admin, node))
    _run(other, "load", ["b"], ["c"])  # a new job version: the edge from a goes
    after = runtime.lineage.lineage(admin, node)
    assert ("dataset:pg:a", "job:airflow:load") not in _edges(after)
    assert "dataset:pg:a" not in {n["id"] for n in after["graph"]}
    assert after == _fresh(runtime, admin, node)
    _run(other, "publish", ["c"], ["d"], end="FAIL")  # same edges, a new latest run's state
    after = runtime.lineage.lineage(admin, node)
    publish = next(n for n in after["graph"] if n["id"] == "job:airflow:publish")
    assert publish["data"]["latestRun"]["state"] == "FAILED"
    assert after == _fresh(runtime, admin, node)


def test_many_changes_keep_answers_identical(runtime, admin, other) -> None:
    """Random layered changes, each read by the first service and by a fresh one."""
    rng = random.Random(12)
    names = [f"t{i}" for i in range(30)]
    for i in range(10):
        _run(runtime.lineage, f"j{i}", rng.sample(names, 2), [rng.choice(names)])
    runtime.lineage.lineage(admin, "dataset:pg:t0", depth=5)  # a snapshot and its view
    for step in range(12):
        writer = other if step % 2 else runtime.lineage
        job = f"j{rng.randrange(14)}"  # sometimes a new job
        end = rng.choice(["COMPLETE", "FAIL", None])  # None: a run still going
        _run(writer, job, rng.sample(names, rng.randrange(3)), rng.sample(names, 1), end=end)
        for node in ("dataset:pg:t0", f"job:airflow:{job}"):
            for depth in (1, 20):
                seen = runtime.lineage.lineage(admin, node, depth=depth)
                assert seen == _fresh(runtime, admin, node, depth)
                assert seen == other.lineage(admin, node, depth=depth)
