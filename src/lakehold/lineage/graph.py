"""The lineage graph around a node: a breadth-first walk over the edges, both directions.

Each step takes the edges of the whole frontier at once (the frontier alternates between
datasets and jobs) from a :mod:`~lakehold.lineage.graph_source`: an in-memory snapshot, or the
store (one query per step). ``depth`` counts jobs away from the start, as Marquez does.

From a snapshot, what does not depend on the principal -- neighbour lists, node summaries, edge
dicts -- is built once per snapshot generation (:class:`_View`); a request walks, decides the
visibility of the Lakehold nodes it reached, and assembles the response from those pieces.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.lineage.bulk import chunks
from lakehold.lineage.graph_source import DatasetInfo, Edge, GraphSource, JobInfo, Snapshot
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
    the dataset and job endpoints give the rest. From a snapshot, the summaries and edge dicts
    are built once per snapshot and shared between responses: treat results as read-only.
    """
    with _without_gc():
        if isinstance(source, Snapshot):
            return _view(source).graph(visibility, kind, start, depth)
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
    nodes: tuple[DatasetInfo | JobInfo, ...] = (*datasets, *jobs)
    for key, namespace, name, opaque, *rest in nodes:
        node_kind = JOB if rest else DATASET
        if visibility.visible(node_kind, namespace, name):
            names[key] = f"{node_kind}:{namespace}:{name}"
            summary: dict[str, Any] = {
                "id": {"namespace": namespace, "name": name},
                "namespace": namespace,
            }
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
            for key, _, _, _, *rest in nodes
        ]
    }


def _view(snapshot: Snapshot) -> _View:
    """The snapshot's :class:`_View`, built on first use (once per snapshot generation): from
    the view of the snapshot it was advanced from when there is one, else from scratch."""
    view = snapshot.derived.get("graph")
    if view is None:
        base, touched = snapshot.base, snapshot.touched
        earlier = base.derived.get("graph") if base is not None else None
        built = earlier.advanced(snapshot, touched) if earlier else _View.build(snapshot)
        view = snapshot.derived.setdefault("graph", built)
        snapshot.base = None  # the earlier snapshot may go
    return view


