"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.schemas import Model
from lakehold.security.service import TokenInfo

router = APIRouter(prefix="/api/v1", tags=["users and tokens"])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    display_name: str | None = None
    is_admin: bool = False
    password: str | None = Field(default=None, min_length=8)


class UserOut(Model):
    user_id: str
    username: str
    is_admin: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, description="Admins: issue for another user.")
    expires_at: datetime | None = None
    scopes: list[str] = Field(
        default=[],
        description="Extra rights: `lineage:write` (granted by administrators only).",
    )
    namespaces: list[str] = Field(
        default=[],
        max_length=100,
        description="With `lineage:write` (required): the OpenLineage namespaces the token may "
        "write, e.g. `airflow://prod`; `*` matches any characters. Lakehold's own namespace is "
        "never writable through the API.",
    )


@router.get("/me", response_model=UserOut)
def me(principal: PrincipalDep):
    """The user the token belongs to."""
    return principal


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Create a user (administrators)."""
    return runtime.security.create_user(
        principal,
        body.username,
        display_name=body.display_name,
        is_admin=body.is_admin,
        password=body.password,
    )


@router.get("/users", response_model=list[UserOut])
def list_users(runtime: RuntimeDep, principal: PrincipalDep):
    """Every user (administrators)."""
    return runtime.security.list_users(principal)


@router.post("/tokens", response_model=TokenInfo, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Issue an API token. Its value is returned once and never again. A `lineage:write` token
    is issued by an administrator (for any user) and bound to the lineage `namespaces` it may
    write."""
    return runtime.security.create_token(
        principal,
        body.name,
        username=body.username,
        expires_at=body.expires_at,
        scopes=body.scopes,
        namespaces=body.namespaces,
    )


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(runtime: RuntimeDep, principal: PrincipalDep):
    """Your tokens (administrators: all), without their values."""
    return runtime.security.list_tokens(principal)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Revoke a token at once."""
    runtime.security.revoke_token(principal, token_id)
