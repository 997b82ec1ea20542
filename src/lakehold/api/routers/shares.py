"""Delta Sharing management (ADR 37): shares and their tables, recipients and their tokens
(a new token comes back once, inside the recipient's profile file), and recipients' grants
(request, approve in full or with filters per table, reject, revoke)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.sharing_errors import PREFIX as SHARING_PREFIX
from lakehold.governance.sharing.grants import ShareGrantView, TableDecision
from lakehold.governance.sharing.recipients import IssuedToken, RecipientView
from lakehold.governance.sharing.shares import ShareView
from lakehold.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["Delta Sharing"])


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique on the server; lower case letters, digits, _ and -")
    project: str = Field(description="The project whose tables it offers (you are an owner)")
    comment: str | None = None


class ShareTableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: str = Field(description="A published lakehouse table of the share's project")
    schema_: str | None = Field(
        default=None, alias="schema", description="Default: the project's name"
    )
    name: str | None = Field(default=None, description="Default: the asset's name")


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(description="The producer project (you are an owner)")
    name: str = Field(description="Unique in the project")
    organisation: str = Field(description="The organisation the recipient is")
    comment: str | None = None
    days: int | None = Field(
        default=None,
        description="Lifetime of its first token (default LAKEHOLD_SHARING_TOKEN_DAYS)",
    )


class RecipientTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(default=None, description="Lifetime of the token")


class SharingProfile(BaseModel):
    """A Delta Sharing profile file: what a recipient's client reads with."""

    model_config = ConfigDict(populate_by_name=True)

    share_credentials_version: int = Field(alias="shareCredentialsVersion")
    endpoint: str
    bearer_token: str = Field(alias="bearerToken")
    expiration_time: str = Field(alias="expirationTime")


class IssuedProfile(BaseModel):
    """A token just issued, inside its profile file: shown this once."""

    recipient: RecipientView
    token_id: str
    expires_at: datetime
    profile: SharingProfile


class ShareGrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: str
    recipient: str = Field(description="The recipient's id")
    reason: str = Field(description="Why the recipient needs the data")


class ShareTableDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str = Field(description="schema.table of the share")
    row_filter: str | None = Field(default=None, description="A row filter of the asset")
    column_filter: str | None = Field(default=None, description="A column filter of the asset")


class ShareApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: list[ShareTableDecisionIn] = Field(
        default_factory=list, description="Filters per table; tables left out: in full"
    )
    comment: str | None = None


class ShareRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = None


# -- shares ------------------------------------------------------------------------------------


