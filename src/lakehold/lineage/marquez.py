"""Marquez-compatible JSON shapes (camelCase) of namespaces, datasets, jobs, runs and versions.

Functions take rows as dicts (column name -> value) and return what the Marquez API returns,
closely enough for Marquez clients and UIs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from lakehold.lineage.emitter import facet
from lakehold.lineage.limits import readable, readable_value
from lakehold.store.models import as_utc

Row = dict[str, Any]


def time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as Marquez writes times."""
    if value is None:
        return None
    return as_utc(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


RUN_STATES = {
    "NEW": "NEW",
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
"""A run's stored state (``NEW`` or the OpenLineage event type that last moved it) -> Marquez's
``RunState`` (``NEW``, ``RUNNING``, ``COMPLETED``, ``FAILED``, ``ABORTED``). ``OTHER`` events
never move a run (folding keeps the previous state), so they have no entry."""


def run_state(stored: Any) -> str:
    """The Marquez ``RunState`` of a stored run state; ``NEW`` for anything unknown."""
    return RUN_STATES.get(stored, "NEW") if isinstance(stored, str) else "NEW"


def text(value: Any) -> str | None:
    """A stored value shown where a string is expected: the string, else None."""
    return value if isinstance(value, str) else None


def fields(value: Any) -> list[Any]:
    """Stored schema fields as shown: [] when not a list or nested too deeply to show."""
    return readable_value(value, []) if isinstance(value, list) else []


def _tags(value: Any) -> list[str]:
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def version(hex_id: str | None) -> str | None:
    """A version id (stored as 32 hex digits) as a UUID string."""
    return str(uuid.UUID(hex=hex_id)) if hex_id else None


def namespace(row: Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "createdAt": time(row["created_at"]),
        "updatedAt": time(row["updated_at"]),
        "ownerName": row.get("owner_name") or "anonymous",
        "description": row.get("description"),
        "isHidden": False,
    }


def dataset_id(row: Row) -> dict[str, str]:
    return {"namespace": row["namespace"], "name": row["name"]}


def dataset(row: Row, column_lineage: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": dataset_id(row),
        "type": "DB_TABLE",
        "name": row["name"],
        "physicalName": row["name"],
        "createdAt": time(row["created_at"]),
        "updatedAt": time(row["updated_at"]),
        "namespace": row["namespace"],
        "sourceName": row["namespace"],
        "fields": fields(row.get("fields")),
        "tags": _tags(row.get("tags")),
        "lastModifiedAt": time(row.get("last_modified_at")),
        "lastLifecycleState": None,
        "description": row.get("description"),
        "currentVersion": version(row.get("current_version_id")),
        "columnLineage": column_lineage,
        "facets": readable(row.get("facets")),
        "deleted": False,
    }


def dataset_version(dataset_row: Row, row: Row, run: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": {**dataset_id(dataset_row), "version": row["version"]},
        "type": "DB_TABLE",
        "name": dataset_row["name"],
        "physicalName": dataset_row["name"],
        "createdAt": time(row["created_at"]),
        "version": row["version"],
        "namespace": dataset_row["namespace"],
        "sourceName": dataset_row["namespace"],
        "fields": fields(row.get("fields")),
        "tags": _tags(dataset_row.get("tags")),
        "lifecycleState": None,
        "description": dataset_row.get("description"),
        "createdByRun": run,
        "facets": readable(row.get("facets")),
    }


def job(
    row: Row,
    inputs: list[dict[str, str]],
    outputs: list[dict[str, str]],
    latest_run: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": {"namespace": row["namespace"], "name": row["name"]},
        "type": row.get("job_type") or "BATCH",
        "name": row["name"],
        "simpleName": row["name"].rsplit(".", 1)[-1],
        "parentJobName": None,
        "createdAt": time(row["created_at"]),
        "updatedAt": time(row["updated_at"]),
        "namespace": row["namespace"],
        "inputs": inputs,
        "outputs": outputs,
        "location": row.get("location"),
        "description": row.get("description"),
        "latestRun": latest_run,
        "latestRuns": [latest_run] if latest_run else [],
        "facets": readable(row.get("facets")),
        "currentVersion": version(row.get("current_version_id")),
        "labels": [],
    }


def job_version(job_row: Row, row: Row, latest_run: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": {
            "namespace": job_row["namespace"],
            "name": job_row["name"],
            "version": row["version"],
        },
        "name": job_row["name"],
        "createdAt": time(row["created_at"]),
        "updatedAt": time(row["updated_at"]),
        "location": job_row.get("location"),
        "version": row["version"],
        "namespace": job_row["namespace"],
        "inputs": [{"namespace": ns, "name": name} for ns, name in row.get("inputs") or []],
        "outputs": [{"namespace": ns, "name": name} for ns, name in row.get("outputs") or []],
        "latestRun": latest_run,
        "facets": {"sql": facet("sql", query=row["sql"])} if text(row.get("sql")) else {},
    }


def run(row: Row, job_row: Row | None, job_version_uuid: str | None) -> dict[str, Any]:
    started, ended = row.get("started_at"), row.get("ended_at")
    duration = int((ended - started).total_seconds() * 1000) if started and ended else None
    return {
        "id": row["id"],
        "createdAt": time(row["created_at"]),
        "updatedAt": time(row["updated_at"]),
        "nominalStartTime": time(row.get("nominal_start_time")),
        "nominalEndTime": time(row.get("nominal_end_time")),
        "state": run_state(row["state"]),
        "startedAt": time(started),
        "endedAt": time(ended),
        "durationMs": duration,
        "args": {},
        "jobVersion": (
            {
                "namespace": job_row["namespace"],
                "name": job_row["name"],
                "version": job_version_uuid,
            }
            if job_row and job_version_uuid
            else None
        ),
        "inputDatasetVersions": [_dataset_version_ref(d) for d in row.get("inputs") or []],
        "outputDatasetVersions": [_dataset_version_ref(d) for d in row.get("outputs") or []],
        "context": {},
        "facets": readable(row.get("facets")),
    }


def _dataset_version_ref(ref: dict[str, str]) -> dict[str, Any]:
    return {"datasetVersionId": ref, "facets": {}}


def graph_states(result: dict[str, Any]) -> dict[str, Any]:
    """A lineage graph (``{"graph": [nodes]}``) with each job node's ``latestRun.state`` shown as
    Marquez's ``RunState``. A new graph: the nodes given may be shared between responses
    (:func:`lakehold.lineage.graph.graph`), so they are copied where changed, never changed."""
    return {**result, "graph": [_node_state(node) for node in result.get("graph", ())]}


def _node_state(node: dict[str, Any]) -> dict[str, Any]:
    data = node.get("data") or {}
    latest = data.get("latestRun")
    if not isinstance(latest, dict) or "state" not in latest:
        return node
    shown = {**latest, "state": run_state(latest["state"])}
    return {**node, "data": {**data, "latestRun": shown}}


def node_id(kind: str, namespace_name: str, name: str) -> str:
    """A Marquez node id: ``dataset:<namespace>:<name>`` or ``job:<namespace>:<name>``."""
    return f"{kind}:{namespace_name}:{name}"
