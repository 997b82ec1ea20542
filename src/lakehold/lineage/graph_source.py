"""Where a graph walk reads edges and node identities: the store, or an in-process snapshot.

Reading thousands of edge rows per request is what bounds a deep graph read, so each process
keeps a snapshot of the whole graph's adjacency (and of each node's namespace, name and
placeholder id, and each job's latest run state), reloaded when the store's lineage
generation -- a counter every fold increments -- has moved. Graphs too large for memory
(more than ``max_edges`` edges) are read from the store level by level instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lakehold.lineage.bulk import select_in
from lakehold.store.lineage import LineageEdge

Edge = tuple[str, str, str]  # (job id, dataset id, direction "in" | "out")
DatasetInfo = tuple[str, str, str, str]  # (id, namespace, name, opaque id)
JobInfo = tuple[str, str, str, str, str, str | None, str | None]  # + type, latest run, state

EDGE_COLUMNS = ("job_id", "dataset_id", "direction")
DATASET_COLUMNS = ("id", "namespace", "name", "opaque_id")
JOB_COLUMNS = ("id", "namespace", "name", "opaque_id", "job_type", "latest_run_id")
GENERATION = text("SELECT generation FROM lineage_state WHERE id = 1")


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
    """The whole graph in memory."""

    generation: int
    by_dataset: dict[str, list[Edge]] = field(default_factory=dict)
    by_job: dict[str, list[Edge]] = field(default_factory=dict)
    dataset_info: dict[str, DatasetInfo] = field(default_factory=dict)
    job_info: dict[str, JobInfo] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)
    """Structures computed once per snapshot from the above (e.g. by :mod:`.graph`), by name."""

    def edges(self, on_datasets: bool, frontier: Sequence[str]) -> Iterable[Edge]:
        index = self.by_dataset if on_datasets else self.by_job
        return [edge for key in frontier for edge in index.get(key, ())]

    def datasets(self, ids: Sequence[str]) -> list[DatasetInfo]:
        return [self.dataset_info[i] for i in ids if i in self.dataset_info]

    def jobs(self, ids: Sequence[str]) -> list[JobInfo]:
        return [self.job_info[i] for i in ids if i in self.job_info]


class SnapshotCache:
    """The latest snapshot of one process, reloaded when the generation moves."""

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
            if snapshot is None or snapshot.generation != generation:
                snapshot = self._load(session, generation)
                self._snapshot = snapshot
        return snapshot if snapshot is not None else StoredSource(session)

    def _load(self, session: Session, generation: int) -> Snapshot | None:
        edges = session.scalar(select(func.count()).select_from(LineageEdge))
        assert edges is not None  # an aggregate: one row
        if edges > self.max_edges:
            return None
        snapshot = Snapshot(generation)
        connection = session.connection()
        for row in connection.exec_driver_sql(
            f"SELECT {', '.join(EDGE_COLUMNS)} FROM lineage_edges"
        ):
            edge = tuple(row)
            snapshot.by_job.setdefault(edge[0], []).append(edge)
            snapshot.by_dataset.setdefault(edge[1], []).append(edge)
        for row in connection.exec_driver_sql(
            f"SELECT {', '.join(DATASET_COLUMNS)} FROM lineage_datasets"
        ):
            snapshot.dataset_info[row[0]] = tuple(row)
        columns = ", ".join(f"j.{c}" for c in JOB_COLUMNS)
        for row in connection.exec_driver_sql(
            f"SELECT {columns}, r.state FROM lineage_jobs j "
            "LEFT JOIN lineage_runs r ON r.id = j.latest_run_id"
        ):
            snapshot.job_info[row[0]] = tuple(row)
        return snapshot
