"""The SDK's lineage endpoints: OpenLineage ingest, lineage graphs and the Marquez-compatible
reads.

The graph and Marquez reads answer in Marquez's JSON shapes, which the OpenAPI document leaves
untyped (``object``): they are returned as plain dicts, as Marquez clients expect them.
Ingest answers are typed (``Ingested``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment

# lakehold.lineage.service.DEFAULT_DEPTH (the client may not import the service)
DEFAULT_DEPTH = 20

Marquez = dict[str, Any]
"""A Marquez-shaped JSON answer (untyped in the OpenAPI document)."""


class Lineage(Resource):
    """Lineage: OpenLineage events in, graphs and Marquez-compatible reads out."""

    def send(self, event: Mapping[str, Any]) -> m.Ingested:
        """Record one OpenLineage RunEvent, DatasetEvent or JobEvent (needs a token with the
        ``lineage:write`` scope, bound to the event's namespace). Sending it again is
        harmless: it is counted as a duplicate."""
        return self._post("/api/v1/lineage", m.Ingested, json=event)

    def send_batch(self, events: Sequence[Mapping[str, Any]]) -> m.Ingested:
        """Record many events atomically: if one is invalid, the error names it
        (``events[i]...``) and nothing is stored."""
        return self._post("/api/v1/lineage/batch", m.Ingested, json=list(events))

    def graph(self, node_id: str, *, depth: int = DEFAULT_DEPTH) -> Marquez:
        """The lineage graph around ``dataset:<namespace>:<name>`` or ``job:<ns>:<name>``:
        ``{"graph": [{id, type, data, inEdges, outEdges}]}``."""
        return self._get("/api/v1/lineage", Marquez, params={"nodeId": node_id, "depth": depth})

    def column_lineage(
        self, node_id: str, *, depth: int = DEFAULT_DEPTH, with_downstream: bool = False
    ) -> Marquez:
        """Column lineage of a ``dataset:``, ``datasetField:`` or ``job:`` node: the input
        fields each field derives from (and, ``with_downstream``, the fields derived from
        it)."""
        params = {"nodeId": node_id, "depth": depth, "withDownstream": with_downstream}
        return self._get("/api/v1/column-lineage", Marquez, params=params)

    def asset(
        self,
        project: str,
        asset: str,
        *,
        direction: Literal["upstream", "downstream", "both"] = "both",
        depth: int = DEFAULT_DEPTH,
    ) -> Marquez:
        """The upstream and downstream lineage of a catalog asset, and its column lineage."""
        path = f"/api/v1/projects/{segment(project)}/assets/{segment(asset)}/lineage"
        return self._get(path, Marquez, params={"direction": direction, "depth": depth})

    def search(self, q: str, *, kind: str = "", sort: str = "NAME", limit: int = 10) -> Marquez:
        """Datasets and jobs whose name contains ``q`` (``kind``: DATASET or JOB; ``sort``:
        NAME or UPDATE_AT): ``{"totalCount", "results"}``."""
        params = {"q": q, "filter": kind or None, "sort": sort, "limit": limit}
        return self._get("/api/v1/search", Marquez, params=params)

    def tags(self) -> Marquez:
        """Tags of lineage datasets (the OpenLineage ``tags`` facet)."""
        return self._get("/api/v1/tags", Marquez)

    # -- Marquez-compatible reads ------------------------------------------------------------

    def namespaces(self) -> Marquez:
        """Every lineage namespace: ``{"namespaces": [...]}``."""
        return self._get("/api/v1/namespaces", Marquez)

    def namespace(self, namespace: str) -> Marquez:
        """One namespace."""
        return self._get(f"/api/v1/namespaces/{segment(namespace)}", Marquez)

    def datasets(self, namespace: str, *, limit: int = 100, offset: int = 0) -> Marquez:
        """Datasets of a namespace: ``{"totalCount", "datasets"}``."""
        path = f"/api/v1/namespaces/{segment(namespace)}/datasets"
        return self._get(path, Marquez, params={"limit": limit, "offset": offset})

    def dataset(self, namespace: str, name: str) -> Marquez:
        """A dataset: fields, facets, current version, column lineage."""
        return self._get(self._dataset(namespace, name), Marquez)

    def dataset_versions(
        self, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> Marquez:
        """Versions of a dataset, newest first: ``{"totalCount", "versions"}``."""
        path = self._dataset(namespace, name) + "/versions"
        return self._get(path, Marquez, params={"limit": limit, "offset": offset})

    def jobs(self, namespace: str | None = None, *, limit: int = 100, offset: int = 0) -> Marquez:
        """Jobs of a namespace (of every namespace without one): ``{"totalCount", "jobs"}``."""
        path = (
            "/api/v1/jobs" if namespace is None else f"/api/v1/namespaces/{segment(namespace)}/jobs"
        )
        return self._get(path, Marquez, params={"limit": limit, "offset": offset})

    def job(self, namespace: str, name: str) -> Marquez:
        """A job: inputs, outputs, latest run, current version."""
        return self._get(self._job(namespace, name), Marquez)

    def job_versions(
        self, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> Marquez:
        """Versions of a job (distinct inputs, outputs and SQL): ``{"totalCount",
        "versions"}``."""
        path = self._job(namespace, name) + "/versions"
        return self._get(path, Marquez, params={"limit": limit, "offset": offset})

    def runs(self, namespace: str, name: str, *, limit: int = 100, offset: int = 0) -> Marquez:
        """Runs of a job, newest first: ``{"totalCount", "runs"}``."""
        path = self._job(namespace, name) + "/runs"
        return self._get(path, Marquez, params={"limit": limit, "offset": offset})

    def run(self, run_id: str) -> Marquez:
        """A run: state, times, job version, input and output dataset versions, facets."""
        return self._get(f"/api/v1/jobs/runs/{segment(run_id)}", Marquez)

    @staticmethod
    def _dataset(namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{segment(namespace)}/datasets/{segment(name)}"

    @staticmethod
    def _job(namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{segment(namespace)}/jobs/{segment(name)}"
