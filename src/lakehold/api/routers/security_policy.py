"""The security policy (token lifetimes, the global revocation cutoff) and revoking the
credentials of many users at once (administrators; ADR 0029)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import PrincipalDep, RuntimeDep
from lakehold.api.routers.users import RevokeIn
from lakehold.security.policy import MAX_LIFETIME, SecurityPolicyView
from lakehold.security.revocation import Revoked

router = APIRouter(prefix="/api/v1", tags=["security"])


class SecurityPolicyIn(BaseModel):
    """The fields to change; a field left out keeps its value, null removes a limit."""

    model_config = ConfigDict(extra="forbid")

    max_token_lifetime_seconds: int | None = Field(
        default=None,
        gt=0,
        le=MAX_LIFETIME,
        description="No API token is issued to live longer (null: no limit).",
    )
    default_token_lifetime_seconds: int | None = Field(
        default=None,
        gt=0,
        le=MAX_LIFETIME,
        description="The lifetime of a token asked for without `expires_at` (null: it never "
        "expires, unless a maximum is set: then the maximum).",
    )
    credentials_valid_after: datetime | None = Field(
        default=None,
        description="Revoke every session and token issued at or before this time (past or "
        "now; it only moves forward).",
    )


class RevokeBeforeIn(RevokeIn):
    before: datetime | None = Field(
        default=None, description="The cutoff (default: now); not in the future."
    )


@router.get("/security/policy", response_model=SecurityPolicyView)
def show_policy(runtime: RuntimeDep, principal: PrincipalDep) -> SecurityPolicyView:
    """The security policy (administrators): token lifetimes and the revocation cutoff."""
    return runtime.security_policy.show(principal)


@router.put("/security/policy", response_model=SecurityPolicyView)
def update_policy(
    body: SecurityPolicyIn, runtime: RuntimeDep, principal: PrincipalDep
) -> SecurityPolicyView:
    """Change the security policy (administrators). Only the fields sent change: e.g.
    `{"max_token_lifetime_seconds": 7776000}` (90 days); lifetimes apply to tokens issued
    afterwards. A default beyond the maximum is 400 naming the field."""
    given: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    return runtime.security_policy.update(principal, **given)


@router.post("/security/revoke-before", response_model=Revoked)
def revoke_before(
    runtime: RuntimeDep, principal: PrincipalDep, body: RevokeBeforeIn | None = None
) -> Revoked:
    """Revoke every session and token of every user issued at or before `before` (default:
    now), effective on the next request after at most 1 s on every API process
    (administrators). Yours too: ask for `new_token` to keep working."""
    body = body or RevokeBeforeIn()
    return runtime.revocation.revoke_before(principal, body.before, new_token=body.new_token)


@router.post("/identity-providers/{name}/revoke-credentials", response_model=Revoked)
def revoke_provider(
    name: str, runtime: RuntimeDep, principal: PrincipalDep, body: RevokeIn | None = None
) -> Revoked:
    """Revoke every session and token of every user of the identity provider `name`
    (administrators), effective on the next request after at most 1 s on every API process."""
    new_token = body.new_token if body is not None else None
    return runtime.revocation.revoke_provider(principal, name, new_token=new_token)
