"""Search over active listings and your projects' inventories, with facets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.catalog.search.service import SearchResults

router = APIRouter(prefix="/api/v1/catalog/search", tags=["catalog search"])

Values = Annotated[list[str] | None, Query()]


class ReindexOut(BaseModel):
    documents: int


@router.get("", response_model=SearchResults)
def search(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    q: Annotated[
        str,
        Query(description='Words, "quoted phrases" and prefixes (cust*); blank to browse'),
    ] = "",
    project: Annotated[list[str] | None, Query(description="Any of these projects")] = None,
    domain_unit: Annotated[
        list[str] | None,
        Query(description="Any of these domain units (path or id), with sub-units"),
    ] = None,
    asset_type: Annotated[list[str] | None, Query(description="Any of these asset types")] = None,
    tag: Annotated[list[str] | None, Query(description="Every one of these tags")] = None,
    glossary_term: Annotated[
        list[str] | None, Query(description="Every one of these glossary terms")
    ] = None,
    scope: Annotated[str, Query(pattern="^(listings|inventory|all)$")] = "all",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """Active listings (everyone) and assets of your projects matching ``q``, best first.

    The newest 1,000 visible matches are counted, faceted (domain unit, project, asset type,
    tag, glossary term) and ranked; past them ``total_exact`` and ``facets_exact`` are false
    (lower bounds, "1,000+") and later pages continue newest first. A blank ``q`` browses,
    newest first.
    """
    return runtime.search.search(
        principal,
        q,
        project=project,
        domain_unit=domain_unit,
        asset_type=asset_type,
        tag=tag,
        glossary_term=glossary_term,
        scope=scope,
        limit=limit,
        offset=offset,
    )


@router.post("/reindex", response_model=ReindexOut)
def reindex(runtime: RuntimeDep, principal: PrincipalDep):
    """Rebuild the search index from listings and assets (administrators)."""
    return ReindexOut(documents=runtime.search.reindex(principal))
