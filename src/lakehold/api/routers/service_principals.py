"""A project's service principals and their client secrets (ADR 32); their tokens come from
``POST /oauth/token`` (``routers.oauth``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.schemas import Model
from lakehold.security.service_principals import (
    MAX_OVERLAP_SECONDS,
    IssuedSecret,
    SecretView,
    ServicePrincipalView,
)

router = APIRouter(
    prefix="/api/v1/projects/{project}/service-principals", tags=["service principals"]
)

RoleName = Literal["owner", "contributor", "viewer"]
CLIENT_ID = "lhsp_6f1c0e0d3b9a4f7e8a2b5c4d3e2f1a0b"
SECRET = "lhsps_Jx3...(shown once)"
WHEN = "2026-12-07T09:00:00Z"


class ServicePrincipalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "nightly-etl", "role": "contributor"}]},
    )

    name: str = Field(
        min_length=1,
        max_length=60,
        description="Lower-case letters, digits, '_', '-'; its user is `sp-<project>-<name>`",
        examples=["nightly-etl"],
    )
    role: RoleName = Field(default="viewer", description="Its role in the project")


class RotateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 3600}]}
    )

    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long the older secrets keep working (default: "
        "LAKEHOLD_SERVICE_PRINCIPAL_SECRET_OVERLAP_SECONDS, 24 h); 0 ends them now",
    )


class ServicePrincipalOut(Model):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly-etl",
                    "project": "retail",
                    "username": "sp-retail-nightly-etl",
                    "client_id": CLIENT_ID,
                    "role": "contributor",
                    "created_by": "ana",
                    "created_at": WHEN,
                    "active_secrets": 1,
                }
            ]
        },
    )

    name: str
    project: str
    username: str = Field(description="The user it acts as, named in the audit log")
    client_id: str = Field(description="Public: the OAuth client id")
    role: RoleName | None = Field(description="Its role in the project (null: removed)")
    created_by: str
    created_at: datetime
    active_secrets: int = Field(description="Secrets that can be exchanged for a token now")


class ServicePrincipalCreatedOut(ServicePrincipalOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly-etl",
                    "project": "retail",
                    "username": "sp-retail-nightly-etl",
                    "client_id": CLIENT_ID,
                    "role": "contributor",
                    "created_by": "ana",
                    "created_at": WHEN,
                    "active_secrets": 1,
                    "secret_id": "9f2d0c1b8a7e4d6c5b4a3f2e1d0c9b8a",
                    "client_secret": SECRET,
                }
            ]
        }
    )

    secret_id: str
    client_secret: str = Field(description="Shown this once; only its SHA-256 is stored")


class SecretOut(Model):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "9f2d0c1b8a7e4d6c5b4a3f2e1d0c9b8a",
                    "created_at": WHEN,
                    "expires_at": "2026-12-08T09:00:00Z",
                    "revoked_at": None,
                    "active": True,
                }
            ]
        },
    )

    id: str
    created_at: datetime
    expires_at: datetime | None = Field(description="When it stops working (after a rotation)")
    revoked_at: datetime | None
    active: bool = Field(description="It can be exchanged for a token now")


class IssuedSecretOut(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": CLIENT_ID,
                    "secret_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                    "client_secret": SECRET,
                    "created_at": WHEN,
                    "previous_expire_at": "2026-12-08T09:00:00Z",
                }
            ]
        }
    )

    client_id: str
    secret_id: str
    client_secret: str = Field(description="Shown this once; only its SHA-256 is stored")
    created_at: datetime
    previous_expire_at: datetime | None = Field(
        description="When the older secrets stop working (null: there were none)"
    )


def _out(view: ServicePrincipalView) -> ServicePrincipalOut:
    return ServicePrincipalOut.model_validate(view)


def _issued(secret: IssuedSecret) -> IssuedSecretOut:
    return IssuedSecretOut(
        client_id=secret.client_id,
        secret_id=secret.secret_id,
        client_secret=secret.value,
        created_at=secret.created_at,
        previous_expire_at=secret.previous_expire_at,
    )


def _secret(view: SecretView) -> SecretOut:
    return SecretOut.model_validate(view)


@router.post("", response_model=ServicePrincipalCreatedOut, status_code=status.HTTP_201_CREATED)
def create(project: str, body: ServicePrincipalIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a service principal with a role in the project (project owners). Its client
    secret is returned once: exchange it at `POST /oauth/token` for a short-lived token."""
    created = runtime.service_principals.create(principal, project, body.name, body.role)
    return ServicePrincipalCreatedOut(
        **_out(created.principal).model_dump(),
        secret_id=created.secret.secret_id,
        client_secret=created.secret.value,
    )


@router.get("", response_model=list[ServicePrincipalOut])
def list_service_principals(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The project's service principals (any member), without secrets."""
    return [_out(v) for v in runtime.service_principals.list(principal, project)]


@router.get("/{name}", response_model=ServicePrincipalOut)
def get(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One service principal (any member)."""
    return _out(runtime.service_principals.get(principal, project, name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Delete a service principal (project owners): its secrets and every token it holds stop
    working at once; its name is not reused."""
    runtime.service_principals.delete(principal, project, name)


@router.post("/{name}/secrets", response_model=IssuedSecretOut, status_code=201)
def rotate(
    project: str,
    name: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    body: RotateIn | None = None,
):
    """Rotate: a new secret, returned once; the older ones keep working for the overlap, then
    stop (project owners)."""
    overlap = body.overlap_seconds if body is not None else None
    issued = runtime.service_principals.rotate(principal, project, name, overlap_seconds=overlap)
    return _issued(issued)


@router.get("/{name}/secrets", response_model=list[SecretOut])
def list_secrets(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The service principal's secrets, without their values (any member)."""
    return [_secret(s) for s in runtime.service_principals.list_secrets(principal, project, name)]


@router.delete("/{name}/secrets/{secret_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_secret(
    project: str, name: str, secret_id: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Revoke one secret at once; the tokens issued for it are refused from now on (project
    owners)."""
    runtime.service_principals.revoke_secret(principal, project, name, secret_id)
