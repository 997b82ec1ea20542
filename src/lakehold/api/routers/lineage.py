"""OpenLineage ingest and lineage graphs (Marquez-compatible paths)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.errors import Invalid
from lakehold.lineage.service import DEFAULT_DEPTH

router = APIRouter(prefix="/api/v1", tags=["lineage"])

NodeId = Annotated[
    str, Query(alias="nodeId", description="`dataset:<namespace>:<name>` or `job:<ns>:<name>`")
]
Depth = Annotated[int, Query(ge=0, le=100, description="Jobs away from the node.")]


class Ingested(BaseModel):
    accepted: int
    duplicates: int


def _counts(received: int, stored: int) -> Ingested:
    return Ingested(accepted=stored, duplicates=received - stored)


@router.post("/lineage", response_model=Ingested, status_code=status.HTTP_201_CREATED)
def post_event(
    event: Annotated[dict[str, Any], Body(description="One OpenLineage event (2-0-x).")],
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Record one OpenLineage RunEvent, DatasetEvent or JobEvent, as Marquez does. Needs a token
    with the `lineage:write` scope. Sending the same event again is harmless."""
    return _counts(1, runtime.lineage.ingest(principal, [event]))


@router.post("/lineage/batch", response_model=Ingested)
def post_batch(
    body: Annotated[
        list[Any] | dict[str, Any],
        Body(description='A JSON array of events, or `{"events": [...]}`.'),
    ],
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Record many events at once, atomically: if one is invalid, the answer names it
    (`events[i]...`) and nothing is stored. Duplicates are counted, not stored twice."""
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise Invalid('expected a JSON array of events or {"events": [...]}', field="events")
    return _counts(len(events), runtime.lineage.ingest(principal, events))


@router.get("/lineage")
def lineage(
    runtime: RuntimeDep, principal: PrincipalDep, node_id: NodeId, depth: Depth = DEFAULT_DEPTH
) -> dict[str, Any]:
    """The lineage graph around a dataset or job: `{"graph": [{id, type, data, inEdges,
    outEdges}]}`. Lakehold tables you may not discover appear as `dataset:hidden:...`."""
    return runtime.lineage.lineage(principal, node_id, depth=depth)


@router.get("/column-lineage")
def column_lineage(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    node_id: Annotated[
        str, Query(alias="nodeId", description="`dataset:`, `datasetField:` or `job:` node id")
    ],
    depth: Depth = DEFAULT_DEPTH,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
) -> dict[str, Any]:
    """Column lineage: which input fields each field derives from (and, with `withDownstream`,
    which fields derive from it)."""
    return runtime.lineage.column_lineage(
        principal, node_id, depth=depth, with_downstream=with_downstream
    )


@router.get("/search")
def search(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, description="Part of a dataset or job name.")],
    kind: Annotated[str, Query(alias="filter", description="DATASET or JOB")] = "",
    sort: Annotated[str, Query(description="NAME or UPDATE_AT")] = "NAME",
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    """Lineage search (Marquez shape): `{"totalCount", "results": [{type, name, updatedAt,
    namespace, nodeId}]}`. The catalog's search is `/api/v1/catalog/search`."""
    return runtime.lineage.search(principal, q, kind=kind, sort=sort, limit=limit)


@router.get("/tags")
def tags(runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Tags of lineage datasets (from the OpenLineage `tags` facet)."""
    return runtime.lineage.tags(principal)
