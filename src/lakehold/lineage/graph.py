"""The lineage graph around a node: a breadth-first walk over the edges, both directions.

Each step reads the edges of the whole frontier in one query (the frontier alternates between
datasets and jobs), then the nodes' rows are read in bulk: about ``2 * depth`` small queries
whatever the graph's size. ``depth`` counts jobs away from the start, as Marquez does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.lineage import marquez
from lakehold.lineage.bulk import chunks
from lakehold.lineage.visibility import DATASET, HIDDEN, JOB, Visibility, placeholder_id
from lakehold.store.lineage import LineageDataset, LineageEdge, LineageJob, LineageRun

Edge = tuple[str, str, str]  # (job id, dataset id, direction "in" | "out")

DATASET_COLUMNS = (
    "id",
    "namespace",
    "name",
    "opaque_id",
    "description",
    "fields",
    "tags",
    "current_version_id",
    "created_at",
    "updated_at",
    "last_modified_at",
)
JOB_COLUMNS = (
    "id",
    "namespace",
    "name",
    "opaque_id",
    "job_type",
    "description",
    "location",
    "current_version_id",
    "latest_run_id",
    "created_at",
    "updated_at",
)
RUN_COLUMNS = (
    "id",
    "job_version_id",
    "state",
    "started_at",
    "ended_at",
    "created_at",
    "updated_at",
)


def walk(
    session: Session, kind: str, start: str, depth: int
) -> tuple[list[str], list[str], set[Edge]]:
    """Dataset ids and job ids within ``depth`` jobs of ``start``, and the edges between them."""
    datasets, jobs = ([start], []) if kind == DATASET else ([], [start])
    seen = {start}
    edges: set[Edge] = set()
    frontier, on_datasets = [start], kind == DATASET
    for _ in range(2 * depth + (0 if kind == DATASET else 1)):
        if not frontier:
            break
        column = LineageEdge.dataset_id if on_datasets else LineageEdge.job_id
        found: list[str] = []
        for part in chunks(frontier, 2000):
            query = select(LineageEdge.job_id, LineageEdge.dataset_id, LineageEdge.direction)
            for job, dataset, direction in session.execute(query.where(column.in_(part))):
                edges.add((job, dataset, direction))
                other = job if on_datasets else dataset
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
    session: Session, visibility: Visibility, kind: str, start: str, depth: int
) -> dict[str, Any]:
    """Marquez's ``{"graph": [...]}`` around ``start``; hidden nodes are placeholders."""
    dataset_ids, job_ids, edges = walk(session, kind, start, depth)
    datasets = load(session, LineageDataset, DATASET_COLUMNS, dataset_ids)
    jobs = load(session, LineageJob, JOB_COLUMNS, job_ids)
    runs = {
        r["id"]: r
        for r in load(
            session,
            LineageRun,
            RUN_COLUMNS,
            [j["latest_run_id"] for j in jobs if j["latest_run_id"]],
        )
    }
    visibility.decide(
        [(DATASET, d["namespace"], d["name"]) for d in datasets]
        + [(JOB, j["namespace"], j["name"]) for j in jobs]
    )
    names: dict[str, str] = {}
    shown: dict[str, bool] = {}
    for kind_, rows in ((DATASET, datasets), (JOB, jobs)):
        for row in rows:
            shown[row["id"]] = visible = visibility.visible(kind_, row["namespace"], row["name"])
            names[row["id"]] = (
                marquez.node_id(kind_, row["namespace"], row["name"])
                if visible
                else placeholder_id(kind_, row["opaque_id"])
            )
    refs = {
        d["id"]: {"namespace": d["namespace"], "name": d["name"]}
        if shown[d["id"]]
        else {"namespace": HIDDEN, "name": d["opaque_id"]}
        for d in datasets
    }
    in_edges: dict[str, list[dict[str, str]]] = {}
    out_edges: dict[str, list[dict[str, str]]] = {}
    job_io: dict[str, tuple[list, list]] = {}
    for job, dataset, direction in sorted(edges):
        origin, destination = (dataset, job) if direction == "in" else (job, dataset)
        edge = {"origin": names[origin], "destination": names[destination]}
        out_edges.setdefault(origin, []).append(edge)
        in_edges.setdefault(destination, []).append(edge)
        io = job_io.setdefault(job, ([], []))
        io[0 if direction == "in" else 1].append(refs[dataset])
    nodes = []
    for row in datasets:
        data = marquez.dataset(row) if shown[row["id"]] else _hidden("DATASET")
        nodes.append(_node(names[row["id"]], "DATASET", data, row["id"], in_edges, out_edges))
    for row in jobs:
        if shown[row["id"]]:
            inputs, outputs = job_io.get(row["id"], ([], []))
            latest = runs.get(row["latest_run_id"])
            run = (
                marquez.run(latest, row, marquez.version(latest["job_version_id"]))
                if latest
                else None
            )
            data = marquez.job(row, inputs, outputs, run)
        else:
            data = _hidden("JOB")
        nodes.append(_node(names[row["id"]], "JOB", data, row["id"], in_edges, out_edges))
    return {"graph": nodes}


def _hidden(kind: str) -> dict[str, Any]:
    return {"type": kind, "hidden": True, "namespace": None, "name": None}


def _node(
    node_id: str,
    kind: str,
    data: dict[str, Any],
    key: str,
    in_edges: dict[str, list],
    out_edges: dict[str, list],
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": kind,
        "data": data,
        "inEdges": in_edges.get(key, []),
        "outEdges": out_edges.get(key, []),
    }
