"""HTTP clients for business-metadata tests.

Until ``lakehold.api.app.ROUTERS`` registers the metadata routers, these helpers include them
on the test application; once registered, nothing is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.api.routers import asset_metadata, forms, glossaries, rules, unit_policies
from lakehold.runtime import Runtime

METADATA_ROUTERS = (glossaries, asset_metadata, forms, rules, unit_policies)


def metadata_app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime)
    paths = {getattr(route, "path", None) for route in app.routes}
    for module in METADATA_ROUTERS:
        if not any(getattr(r, "path", None) in paths for r in module.router.routes):
            app.include_router(module.router)
    return app


@contextmanager
def metadata_client(runtime: Runtime, token: str) -> Iterator[TestClient]:
    with TestClient(metadata_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield http
