"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from lakehold import __version__
from lakehold.api import errors
from lakehold.api.routers import (
    assets,
    audit,
    domains,
    filters,
    health,
    listings,
    members,
    organisation,
    projects,
    statements,
    subscriptions,
    tables,
    users,
)
from lakehold.runtime import Runtime

ROUTERS = (
    health,
    users,
    domains,
    organisation,
    projects,
    members,
    assets,
    tables,
    filters,
    listings,
    subscriptions,
    statements,
    audit,
)


def create_app(runtime: Runtime) -> FastAPI:
    """An application serving ``runtime``."""
    app = FastAPI(
        title="Lakehold",
        version=__version__,
        description="A governed lakehouse: Delta tables, a catalog, sharing with approvals, "
        "and governed SQL.",
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
