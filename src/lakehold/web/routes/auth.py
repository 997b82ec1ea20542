"""Signing in and out, and one's sign-in sessions (administrators: anyone's) -- ADR 0028."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import Unauthorized
from lakehold.kernel import Action, allowed
from lakehold.security.credentials import DEACTIVATED
from lakehold.security.network_limits import RateLimited
from lakehold.security.sessions import SignedIn, csrf_token
from lakehold.web.sessions import (
    CSRF_FIELD,
    LOGIN_PATH,
    SESSION_COOKIE,
    PageSessionDep,
    check_csrf,
    clear_login_cookie,
    clear_session_cookie,
    login_form_checked,
    login_form_secret,
    safe_next,
    set_login_cookie,
    set_session_cookie,
)
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

WRONG = "Wrong username or password."
DEACTIVATED_USER = "This user is deactivated; ask an administrator."
TOO_MANY = "Too many failed sign-ins. Try again in {minutes} minute{s}."
STALE_FORM = "The sign-in form expired or did not come from this site. Please sign in again."
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

FormText = Annotated[str, Form()]


def _login_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    secret = login_form_secret(request)
    insecure = request.url.scheme != "https" and request.url.hostname not in _LOCAL_HOSTS
    context = {
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(secret),
        "next_path": next_path,
        "username": username,
        "error": error,
        "insecure": insecure,
    }
    response = render(request, "login.html", context, status_code=status_code)
    set_login_cookie(response, secret)
    return response


async def _current(request: Request) -> SignedIn | None:
    """The session of the browser's cookie, if it is still valid."""
    sessions = request.app.state.runtime.sessions
    try:
        return await run_in_threadpool(sessions.authenticate, request.cookies.get(SESSION_COOKIE))
    except Unauthorized:
        return None


@router.get(LOGIN_PATH)
async def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (signed in already: on to ``next``)."""
    if await _current(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post(LOGIN_PATH)
def login(
    request: Request,
    username: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
    next: FormText = "/",
) -> Response:
    """Sign in: a new session and its cookie, then on to ``next`` (a path on this site)."""
    target = safe_next(next)
    if not login_form_checked(request, csrf_token):
        return _login_page(
            request, next_path=target, username=username, error=STALE_FORM, status_code=403
        )
    runtime = request.app.state.runtime
    try:
        signed = runtime.sessions.login(
            username,
            password,
            user_agent=request.headers.get("user-agent"),
            address=request.client.host if request.client else None,
            replacing=request.cookies.get(SESSION_COOKIE),
        )
    except RateLimited as limited:  # checked before the password (ADR 0029)
        minutes = max(1, -(-limited.retry_after // 60))
        page = _login_page(
            request,
            next_path=target,
            username=username,
            error=TOO_MANY.format(minutes=minutes, s="s" if minutes != 1 else ""),
            status_code=429,
        )
        page.headers["Retry-After"] = str(limited.retry_after)
        return page
    except Unauthorized as refused:
        error = DEACTIVATED_USER if refused.message == DEACTIVATED else WRONG
        return _login_page(
            request, next_path=target, username=username, error=error, status_code=401
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, signed, max_age=int(runtime.settings.session_absolute_seconds))
    clear_login_cookie(response)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this browser's session on the server and clear its cookie."""
    signed = await _current(request)
    if signed is not None:
        await check_csrf(request, signed.secret)
        await run_in_threadpool(request.app.state.runtime.sessions.logout, signed)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/sessions")
def sessions_page(request: Request, session: PageSessionDep, user: str | None = None) -> Response:
    """One's sign-in sessions, this one marked; administrators: any user's (``user``)."""
    principal = session.principal
    current_id = session.session.session_id if session.session is not None else None
    listed = request.app.state.runtime.sessions.list_sessions(
        principal, username=user or None, current_id=current_id
    )
    context = {
        "sessions": listed,
        "username": user or principal.username,
        "pick_user": allowed(principal, Action.USER_LIST),  # whoever may list users
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token or "",
    }
    return render(request, "sessions.html", context)


@router.post("/sessions/{session_id}/revoke")
def revoke_session(
    request: Request, session_id: str, session: PageSessionDep, user: FormText = ""
) -> Response:
    """End a session (the CSRF token was checked by :data:`PageSessionDep`); ending one's
    own current session signs this browser out."""
    request.app.state.runtime.sessions.revoke(session.principal, session_id)
    if session.session is not None and session.session.session_id == session_id:
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        clear_session_cookie(response)
        return response
    back = (
        f"/sessions?user={quote(user)}"
        if user and user != session.principal.username
        else "/sessions"
    )
    return RedirectResponse(back, status_code=303)
