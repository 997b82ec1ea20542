"""Connections of a project to external databases, folders of files and other
organisations' Delta Sharing shares (its owners)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.kernel import requests
from lakehold.runtime import Runtime
from lakehold.security.network_limits import RateLimited
from lakehold.security.principal import Principal
from lakehold.sources.certificates import CertificateView
from lakehold.sources.connections import ConnectionTest, ConnectionView

T = TypeVar("T")

router = APIRouter(prefix="/api/v1/projects/{project}/connections", tags=["connections"])

PARAMS_HELP = (
    "postgresql, mysql: host, port, database, user, and the TLS mode (postgresql: sslmode "
    "disable, allow, prefer, require, verify-ca or verify-full; mysql: ssl_mode disabled, "
    "preferred, required, verify_ca or verify_identity); sqlite: path (a file); "
    "files: path (a folder of CSV, Parquet, JSON-lines files); delta_sharing: endpoint and "
    "expirationTime (a share profile's; its bearerToken is the password). Never the password."
)


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Lower-case letters, digits, underscores")
    kind: str = Field(description="postgresql, mysql, sqlite, files or delta_sharing")
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)
    password: SecretStr | None = Field(default=None, description="Stored encrypted; never returned")
    description: str | None = None


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] | None = Field(
        default=None, description="Merged into the current params; a null value removes a key"
    )
    password: SecretStr | None = Field(default=None, description="A new password")
    clear_password: bool = False
    description: str | None = None


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


async def limited(
    runtime: Runtime, principal: Principal, work: Callable[[], T]
) -> T | JSONResponse:
    """Run ``work`` (it waits for a source) on the runtime's probe pool, off the event loop
    and off the request threads; 429 with Retry-After beyond the pool's or the user's limit."""
    try:
        return await runtime.probes.arun(principal.user_id, work)
    except RateLimited as error:
        body = {**error.to_dict(), "request_id": requests.current()}
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(error.retry_after)})


@router.post("", response_model=ConnectionView, status_code=status.HTTP_201_CREATED)
def create_connection(
    project: str, body: ConnectionIn, runtime: RuntimeDep, principal: PrincipalDep
):
    """Create a connection (project owners). Bad kind or params: 400 naming the field."""
    return runtime.connections.create(
        principal,
        project,
        body.name,
        body.kind,
        body.params,
        password=_plain(body.password),
        description=body.description,
    )


@router.get("", response_model=list[ConnectionView])
def list_connections(project: str, runtime: RuntimeDep, principal: PrincipalDep):
    """The project's connections (project owners); no secrets, only ``has_secret``."""
    return runtime.connections.list(principal, project)


@router.get("/{name}", response_model=ConnectionView)
def get_connection(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """One connection (project owners)."""
    return runtime.connections.get(principal, project, name)


@router.patch("/{name}", response_model=ConnectionView)
def update_connection(
    project: str, name: str, body: ConnectionPatch, runtime: RuntimeDep, principal: PrincipalDep
):
    """Change params, password or description; the kind never changes."""
    return runtime.connections.update(
        principal,
        project,
        name,
        params=body.params,
        password=_plain(body.password),
        clear_password=body.clear_password,
        description=body.description,
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_connection(
    project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep
) -> None:
    """Delete a connection with its data sources and federated assets; 409 naming the assets
    while any has an active grant or listing."""
    runtime.connections.delete(principal, project, name)


@router.post(
    "/{name}/test",
    response_model=ConnectionTest,
    responses={429: {"description": "Too many tests: retry after Retry-After seconds"}},
)
async def test_connection(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Reach the source (short timeout): its version and table count; 502 naming the
    connection when it cannot be reached; 400 when its target or role is not allowed;
    429 (Retry-After) when too many tests or crawls are running or were asked for."""
    return await limited(
        runtime, principal, lambda: runtime.connections.test(principal, project, name)
    )


@router.post(
    "/{name}/certificate",
    response_model=CertificateView,
    responses={429: {"description": "Too many checks: retry after Retry-After seconds"}},
)
async def check_certificate(project: str, name: str, runtime: RuntimeDep, principal: PrincipalDep):
    """Read the TLS certificate of the connection's server now and record it (project owners):
    expiry, subject, issuer; ``no_tls`` when the server offers no TLS, ``unreachable`` (with
    the reason) when it cannot be reached; 400 when its target is not allowed or it is not a
    server connection; 429 (Retry-After) as for tests."""
    return await limited(
        runtime, principal, lambda: runtime.certificates.recheck(principal, project, name)
    )
