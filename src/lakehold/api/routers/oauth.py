"""The OAuth 2.0 token endpoint: a service principal's client credentials exchanged for a
short-lived API token (RFC 6749 §4.4; ADR 32). Its errors are OAuth's
(``{"error", "error_description"}``, RFC 6749 §5.2), not Lakehold's error body, so OAuth
clients (Spark and Iceberg REST catalogs, Authlib, requests-oauthlib) read them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lakehold.api.deps import RuntimeDep
from lakehold.security.client_credentials import OAuthError

router = APIRouter(tags=["OAuth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
CHALLENGE = 'Basic realm="lakehold", charset="UTF-8"'


class OAuthTokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "lh_0123456789abcdef_...",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": "project:retail",
                }
            ]
        }
    )

    access_token: str = Field(description="A Lakehold API token: send it as a Bearer token")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until it expires")
    scope: str = Field(description="What it was granted: `project:<its project>`")


class OAuthErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": "invalid_client", "error_description": "client authentication failed"}
            ]
        }
    )

    error: str = Field(
        description="invalid_request, invalid_client, unsupported_grant_type, invalid_scope"
    )
    error_description: str


_ERRORS = {
    400: "invalid_request, unsupported_grant_type or invalid_scope",
    401: "invalid_client, with `WWW-Authenticate: Basic`",
    429: "invalid_client: too many failed attempts for this client id (`Retry-After`)",
}


@router.post(
    "/oauth/token",
    response_model=OAuthTokenOut,
    responses={
        status: {"model": OAuthErrorOut, "description": description}
        for status, description in _ERRORS.items()
    },
)
async def token(
    request: Request,
    runtime: RuntimeDep,
    grant_type: Annotated[str | None, Form(description="`client_credentials`")] = None,
    client_id: Annotated[str | None, Form(description="Or HTTP Basic")] = None,
    client_secret: Annotated[str | None, Form(description="Or HTTP Basic")] = None,
    scope: Annotated[str | None, Form(description="Optional: `project:<name>`")] = None,
):
    """The client credentials grant: a service principal authenticates with its client id
    and secret (HTTP Basic, or the `client_id` and `client_secret` form fields) and receives
    a short-lived API token of its project (`LAKEHOLD_SERVICE_PRINCIPAL_TOKEN_SECONDS`)."""
    try:
        issued = await run_in_threadpool(
            runtime.client_credentials.exchange,
            grant_type=grant_type,
            authorization=request.headers.get("authorization"),
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
        )
    except OAuthError as error:
        headers = dict(NO_STORE)
        if error.status_code == 401:
            headers["WWW-Authenticate"] = CHALLENGE
        if "retry_after" in error.details:
            headers["Retry-After"] = str(error.details["retry_after"])
        return JSONResponse(error.body(), status_code=error.status_code, headers=headers)
    body = OAuthTokenOut(
        access_token=issued.value,
        token_type="Bearer",
        expires_in=issued.expires_in,
        scope=issued.scope,
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)
