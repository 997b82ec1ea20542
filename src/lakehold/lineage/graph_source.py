"""Where a graph walk reads edges and node identities: the store, or an in-process snapshot.

Reading thousands of edge rows per request is what bounds a deep graph read, so each process
keeps a snapshot of the whole graph's adjacency (and of each node's namespace, name and
placeholder id, and each job's latest run state). Every fold increments the store's lineage
generation and stamps the jobs and datasets whose part of the graph it changed with it
(:func:`mark_changed`); a process whose snapshot is behind loads only those rows and the edges
of those jobs, and derives the next snapshot from its own (:meth:`Snapshot.advanced`), so
another process's change is seen by the next request at the cost of the change, not of the
graph. Graphs too large for memory (more than ``max_edges`` edges) are read from the store
level by level instead.

Adjacency lists are kept sorted, so a walk visits nodes in the same order however the
snapshot was reached (loaded whole or advanced), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import column, select, table, text, update
from sqlalchemy.orm import Session

from lakehold.lineage.bulk import chunks, select_in

Edge = tuple[str, str, str]  # (job id, dataset id, direction "in" | "out")
DatasetInfo = tuple[str, str, str, str]  # (id, namespace, name, opaque id)
JobInfo = tuple[str, str, str, str, str, str | None, str | None]  # + type, latest run, state

EDGE_COLUMNS = ("job_id", "dataset_id", "direction")
DATASET_COLUMNS = ("id", "namespace", "name", "opaque_id")
JOB_COLUMNS = ("id", "namespace", "name", "opaque_id", "job_type", "latest_run_id")
GENERATION = text("SELECT generation FROM lineage_state WHERE id = 1")

_JOBS = (
    f"SELECT {', '.join(f'j.{c}' for c in JOB_COLUMNS)}, r.state FROM lineage_jobs j "
    "LEFT JOIN lineage_runs r ON r.id = j.latest_run_id"
)
_DATASETS = f"SELECT {', '.join(DATASET_COLUMNS)} FROM lineage_datasets"
_EDGES = f"SELECT {', '.join(f'e.{c}' for c in EDGE_COLUMNS)} FROM lineage_edges e"
# What changed after a generation: the rows stamped later, and the edges of those jobs.
_CHANGED_JOBS = text(f"{_JOBS} WHERE j.generation > :since")
_CHANGED_DATASETS = text(f"{_DATASETS} WHERE generation > :since")
_CHANGED_EDGES = text(
    f"{_EDGES} JOIN lineage_jobs j ON j.id = e.job_id WHERE j.generation > :since"
)
_STAMPED = {
    name: table(name, column("id"), column("generation"))
    for name in ("lineage_jobs", "lineage_datasets")
}
_CURRENT = (
    select(column("generation"))
    .select_from(table("lineage_state"))
    .where(column("id") == 1)
    .scalar_subquery()
)


def mark_changed(session: Session, jobs: Iterable[str], datasets: Iterable[str]) -> None:
    """The writer's half: stamp ``jobs`` and ``datasets`` with the generation the current
    transaction (a fold, which incremented it) writes. A job is changed when it is new or its
    type, latest run, that run's state or its edges changed; a dataset when it is new (its
    identity never changes; its edges are its jobs')."""
    for name, ids in (("lineage_jobs", jobs), ("lineage_datasets", datasets)):
        stamped = _STAMPED[name]
        for part in chunks(sorted(ids)):
            session.execute(
                update(stamped).where(stamped.c.id.in_(part)).values(generation=_CURRENT)
            )


class GraphSource(Protocol):
    def edges(self, on_datasets: bool, frontier: Sequence[str]) -> Iterable[Edge]:
        """Edges touching the frontier (datasets, or jobs)."""

    def datasets(self, ids: Sequence[str]) -> list[DatasetInfo]: ...

    def jobs(self, ids: Sequence[str]) -> list[JobInfo]: ...


