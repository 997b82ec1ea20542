"""A server span per HTTP request, installed only while tracing is on (ADR 0036).

A plain ASGI middleware (as ``api.request_ids``): the span continues the request's W3C
``traceparent``, is named after the matched route's template (``POST /api/v1/query``, never
the path with its names), and records the method, route, status and request id: not the query
string, headers or body. A 5xx answer or an exception marks it failed; a 4xx does not (the
client's error, as OpenTelemetry's HTTP conventions say). At the application's shutdown the
spans not yet exported are sent.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehold.observability import tracing


class HttpTracing:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _flushing(send))
            return
        if scope["type"] != "http" or not tracing.ENABLED:
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method = scope["method"]
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        parent = tracing.extract(headers)
        attributes = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
        with tracing.span(method, attributes, kind=SpanKind.SERVER, context=parent) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_attribute("error.type", str(status))
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    span.set_attribute("lakehold.request_id", request_id)


def _flushing(send: Send) -> Send:
    """``send`` of the application's lifespan: the spans not yet exported are sent before it
    reports its shutdown complete (uvicorn ends the process right after a SIGTERM: no code
    after ``uvicorn.run`` runs)."""

    async def send_after_flush(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete" and tracing.ENABLED:
            tracing.flush()
        await send(message)

    return send_after_flush
