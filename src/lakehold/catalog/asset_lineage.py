"""Catalog assets and lineage datasets: the lineage around an asset, and the asset of a dataset.

An asset ``project.table`` is the dataset ``<lakehold namespace>:<project>.<table>``
(:mod:`lakehold.lineage.naming`). The lineage around it is read from
:class:`~lakehold.lineage.service.LineageService` with the caller's principal, so nodes the
principal may not discover are the same opaque placeholders as in ``GET /api/v1/lineage``;
this module only splits the graph into upstream and downstream and links visible datasets
back to their assets.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from lakehold.catalog.service import CatalogService
from lakehold.errors import Invalid, NotFound
from lakehold.lineage.marquez import node_id
from lakehold.lineage.naming import asset_ref, dataset_name
from lakehold.lineage.service import DEFAULT_DEPTH, LineageService
from lakehold.security.principal import Principal

Direction = Literal["upstream", "downstream", "both"]
_EDGES = {"upstream": ("inEdges", "origin"), "downstream": ("outEdges", "destination")}


class AssetLineage:
    """The lineage of catalog assets, governed like every lineage read."""

    def __init__(self, catalog: CatalogService, lineage: LineageService) -> None:
        self.catalog = catalog
        self.lineage = lineage

    def dataset_id(self, project: str, table: str) -> str:
        """The lineage node id of the asset ``project.table``."""
        return node_id("dataset", self.lineage.namespace, dataset_name(project, table))

    def asset_of(self, namespace: str, name: str) -> dict[str, str] | None:
        """``{"project", "name"}`` of the asset a lineage dataset names, if it names one."""
        ref = asset_ref(namespace, name, self.lineage.namespace)
        return {"project": ref[0], "name": ref[1]} if ref else None

    def upstream(
        self, principal: Principal, project: str, asset: str, depth: int = DEFAULT_DEPTH
    ) -> list[dict[str, Any]]:
        """Datasets and jobs the asset is derived from, nearest first."""
        return self.around(principal, project, asset, "upstream", depth)["upstream"]

    def downstream(
        self, principal: Principal, project: str, asset: str, depth: int = DEFAULT_DEPTH
    ) -> list[dict[str, Any]]:
        """Datasets and jobs derived from the asset, nearest first."""
        return self.around(principal, project, asset, "downstream", depth)["downstream"]

    def around(
        self,
        principal: Principal,
        project: str,
        asset: str,
        direction: Direction = "both",
        depth: int = DEFAULT_DEPTH,
    ) -> dict[str, Any]:
        """Upstream and/or downstream nodes of an asset the principal may read, and its
        column lineage. An asset no event has named yet has empty lineage."""
        if direction not in ("upstream", "downstream", "both"):
            raise Invalid("direction is upstream, downstream or both", field="direction")
        self.catalog.get_asset(principal, project, asset)  # NotFound unless readable
        start = self.dataset_id(project, asset)
        try:
            nodes = self.lineage.lineage(principal, start, depth=depth)["graph"]
            columns = self.lineage.column_lineage(
                principal, start, depth=depth, with_downstream=direction != "upstream"
            )["graph"]
        except NotFound:
            nodes, columns = [], []
        by_id = {node["id"]: node for node in nodes}
        result: dict[str, Any] = {
            "asset": {"project": project, "name": asset},
            "dataset": {"namespace": self.lineage.namespace, "name": dataset_name(project, asset)},
            "nodeId": start,
        }
        for side in ("upstream", "downstream"):
            if direction in (side, "both"):
                result[side] = [self._linked(n) for n in _reachable(by_id, start, side)]
        result["columnLineage"] = columns
        return result

    def _linked(self, node: dict[str, Any]) -> dict[str, Any]:
        """A graph node, with ``asset`` set on datasets that are Lakehold assets."""
        data = node.get("data") or {}
        namespace, name = data.get("namespace"), data.get("name")
        linked = None
        if node["type"] == "DATASET" and namespace and name:
            linked = self.asset_of(namespace, name)
        return {**node, "asset": linked}


def _reachable(by_id: dict[str, dict[str, Any]], start: str, side: str) -> list[dict[str, Any]]:
    """Nodes reached from ``start`` following edges one way (breadth first, start excluded)."""
    edges, end = _EDGES[side]
    seen, queue, found = {start}, deque([start]), []
    while queue:
        node = by_id.get(queue.popleft())
        for edge in (node or {}).get(edges, []):
            other = edge[end]
            if other not in seen and other in by_id:
                seen.add(other)
                found.append(by_id[other])
                queue.append(other)
    return found
