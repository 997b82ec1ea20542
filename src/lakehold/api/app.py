"""The FastAPI application."""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from fastapi import FastAPI

from lakehold import __version__
from lakehold.api import bodies, errors, schemas
from lakehold.api.request_ids import RequestIds
from lakehold.observability import tracing
from lakehold.observability.http_metrics import HttpMetrics
from lakehold.observability.http_tracing import HttpTracing
from lakehold.runtime import Runtime

ROUTERS = (  # the modules of lakehold.api.routers, in the order of their routes
    # FastAPI matches a request against the routes in order (~7 µs a route): the statement
    # path, the hottest, comes first.
    "health",
    "statements",
    "statement_socket",
    "users",
    "oauth",
    "oidc",
    "sessions",
    "security_policy",
    "domains",
    "organisation",
    "unit_policies",
    "projects",
    "members",
    "service_principals",
    "assets",
    "tables",
    "asset_metadata",
    "glossaries",
    "forms",
    "rules",
    "filters",
    "listings",
    "subscriptions",
    "shares",
    "webhooks",
    "alerts",
    "network",
    "search",
    "audit",
    "sync_jobs",
    "connections",
    "certificates",
    "data_sources",
    "lineage",
    "marquez",
    "asset_lineage",
    "scim",
    "metrics",
    "delta_sharing",  # last: its catch-all answers anything else under /delta-sharing
)


def create_app(
    runtime: Runtime, *, recover: bool = True, routers: Collection[str] | None = None
) -> FastAPI:
    """An application serving ``runtime``. A server (``recover``) first finishes or undoes
    what a crashed process left and sweeps stale uploads; a CLI command served in process
    leaves that to ``lakehold serve`` and ``lakehold doctor``. With ``routers`` (names of
    :data:`ROUTERS`, ``route_table.routers_for`` a path) only those routers are imported and
    included, and the portal is left out: the partial app of a CLI command served in process
    (ADR 26), with the full app's error handling, body limits and request ids."""
    app = FastAPI(
        title="Lakehold",
        version=__version__,
        description="A governed lakehouse: Delta tables, a catalog, sharing with approvals, "
        "and governed SQL.",
        docs_url=None,  # /docs and /redoc: served offline by the portal (lakehold.web)
        redoc_url=None,
    )
    app.state.runtime = runtime
    if recover:
        recover_on_start(runtime)
    errors.install(app)
    app.add_middleware(bodies.BodyLimits, settings=runtime.settings)  # bounded bodies
    app.add_middleware(RequestIds)  # each request's id, in its audit events and response
    app.add_middleware(HttpMetrics)  # requests by route template and status, timed (ADR 33)
    if tracing.ENABLED:  # a span per request, outside the others (ADR 0036)
        app.add_middleware(HttpTracing)
    for name in ROUTERS:
        if routers is None or name in routers:
            module = importlib.import_module(f"lakehold.api.routers.{name}")
            app.include_router(schemas.utc_router(module.router))  # timestamps in UTC with a Z
    if routers is None:
        from lakehold.web import app as web

        web.install(app, runtime)  # the portal: pages, static files, offline docs, headers
    _document_errors(app)
    return app


def recover_on_start(runtime: Runtime) -> None:
    """What a server does once before it serves (the parent of ``--workers`` processes)."""
    from lakehold.api import uploads

    runtime.reconcile_on_start()  # finish or undo what a crashed process left (once)
    uploads.sweep_staging(runtime.settings.staging_path)  # what killed uploads left behind


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document gives the real error responses (``errors.document``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
