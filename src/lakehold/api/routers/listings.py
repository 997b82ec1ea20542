"""Publishing assets as listings, and discovering listings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.listings import ListingView

router = APIRouter(prefix="/api/v1", tags=["listings"])


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset_version: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="Must be the asset's current version when given",
    )


@router.post(
    "/projects/{project}/assets/{asset}/publish",
    response_model=ListingView,
    status_code=status.HTTP_201_CREATED,
)
def publish(
    project: str,
    asset: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: PublishIn | None = None,
):
    """Publish the asset's latest version as a listing (contributors and owners).

    Publishing again creates the next revision, which replaces the active listing.
    """
    return runtime.listings.publish(
        principal, project, asset, asset_version=body.asset_version if body else None
    )


@router.delete("/projects/{project}/assets/{asset}/publish", response_model=ListingView)
def unpublish(project: str, asset: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Withdraw the asset's active listing; grants already made stay in force."""
    return runtime.listings.unpublish(principal, project, asset)


@router.get("/listings", response_model=list[ListingView])
def list_listings(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    project: Annotated[str | None, Query(description="Only listings of this project")] = None,
    name: Annotated[str | None, Query(description="Part of the listing's name")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """Active listings, visible to every authenticated user."""
    return runtime.listings.list_listings(principal, project=project, name=name, limit=limit)


@router.get("/listings/{listing_id}", response_model=ListingView)
def get_listing(listing_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One listing with its columns, tags and asset version."""
    return runtime.listings.get_listing(principal, listing_id)
