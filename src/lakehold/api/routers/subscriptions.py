"""Subscription requests (request, approve with filters, reject) and grants (change filters,
revoke, end)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.governance.grants import KEEP, GrantView
from lakehold.governance.subscriptions import ItemDecision, SubscriptionRequestView

router = APIRouter(prefix="/api/v1", tags=["subscriptions"])


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(description="The subscribing project (you are a contributor or owner)")
    listings: list[str] = Field(description="Ids of active listings of one owning project")
    reason: str = Field(description="Why the project needs the data")
    form_values: dict[str, Any] | None = None


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listing_id: str
    row_filter: str | None = Field(default=None, description="Name of a row filter of the asset")
    column_filter: str | None = Field(
        default=None, description="Name of a column filter of the asset"
    )


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(
        default_factory=list, description="Filters per listing; listings left out: full access"
    )
    comment: str | None = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = None


@router.post(
    "/subscription-requests",
    response_model=SubscriptionRequestView,
    status_code=status.HTTP_201_CREATED,
)
def create_request(body: RequestIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Request published assets for a project, with a reason."""
    return runtime.subscriptions.request(
        principal, body.project, body.listings, body.reason, form_values=body.form_values
    )


@router.get("/subscription-requests", response_model=list[SubscriptionRequestView])
def list_requests(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    direction: Annotated[
        Literal["incoming", "outgoing"] | None,
        Query(description="incoming: for your projects' assets; outgoing: from your projects"),
    ] = None,
    status: Annotated[
        Literal["requested", "approved", "rejected"] | None, Query(description="Filter by status")
    ] = None,
    project: str | None = None,
):
    """Subscription requests you may see, newest first."""
    return runtime.subscriptions.list_requests(
        principal, direction=direction, status=status, project=project
    )


@router.get("/subscription-requests/{request_id}", response_model=SubscriptionRequestView)
def get_request(request_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One subscription request with its listings and decision."""
    return runtime.subscriptions.get_request(principal, request_id)


@router.post("/subscription-requests/{request_id}/approve", response_model=SubscriptionRequestView)
def approve(request_id: str, body: ApproveIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Approve (owners of the assets' project): each listing is granted, with its filters."""
    return runtime.subscriptions.approve(
        principal,
        request_id,
        items=[ItemDecision(i.listing_id, i.row_filter, i.column_filter) for i in body.items],
        comment=body.comment,
    )


@router.post("/subscription-requests/{request_id}/reject", response_model=SubscriptionRequestView)
def reject(
    request_id: str, runtime: RuntimeDep, principal: PrincipalDep, body: RejectIn | None = None
):
    """Reject (owners of the assets' project)."""
    return runtime.subscriptions.reject(
        principal, request_id, comment=body.comment if body else None
    )


@router.get("/grants", response_model=list[GrantView])
def list_grants(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    project: Annotated[
        str | None, Query(description="Grants to this project or on its assets")
    ] = None,
    asset: Annotated[str | None, Query(description="project.table")] = None,
    include_revoked: bool = False,
):
    """Grants on your projects' assets and to your projects, newest first."""
    return runtime.grants.list_grants(
        principal, project=project, asset=asset, include_revoked=include_revoked
    )


@router.get("/grants/{grant_id}", response_model=GrantView)
def get_grant(grant_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One grant."""
    return runtime.grants.get_grant(principal, grant_id)


class GrantFiltersPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row_filter: str | None = Field(
        default=None,
        description="Name of a row filter of the asset; null removes it; omitted: kept",
    )
    column_filter: str | None = Field(
        default=None,
        description="Name of a column filter of the asset; null removes it; omitted: kept",
    )


@router.patch("/grants/{grant_id}", response_model=GrantView)
def change_grant_filters(
    grant_id: str, body: GrantFiltersPatch, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change an active grant's filters in place (owners of the asset's project); the same
    grant reads through them from the next statement on."""
    given = body.model_fields_set
    return runtime.grants.change_filters(
        principal,
        grant_id,
        row_filter=body.row_filter if "row_filter" in given else KEEP,
        column_filter=body.column_filter if "column_filter" in given else KEEP,
    )


@router.post("/grants/{grant_id}/revoke", response_model=GrantView)
def revoke(grant_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Revoke a grant (owners of the asset's project); effective at once."""
    return runtime.grants.revoke(principal, grant_id)


@router.post("/grants/{grant_id}/unsubscribe", response_model=GrantView)
def unsubscribe(grant_id: str, runtime: RuntimeDep, principal: PrincipalDep):
    """End a grant (owners of the subscribing project); effective at once."""
    return runtime.grants.unsubscribe(principal, grant_id)
