"""Single sign-on in the portal (ADR 0031): "Sign in with <provider>" sends the browser to
the provider (authorization code flow with PKCE); its callback opens a web session.

The sign-in in progress lives in the ``lakehold_oidc`` cookie (``HttpOnly; Secure;
SameSite=Lax``, path ``/login/oidc``, ten minutes): the browser that started it is the only
one whose callback is accepted (:class:`lakehold.security.oidc.flow.Binding`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import LakeholdError
from lakehold.security.network_limits import RateLimited
from lakehold.security.oidc.flow import BINDING_SECONDS, Binding
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import (
    LOGIN_PATH,
    SESSION_COOKIE,
    clear_login_cookie,
    safe_next,
    set_session_cookie,
)
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

OIDC_COOKIE = "lakehold_oidc"
OIDC_PATH = f"{LOGIN_PATH}/oidc"


def redirect_uri(request: Request, name: str) -> str:
    """The callback URL registered at the provider: ``LAKEHOLD_PUBLIC_URL`` (else this
    request's own address) + ``/login/oidc/<name>/callback``."""
    base = runtime_of(request).settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}{OIDC_PATH}/{name}/callback"


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get(OIDC_PATH + "/{name}")
def start(request: Request, name: str, next: str = "/") -> Response:
    """Start signing in with provider ``name``: off to its authorization endpoint."""
    url, binding = runtime_of(request).oidc.begin(
        name, safe_next(next), redirect_uri(request, name)
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        binding.cookie_value(),
        max_age=BINDING_SECONDS,
        path=OIDC_PATH,
        secure=True,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back
    )
    return response


@router.get(OIDC_PATH + "/{name}/callback")
async def callback(request: Request, name: str) -> Response:
    """The provider's answer: a session and on to the page the sign-in started from, or a
    page saying why not (429 with Retry-After after too many failed sign-ins)."""
    runtime = runtime_of(request)
    binding = Binding.parse(request.cookies.get(OIDC_COOKIE))
    params = {key: value for key, value in request.query_params.items()}
    try:
        principal = await run_in_threadpool(
            runtime.oidc.complete,
            name,
            binding,
            params,
            redirect_uri(request, name),
            address=_address(request),
        )
        signed = await run_in_threadpool(
            runtime.sessions.start_verified,
            principal.user_id,
            user_agent=request.headers.get("user-agent"),
            address=_address(request),
            replacing=request.cookies.get(SESSION_COOKIE),
        )
    except LakeholdError as error:
        if error.status_code >= 500 or error.code == "not_found":
            raise
        provider = runtime.oidc.provider(name).label
        context = {"provider": provider, "message": error.message}
        response = render(request, "oidc/failed.html", context, status_code=error.status_code)
        if isinstance(error, RateLimited):  # too many failed sign-ins (ADR 0029)
            response.headers["Retry-After"] = str(error.retry_after)
        _clear(response)
        return response
    assert binding is not None  # complete() refuses a callback without one
    response = RedirectResponse(safe_next(binding.next_path), status_code=303)
    set_session_cookie(response, signed, max_age=int(runtime.settings.session_absolute_seconds))
    clear_login_cookie(response)
    _clear(response)
    return response


def _clear(response: Response) -> None:
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH, secure=True, httponly=True, samesite="lax")
