"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from lakehold import __version__
from lakehold.api import errors
from lakehold.api.routers import (
    assets,
    audit,
    domains,
    health,
    projects,
    statements,
    tables,
    users,
)
from lakehold.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """An application serving ``runtime``."""
    app = FastAPI(
        title="Lakehold",
        version=__version__,
        description="A governed lakehouse: Delta tables, a catalog and governed SQL.",
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in (health, users, domains, projects, assets, tables, statements, audit):
        app.include_router(module.router)
    return app
