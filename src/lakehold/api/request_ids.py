"""Each HTTP request's id: the client's ``X-Request-ID`` when sane, else a new one; recorded
with every audit event the request causes and returned in the ``X-Request-ID`` header.

A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
request, about a millisecond)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehold.kernel import requests


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = requests.new_request_id(given)
        # for the error handlers outside this middleware (request.state)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = requests.begin(request_id, scope)  # the scope: the route's {project}, for logs
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            requests.end(token)
