"""Folding validated events into namespaces, datasets, jobs, runs, versions and edges.

A batch is folded in memory, in event-time order, over the rows it touches (read up front in
one query per table), then written back in bulk: a few statements per table whatever the batch
size. Datasets, jobs and versions have deterministic ids (UUIDv5 of their identity), so no
lookup is needed to refer to them and concurrent writers converge on the same rows.

Versions: a dataset gets a version for each run that COMPLETEs writing it and for each change
of its schema (and a first one when first seen); a job gets a version for each distinct set of
inputs, outputs and SQL, computed when a run ends (COMPLETE, FAIL, ABORT) or from a JobEvent.
The traversal edges of a job are those of its current version; until it has one they are the
union of what its runs' events mention.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lakehold.lineage import facets as std
from lakehold.lineage.bulk import delete_where_in, existing, insert_rows, rows_by_id, upsert
from lakehold.lineage.events import DATASET, JOB, RUN, TERMINAL, DatasetRef, Event, JobRef
from lakehold.lineage.graph_source import mark_changed
from lakehold.store.lineage import (
    LineageColumn,
    LineageDataset,
    LineageDatasetVersion,
    LineageEdge,
    LineageEvent,
    LineageJob,
    LineageJobVersion,
    LineageNamespace,
    LineageRun,
    LineageState,
)
from lakehold.store.models import new_id, utcnow

DATASET_COLUMNS = (
    "description",
    "fields",
    "facets",
    "tags",
    "current_version_id",
    "updated_at",
    "last_modified_at",
)
JOB_COLUMNS = (
    "job_type",
    "description",
    "location",
    "facets",
    "current_version_id",
    "latest_run_id",
    "updated_at",
)
RUN_COLUMNS = (
    "job_version_id",
    "state",
    "nominal_start_time",
    "nominal_end_time",
    "started_at",
    "ended_at",
    "transitioned_at",
    "facets",
    "inputs",
    "outputs",
    "updated_at",
)


def _hex_id(*parts: str) -> str:
    """A deterministic 32-hex-digit id of ``parts``."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def as_uuid(hex_id: str) -> str:
    """A 32-hex-digit id written as a UUID (how Marquez shows versions)."""
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:32]}"


@lru_cache(maxsize=65536)
def dataset_id(namespace: str, name: str) -> str:
    """The deterministic id of a dataset."""
    return _hex_id("dataset", namespace, name)


@lru_cache(maxsize=65536)
def job_id(namespace: str, name: str) -> str:
    """The deterministic id of a job."""
    return _hex_id("job", namespace, name)


_SORTED = json.JSONEncoder(sort_keys=True)  # json.dumps(value, sort_keys=True), one encoder


def _digest(value: Any) -> str:
    return hashlib.sha256(_SORTED.encode(value).encode()).hexdigest()


def fold(session: Session, events: list[Event]) -> int:
    """Store the events not stored yet and fold them; the number stored."""
    fresh: dict[str, Event] = {}
    for event in events:
        fresh.setdefault(event.content_hash, event)
    for known in existing(session, LineageEvent.content_hash, fresh):
        del fresh[known]
    if not fresh:
        return 0
    batch = sorted(fresh.values(), key=lambda e: e.event_time)
    insert_rows(session, LineageEvent, [_event_row(e) for e in batch])
    _Folder(session, batch).run()
    return len(batch)


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "id": new_id(),
        "content_hash": event.content_hash,
        "kind": event.kind,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "run_id": event.run_id,
        "job_namespace": event.job.namespace if event.job else None,
        "job_name": event.job.name if event.job else None,
        "payload": event.canonical,
        "received_at": utcnow(),
    }


