"""The lineage graph around a node: a breadth-first walk over the edges, both directions.

Each step takes the edges of the whole frontier at once (the frontier alternates between
datasets and jobs) from a :mod:`~lakehold.lineage.graph_source`: an in-memory snapshot, or the
store (one query per step). ``depth`` counts jobs away from the start, as Marquez does.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.lineage.bulk import chunks
from lakehold.lineage.graph_source import Edge, GraphSource
from lakehold.lineage.visibility import DATASET, JOB, Visibility, placeholder_id


def walk(
    source: GraphSource, kind: str, start: str, depth: int
) -> tuple[list[str], list[str], set[Edge]]:
    """Dataset ids and job ids within ``depth`` jobs of ``start``, and the edges between them."""
    datasets, jobs = ([start], []) if kind == DATASET else ([], [start])
    seen = {start}
    edges: set[Edge] = set()
    frontier, on_datasets = [start], kind == DATASET
    for _ in range(2 * depth + (0 if kind == DATASET else 1)):
        if not frontier:
            break
        found: list[str] = []
        side = 0 if on_datasets else 1  # the other end of an edge: its job, or its dataset
        for edge in source.edges(on_datasets, frontier):
            edges.add(edge)
            other = edge[side]
            if other not in seen:
                seen.add(other)
                found.append(other)
        (jobs if on_datasets else datasets).extend(found)
        frontier, on_datasets = found, not on_datasets
    return datasets, jobs, edges


def load(session: Session, model: Any, columns: tuple[str, ...], ids: list[str]) -> list[dict]:
    """Rows of ``model`` (only ``columns``) whose id is in ``ids``."""
    table = model.__table__
    selected = [table.c[c] for c in columns]
    rows: list[dict] = []
    for part in chunks(ids, 2000):
        rows.extend(
            dict(r)
            for r in session.execute(select(*selected).where(table.c.id.in_(part))).mappings()
        )
    return rows


def graph(
    source: GraphSource, visibility: Visibility, kind: str, start: str, depth: int
) -> dict[str, Any]:
    """Marquez's ``{"graph": [...]}`` around ``start``; hidden nodes are placeholders.

    Node ``data`` is a summary (id, namespace, name, type; a job's latest run id and state);
    the dataset and job endpoints give the rest.
    """
    with _without_gc():
        return _graph(source, visibility, kind, start, depth)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Building tens of thousands of small dicts triggers the cyclic garbage collector again
    and again over a large heap (the snapshot); they hold no cycles, so pause it meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _graph(
    source: GraphSource, visibility: Visibility, kind: str, start: str, depth: int
) -> dict[str, Any]:
    dataset_ids, job_ids, edges = walk(source, kind, start, depth)
    datasets = source.datasets(dataset_ids)
    jobs = source.jobs(job_ids)
    visibility.decide([(DATASET, d[1], d[2]) for d in datasets] + [(JOB, j[1], j[2]) for j in jobs])
    names: dict[str, str] = {}
    data: dict[str, dict[str, Any]] = {}
    for key, namespace, name, opaque, *rest in (*datasets, *jobs):
        node_kind = JOB if rest else DATASET
        if visibility.visible(node_kind, namespace, name):
            names[key] = f"{node_kind}:{namespace}:{name}"
            summary = {"id": {"namespace": namespace, "name": name}, "namespace": namespace}
            summary["name"] = name
            if rest:  # a job: type, latest run id, its state
                summary["type"] = rest[0]
                summary["latestRun"] = {"id": rest[1], "state": rest[2]} if rest[1] else None
            else:
                summary["type"] = "DB_TABLE"
            data[key] = summary
        else:
            names[key] = placeholder_id(node_kind, opaque)
            data[key] = _hidden("JOB" if rest else "DATASET")
    in_edges: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    out_edges: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for job, dataset, direction in edges:
        if direction == "in":
            edge = {"origin": names[dataset], "destination": names[job]}
            out_edges[dataset].append(edge)
            in_edges[job].append(edge)
        else:
            edge = {"origin": names[job], "destination": names[dataset]}
            out_edges[job].append(edge)
            in_edges[dataset].append(edge)
    return {
        "graph": [
            {
                "id": names[key],
                "type": "JOB" if rest else "DATASET",
                "data": data[key],
                "inEdges": in_edges.get(key, []),
                "outEdges": out_edges.get(key, []),
            }
            for key, _, _, _, *rest in (*datasets, *jobs)
        ]
    }


def _hidden(kind: str) -> dict[str, Any]:
    return {"type": kind, "hidden": True, "namespace": None, "name": None}
