"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from lakehold import __version__
from lakehold.api import errors
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


def create_app(runtime: Runtime) -> FastAPI:
    """An application serving ``runtime``."""
    app = FastAPI(
        title="Lakehold",
        version=__version__,
        description="A governed lakehouse: Delta tables, a catalog, sharing with approvals, "
        "and governed SQL.",
    )
    app.state.runtime = runtime
    runtime.reconcile_on_start()  # finish or undo what a crashed process left (once per runtime)
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
