"""Single sign-on for programs (ADR 0031): the configured OpenID Connect providers, and an ID
token the CLI obtained from one exchanged for a short-lived Lakehold API token. Neither
needs a Lakehold token."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import RuntimeDep
from lakehold.api.schemas import Model
from lakehold.security.service import TokenInfo

router = APIRouter(prefix="/api/v1/auth/oidc", tags=["single sign-on"])


class OidcProviderOut(Model):
    name: str
    display_name: str
    issuer: str
    cli_client_id: str | None = Field(
        description="The public client the CLI signs in with (none: no CLI sign-in)."
    )
    scopes: list[str]


class OidcTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(
        min_length=1,
        max_length=16_384,
        description="An ID token the provider issued to its CLI client at most 10 minutes ago.",
    )
    access_token: str | None = Field(
        default=None,
        max_length=16_384,
        description="The access token issued with it: Lakehold reads the provider's UserInfo "
        "with it when the ID token lacks the username or group claims.",
    )
    nonce: str | None = Field(
        default=None,
        max_length=512,
        description="The nonce the CLI sent (loopback redirect); none with the device grant.",
    )


@router.get("/providers", response_model=list[OidcProviderOut])
def list_providers(runtime: RuntimeDep):
    """The OpenID Connect providers one may sign in with (no token needed)."""
    return [
        OidcProviderOut(
            name=provider.name,
            display_name=provider.label,
            issuer=provider.issuer,
            cli_client_id=provider.cli_client,
            scopes=list(provider.scopes),
        )
        for provider in runtime.oidc.providers()
    ]


@router.post(
    "/{name}/token",
    response_model=TokenInfo,
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"description": "The ID token is not valid, or was already exchanged"},
        429: {"description": "Too many failed sign-ins: retry after Retry-After seconds"},
    },
)
def exchange_id_token(name: str, body: OidcTokenIn, request: Request, runtime: RuntimeDep):
    """Exchange an ID token from provider `name`'s CLI client (`lakehold login --provider`)
    for a Lakehold API token, returned once. The ID token is validated (signature by the
    provider's keys, issuer, audience, expiry, freshness, nonce); the user is matched by
    issuer and subject, or created when the provider allows it. The token expires after the
    security policy's default lifetime, else 12 hours. An ID token is exchanged once.
    Refusals are audited with the reason and counted per address and person, as failed
    password sign-ins are: past the limits, 429 with Retry-After."""
    address = request.client.host if request.client else None
    principal = runtime.oidc.verify_cli(
        name,
        body.id_token,
        access_token=body.access_token,
        nonce=body.nonce,
        address=address,
    )
    return runtime.security.create_token(
        principal, f"sign-in with {name}", expires_at=runtime.oidc.cli_token_expiry()
    )