class StoredSource:
    """Reads from the store: one query per frontier, per node kind."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def edges(self, on_datasets: bool, frontier: Sequence[str]) -> Iterable[Edge]:
        key = "dataset_id" if on_datasets else "job_id"
        return select_in(self.session, "lineage_edges", EDGE_COLUMNS, key, frontier)

    def datasets(self, ids: Sequence[str]) -> list[DatasetInfo]:
        return select_in(self.session, "lineage_datasets", DATASET_COLUMNS, "id", ids)

    def jobs(self, ids: Sequence[str]) -> list[JobInfo]:
        rows = select_in(self.session, "lineage_jobs", JOB_COLUMNS, "id", ids)
        runs = [r[5] for r in rows if r[5]]
        states = dict(select_in(self.session, "lineage_runs", ("id", "state"), "id", runs))
        return [(*r, states.get(r[5])) for r in rows]


@dataclass
class Snapshot:
    """The whole graph in memory; never changed once published (a change makes a new one)."""

    generation: int
    by_dataset: dict[str, list[Edge]] = field(default_factory=dict)
    by_job: dict[str, list[Edge]] = field(default_factory=dict)
    dataset_info: dict[str, DatasetInfo] = field(default_factory=dict)
    job_info: dict[str, JobInfo] = field(default_factory=dict)
    edge_count: int = 0
    derived: dict[str, Any] = field(default_factory=dict)
    """Structures computed once per snapshot from the above (e.g. by :mod:`.graph`), by name."""
    base: Snapshot | None = None
    """The latest earlier snapshot with derived structures, to derive these from (or None)."""
    touched: frozenset[str] = frozenset()
    """The nodes whose info or edges differ from ``base``'s (or that neighbour one that does)."""

    def edges(self, on_datasets: bool, frontier: Sequence[str]) -> Iterable[Edge]:
        index = self.by_dataset if on_datasets else self.by_job
        return [edge for key in frontier for edge in index.get(key, ())]

    def datasets(self, ids: Sequence[str]) -> list[DatasetInfo]:
        return [self.dataset_info[i] for i in ids if i in self.dataset_info]

    def jobs(self, ids: Sequence[str]) -> list[JobInfo]:
        return [self.job_info[i] for i in ids if i in self.job_info]

    def advanced(
        self,
        generation: int,
        datasets: dict[str, DatasetInfo],
        jobs: dict[str, JobInfo],
        edges: dict[str, list[Edge]],
    ) -> Snapshot:
        """The snapshot after a change: ``datasets`` and ``jobs`` are the changed nodes' current
        info, ``edges`` each changed job's current edges (all of them, possibly none). Shares
        what did not change with this one, which stays as it was."""
        by_job, by_dataset = dict(self.by_job), dict(self.by_dataset)
        count = self.edge_count
        was = {e[1] for job in edges for e in by_job.get(job, ())}
        adding: defaultdict[str, list[Edge]] = defaultdict(list)
        for job, current in edges.items():
            count += len(current) - len(by_job.get(job, ()))
            if current:
                by_job[job] = sorted(current)
            else:
                by_job.pop(job, None)
            for edge in current:
                adding[edge[1]].append(edge)
        for dataset in was | adding.keys():
            kept = [e for e in by_dataset.get(dataset, ()) if e[0] not in edges]
            if kept or dataset in adding:
                by_dataset[dataset] = sorted(kept + adding[dataset])
            else:
                by_dataset.pop(dataset, None)
        changed = {*datasets, *jobs, *edges}
        near = {e[1] for job in changed for e in by_job.get(job, ())}
        near.update(e[0] for dataset in changed for e in by_dataset.get(dataset, ()))
        touched = frozenset(changed | near | was)
        base, since = (self, touched) if self.derived else (self.base, self.touched | touched)
        return Snapshot(
            generation,
            by_dataset,
            by_job,
            {**self.dataset_info, **datasets},
            {**self.job_info, **jobs},
            count,
            base=base,
            touched=frozenset(since),
        )


class SnapshotCache:
    """The latest snapshot of one process, brought up to date when the generation moves."""

    def __init__(self, max_edges: int = 500_000) -> None:
        self.max_edges = max_edges
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def source(self, session: Session) -> GraphSource:
        """The snapshot when it is current (or could be loaded), else the store itself."""
        generation = session.execute(GENERATION).scalar_one()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == generation:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.generation > generation:  # none, or a restored store
                snapshot = self._load(session, generation)
            elif snapshot.generation < generation:
                snapshot = self._catch_up(session, snapshot, generation)
            self._snapshot = snapshot
        return snapshot if snapshot is not None else StoredSource(session)

    def _catch_up(self, session: Session, snapshot: Snapshot, generation: int) -> Snapshot | None:
        """``snapshot`` advanced by what changed after its generation (re-reading rows that
        changed again meanwhile is harmless: a node's current state replaces its old one)."""
        since = {"since": snapshot.generation}
        datasets = {r[0]: tuple(r) for r in session.execute(_CHANGED_DATASETS, since)}
        jobs = {r[0]: tuple(r) for r in session.execute(_CHANGED_JOBS, since)}
        edges: dict[str, list[Edge]] = {job: [] for job in jobs}
        for row in session.execute(_CHANGED_EDGES, since):
            edges.setdefault(row[0], []).append(tuple(row))
        advanced = snapshot.advanced(generation, datasets, jobs, edges)
        return advanced if advanced.edge_count <= self.max_edges else None

    def _load(self, session: Session, generation: int) -> Snapshot | None:
        count = session.execute(text("SELECT count(*) FROM lineage_edges")).scalar_one()
        if count > self.max_edges:
            return None
        snapshot = Snapshot(generation)
        connection = session.connection()
        for row in connection.exec_driver_sql(_EDGES):
            edge = tuple(row)
            snapshot.by_job.setdefault(edge[0], []).append(edge)
            snapshot.by_dataset.setdefault(edge[1], []).append(edge)
        for index in (snapshot.by_job, snapshot.by_dataset):
            for edges in index.values():
                edges.sort()
        for row in connection.exec_driver_sql(_DATASETS):
            snapshot.dataset_info[row[0]] = tuple(row)
        for row in connection.exec_driver_sql(_JOBS):
            snapshot.job_info[row[0]] = tuple(row)
        snapshot.edge_count = sum(len(edges) for edges in snapshot.by_job.values())
        return snapshot
