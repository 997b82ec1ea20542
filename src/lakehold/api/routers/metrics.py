"""``GET /metrics``: every metric in the Prometheus text format, for Prometheus (ADR 33).

It needs a token: an administrator's, or one with the ``metrics`` scope (which works here
only; ``lakehold token create prometheus --scope metrics``), which Prometheus sends with
``authorization: credentials_file``. 401 without a valid token, 403 for any other.

Left out of the OpenAPI document: its answer is Prometheus's text format, not JSON, and it is
for Prometheus, not for the SDK the document generates.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from lakehold.api.deps import RuntimeDep, authenticate_token, bearer_token, runtime_of
from lakehold.security.principal import Principal

router = APIRouter(include_in_schema=False)


async def metrics_principal(request: Request) -> Principal:
    """The principal of the request's token, a ``metrics`` token welcome."""
    return await authenticate_token(runtime_of(request), bearer_token(request), metrics=True)


@router.get("/metrics")
def metrics(
    runtime: RuntimeDep, principal: Annotated[Principal, Depends(metrics_principal)]
) -> Response:
    """Every metric of every process serving (``--workers``), in the Prometheus text format."""
    service = runtime.metrics
    return Response(service.scrape(principal), media_type=service.content_type)
