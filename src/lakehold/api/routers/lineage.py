"""OpenLineage ingest and lineage graphs (Marquez-compatible paths).

Ingest reads the body itself, bounded (``LAKEHOLD_LINEAGE_MAX_EVENT_BYTES`` for one event,
``LAKEHOLD_LINEAGE_MAX_BATCH_BYTES`` for a batch), so that an oversized or absurdly nested body
is a 400 naming the limit, never a 500 (ADR 0015).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.errors import Invalid
from lakehold.lineage.limits import EventLimits
from lakehold.lineage.service import DEFAULT_DEPTH

router = APIRouter(prefix="/api/v1", tags=["lineage"])

NodeId = Annotated[
    str, Query(alias="nodeId", description="`dataset:<namespace>:<name>` or `job:<ns>:<name>`")
]
Depth = Annotated[int, Query(ge=0, le=100, description="Jobs away from the node.")]

_EVENT = {"type": "object", "description": "An OpenLineage RunEvent, DatasetEvent or JobEvent."}


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


class Ingested(BaseModel):
    accepted: int
    duplicates: int


def _counts(received: int, stored: int) -> Ingested:
    return Ingested(accepted=stored, duplicates=received - stored)


async def _read_json(request: Request, limit: int, setting: str, field: str) -> Any:
    """The JSON body, at most ``limit`` bytes; Invalid naming the limit otherwise."""
    too_large = Invalid(
        f"the body is larger than {limit} bytes ({setting})", field=field, limit=setting
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except RecursionError:
        raise Invalid("JSON nested too deeply", field=field, limit="lineage_max_depth") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Invalid(f"the body is not JSON: {error}", field=field) from None


@router.post(
    "/lineage",
    response_model=Ingested,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_body(_EVENT, "One OpenLineage event (2-0-x)."),
)
async def post_event(request: Request, runtime: RuntimeDep, principal: PrincipalDep):
    """Record one OpenLineage RunEvent, DatasetEvent or JobEvent, as Marquez does. Needs a token
    with the `lineage:write` scope (issued by an administrator, bound to the namespaces it may
    write; Lakehold's own namespace is never writable here). Sending the same event again is
    harmless."""
    await run_in_threadpool(runtime.lineage.require_writer, principal)
    limits = EventLimits.from_settings(runtime.settings)
    event = await _read_json(
        request, limits.max_event_bytes, "lineage_max_event_bytes", "events[0]"
    )
    stored = await run_in_threadpool(runtime.lineage.ingest, principal, [event], limits)
    return _counts(1, stored)


@router.post(
    "/lineage/batch",
    response_model=Ingested,
    openapi_extra=_body(
        {"oneOf": [{"type": "array", "items": _EVENT}, {"type": "object"}]},
        'A JSON array of events, or `{"events": [...]}`.',
    ),
)
async def post_batch(request: Request, runtime: RuntimeDep, principal: PrincipalDep):
    """Record many events at once, atomically: if one is invalid, the answer names it
    (`events[i]...`) and nothing is stored. Duplicates are counted, not stored twice."""
    await run_in_threadpool(runtime.lineage.require_writer, principal)
    limits = EventLimits.from_settings(runtime.settings)
    body = await _read_json(request, limits.max_batch_bytes, "lineage_max_batch_bytes", "events")
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise Invalid('expected a JSON array of events or {"events": [...]}', field="events")
    stored = await run_in_threadpool(runtime.lineage.ingest, principal, events, limits)
    return _counts(len(events), stored)


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
