"""Errors on the portal's pages: an HTML page with the same message the API would give."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from lakehold.web.templates import render

_NOT_PAGES = ("/api/", "/health", "/openapi.json", "/static/")
_TITLES = {
    400: "That request is not valid",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a static file, not an htmx fragment)."""
    path = request.url.path
    if path.startswith(_NOT_PAGES) or request.headers.get("hx-request") == "true":
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error page for ``status`` with ``message`` (already redacted by the caller)."""
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Request refused")
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status_code=status, headers=headers)
