"""HTTP requests counted by route template, method and status, and timed to the end of their
response: a plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would cost a task and a
stream per request).

The route is the template of the route that matched (``/api/v1/projects/{project}``, never
the path a client sent), ``/static`` for static files, ``unmatched`` when none did (404s, and
requests refused before routing: bodies too large, unauthenticated bodies); methods outside
the standard ones are ``OTHER``. Every label value is thus bounded by the application's routes.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehold.observability.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        root = scope.get("root_path", "")
        status = 500  # unless the application answers: an exception reaches the server's 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.record(scope, root, status, perf_counter() - started)

    def record(self, scope: Scope, root: str, status: int, seconds: float) -> None:
        """Count one answered request, its route read from the scope the router filled: the
        matched route's template, else the path of the mount that took it (its ``root_path``
        grew from ``root``)."""
        route = getattr(scope.get("route"), "path", None)
        if route is None:
            route = scope.get("root_path", "")[len(root) :] or UNMATCHED
        method = scope["method"]
        if method not in METHODS:
            method = "OTHER"
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_REQUEST_SECONDS.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
