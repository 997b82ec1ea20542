"""Column lineage around a dataset, a field or a job's outputs (Marquez ``/column-lineage``).

Upstream always (which input fields each field derives from), downstream on request, ``depth``
levels each way; each level is one query over ``lineage_columns``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from lakehold.lineage.bulk import chunks
from lakehold.lineage.fold import dataset_id
from lakehold.lineage.graph import load
from lakehold.lineage.limits import MAX_READ_DEPTH, depth_within
from lakehold.lineage.marquez import fields, text
from lakehold.lineage.visibility import DATASET, HIDDEN, Visibility
from lakehold.store.lineage import LineageColumn, LineageDataset

Field = tuple[str, str, str]  # (namespace, dataset name, field)


def column_graph(
    session: Session,
    visibility: Visibility,
    start: list[Field],
    depth: int,
    downstream: bool,
) -> dict[str, Any]:
    """Marquez's ``{"graph": [...]}`` of ``DATASET_FIELD`` nodes reachable from ``start``."""
    links: dict[tuple[Field, Field], list[dict]] = {}
    seen = set(start)
    frontier = list(start)
    for _ in range(depth):
        found = _upstream(session, frontier, links)
        if downstream:
            found += _downstream(session, frontier, links)
        frontier = [f for f in dict.fromkeys(found) if f not in seen]
        seen.update(frontier)
        if not frontier:
            break
    rows = load(
        session,
        LineageDataset,
        ("id", "namespace", "name", "opaque_id", "fields"),
        sorted({dataset_id(ns, name) for ns, name, _ in seen}),
    )
    datasets = {(r["namespace"], r["name"]): r for r in rows}
    visibility.decide([(DATASET, ns, name) for ns, name in datasets])
    names = {f: _name(f, datasets, visibility) for f in seen}
    nodes = []
    for field in sorted(f for f in seen if names[f]):
        node_name = names[field]
        assert node_name is not None  # only named fields are shown
        inputs = [(i, steps) for (i, o), steps in links.items() if o == field and names[i]]
        outputs = [o for (i, o) in links if i == field and names[o]]
        nodes.append(
            {
                "id": node_name,
                "type": "DATASET_FIELD",
                "data": _data(field, node_name, datasets, inputs, names),
                "inEdges": [{"origin": names[i], "destination": node_name} for i, _ in inputs],
                "outEdges": [{"origin": node_name, "destination": names[o]} for o in outputs],
            }
        )
    return {"graph": nodes}


def _upstream(session: Session, frontier: list[Field], links: dict) -> list[Field]:
    wanted = set(frontier)
    ids = {dataset_id(ns, name): (ns, name) for ns, name, _ in frontier}
    found = []
    for part in chunks(sorted(ids)):
        query = select(LineageColumn).where(LineageColumn.dataset_id.in_(part))
        for row in session.scalars(query):
            output = (*ids[row.dataset_id], row.field)
            if output in wanted:
                source = (row.input_namespace, row.input_name, row.input_field)
                links[(source, output)] = row.transformations or []
                found.append(source)
    return found


def _downstream(session: Session, frontier: list[Field], links: dict) -> list[Field]:
    wanted = set(frontier)
    keys = sorted({(ns, name) for ns, name, _ in frontier})
    found = []
    for part in chunks(keys):
        query = (
            select(LineageColumn, LineageDataset.namespace, LineageDataset.name)
            .join(LineageDataset, LineageDataset.id == LineageColumn.dataset_id)
            .where(tuple_(LineageColumn.input_namespace, LineageColumn.input_name).in_(part))
        )
        for row, namespace, name in session.execute(query):
            source = (row.input_namespace, row.input_name, row.input_field)
            if source in wanted:
                output = (namespace, name, row.field)
                links[(source, output)] = row.transformations or []
                found.append(output)
    return found


def _name(field: Field, datasets: dict, visibility: Visibility) -> str | None:
    namespace, name, column = field
    if visibility.visible(DATASET, namespace, name):
        return f"datasetField:{namespace}:{name}:{column}"
    row = datasets.get((namespace, name))
    if row is None:
        return None  # hidden, and nothing stable to name it by: left out
    digest = hashlib.sha256(f"{row['opaque_id']}:{column}".encode()).hexdigest()[:16]
    return f"datasetField:{HIDDEN}:{row['opaque_id']}:{digest}"


def _data(
    field: Field,
    node_name: str,
    datasets: dict,
    inputs: list[tuple[Field, list[dict]]],
    names: dict[Field, str | None],
) -> dict[str, Any]:
    namespace, name, column = field
    if node_name.startswith(f"datasetField:{HIDDEN}:"):
        return {"hidden": True, "namespace": None, "dataset": None, "field": None}
    row = datasets.get((namespace, name)) or {}
    types = {
        f["name"]: text(f.get("type"))
        for f in fields(row.get("fields"))
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    }
    first = next((_steps(steps)[0] for _, steps in inputs if _steps(steps)), {})
    return {
        "namespace": namespace,
        "dataset": name,
        "datasetVersion": None,
        "field": column,
        "fieldType": types.get(column),
        "transformationDescription": text(first.get("description")),
        "transformationType": text(first.get("type")),
        "inputFields": [_input(source, steps, names) for source, steps in inputs],
    }


def _input(source: Field, steps: list[dict], names: dict[Field, str | None]) -> dict[str, Any]:
    hidden = (names[source] or "").startswith(f"datasetField:{HIDDEN}:")
    steps = _steps(steps)
    first = steps[0] if steps else {}
    return {
        "namespace": None if hidden else source[0],
        "dataset": None if hidden else source[1],
        "field": None if hidden else source[2],
        "transformationDescription": text(first.get("description")),
        "transformationType": text(first.get("type")),
        "transformations": steps,
    }


def _steps(steps: Any) -> list[dict[str, Any]]:
    """Stored transformations as shown: objects only, nothing nested too deeply to show."""
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, dict) and depth_within(s, MAX_READ_DEPTH - 8)]
