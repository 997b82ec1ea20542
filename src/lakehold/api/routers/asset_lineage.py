"""The lineage of one catalog asset: what it is derived from, what derives from it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.asset_lineage import AssetLineage
from lakehold.lineage.service import DEFAULT_DEPTH

router = APIRouter(prefix="/api/v1/projects/{project}/assets", tags=["lineage"])


@router.get("/{asset}/lineage")
def asset_lineage(
    project: str,
    asset: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    direction: Annotated[
        Literal["upstream", "downstream", "both"], Query(description="Which side to return.")
    ] = "both",
    depth: Annotated[int, Query(ge=0, le=100, description="Jobs away from the asset.")] = (
        DEFAULT_DEPTH
    ),
) -> dict[str, Any]:
    """Upstream and downstream lineage nodes of an asset (`{id, type, data, inEdges, outEdges,
    asset}`; `asset` links a dataset to its catalog asset) and its column lineage. Lakehold
    tables you may not discover appear as opaque `dataset:hidden:...` placeholders.

    Example: `GET /api/v1/projects/tickit/assets/dim_user/lineage?direction=upstream&depth=2`
    """
    links = AssetLineage(runtime.catalog, runtime.lineage)
    return links.around(principal, project, asset, direction, depth)
