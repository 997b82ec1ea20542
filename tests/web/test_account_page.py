"""My account in the portal: API tokens created with scopes and expiry (the value shown once,
then only its name and prefix), revoked, refused field by field; another user's token is not
mine to revoke; CSRF. Real services on SQLite, signed in through the sign-in form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.errors import Unauthorized
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates
from tests.web import markup
from tests.web.browsers import form_token, signed_in

PASSWORDS = {"ana": "ana's long password", "bob": "bob's long password"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def users(runtime: Runtime, admin: Principal) -> dict[str, Principal]:
    return {
        name: runtime.security.create_user(admin, name, password=password)
        for name, password in PASSWORDS.items()
    }


@pytest.fixture
def app(runtime: Runtime, users: dict[str, Principal]) -> FastAPI:
    return create_app(runtime)


def _browser(app: FastAPI, username: str) -> Iterator[TestClient]:
    return signed_in(app, username, PASSWORDS[username])


@pytest.fixture
def ana(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "ana")


@pytest.fixture
def bob(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "bob")


def _token(browser: TestClient) -> str:
    page = browser.get("/account")
    assert page.status_code == 200, page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    return form_token(page)


def _create(browser: TestClient, **fields) -> object:
    data = {"csrf_token": _token(browser), "name": "ci", **fields}
    return browser.post("/account/tokens", data=data)


def test_a_token_value_is_shown_once_then_only_its_name_and_prefix(ana, runtime) -> None:
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    made = _create(ana, name="<script>alert(1)</script>", expires_on=day)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    value = re.search(r'value="(lh_[0-9a-f]{16}_[^"]+)"', made.text)
    assert value, made.text
    token = value.group(1)
    assert "<script>alert(1)</script>" not in made.text  # escaped
    assert "&lt;script&gt;" in made.text
    # the token works, and its use is recorded
    principal = runtime.security.authenticate(token)
    assert principal.username == "ana"
    later = ana.get("/account")
    assert later.status_code == 200
    assert token not in later.text  # never shown again ...
    prefix = "_".join(token.split("_", 2)[:2])  # lh_<lookup>
    assert prefix in later.text  # ... only its start
    row = later.text.split(prefix, 1)[1].split("</tr>", 1)[0]
    assert f"{day} 23:59 UTC" in row  # its expiry
    assert "never" not in row  # it was used (by authenticate above), and it expires
    info = [t for t in runtime.security.list_tokens(principal) if t.prefix == prefix]
    assert info and info[0].last_used_at is not None


def test_revoke_ends_the_token(ana, runtime) -> None:
    made = _create(ana, name="revoke-me")
    token = re.search(r'value="(lh_[^"]+)"', made.text).group(1)
    principal = runtime.security.authenticate(token)
    [info] = [t for t in runtime.security.list_tokens(principal) if t.name == "revoke-me"]
    done = ana.post(f"/account/tokens/{info.id}/revoke", data={"csrf_token": _token(ana)})
    assert done.status_code == 303
    with pytest.raises(Unauthorized):
        runtime.security.authenticate(token)
    page = ana.get("/account")
    row = page.text.split("revoke-me", 1)[1].split("</tr>", 1)[0]
    assert "revoked" in row and "Revoke" not in row


def test_bad_fields_are_refused_next_to_them_and_nothing_is_made(ana, runtime, users) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    past = _create(ana, name="old", expires_on=yesterday)
    assert past.status_code == 400
    assert 'id="token-expires-error"' in past.text and "later day" in past.text
    assert 'value="old"' in past.text  # the form keeps what was typed
    blank = _create(ana, name="   ")
    assert blank.status_code == 400 and 'id="token-name-error"' in blank.text
    reserved = _create(ana, name="writer", scopes="lineage:write", namespaces="airflow://x")
    assert reserved.status_code == 403  # administrators grant lineage:write, as the API says
    assert "only administrators" in reserved.text
    assert runtime.security.list_tokens(users["ana"]) == []


def test_another_users_token_is_not_found_and_stays(ana, bob, runtime, users) -> None:
    made = _create(bob, name="bobs")
    token = re.search(r'value="(lh_[^"]+)"', made.text).group(1)
    [info] = runtime.security.list_tokens(users["bob"])
    assert "bobs" not in ana.get("/account").text
    refused = ana.post(f"/account/tokens/{info.id}/revoke", data={"csrf_token": _token(ana)})
    assert refused.status_code == 404
    assert runtime.security.authenticate(token).username == "bob"


def test_csrf_is_required(ana, runtime, users) -> None:
    refused = ana.post("/account/tokens", data={"name": "no-csrf"})
    assert refused.status_code == 403
    wrong = ana.post("/account/tokens", data={"name": "no-csrf", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert runtime.security.list_tokens(users["ana"]) == []


def test_the_page_links_to_my_sessions_and_needs_signing_in(app, ana) -> None:
    page = ana.get("/account")
    assert 'href="/sessions"' in page.text
    assert 'href="/account"' in page.text and 'href="/audit"' in page.text  # the nav
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as stranger:
        away = stranger.get("/account")
        assert away.status_code == 303 and away.headers["location"].startswith("/login")


def test_the_form_offers_no_scim_scope_and_says_who_issues_it(ana, runtime, users) -> None:
    page = ana.get("/account")
    assert 'name="scopes" value="lineage:write"' in page.text
    assert 'value="scim"' not in page.text  # bound to an identity provider: not a portal choice
    hint = page.text.split('id="token-scim-hint"', 1)[1].split("</p>", 1)[0]
    assert "--scope scim --provider" in hint and "administrators" in hint
    forged = _create(ana, name="provisioning", scopes="scim")  # a hand-made form
    assert forged.status_code in (400, 403)
    assert runtime.security.list_tokens(users["ana"]) == []


def test_a_day_past_the_maximum_lifetime_is_refused_next_to_the_expiry_field(
    ana, runtime, admin, users
) -> None:
    runtime.security_policy.update(admin, max_token_lifetime_seconds=7 * 86400)
    far = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    refused = _create(ana, name="too-long", expires_on=far)
    assert refused.status_code == 400, refused.text
    error = refused.text.split('id="token-expires-error"', 1)[1].split("</", 1)[0]
    assert "at most" in error and "maximum token lifetime" in error, error
    assert 'id="token-expires"' in refused.text and f'value="{far}"' in refused.text
    assert runtime.security.list_tokens(users["ana"]) == []
    near = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert _create(ana, name="short", expires_on=near).status_code == 201
