"""Signing in to the portal through its pages: the cookie, CSRF, expiry, redirects, revocation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.web.sessions import LOGIN_COOKIE, SESSION_COOKIE
from tests import store_templates
from tests.web import browsers, markup
from tests.web.browsers import form_token

PASSWORD = "correct horse battery"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The pages on SQLite (the service runs on PostgreSQL too: test_sessions_service)."""
    return store_templates.sqlite_url(tmp_path)


def _portal(runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture
def app(runtime, admin) -> FastAPI:
    runtime.security.create_user(admin, "ana", password=PASSWORD)
    runtime.security.create_user(admin, "bob", password="bob's long password")
    runtime.security.create_user(admin, "boss", password="the boss password", is_admin=True)
    return _portal(runtime)


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    """A browser on HTTPS (Secure cookies are sent back over HTTPS only)."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        yield http


@pytest.fixture
def other_browser(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        yield http


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def sign_in(
    browser: TestClient, username: str = "ana", password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    return browsers.sign_in(browser, username, password, next)


def page_token(browser: TestClient) -> str:
    page = browser.get("/sessions")
    assert page.status_code == 200, page.text
    return form_token(page)


def session_ids(page: httpx.Response) -> list[str]:
    return re.findall(r'action="/sessions/([0-9a-f]+)/revoke"', page.text)


def current_id(page: httpx.Response) -> str:
    found = re.search(r'<tr aria-current="true">.*?/sessions/([0-9a-f]+)/revoke', page.text, re.S)
    assert found, page.text
    return found.group(1)


def test_sign_in_sets_an_httponly_secure_lax_cookie(browser) -> None:
    assert markup.read(browser.get("/login").text).inline == []  # nothing the CSP would block
    signed = sign_in(browser)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookies = [c for c in signed.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    (cookie,) = cookies
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
    assert f"max-age={12 * 3600}" in attributes
    assert any(c.startswith(f'{LOGIN_COOKIE}=""') for c in signed.headers.get_list("set-cookie"))
    page = browser.get("/sessions")
    assert page.status_code == 200 and "(this browser)" in page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    secret = browser.cookies[SESSION_COOKIE]
    assert secret not in page.text  # the secret is never shown; the CSRF token is not it


def test_wrong_username_or_password_are_one_answer(browser, runtime, admin) -> None:
    pages = [
        sign_in(browser, "ana", "wrong password"),
        sign_in(browser, "nobody", PASSWORD),
        sign_in(browser, "admin", ""),  # the bootstrap admin has a token, no password
    ]
    assert {p.status_code for p in pages} == {401}
    errors = {re.findall(r'role="alert"[^>]*>([^<]+)<', p.text)[0] for p in pages}
    assert errors == {"Wrong username or password."}
    assert all(
        not any(SESSION_COOKIE in c for c in p.headers.get_list("set-cookie")) for p in pages
    )
    assert 'value="nobody"' in pages[1].text  # the username is kept in the form
    assert browser.get("/sessions").status_code == 303
    refused = runtime.audit.events(admin, action="session.login", allowed=False)
    assert sorted(e.details["username"] for e in refused) == ["admin", "ana", "nobody"]
    sign_in(browser)
    (allowed,) = runtime.audit.events(admin, action="session.login", allowed=True)
    assert allowed.username == "ana" and allowed.details["address"] == "testclient"


def test_sign_in_form_needs_its_own_csrf_token(browser, other_browser) -> None:
    foreign = form_token(other_browser.get("/login"))  # another browser's form
    browser.get("/login")
    for token in ("", "forged", foreign):
        data = {"username": "ana", "password": PASSWORD, "csrf_token": token}
        refused = browser.post("/login", data=data)
        assert refused.status_code == 403 and "expired or did not come" in refused.text
        assert SESSION_COOKIE not in browser.cookies
    assert sign_in(browser).status_code == 303


def test_a_new_session_id_at_sign_in(browser, other_browser) -> None:
    browser.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    sign_in(browser)
    first = browser.cookies[SESSION_COOKIE]
    assert first != "planted-by-an-attacker"
    browser.cookies.delete(SESSION_COOKIE)  # a form opened before, sent while signed in
    token = form_token(browser.get("/login"))
    browser.cookies.set(SESSION_COOKIE, first, domain="testserver.local")
    data = {"username": "bob", "password": "bob's long password", "csrf_token": token}
    assert browser.post("/login", data=data).status_code == 303
    second = browser.cookies[SESSION_COOKIE]
    assert second != first
    other_browser.cookies.set(SESSION_COOKIE, first, domain="testserver.local")
    assert other_browser.get("/sessions").status_code == 303  # the old session ended


def test_logout_ends_the_session_on_the_server(browser, other_browser, runtime, admin) -> None:
    sign_in(browser)
    secret = browser.cookies[SESSION_COOKIE]
    token = page_token(browser)
    assert browser.post("/logout").status_code == 403  # no CSRF token: still signed in
    assert browser.get("/sessions").status_code == 200
    out = browser.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    cleared = [c for c in out.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert cleared and "max-age=0" in cleared[0].lower()
    other_browser.cookies.set(SESSION_COOKIE, secret, domain="testserver.local")  # a copy
    assert other_browser.get("/sessions").status_code == 303
    (event,) = runtime.audit.events(admin, action="session.logout")
    assert event.allowed and event.username == "ana"


def test_idle_and_absolute_expiry(browser, runtime) -> None:
    clock = Clock()
    runtime.sessions.clock = clock
    sign_in(browser)
    clock.now += timedelta(minutes=29)
    assert browser.get("/sessions").status_code == 200
    clock.now += timedelta(minutes=31)
    expired = browser.get("/sessions?user=ana")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=/sessions%3Fuser%3Dana"
    sign_in(browser)
    for _ in range(12 * 2 - 1):
        clock.now += timedelta(minutes=30) - timedelta(seconds=1)
        assert browser.get("/sessions").status_code == 200
    clock.now += timedelta(minutes=30)
    assert browser.get("/sessions").status_code == 303


def test_state_changes_need_the_csrf_token(browser, other_browser) -> None:
    sign_in(browser)
    sign_in(other_browser)
    token = page_token(browser)
    target = f"/sessions/{current_id(other_browser.get('/sessions'))}/revoke"
    missing = browser.post(target)
    assert missing.status_code == 403
    assert "no CSRF token" in missing.json()["message"]
    wrong = browser.post(target, data={"csrf_token": page_token(other_browser)})
    assert wrong.status_code == 403 and "does not match" in wrong.json()["message"]
    wrong_header = browser.post(target, headers={"X-CSRF-Token": "0" * 64})
    assert wrong_header.status_code == 403
    assert len(session_ids(browser.get("/sessions"))) == 2  # nothing was ended
    by_header = browser.post(target, headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert by_header.status_code == 303


def test_programs_with_an_api_token_need_no_csrf_token(app, admin_token, browser) -> None:
    sign_in(browser)
    (session_id,) = session_ids(browser.get("/sessions"))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as program:
        bearer = {"Authorization": f"Bearer {admin_token}"}
        assert program.get("/sessions?user=ana", headers=bearer).status_code == 200
        ended = program.post(f"/sessions/{session_id}/revoke", headers=bearer)
        assert ended.status_code == 303
        assert program.get("/api/v1/sessions?user=ana", headers=bearer).json() == []
    assert browser.get("/sessions").status_code == 303


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_no_open_redirect_after_sign_in(browser, next_path) -> None:
    assert sign_in(browser, next=next_path).headers["location"] == "/"


def test_local_next_is_followed(browser) -> None:
    expired = browser.get("/sessions?user=ana")
    assert expired.headers["location"] == "/login?next=/sessions%3Fuser%3Dana"
    form = browser.get(expired.headers["location"])
    assert 'name="next" value="/sessions?user=ana"' in form.text
    signed = sign_in(browser, next="/sessions?user=ana")
    assert signed.headers["location"] == "/sessions?user=ana"
    assert browser.get("/login?next=/sessions").headers["location"] == "/sessions"


def test_htmx_requests_are_sent_to_sign_in(browser) -> None:
    headers = {"HX-Request": "true", "HX-Current-URL": "https://testserver/sessions?x=1"}
    refused = browser.get("/sessions", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["hx-redirect"] == "/login?next=/sessions%3Fx%3D1"


def test_users_and_admins_end_sessions(browser, other_browser, app) -> None:
    sign_in(browser)  # ana, twice
    sign_in(other_browser)
    mine = browser.get("/sessions")
    assert len(session_ids(mine)) == 2 and mine.text.count("(this browser)") == 1
    current = other_browser.cookies[SESSION_COOKIE]
    ids = session_ids(mine)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as bob:
        sign_in(bob, "bob", "bob's long password")
        token = page_token(bob)
        refused = bob.post(f"/sessions/{ids[0]}/revoke", data={"csrf_token": token})
        assert refused.status_code == 404  # another user's session is not found
        assert bob.get("/sessions?user=ana").status_code == 403
        assert session_ids(bob.get("/sessions")) != ids
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as boss:
        sign_in(boss, "boss", "the boss password")
        listed = boss.get("/sessions?user=ana")
        assert sorted(session_ids(listed)) == sorted(ids)
        other_id = current_id(other_browser.get("/sessions"))
        data = {"csrf_token": form_token(listed), "user": "ana"}
        ended = boss.post(f"/sessions/{other_id}/revoke", data=data)
        assert ended.status_code == 303 and ended.headers["location"] == "/sessions?user=ana"
    assert other_browser.get("/sessions").status_code == 303  # at its next request
    other_browser.cookies.set(SESSION_COOKIE, current, domain="testserver.local")
    assert other_browser.get("/sessions").status_code == 303
    assert browser.get("/sessions").status_code == 200
    (own,) = session_ids(browser.get("/sessions"))
    out = browser.post(f"/sessions/{own}/revoke", data={"csrf_token": page_token(browser)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert browser.get("/sessions").status_code == 303


def test_plain_http_elsewhere_than_localhost_is_warned(app) -> None:
    with TestClient(app, base_url="http://portal.example") as plain:
        assert "not served over HTTPS" in plain.get("/login").text
    with TestClient(app, base_url="http://localhost") as local:
        assert "not served over HTTPS" not in local.get("/login").text
