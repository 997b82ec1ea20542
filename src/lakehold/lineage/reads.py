"""Marquez-compatible reads for one principal: namespaces, datasets, jobs, runs, versions,
graphs, search and tags. Hidden Lakehold nodes are NotFound when asked for by name and left
out of lists; in graphs they are placeholders.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakehold.errors import Invalid, NotFound
from lakehold.lineage import marquez
from lakehold.lineage.bulk import rows_by_id
from lakehold.lineage.column_graph import column_graph
from lakehold.lineage.fold import dataset_id, job_id
from lakehold.lineage.graph import graph
from lakehold.lineage.graph_source import SnapshotCache
from lakehold.lineage.locations import logical_uri, shown_facets
from lakehold.lineage.nodes import resolve
from lakehold.lineage.visibility import DATASET, JOB, Visibility
from lakehold.store.lineage import (
    LineageColumn,
    LineageDataset,
    LineageDatasetVersion,
    LineageEdge,
    LineageJob,
    LineageJobVersion,
    LineageNamespace,
    LineageRun,
)

SEARCH_FILTERS = {"DATASET": (DATASET,), "JOB": (JOB,), "": (DATASET, JOB)}
SEARCH_SORTS = ("NAME", "UPDATE_AT")


def page(limit: int, offset: int) -> tuple[int, int]:
    """Checked paging parameters."""
    if limit < 1 or limit > 1000:
        raise Invalid("limit must be between 1 and 1000", field="limit")
    if offset < 0:
        raise Invalid("offset must not be negative", field="offset")
    return limit, offset


class LineageReads:
    """Reads in one session for one principal."""

    def __init__(self, session: Session, visibility: Visibility, graphs: SnapshotCache) -> None:
        self.session = session
        self.visibility = visibility
        self.graphs = graphs

    # -- namespaces ------------------------------------------------------------------------

    def namespaces(self) -> dict[str, Any]:
        rows = self.session.scalars(select(LineageNamespace).order_by(LineageNamespace.name))
        shown = [r for r in rows if self.visibility.namespace_visible(r.name)]
        return {"namespaces": [marquez.namespace(vars(r)) for r in shown]}

    def namespace(self, name: str) -> dict[str, Any]:
        row = self.session.get(LineageNamespace, name)
        if row is None or not self.visibility.namespace_visible(name):
            raise NotFound(f"namespace '{name}' not found")
        return marquez.namespace(vars(row))

    # -- datasets --------------------------------------------------------------------------

    def datasets(self, namespace: str, limit: int, offset: int) -> dict[str, Any]:
        ids = self._visible_ids(DATASET, LineageDataset, LineageDataset.namespace == namespace)
        rows = rows_by_id(self.session, LineageDataset, ids[offset : offset + limit])
        chosen = [rows[i] for i in ids[offset : offset + limit]]
        self._decide_locations(chosen)
        return {
            "totalCount": len(ids),
            "datasets": [marquez.dataset(self._scrubbed(r)) for r in chosen],
        }

    def dataset(self, namespace: str, name: str) -> dict[str, Any]:
        row = self._dataset_row(namespace, name)
        return marquez.dataset(self._scrubbed(row), self._column_lineage(row["id"]))

    def dataset_versions(self, namespace: str, name: str, limit: int, offset: int) -> dict:
        row = self._dataset_row(namespace, name)
        where = LineageDatasetVersion.dataset_id == row["id"]
        total = self.session.scalar(select(func.count()).where(where))
        versions = self.session.scalars(
            select(LineageDatasetVersion)
            .where(where)
            .order_by(LineageDatasetVersion.created_at.desc(), LineageDatasetVersion.id)
            .limit(limit)
            .offset(offset)
        ).all()
        runs = self._runs([v.run_id for v in versions if v.run_id])
        return {
            "totalCount": total,
            "versions": [
                marquez.dataset_version(
                    row, self._scrubbed(vars(v), row), runs.get(v.run_id) if v.run_id else None
                )
                for v in versions
            ],
        }

    # -- jobs and runs ---------------------------------------------------------------------

    def jobs(self, namespace: str | None, limit: int, offset: int) -> dict[str, Any]:
        where = LineageJob.namespace == namespace if namespace is not None else None
        ids = self._visible_ids(JOB, LineageJob, where)
        chosen = ids[offset : offset + limit]
        rows = rows_by_id(self.session, LineageJob, chosen)
        return {"totalCount": len(ids), "jobs": self._jobs([rows[i] for i in chosen])}

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        return self._jobs([self._job_row(namespace, name)])[0]

    def job_versions(self, namespace: str, name: str, limit: int, offset: int) -> dict:
        job = self._job_row(namespace, name)
        where = LineageJobVersion.job_id == job["id"]
        total = self.session.scalar(select(func.count()).where(where))
        versions = self.session.scalars(
            select(LineageJobVersion)
            .where(where)
            .order_by(LineageJobVersion.created_at.desc(), LineageJobVersion.id)
            .limit(limit)
            .offset(offset)
        ).all()
        runs = self._runs([v.latest_run_id for v in versions if v.latest_run_id])
        return {
            "totalCount": total,
            "versions": [
                marquez.job_version(
                    job,
                    self._io_shown(vars(v)),
                    runs.get(v.latest_run_id) if v.latest_run_id else None,
                )
                for v in versions
            ],
        }

    def runs(self, namespace: str, name: str, limit: int, offset: int) -> dict[str, Any]:
        job = self._job_row(namespace, name)
        where = LineageRun.job_id == job["id"]
        total = self.session.scalar(select(func.count()).where(where))
        ids = self.session.scalars(
            select(LineageRun.id)
            .where(where)
            .order_by(LineageRun.created_at.desc(), LineageRun.id)
            .limit(limit)
            .offset(offset)
        ).all()
        runs = self._runs(ids)
        return {"totalCount": total, "runs": [runs[i] for i in ids]}

    def run(self, run_id: str) -> dict[str, Any]:
        row = self.session.get(LineageRun, run_id)
        job = self.session.get(LineageJob, row.job_id) if row else None
        if job is None or not self.visibility.visible(JOB, job.namespace, job.name):
            raise NotFound(f"run '{run_id}' not found")
        return self._runs([run_id])[run_id]

    # -- graphs ----------------------------------------------------------------------------

    def lineage(self, node_id: str, depth: int) -> dict[str, Any]:
        node = self._visible_node(node_id)
        source = self.graphs.source(self.session)
        return marquez.graph_states(graph(source, self.visibility, node.kind, node.id, depth))

    def column_lineage(self, node_id: str, depth: int, downstream: bool) -> dict[str, Any]:
        node = self._visible_node(node_id, fields=True)
        if node.field is not None:
            start = [(node.namespace, node.name, node.field)]
        elif node.kind == DATASET:
            start = self._fields_of([node.id])
        else:
            outputs = self.session.scalars(
                select(LineageEdge.dataset_id).where(
                    LineageEdge.job_id == node.id, LineageEdge.direction == "out"
                )
            ).all()
            start = self._fields_of(outputs)
        return column_graph(self.session, self.visibility, start, depth, downstream)

    # -- search and tags -------------------------------------------------------------------

    def search(self, q: str, kind: str, sort: str, limit: int) -> dict[str, Any]:
        if kind not in SEARCH_FILTERS:
            raise Invalid("filter must be DATASET or JOB", field="filter")
        if sort not in SEARCH_SORTS:
            raise Invalid("sort must be NAME or UPDATE_AT", field="sort")
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        found = []
        for node_kind in SEARCH_FILTERS[kind]:
            model = LineageDataset if node_kind == DATASET else LineageJob
            query = select(model.namespace, model.name, model.updated_at).where(
                func.lower(model.name).like(pattern, escape="\\")
            )
            found += [(node_kind, *row) for row in self.session.execute(query)]
        self.visibility.decide([(k, ns, name) for k, ns, name, _ in found])
        found = [r for r in found if self.visibility.visible(*r[:3])]
        if sort == "NAME":
            found.sort(key=lambda r: (r[2], r[1], r[0]))
        else:
            found.sort(key=lambda r: marquez.time(r[3]) or "", reverse=True)
        return {
            "totalCount": len(found),
            "results": [
                {
                    "type": kind_.upper(),
                    "name": name,
                    "updatedAt": marquez.time(updated),
                    "namespace": namespace,
                    "nodeId": marquez.node_id(kind_, namespace, name),
                }
                for kind_, namespace, name, updated in found[:limit]
            ],
        }

    def tags(self) -> dict[str, Any]:
        rows = self.session.execute(
            select(LineageDataset.namespace, LineageDataset.name, LineageDataset.tags)
        ).all()
        self.visibility.decide([(DATASET, ns, name) for ns, name, _ in rows])
        names = {
            tag
            for ns, name, tags in rows
            if tags and self.visibility.visible(DATASET, ns, name)
            for tag in tags
        }
        return {"tags": [{"name": t, "description": None} for t in sorted(names)]}

    # -- helpers ---------------------------------------------------------------------------

    def _visible_ids(self, kind: str, model: Any, where: Any) -> list[str]:
        query = select(model.id, model.namespace, model.name).order_by(model.name, model.id)
        rows = self.session.execute(query if where is None else query.where(where)).all()
        self.visibility.decide([(kind, ns, name) for _, ns, name in rows])
        return [i for i, ns, name in rows if self.visibility.visible(kind, ns, name)]

    def _dataset_row(self, namespace: str, name: str) -> dict[str, Any]:
        row = rows_by_id(self.session, LineageDataset, [dataset_id(namespace, name)])
        found = next(iter(row.values()), None)
        if found is None or not self.visibility.visible(DATASET, namespace, name):
            raise NotFound(f"dataset '{namespace}:{name}' not found")
        return found

    def _job_row(self, namespace: str, name: str) -> dict[str, Any]:
        row = rows_by_id(self.session, LineageJob, [job_id(namespace, name)])
        found = next(iter(row.values()), None)
        if found is None or not self.visibility.visible(JOB, namespace, name):
            raise NotFound(f"job '{namespace}:{name}' not found")
        return found

    def _visible_node(self, node_id: str, *, fields: bool = False):
        node = resolve(self.session, node_id, fields=fields)
        if not self.visibility.visible(node.kind, node.namespace, node.name):
            raise NotFound(f"node '{node_id}' not found", field="nodeId")
        return node

    def _fields_of(self, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        rows = rows_by_id(self.session, LineageDataset, ids)
        named = {
            (r["namespace"], r["name"], f["name"])
            for r in rows.values()
            for f in marquez.fields(r["fields"])
            if isinstance(f, dict) and isinstance(f.get("name"), str)
        }
        lineage = self.session.execute(
            select(LineageColumn.dataset_id, LineageColumn.field).where(
                LineageColumn.dataset_id.in_(list(rows))
            )
        )
        named |= {(rows[d]["namespace"], rows[d]["name"], f) for d, f in lineage}
        return sorted(named)

    def _column_lineage(self, key: str) -> list[dict[str, Any]] | None:
        rows = self.session.scalars(
            select(LineageColumn)
            .where(LineageColumn.dataset_id == key)
            .order_by(LineageColumn.field, LineageColumn.input_name, LineageColumn.input_field)
        ).all()
        if not rows:
            return None
        self.visibility.decide([(DATASET, r.input_namespace, r.input_name) for r in rows])
        fields: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if not self.visibility.visible(DATASET, r.input_namespace, r.input_name):
                continue
            steps = r.transformations if isinstance(r.transformations, list) else []
            step = steps[0] if steps and isinstance(steps[0], dict) else {}
            fields.setdefault(r.field, []).append(
                {
                    "namespace": r.input_namespace,
                    "dataset": r.input_name,
                    "field": r.input_field,
                    "transformationDescription": marquez.text(step.get("description")),
                    "transformationType": marquez.text(step.get("type")),
                }
            )
        return [{"name": name, "inputFields": inputs} for name, inputs in fields.items()]

    def _io_shown(self, row: dict[str, Any]) -> dict[str, Any]:
        pairs = [(DATASET, ns, name) for ns, name in (*row["inputs"], *row["outputs"])]
        self.visibility.decide(pairs)
        keep = [p for p in row["inputs"] if self.visibility.visible(DATASET, *p)]
        made = [p for p in row["outputs"] if self.visibility.visible(DATASET, *p)]
        return {**row, "inputs": keep, "outputs": made}

    def _shown(self, refs: list[dict[str, str]]) -> list[dict[str, str]]:
        return [d for d in refs if self.visibility.visible(DATASET, d["namespace"], d["name"])]

    def _decide_locations(self, rows: list[dict[str, Any]]) -> None:
        tables = [self.visibility.table_of(DATASET, r["namespace"], r["name"]) for r in rows]
        self.visibility.decide_owners({t[0] for t in tables if t is not None})

    def _scrubbed(
        self, row: dict[str, Any], dataset: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``row`` (of ``dataset``, itself by default) whose ``columnLineage`` facet names no
        hidden input dataset, and whose facets show a physical location only to owners."""
        dataset = dataset or row
        facets = row.get("facets")
        if not isinstance(facets, dict):
            return {**row, "facets": {}}
        table = self.visibility.hidden_location(dataset["namespace"], dataset["name"])
        row = {**row, "facets": shown_facets(facets, logical_uri(*table) if table else None)}
        facet = row["facets"].get("columnLineage")
        if not isinstance(facet, dict) or not isinstance(facet.get("fields"), dict):
            return row
        fields = {}
        for name, spec in facet["fields"].items():
            if isinstance(spec, dict) and isinstance(spec.get("inputFields"), list):
                inputs = [
                    i
                    for i in spec["inputFields"]
                    if isinstance(i, dict)
                    and self.visibility.visible(
                        DATASET, str(i.get("namespace")), str(i.get("name"))
                    )
                ]
                spec = {**spec, "inputFields": inputs}
            fields[name] = spec
        facets = {**row["facets"], "columnLineage": {**facet, "fields": fields}}
        return {**row, "facets": facets}

    def _jobs(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        io: dict[str, tuple[list, list]] = {i: ([], []) for i in ids}
        edges = self.session.execute(
            select(
                LineageEdge.job_id,
                LineageEdge.direction,
                LineageDataset.namespace,
                LineageDataset.name,
            )
            .join(LineageDataset, LineageDataset.id == LineageEdge.dataset_id)
            .where(LineageEdge.job_id.in_(ids))
            .order_by(LineageDataset.namespace, LineageDataset.name)
        ).all()
        self.visibility.decide([(DATASET, ns, name) for _, _, ns, name in edges])
        for job, direction, ns, name in edges:
            if self.visibility.visible(DATASET, ns, name):
                io[job][0 if direction == "in" else 1].append({"namespace": ns, "name": name})
        runs = self._runs([r["latest_run_id"] for r in rows if r["latest_run_id"]])
        return [
            marquez.job(r, io[r["id"]][0], io[r["id"]][1], runs.get(r["latest_run_id"]))
            for r in rows
        ]

    def _runs(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        runs = rows_by_id(self.session, LineageRun, ids)
        jobs = rows_by_id(self.session, LineageJob, {r["job_id"] for r in runs.values()})
        versions = rows_by_id(
            self.session,
            LineageJobVersion,
            {r["job_version_id"] for r in runs.values() if r["job_version_id"]},
        )
        self.visibility.decide(
            (DATASET, d["namespace"], d["name"])
            for r in runs.values()
            for d in (*r["inputs"], *r["outputs"])
        )
        for r in runs.values():
            r["inputs"], r["outputs"] = self._shown(r["inputs"]), self._shown(r["outputs"])
        return {
            key: marquez.run(
                r,
                jobs.get(r["job_id"]),
                versions[r["job_version_id"]]["version"] if r["job_version_id"] else None,
            )
            for key, r in runs.items()
        }
