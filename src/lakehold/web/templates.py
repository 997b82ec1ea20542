"""The portal's one Jinja2 environment (autoescaped) and how a page is rendered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from lakehold import __version__
from lakehold.web.assets import vendored
from lakehold.web.sessions import CSRF_FIELD, CSRF_HEADER, csrf_token_of


@jinja2.pass_context
def href(context: jinja2.runtime.Context, path: str) -> str:
    """The URL of ``path`` (from ``/``) on this application, behind any proxy prefix."""
    request: Request = context["request"]
    return f"{request.scope.get('root_path', '')}{path}"


@jinja2.pass_context
def static(context: jinja2.runtime.Context, path: str) -> str:
    """The URL of a file below ``web/static``: a path on this host, never another host."""
    return href(context, f"/static/{path}")


@jinja2.pass_context
def vendor(context: jinja2.runtime.Context, name: str, file: str) -> str:
    """The URL of a vendored file, at the version recorded in ``VENDORED.json``."""
    return static(context, vendored(name, file))


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("lakehold.web", "templates"),
    autoescape=True,  # every template is HTML
    undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)


@jinja2.pass_context
def session_csrf(context: jinja2.runtime.Context) -> str | None:
    """The CSRF token of the signed-in browser session (None: not signed in by a cookie)."""
    return csrf_token_of(context["request"])


@jinja2.pass_context
def csrf_headers(context: jinja2.runtime.Context) -> str:
    """``hx-headers`` JSON that makes every htmx request carry the CSRF token."""
    token = csrf_token_of(context["request"])
    return json.dumps({CSRF_HEADER: token}) if token else "{}"


ENVIRONMENT.globals.update(
    href=href,
    static=static,
    vendor=vendor,
    session_csrf=session_csrf,
    csrf_headers=csrf_headers,
    csrf_field=CSRF_FIELD,
    product="Lakehold",
    version=__version__,
)

_templates = Jinja2Templates(env=ENVIRONMENT)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The HTML response of template ``name`` (``request`` is in its context)."""
    return _templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers
    )