@router.post("/shares", response_model=ShareView, status_code=status.HTTP_201_CREATED)
def create_share(body: ShareIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create an empty share of a project."""
    return runtime.shares.create(principal, body.project, body.name, comment=body.comment)


@router.get("/shares", response_model=list[ShareView])
def list_shares(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    project: Annotated[str | None, Query(description="Only this project's shares")] = None,
):
    """The shares of your projects."""
    return runtime.shares.list_shares(principal, project=project)


@router.get("/shares/{share}", response_model=ShareView)
def get_share(share: str, runtime: RuntimeDep, principal: PrincipalDep):
    return runtime.shares.get(principal, share)


@router.delete("/shares/{share}", status_code=status.HTTP_204_NO_CONTENT)
def delete_share(share: str, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    """Delete a share; its grants end."""
    runtime.shares.delete(principal, share)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/shares/{share}/tables", response_model=ShareView, status_code=status.HTTP_201_CREATED
)
def add_share_table(share: str, body: ShareTableIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Offer a published table of the share's project as ``schema.name``."""
    return runtime.shares.add_table(
        principal, share, body.asset, schema=body.schema_, name=body.name
    )


@router.delete("/shares/{share}/tables/{table}", response_model=ShareView)
def remove_share_table(share: str, table: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Stop offering ``schema.table``."""
    return runtime.shares.remove_table(principal, share, table)


# -- recipients --------------------------------------------------------------------------------


def _profile(request: Request, runtime: Runtime, issued: IssuedToken) -> IssuedProfile:
    base = runtime.settings.public_url or str(request.base_url)
    return IssuedProfile(
        recipient=issued.recipient,
        token_id=issued.token_id,
        expires_at=issued.expires_at,
        profile=SharingProfile.model_validate(
            {
                "shareCredentialsVersion": 1,
                "endpoint": base.rstrip("/") + SHARING_PREFIX,
                "bearerToken": issued.value,
                "expirationTime": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        ),
    )


@router.post("/share-recipients", response_model=IssuedProfile, status_code=status.HTTP_201_CREATED)
def create_recipient(
    body: RecipientIn, request: Request, runtime: RuntimeDep, principal: PrincipalDep
):
    """Create a recipient of a project and its first token, returned once in its profile."""
    issued = runtime.share_recipients.create(
        principal, body.project, body.name, body.organisation, comment=body.comment, days=body.days
    )
    return _profile(request, runtime, issued)


@router.get("/share-recipients", response_model=list[RecipientView])
def list_recipients(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    project: Annotated[str | None, Query(description="Only this project's recipients")] = None,
):
    return runtime.share_recipients.list_recipients(principal, project=project)


@router.get("/share-recipients/{recipient}", response_model=RecipientView)
def get_recipient(recipient: str, runtime: RuntimeDep, principal: PrincipalDep):
    return runtime.share_recipients.get(principal, recipient)


@router.delete("/share-recipients/{recipient}", status_code=status.HTTP_204_NO_CONTENT)
def delete_recipient(recipient: str, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    """Delete a recipient: its tokens and grants end."""
    runtime.share_recipients.delete(principal, recipient)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/share-recipients/{recipient}/tokens",
    response_model=IssuedProfile,
    status_code=status.HTTP_201_CREATED,
)
def issue_recipient_token(
    recipient: str,
    body: RecipientTokenIn,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
):
    """Another token of the recipient, returned once in its profile."""
    issued = runtime.share_recipients.issue_token(principal, recipient, days=body.days)
    return _profile(request, runtime, issued)


@router.delete("/share-recipients/{recipient}/tokens/{token}", response_model=RecipientView)
def revoke_recipient_token(
    recipient: str, token: str, runtime: RuntimeDep, principal: PrincipalDep
):
    """Revoke a token of the recipient: refused from its next request on."""
    return runtime.share_recipients.revoke_token(principal, recipient, token)


# -- grants ------------------------------------------------------------------------------------


@router.post("/share-grants", response_model=ShareGrantView, status_code=status.HTTP_201_CREATED)
def request_grant(body: ShareGrantIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Ask the project's owners to give a recipient access to a share."""
    return runtime.share_grants.request(principal, body.share, body.recipient, body.reason)


@router.get("/share-grants", response_model=list[ShareGrantView])
def list_grants(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    share: str | None = None,
    project: str | None = None,
    status: Annotated[
        str | None, Query(description="requested, approved, rejected or revoked")
    ] = None,
):
    return runtime.share_grants.list_grants(principal, share=share, project=project, status=status)


@router.get("/share-grants/{grant}", response_model=ShareGrantView)
def get_grant(grant: str, runtime: RuntimeDep, principal: PrincipalDep):
    return runtime.share_grants.get(principal, grant)


@router.post("/share-grants/{grant}/approve", response_model=ShareGrantView)
def approve_grant(grant: str, body: ShareApproveIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Approve: tables in full unless filters of their asset are named; filtered tables are
    materialised as the grant's own snapshots."""
    decisions = [TableDecision(t.table, t.row_filter, t.column_filter) for t in body.tables]
    return runtime.share_grants.approve(principal, grant, tables=decisions, comment=body.comment)


@router.post("/share-grants/{grant}/reject", response_model=ShareGrantView)
def reject_grant(grant: str, body: ShareRejectIn, runtime: RuntimeDep, principal: PrincipalDep):
    return runtime.share_grants.reject(principal, grant, comment=body.comment)


@router.post("/share-grants/{grant}/revoke", response_model=ShareGrantView)
def revoke_grant(grant: str, runtime: RuntimeDep, principal: PrincipalDep):
    """End an approved grant: reads and file URLs are refused from now on."""
    return runtime.share_grants.revoke(principal, grant)
