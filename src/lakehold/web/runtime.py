"""The runtime a page's request is served by."""

from __future__ import annotations

from starlette.requests import Request

from lakehold.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    """The services of the application serving ``request``."""
    return request.app.state.runtime
