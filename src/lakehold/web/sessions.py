"""Who a page request comes from, its CSRF check, and the sign-in cookies (ADR 0028).

A page request is signed in by the ``lakehold_session`` cookie (``HttpOnly; Secure;
SameSite=Lax; Path=/``), or by an API bearer token (a program: no cookie, so no CSRF token).
A state-changing request (POST, PUT, PATCH, DELETE) signed in by the cookie must carry the
session's CSRF token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx),
else 403. The sign-in form, before any session, is protected the same way by a pre-session
cookie (``lakehold_login``) whose token the form carries (a double submit).

``Secure`` cookies are kept by browsers over HTTPS, and over plain HTTP on ``localhost`` and
``127.0.0.1`` only: a portal served elsewhere needs TLS (a reverse proxy) to sign in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param

from lakehold.errors import Forbidden, Unauthorized
from lakehold.observability import request_context
from lakehold.security.principal import Principal
from lakehold.security.sessions import SignedIn, csrf_matches, new_secret

SESSION_COOKIE = "lakehold_session"
LOGIN_COOKIE = "lakehold_login"
"""The pre-session cookie of the sign-in form (its CSRF double submit)."""
LOGIN_PATH = "/login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOGIN_COOKIE_SECONDS = 3600
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class PageSession:
    """The signer of a page request: a browser's session, or (``session`` None) a program's
    API token."""

    principal: Principal
    session: SignedIn | None = None

    @property
    def csrf_token(self) -> str | None:
        return self.session.csrf_token if self.session is not None else None


# -- the dependency of every signed-in page --------------------------------------------------


async def page_session(request: Request) -> PageSession:
    """The signer of ``request``; not signed in: a redirect to the sign-in page (``next``:
    this page), or for htmx a 401 with ``HX-Redirect``. A cookie-signed state change is
    checked for its CSRF token (403). The CSRF token is also kept in ``request.state``."""
    runtime = request.app.state.runtime
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() == "bearer" and token:
        principal = await run_in_threadpool(runtime.security.authenticate, token)
        request_context.identify(principal.username, principal.project)
        return PageSession(principal)
    try:
        signed = await run_in_threadpool(
            runtime.sessions.authenticate, request.cookies.get(SESSION_COOKIE)
        )
    except Unauthorized:
        raise sign_in_required(request) from None
    if request.method in UNSAFE_METHODS:
        await check_csrf(request, signed.secret)
    request.state.csrf_token = signed.csrf_token
    request_context.identify(signed.principal.username)  # for the request's log lines
    return PageSession(signed.principal, signed)


def csrf_token_of(request: Request) -> str | None:
    """The CSRF token of the request's session, for templates (None: not signed in by a
    cookie); set by :func:`page_session`."""
    return getattr(request.state, "csrf_token", None)


def page_principal(session: Annotated[PageSession, Depends(page_session)]) -> Principal:
    """The signed-in principal of a page request (see :func:`page_session`)."""
    return session.principal


PageSessionDep = Annotated[PageSession, Depends(page_session)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]


def sign_in_required(request: Request) -> HTTPException:
    """Send the browser to the sign-in page, back to this page afterwards (a GET's own URL;
    for htmx, the page it was on)."""
    if request.headers.get("hx-request") == "true":
        page = urlsplit(request.headers.get("hx-current-url", ""))
        target = login_url(page.path + (f"?{page.query}" if page.query else ""))
        return HTTPException(401, "sign in first", headers={"HX-Redirect": target})
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = login_url(here if request.method in ("GET", "HEAD") else "/")
    return HTTPException(303, "sign in first", headers={"Location": target})


def login_url(next_path: str) -> str:
    """The sign-in page, returning to ``next_path`` (a local path) afterwards."""
    path = safe_next(next_path)
    return LOGIN_PATH if path == "/" else f"{LOGIN_PATH}?next={quote(path, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/``: no scheme, no host (``//evil``),
    no backslash (``/\\evil``), no whitespace or control character (browsers drop tabs and
    newlines, turning ``/\\t/evil`` into ``//evil``)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


# -- CSRF -----------------------------------------------------------------------------------


async def submitted_csrf_token(request: Request) -> str | None:
    """The CSRF token a request carries: the ``X-CSRF-Token`` header, else the form field."""
    token = request.headers.get(CSRF_HEADER)
    if token is not None:
        return token
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith(_FORM_TYPES):
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def check_csrf(request: Request, secret: str) -> None:
    """403 unless ``request`` carries the CSRF token of the cookie ``secret``."""
    token = await submitted_csrf_token(request)
    if not token:
        raise Forbidden(
            f"this request has no CSRF token (form field '{CSRF_FIELD}' or header "
            f"'{CSRF_HEADER}'); reload the page and try again",
            field=CSRF_FIELD,
        )
    if not csrf_matches(secret, token):
        raise Forbidden(
            "the CSRF token does not match your session; reload the page and try again",
            field=CSRF_FIELD,
        )


# -- cookies --------------------------------------------------------------------------------


def set_session_cookie(response: Response, signed: SignedIn, max_age: int) -> None:
    """The session cookie: HttpOnly (no script reads it), Secure, SameSite=Lax, Path=/."""
    response.set_cookie(
        SESSION_COOKIE,
        signed.secret,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def login_form_secret(request: Request) -> str:
    """The browser's pre-session secret of the sign-in form (a new one when it has none):
    the form carries ``csrf_token(secret)``, :func:`set_login_cookie` the secret."""
    return request.cookies.get(LOGIN_COOKIE) or new_secret()


def set_login_cookie(response: Response, secret: str) -> None:
    """The pre-session cookie, for an hour, sent back to the sign-in page only."""
    response.set_cookie(
        LOGIN_COOKIE,
        secret,
        max_age=_LOGIN_COOKIE_SECONDS,
        path=LOGIN_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def login_form_checked(request: Request, token: str | None) -> bool:
    """Whether the sign-in form's ``token`` goes with the browser's pre-session cookie."""
    secret = request.cookies.get(LOGIN_COOKIE)
    return bool(secret) and csrf_matches(secret or "", token)


def clear_login_cookie(response: Response) -> None:
    response.delete_cookie(
        LOGIN_COOKIE, path=LOGIN_PATH, secure=True, httponly=True, samesite="strict"
    )
