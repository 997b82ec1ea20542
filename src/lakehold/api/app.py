"""The FastAPI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from lakehold import __version__
from lakehold.api import bodies, errors, schemas, uploads
from lakehold.api.routers import (
    asset_lineage,
    asset_metadata,
    assets,
    audit,
    connections,
    data_sources,
    domains,
    filters,
    forms,
    glossaries,
    health,
    lineage,
    listings,
    marquez,
    members,
    network,
    organisation,
    projects,
    rules,
    search,
    statements,
    subscriptions,
    sync_jobs,
    tables,
    unit_policies,
    users,
    webhooks,
)
from lakehold.kernel import requests
from lakehold.runtime import Runtime

ROUTERS = (
    health,
    users,
    domains,
    organisation,
    unit_policies,
    projects,
    members,
    assets,
    tables,
    asset_metadata,
    glossaries,
    forms,
    rules,
    filters,
    listings,
    subscriptions,
    webhooks,
    network,
    search,
    statements,
    audit,
    sync_jobs,
    connections,
    data_sources,
    lineage,
    marquez,
    asset_lineage,
)


def create_app(runtime: Runtime, *, recover: bool = True) -> FastAPI:
    """An application serving ``runtime``. A server (``recover``) first finishes or undoes
    what a crashed process left and sweeps stale uploads; a CLI command served in process
    leaves that to ``lakehold serve`` and ``lakehold doctor``."""
    app = FastAPI(
        title="Lakehold",
        version=__version__,
        description="A governed lakehouse: Delta tables, a catalog, sharing with approvals, "
        "and governed SQL.",
    )
    app.state.runtime = runtime
    if recover:
        runtime.reconcile_on_start()  # finish or undo what a crashed process left (once)
        uploads.sweep_staging(runtime.settings.staging_path)  # what killed uploads left behind
    errors.install(app)
    app.add_middleware(bodies.BodyLimits, settings=runtime.settings)  # bounded bodies
    app.middleware("http")(_request_id)
    for module in ROUTERS:
        app.include_router(schemas.utc_router(module.router))  # timestamps in UTC with a Z
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document gives the real error responses (``errors.document``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _request_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Give each request an id (the client's ``X-Request-ID`` when sane), recorded with every
    audit event it causes and returned in the ``X-Request-ID`` header."""
    request_id = requests.new_request_id(request.headers.get("x-request-id"))
    request.state.request_id = request_id  # for the error handlers outside this middleware
    token = requests.begin(request_id)
    try:
        response = await call_next(request)
    finally:
        requests.end(token)
    response.headers["X-Request-ID"] = request_id
    return response