class _View:
    """A snapshot's graph as Marquez pieces, built once: each node's neighbours (for the walk),
    shown id, placeholder id and summary, and its edges as dicts between shown ids. A response
    reuses them; only nodes hidden from the principal, or next to one, get edges rebuilt.

    Edges are kept flat -- each node's in-edges then out-edges, contiguous, in one list, with
    the node at the other end of each in a parallel list of ids -- and neighbours as tuples of
    ids: the garbage collector does not track tuples of strings, nor dicts of strings, so the
    view adds few objects for a full collection to scan, however large the graph.

    The view of an advanced snapshot copies its predecessor's per-node dicts and rebuilds the
    touched nodes only; their new edges are appended to the flat lists, which the two views
    share (an earlier view's spans never move), until the dead part outgrows the live one."""

    kind: dict[str, str]
    ident: dict[str, tuple[str, str, str]]  # (kind, namespace, name)
    shown: dict[str, str]
    placeholder: dict[str, str]
    data: dict[str, dict[str, Any]]
    next_of_dataset: dict[str, tuple[str, ...]]
    next_of_job: dict[str, tuple[str, ...]]
    span: dict[str, tuple[int, int, int]]  # in-edges [a, b), out-edges [b, c)
    edges: list[dict[str, str]]
    others: list[str]
    live: int  # how many of ``edges`` some span covers

    @classmethod
    def build(cls, snapshot: Snapshot) -> _View:
        view = cls()
        view.kind, view.ident, view.shown, view.placeholder, view.data = {}, {}, {}, {}, {}
        view.next_of_dataset, view.next_of_job, view.span = {}, {}, {}
        view.edges, view.others, view.live = [], [], 0
        view._nodes(snapshot.dataset_info.values(), snapshot.job_info.values())
        view._link(snapshot, snapshot.by_dataset.keys() | snapshot.by_job.keys())
        return view

    def advanced(self, snapshot: Snapshot, touched: frozenset[str]) -> _View:
        """The view of ``snapshot``, whose ``touched`` nodes differ from this view's."""
        if len(self.edges) > 2 * self.live + 4096:
            return _View.build(snapshot)  # compact
        view = _View()
        view.kind, view.ident, view.shown = dict(self.kind), dict(self.ident), dict(self.shown)
        view.placeholder, view.data = dict(self.placeholder), dict(self.data)
        view.next_of_dataset, view.next_of_job = dict(self.next_of_dataset), dict(self.next_of_job)
        view.span, view.edges, view.others, view.live = (
            dict(self.span),
            self.edges,
            self.others,
            self.live,
        )
        datasets, jobs = snapshot.dataset_info, snapshot.job_info
        view._nodes(
            (datasets[k] for k in touched if k in datasets),
            (jobs[k] for k in touched if k in jobs),
        )
        view._link(snapshot, touched)
        return view

    def _nodes(self, datasets: Iterable[DatasetInfo], jobs: Iterable[JobInfo]) -> None:
        for key, namespace, name, opaque in datasets:
            self._node(key, DATASET, namespace, name, opaque)
            self.data[key] = {
                "id": {"namespace": namespace, "name": name},
                "namespace": namespace,
                "name": name,
                "type": "DB_TABLE",
            }
        for key, namespace, name, opaque, job_type, run_id, state in jobs:
            self._node(key, JOB, namespace, name, opaque)
            self.data[key] = {
                "id": {"namespace": namespace, "name": name},
                "namespace": namespace,
                "name": name,
                "type": job_type,
                "latestRun": {"id": run_id, "state": state} if run_id else None,
            }

    def _node(self, key: str, kind: str, namespace: str, name: str, opaque: str) -> None:
        self.kind[key] = kind
        self.ident[key] = (kind, namespace, name)
        self.shown[key] = f"{kind}:{namespace}:{name}"
        self.placeholder[key] = placeholder_id(kind, opaque)

    def _link(self, snapshot: Snapshot, keys: Iterable[str]) -> None:
        """(Re)build the neighbours and edges of ``keys`` from the snapshot's adjacency."""
        shown, edges, others = self.shown, self.edges, self.others
        for key in keys:
            self.next_of_dataset.pop(key, None)
            self.next_of_job.pop(key, None)
            a, _, c = self.span.pop(key, (0, 0, 0))
            self.live -= c - a
            around = snapshot.by_dataset.get(key)
            if around:
                self.next_of_dataset[key] = tuple(e[0] for e in around if e[0] in shown)
            else:
                around = snapshot.by_job.get(key)
                if not around:
                    continue
                self.next_of_job[key] = tuple(e[1] for e in around if e[1] in shown)
            if key not in shown:
                continue
            ins: list[tuple[str, dict[str, str]]] = []
            outs: list[tuple[str, dict[str, str]]] = []
            for job, dataset, direction in around:
                if job not in shown or dataset not in shown:
                    continue
                origin, destination = (dataset, job) if direction == "in" else (job, dataset)
                edge = {"origin": shown[origin], "destination": shown[destination]}
                other = job if dataset == key else dataset
                (ins if destination == key else outs).append((other, edge))
            if not ins and not outs:
                continue
            first = len(edges)
            for other, edge in (*ins, *outs):
                edges.append(edge)
                others.append(other)
            self.span[key] = (first, first + len(ins), len(edges))
            self.live += len(edges) - first

    def walk(self, kind: str, start: str, depth: int) -> tuple[list[str], list[str], set[str]]:
        """As :func:`walk`: dataset ids and job ids within ``depth`` jobs of ``start`` (in the
        same order), and the ids whose edges were all followed (the others are on the rim)."""
        datasets, jobs = ([start], []) if kind == DATASET else ([], [start])
        seen = {start}
        expanded: set[str] = set()
        frontier, on_datasets = [start], kind == DATASET
        for _ in range(2 * depth + (0 if kind == DATASET else 1)):
            if not frontier:
                break
            index = self.next_of_dataset if on_datasets else self.next_of_job
            found: list[str] = []
            for key in frontier:
                for other in index.get(key, ()):
                    if other not in seen:
                        seen.add(other)
                        found.append(other)
            expanded.update(frontier)
            (jobs if on_datasets else datasets).extend(found)
            frontier, on_datasets = found, not on_datasets
        return datasets, jobs, expanded

    def hidden(self, visibility: Visibility, keys: list[str]) -> set[str]:
        """Which of ``keys`` the principal sees only as placeholders (the same decisions as
        ``visibility.visible``, which passes every node outside the governed namespaces)."""
        if visibility.sees_all:
            return set()
        governed = visibility.governed_namespaces()
        ident = self.ident
        candidates = [ident[k] + (k,) for k in keys if ident[k][1] in governed]
        if not candidates:
            return set()
        visibility.decide([c[:3] for c in candidates])
        return {c[3] for c in candidates if not visibility.visible(c[0], c[1], c[2])}

    def graph(self, visibility: Visibility, kind: str, start: str, depth: int) -> dict[str, Any]:
        dataset_ids, job_ids, expanded = self.walk(kind, start, depth)
        keys = [k for k in (*dataset_ids, *job_ids) if k in self.kind]
        hidden = self.hidden(visibility, keys)
        types = {DATASET: "DATASET", JOB: "JOB"}
        edges, others, span = self.edges, self.others, self.span
        nodes = []
        for key in keys:
            a, b, c = span.get(key, (0, 0, 0))
            if hidden and (key in hidden or not hidden.isdisjoint(others[a:c])):
                in_edges, out_edges = self._edges_with(hidden, key, a, b, c, expanded)
            elif key in expanded:
                in_edges, out_edges = edges[a:b], edges[b:c]
            else:  # on the rim: only the edges to nodes that were expanded
                in_edges = [edges[i] for i in range(a, b) if others[i] in expanded]
                out_edges = [edges[i] for i in range(b, c) if others[i] in expanded]
            node_type = types[self.kind[key]]
            shown = key not in hidden
            nodes.append(
                {
                    "id": self.shown[key] if shown else self.placeholder[key],
                    "type": node_type,
                    "data": self.data[key] if shown else _hidden(node_type),
                    "inEdges": in_edges,
                    "outEdges": out_edges,
                }
            )
        return {"graph": nodes}

    def _edges_with(
        self, hidden: set[str], key: str, a: int, b: int, c: int, expanded: set[str]
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """The node's edges in the result, naming hidden nodes by their placeholders."""

        def name(k: str) -> str:
            return self.placeholder[k] if k in hidden else self.shown[k]

        whole, others = key in expanded, self.others
        me = name(key)
        in_edges = [
            {"origin": name(others[i]), "destination": me}
            for i in range(a, b)
            if whole or others[i] in expanded
        ]
        out_edges = [
            {"origin": me, "destination": name(others[i])}
            for i in range(b, c)
            if whole or others[i] in expanded
        ]
        return in_edges, out_edges


def _hidden(kind: str) -> dict[str, Any]:
    return {"type": kind, "hidden": True, "namespace": None, "name": None}
