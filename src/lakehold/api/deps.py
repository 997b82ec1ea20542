"""Request dependencies: the runtime and the acting principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

_bearer = HTTPBearer(auto_error=False, description="An API token: `lh_...`")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def bearer_token(request: Request) -> str | None:
    """The token of the ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def get_principal(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the bearer token; 401 without a valid one. A route that authenticates
    before reading its body (``api.uploads.UploadRoute``) has already found it."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    return runtime.security.authenticate(credentials.credentials if credentials else None)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
