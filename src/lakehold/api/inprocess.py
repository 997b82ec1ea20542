"""The application served in process: the SDK's transport for a CLI working on a local home
(``LAKEHOLD_HOME`` without ``LAKEHOLD_URL``). Every command then takes the same route as over
the network (authentication, validation, error bodies), without a socket. Each request is
served by an app holding only the routers of its path (``route_table``, ADR 26), built once
per transport."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lakehold.api.route_table import routers_for
from lakehold.client.transport import Request, Response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lakehold.runtime import Runtime

HOST = "lakehold.local"


class InProcessTransport:
    """Sends each request through an ASGI application of ``runtime`` (without the start-up
    recovery of a server), streaming a body given as chunks."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._apps: dict[tuple[str, ...] | None, FastAPI] = {}

    def app_for(self, path: str) -> FastAPI:
        """The app serving ``path`` (its path decoded): its routers alone, else the full app."""
        from lakehold.api.app import create_app

        routers = routers_for(path)
        app = self._apps.get(routers)
        if app is None:
            app = self._apps[routers] = create_app(self.runtime, recover=False, routers=routers)
        return app

    def send(self, request: Request) -> Response:
        return asyncio.run(self._send(request))

    async def _send(self, request: Request) -> Response:
        path, _, query = request.target.partition("?")
        decoded = unquote(path)  # as servers give it: %-escapes decoded
        headers = [(b"host", HOST.encode())] + [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": decoded,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": (HOST, 80),
        }
        chunks = _chunks(request.body)
        status = 500
        response_headers: dict[str, str] = {}
        body = bytearray()

        ended = False

        async def receive() -> dict[str, Any]:
            nonlocal ended
            if ended:  # the body was read: the caller stays connected until the answer
                await asyncio.Event().wait()
            chunk = next(chunks, None)
            if chunk is None:
                ended = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    response_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app_for(decoded)(scope, receive, send)
        return Response(status, response_headers, bytes(body))

    def close(self) -> None:
        return None


def _chunks(body: bytes | Iterable[bytes] | None) -> Iterator[bytes]:
    if body is None or body == b"":
        return iter(())
    if isinstance(body, bytes):
        return iter((body,))
    return (chunk for chunk in body if chunk)
