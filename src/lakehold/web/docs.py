"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from the vendored assets: they work offline.

No inline script: Swagger UI is started by ``static/js/swagger-init.js``, which reads the
OpenAPI document's URL from the page; ReDoc starts itself from its ``<redoc spec-url>``
element. Swagger UI runs under the portal's own policy; ReDoc's page loosens it as far as
ReDoc needs, and no further."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

from lakehold.web.headers import content_security_policy
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

# ReDoc's styled-components write <style> elements; its search index runs in a Web Worker
# made from a blob: URL. Scripts stay 'self' only.
REDOC_POLICY = content_security_policy(
    style_src="'self' 'unsafe-inline'", worker_src="'self' blob:"
)


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    """The interactive API documentation."""
    return _page(request, "docs/swagger.html")


@router.get("/redoc")
def redoc(request: Request) -> Response:
    """The API reference."""
    return _page(request, "docs/redoc.html", REDOC_POLICY)


def _page(request: Request, template: str, policy: str | None = None) -> Response:
    openapi_url = request.app.openapi_url
    if openapi_url is None:
        raise HTTPException(status_code=404)
    context = {
        "title": request.app.title,
        "openapi_url": request.scope.get("root_path", "") + openapi_url,
    }
    headers = {"Content-Security-Policy": policy} if policy else None
    return render(request, template, context, headers=headers)
