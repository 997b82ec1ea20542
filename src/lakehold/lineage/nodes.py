"""Resolving Marquez node ids (``dataset:<namespace>:<name>``, ``job:...``,
``datasetField:<namespace>:<name>:<field>``) to stored datasets and jobs.

Namespaces and names may themselves contain ``:`` (``postgres://db:5432``), so every split is
tried and the one naming a stored node wins; a ``#<version>`` suffix is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Invalid, NotFound
from lakehold.lineage.fold import dataset_id, job_id
from lakehold.store.lineage import LineageDataset, LineageJob

KINDS = ("dataset", "job", "datasetField")


@dataclass(frozen=True)
class Node:
    """A resolved node: ``kind`` dataset or job, its row id, and a field for datasetField."""

    kind: str
    id: str
    namespace: str
    name: str
    field: str | None = None


def resolve(session: Session, node_id: str, *, fields: bool = False) -> Node:
    """The node ``node_id`` names; Invalid when malformed, NotFound when unknown."""
    kind, colon, rest = node_id.partition(":")
    allowed = KINDS if fields else KINDS[:2]
    if not colon or kind not in allowed or ":" not in rest:
        raise Invalid(
            f"nodeId must look like {' or '.join(k + ':<namespace>:<name>' for k in allowed)}",
            field="nodeId",
        )
    rest = rest.split("#", 1)[0]
    field = None
    if kind == "datasetField":
        rest, _, field = rest.rpartition(":")
    candidates = [
        (rest[:i], rest[i + 1 :]) for i, c in enumerate(rest) if c == ":" and 0 < i < len(rest) - 1
    ]
    model, make_id = (LineageJob, job_id) if kind == "job" else (LineageDataset, dataset_id)
    ids = {make_id(ns, name): (ns, name) for ns, name in candidates}
    found = set(session.scalars(select(model.id).where(model.id.in_(ids)))) if ids else set()
    for key, (namespace, name) in ids.items():
        if key in found:
            return Node("job" if kind == "job" else "dataset", key, namespace, name, field)
    raise NotFound(f"node '{node_id}' not found", field="nodeId")
