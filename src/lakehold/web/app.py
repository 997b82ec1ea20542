"""Mount the portal on the application: static files, offline API docs, pages, headers."""

from __future__ import annotations

from fastapi import FastAPI

from lakehold.runtime import Runtime
from lakehold.web import docs
from lakehold.web.headers import SecurityHeaders
from lakehold.web.routes import ROUTERS
from lakehold.web.static_files import StaticAssets


def install(app: FastAPI, runtime: Runtime) -> None:
    """Add the portal to ``app`` (created with ``docs_url=None, redoc_url=None``). Pages reach
    ``runtime`` as ``request.app.state.runtime``, like the API's routers."""
    app.add_middleware(SecurityHeaders)  # added last: outermost, so on every response
    app.mount("/static", StaticAssets(), name="static")
    app.include_router(docs.router)
    for module in ROUTERS:
        app.include_router(module.router)