class _Folder:
    """The in-memory state of the rows one batch touches."""

    def __init__(self, session: Session, events: list[Event]) -> None:
        self.session = session
        self.events = events
        self.now = utcnow()
        refs = [r for e in events for r in (*e.inputs, *e.outputs, e.dataset) if r is not None]
        jobs = [e.job for e in events if e.job is not None]
        mentioned: tuple[DatasetRef | JobRef, ...] = (*refs, *jobs)
        self.namespaces = {r.namespace for r in mentioned}
        self.datasets = rows_by_id(session, LineageDataset, {dataset_id(*r.key) for r in refs})
        self.jobs = rows_by_id(session, LineageJob, {job_id(*j.key) for j in jobs})
        self.runs = rows_by_id(session, LineageRun, {e.run_id for e in events if e.run_id})
        self.loaded = {*self.datasets, *self.jobs, *self.runs}
        self.before = {
            key: dict(row)
            for rows in (self.datasets, self.jobs, self.runs)
            for key, row in rows.items()
        }
        self.dataset_versions: dict[str, dict[str, Any]] = {}
        self.job_versions: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, set[tuple[str, str]]] = {}  # job id -> {(dataset id, direction)}
        self.replaced: set[str] = set()  # jobs whose edges are their new current version's
        self.columns: dict[str, list[tuple]] = {}

    def run(self) -> None:
        for event in self.events:
            if event.kind == RUN:
                self._run_event(event)
            elif event.kind == JOB:
                self._job_event(event)
            elif event.kind == DATASET:
                assert event.dataset is not None  # a DatasetEvent has its dataset
                self._dataset(event.dataset, event, "dataset")
        self._write()

    # -- folding ---------------------------------------------------------------------------

    def _dataset(self, ref: DatasetRef, event: Event, role: str) -> dict[str, Any]:
        key = dataset_id(*ref.key)
        row = self.datasets.get(key)
        if row is None:
            row = self.datasets[key] = {
                "id": key,
                "namespace": ref.namespace,
                "name": ref.name,
                "opaque_id": new_id(),
                "description": None,
                "fields": [],
                "facets": {},
                "tags": [],
                "current_version_id": None,
                "created_at": event.event_time,
                "last_modified_at": None,
            }
        row["updated_at"] = self.now
        if ref.facets:
            row["facets"] = {**row["facets"], **ref.facets}
            row["description"] = std.description(ref.facets) or row["description"]
            row["tags"] = std.tags(ref.facets) or row["tags"]
            lineage = std.column_lineage(ref.facets)
            if lineage is not None:
                self.columns[key] = lineage
        fields = std.schema_fields(ref.facets)
        schema_changed = fields is not None and fields != row["fields"]
        if schema_changed:
            row["fields"] = fields
        written = role == "output" and event.event_type == "COMPLETE"
        if written:
            row["last_modified_at"] = event.event_time
            self._dataset_version(row, f"run:{event.run_id}", event, ref.io_facets)
        elif schema_changed or row["current_version_id"] is None:
            self._dataset_version(row, f"schema:{_digest(row['fields'])}", event)
        return row

    def _dataset_version(
        self,
        row: dict[str, Any],
        version_key: str,
        event: Event,
        output_facets: dict[str, Any] | None = None,
    ) -> None:
        """A new current version of a dataset; a version written by a run also keeps the
        run's output facets (``outputStatistics``: rows and bytes written), as Marquez does."""
        version = _hex_id(row["id"], version_key)
        self.dataset_versions[version] = {
            "id": version,
            "dataset_id": row["id"],
            "version": as_uuid(version),
            "version_key": hashlib.sha256(version_key.encode()).hexdigest(),
            "run_id": event.run_id if version_key.startswith("run:") else None,
            "fields": row["fields"],
            "facets": {**row["facets"], **(output_facets or {})},
            "created_at": event.event_time,
        }
        row["current_version_id"] = version

    def _job(self, ref: JobRef, event: Event) -> dict[str, Any]:
        key = job_id(*ref.key)
        row = self.jobs.get(key)
        if row is None:
            row = self.jobs[key] = {
                "id": key,
                "namespace": ref.namespace,
                "name": ref.name,
                "opaque_id": new_id(),
                "job_type": "BATCH",
                "description": None,
                "location": None,
                "facets": {},
                "current_version_id": None,
                "latest_run_id": None,
                "created_at": event.event_time,
            }
        row["updated_at"] = self.now
        if ref.facets:
            row["facets"] = {**row["facets"], **ref.facets}
            row["description"] = std.description(ref.facets) or row["description"]
            row["location"] = std.location(ref.facets) or row["location"]
            row["job_type"] = std.job_type(ref.facets) or row["job_type"]
        return row

    def _job_event(self, event: Event) -> None:
        assert event.job is not None  # a JobEvent has its job
        job = self._job(event.job, event)
        inputs = [self._dataset(d, event, "input") for d in event.inputs]
        outputs = [self._dataset(d, event, "output") for d in event.outputs]
        self._job_version(job, inputs, outputs, None, event)

    def _run_event(self, event: Event) -> None:
        assert event.job is not None and event.run_id is not None  # a RunEvent has both
        job = self._job(event.job, event)
        inputs = [self._dataset(d, event, "input") for d in event.inputs]
        outputs = [self._dataset(d, event, "output") for d in event.outputs]
        run = self.runs.get(event.run_id)
        if run is None:
            run = self.runs[event.run_id] = {
                "id": event.run_id,
                "job_id": job["id"],
                "job_version_id": None,
                "state": "NEW",
                "nominal_start_time": None,
                "nominal_end_time": None,
                "started_at": None,
                "ended_at": None,
                "transitioned_at": event.event_time,
                "facets": {},
                "inputs": [],
                "outputs": [],
                "created_at": event.event_time,
            }
        elif run["job_id"] != job["id"]:
            return  # a runId belongs to one job; a clash is kept as a raw event only
        run["updated_at"] = self.now
        self._transition(run, event)
        if event.run_facets:
            run["facets"] = {**run["facets"], **event.run_facets}
            start, end = std.nominal_times(event.run_facets)
            run["nominal_start_time"] = start or run["nominal_start_time"]
            run["nominal_end_time"] = end or run["nominal_end_time"]
        run["inputs"] = _with_versions(run["inputs"], inputs)
        run["outputs"] = _with_versions(run["outputs"], outputs)
        job["latest_run_id"] = run["id"]
        if event.event_type in TERMINAL:
            seen_in = [self.datasets[dataset_id(d["namespace"], d["name"])] for d in run["inputs"]]
            seen_out = [
                self.datasets[dataset_id(d["namespace"], d["name"])] for d in run["outputs"]
            ]
            run["job_version_id"] = self._job_version(job, seen_in, seen_out, run["id"], event)
        elif job["current_version_id"] is None:
            edges = self.edges.setdefault(job["id"], set())
            edges.update((d["id"], "in") for d in inputs)
            edges.update((d["id"], "out") for d in outputs)

    @staticmethod
    def _transition(run: dict[str, Any], event: Event) -> None:
        kind = event.event_type
        if kind in ("START", "RUNNING"):
            if run["started_at"] is None or event.event_time < run["started_at"]:
                run["started_at"] = event.event_time
        elif kind in TERMINAL:
            run["ended_at"] = event.event_time
        if kind == "OTHER":
            return
        ended = run["state"] in TERMINAL
        if ended and kind not in TERMINAL:
            return  # a late START or RUNNING never reopens an ended run
        if (kind in TERMINAL and not ended) or event.event_time >= run["transitioned_at"]:
            run["state"] = kind
            run["transitioned_at"] = event.event_time

    def _job_version(
        self,
        job: dict[str, Any],
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        run_id: str | None,
        event: Event,
    ) -> str:
        ins = sorted({(d["namespace"], d["name"]) for d in inputs})
        outs = sorted({(d["namespace"], d["name"]) for d in outputs})
        query = std.sql(job["facets"])
        version_key = _digest([ins, outs, query])
        version = _hex_id(job["id"], version_key)
        row = self.job_versions.get(version)
        if row is None:
            row = self.job_versions[version] = {
                "id": version,
                "job_id": job["id"],
                "version": as_uuid(version),
                "version_key": version_key,
                "inputs": [list(k) for k in ins],
                "outputs": [list(k) for k in outs],
                "sql": query,
                "created_at": event.event_time,
            }
        row["latest_run_id"] = run_id or row.get("latest_run_id")
        row["updated_at"] = self.now
        job["current_version_id"] = version
        stored = self.before.get(job["id"], {}).get("current_version_id")
        if stored == version and job["id"] not in self.replaced:
            return version  # the stored edges are this version's already
        self.replaced.add(job["id"])
        self.edges[job["id"]] = {(d["id"], "in") for d in inputs} | {
            (d["id"], "out") for d in outputs
        }
        return version

    # -- writing ---------------------------------------------------------------------------

    def _write(self) -> None:
        session = self.session
        session.execute(update(LineageState).values(generation=LineageState.generation + 1))
        upsert(
            session,
            LineageNamespace,
            [
                {"name": n, "created_at": self.now, "updated_at": self.now}
                for n in sorted(self.namespaces)
            ],
            ["name"],
            ["updated_at"],
        )
        self._upsert(LineageDataset, self.datasets, DATASET_COLUMNS)
        self._upsert(LineageJob, self.jobs, JOB_COLUMNS)
        upsert(session, LineageDatasetVersion, list(self.dataset_versions.values()), ["id"])
        upsert(
            session,
            LineageJobVersion,
            list(self.job_versions.values()),
            ["id"],
            ["latest_run_id", "updated_at"],
        )
        self._upsert(LineageRun, self.runs, RUN_COLUMNS)
        delete_where_in(session, LineageEdge.job_id, self.replaced)
        upsert(
            session,
            LineageEdge,
            [
                {"job_id": job, "dataset_id": dataset, "direction": direction}
                for job, edges in self.edges.items()
                for dataset, direction in sorted(edges)
            ],
            ["job_id", "dataset_id", "direction"],
        )
        mark_changed(session, *self._graph_changes())
        delete_where_in(session, LineageColumn.dataset_id, self.columns)
        insert_rows(
            session,
            LineageColumn,
            [
                {
                    "id": new_id(),
                    "dataset_id": dataset,
                    "field": field,
                    "input_namespace": namespace,
                    "input_name": name,
                    "input_field": input_field,
                    "transformations": steps,
                }
                for dataset, rows in self.columns.items()
                for field, namespace, name, input_field, steps in rows
            ],
        )

    def _graph_changes(self) -> tuple[set[str], set[str]]:
        """The jobs and datasets whose part of the traversal graph this batch changed: new
        ones, jobs whose type, latest run, edges or runs' states changed."""
        loaded, before = self.loaded, self.before
        jobs = {
            k
            for k, r in self.jobs.items()
            if k not in loaded or _changed(before[k], r, ("job_type", "latest_run_id"))
        }
        jobs.update(self.edges)
        jobs.update(
            r["job_id"]
            for k, r in self.runs.items()
            if k not in loaded or before[k]["state"] != r["state"]
        )
        return jobs, {k for k in self.datasets if k not in loaded}

    def _upsert(self, model: Any, rows: dict[str, dict[str, Any]], columns: tuple) -> None:
        """New rows, and loaded rows that changed, in one upsert per table."""
        written = [
            r
            for k, r in rows.items()
            if k not in self.loaded or _changed(self.before[k], r, columns)
        ]
        upsert(self.session, model, written, ["id"], columns)


def _changed(before: dict[str, Any], after: dict[str, Any], columns: tuple) -> bool:
    """Whether a row changed beyond its ``updated_at``."""
    return any(before[c] != after[c] for c in columns if c != "updated_at")


def _with_versions(
    seen: list[dict[str, str]], datasets: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """A run's inputs or outputs with ``datasets`` added at their current versions."""
    merged = {(d["namespace"], d["name"]): d for d in seen}
    for row in datasets:
        version = as_uuid(row["current_version_id"])
        merged[(row["namespace"], row["name"])] = {
            "namespace": row["namespace"],
            "name": row["name"],
            "version": version,
        }
    return list(merged.values())
