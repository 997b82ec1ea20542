"""Request dependencies: the runtime and the acting principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from lakehold.observability import request_context
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal

SCIM_PATH = "/scim/v2/"
"""Where SCIM provisioning is served (``api.routers.scim``)."""
SHARING_PATH = "/delta-sharing/"
"""Where the Delta Sharing protocol is served (``api.routers.delta_sharing``): recipient tokens
work there only, and only they (ADR 37)."""


def runtime_of(request: HTTPConnection) -> Runtime:
    """The runtime serving ``request``."""
    return request.app.state.runtime


async def get_runtime(request: Request) -> Runtime:
    """The runtime (an async dependency: a plain one would cost a thread-pool hop)."""
    return runtime_of(request)


def bearer_token(request: HTTPConnection) -> str | None:
    """The token of the ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def authenticate_first(request: Request) -> Principal:
    """The principal of ``request``'s bearer token, found before its body is read and kept for
    :data:`get_principal`; Unauthorized without a valid token."""
    path = request.scope["path"]  # as the router reads it (request.url would parse it again)
    if path.startswith(SHARING_PATH):
        principal = await authenticate_recipient(request)
        request.state.principal = principal
        return principal
    scim = path.startswith(SCIM_PATH)  # a scim token works there only (ADR 30)
    principal = await authenticate_token(runtime_of(request), bearer_token(request), scim=scim)
    request.state.principal = principal
    return principal


async def authenticate_recipient(request: HTTPConnection) -> Principal:
    """The Delta Sharing recipient of the request's bearer token (ADR 37); Unauthorized for a
    missing, bad, revoked or expired recipient token, and for any other token."""
    runtime = runtime_of(request)
    known = await run_in_threadpool(runtime.recipient_auth.authenticate, bearer_token(request))
    request_context.identify(known.username, None)  # for the request's log lines
    return known


async def authenticate_token(
    runtime: Runtime, token: str | None, *, scim: bool = False, metrics: bool = False
) -> Principal:
    """The principal of ``token`` (``scim``/``metrics``: the request is one where a token of
    that scope works). A token validated within the last second is answered on the event
    loop; otherwise the store is read on a worker thread."""
    known = runtime.security.authenticate_cached(token, scim=scim, metrics=metrics)
    if known is None:
        known = await run_in_threadpool(
            runtime.security.authenticate, token, scim=scim, metrics=metrics
        )
    request_context.identify(known.username, known.project)  # for the request's log lines
    return known


class _BearerPrincipal(HTTPBearer):
    """The principal of the bearer token; 401 without a valid one. A request with a body was
    authenticated before its body was read (``api.bodies.BodyLimits``,
    ``api.uploads.UploadRoute``): that principal is the one.

    One dependency, documented in OpenAPI as the ``HTTPBearer`` scheme (it is one): FastAPI
    resolves each sub-dependency of each request, and a runtime and an ``HTTPBearer`` under a
    principal cost more than reading the header here (ADR 22, addendum)."""

    async def __call__(self, request: HTTPConnection) -> Principal:  # type: ignore[override]
        known = getattr(request.state, "principal", None)
        if isinstance(known, Principal):
            return known
        return await authenticate_token(runtime_of(request), bearer_token(request))


get_principal = _BearerPrincipal(
    auto_error=False, scheme_name="HTTPBearer", description="An API token: `lh_...`"
)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
