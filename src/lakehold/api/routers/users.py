"""Users and API tokens; revoking a user's credentials, deactivating and reactivating users."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.schemas import Model
from lakehold.security.revocation import Revoked
from lakehold.security.service import TokenInfo, UserInfo

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
    active: bool = Field(default=True, description="False: deactivated, every credential refused.")
    identity_provider: str | None = Field(
        default=None, description="The identity provider that provisions the user (None: local)."
    )


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Issue you a fresh API token of this name after the revocation, returned "
        "once: your own token is revoked too when it was among those revoked.",
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, description="Admins: issue for another user.")
    expires_at: datetime | None = Field(
        default=None,
        description="When it expires (in the future, within the security policy's maximum "
        "lifetime); default: the policy's default lifetime, or never.",
    )
    scopes: list[str] = Field(
        default=[],
        description="Extra rights: `lineage:write`, `scim`, `metrics` (granted by "
        "administrators only; a `metrics` token reads `/metrics` only).",
    )
    namespaces: list[str] = Field(
        default=[],
        max_length=100,
        description="With `lineage:write` (required): the OpenLineage namespaces the token may "
        "write, e.g. `airflow://prod`; `*` matches any characters. Lakehold's own namespace is "
        "never writable through the API.",
    )
    identity_provider: str | None = Field(
        default=None,
        max_length=64,
        description="With `scim` (required): the identity provider (e.g. `okta`) whose users "
        "and groups the token provisions at `/scim/v2`; such a token works only there.",
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
def list_users(runtime: RuntimeDep, principal: PrincipalDep) -> list[UserInfo]:
    """Every user (administrators)."""
    return runtime.security.list_users(principal)


@router.post("/users/{username}/revoke-credentials", response_model=Revoked)
def revoke_credentials(
    username: str, runtime: RuntimeDep, principal: PrincipalDep, body: RevokeIn | None = None
) -> Revoked:
    """Revoke every web session and API token of a user (yours; administrators: anyone's),
    effective on the next request, after at most 1 s on every API process. Tokens and
    sessions issued afterwards work. Another user is 404 to non-administrators."""
    new_token = body.new_token if body is not None else None
    return runtime.revocation.revoke_user(principal, username, new_token=new_token)


@router.post("/users/{username}/deactivate", response_model=UserOut)
def deactivate_user(username: str, runtime: RuntimeDep, principal: PrincipalDep) -> UserInfo:
    """Deactivate a user (administrators; not yourself): they can no longer sign in, and
    every session and token of theirs is revoked (409 for yourself)."""
    return runtime.revocation.deactivate(principal, username)


@router.post("/users/{username}/activate", response_model=UserOut)
def activate_user(username: str, runtime: RuntimeDep, principal: PrincipalDep) -> UserInfo:
    """Reactivate a user (administrators); credentials revoked meanwhile stay revoked."""
    return runtime.revocation.activate(principal, username)


@router.post("/tokens", response_model=TokenInfo, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenIn, runtime: RuntimeDep, principal: PrincipalDep):
    """Issue an API token. Its value is returned once and never again. A `lineage:write` token
    is issued by an administrator (for any user) and bound to the lineage `namespaces` it may
    write. The security policy sets `expires_at` when none is given, and refuses one already
    past or beyond its maximum lifetime (400, field `expires_at`)."""
    return runtime.security.create_token(
        principal,
        body.name,
        username=body.username,
        expires_at=body.expires_at,
        scopes=body.scopes,
        namespaces=body.namespaces,
        identity_provider=body.identity_provider,
    )


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(runtime: RuntimeDep, principal: PrincipalDep):
    """Your tokens (administrators: all), without their values."""
    return runtime.security.list_tokens(principal)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Revoke a token at once."""
    runtime.security.revoke_token(principal, token_id)
