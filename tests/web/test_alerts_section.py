"""The alerts of a project on its sources page, as the signed-in member sees them: open ones
first, then the recently resolved, with what opened them; another project's member gets the
page's usual not-found. Real services on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import utcnow
from tests import store_templates
from tests.ops.alert_history import HOUR, seed_statements
from tests.sharing import add_member
from tests.web import markup
from tests.web.browsers import signed_in

PASSWORDS = {"owner": "owner's long password", "viewer": "viewer's long password"}
PASSWORDS["outsider"] = "outsider's long password"
SOURCES = "/projects/retail/sources"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def app(runtime: Runtime, admin: Principal) -> FastAPI:
    """Project retail (owner; viewer) with one resolved alert, then one open; project other."""
    users = {
        name: runtime.security.create_user(admin, name, password=password)
        for name, password in PASSWORDS.items()
    }
    runtime.catalog.create_domain(admin, "Ops")
    runtime.catalog.create_project(users["owner"], "retail", "Ops")
    runtime.catalog.create_project(users["outsider"], "other", "Ops")
    add_member(runtime, "retail", users["viewer"], "viewer")
    start = utcnow() - 5 * HOUR
    seed_statements(runtime, "retail", users["owner"], start, windows=range(1, 168))
    seed_statements(
        runtime, "retail", users["owner"], start, windows=[0], per_window=40, failing=lambda w: 12
    )
    runtime.alerts.evaluate(admin, start)  # 12 of 40 failed: opened
    runtime.alerts.evaluate(admin, start + 2 * HOUR)  # no statements since: resolved
    now = utcnow()
    seed_statements(
        runtime, "retail", users["owner"], now, windows=[0], per_window=40, failing=lambda w: 36
    )
    assert len(runtime.alerts.evaluate(admin, now + timedelta(seconds=1)).opened) == 1
    return create_app(runtime)


def browser(app: FastAPI, username: str) -> Iterator[TestClient]:
    return signed_in(app, username, PASSWORDS[username])


def test_members_see_open_then_resolved_alerts(app: FastAPI) -> None:
    for username in ("owner", "viewer"):
        for page_browser in browser(app, username):
            page = page_browser.get(SOURCES)
            assert page.status_code == 200, page.text
            assert markup.read(page.text).inline == []
            section = page.text.split('<section id="alerts"', 1)[1].split("</section>", 1)[0]
            rows = section.split("<tr id=")[1:]
            assert len(rows) == 2
            assert 'class="status-failed"' in rows[0] and ">open<" in rows[0]
            assert "36 of 40 statements of project &#39;retail&#39; failed" in rows[0]
            assert 'class="status-succeeded"' in rows[1] and "resolved 20" in rows[1]
            assert "12 of 40 statements" in rows[1] and "Resolved: back to 0%" in rows[1]
            assert 'href="#alerts"' in page.text


def test_another_projects_member_gets_not_found(app: FastAPI) -> None:
    for outsider in browser(app, "outsider"):
        assert outsider.get(SOURCES).status_code == 404
        assert "No alerts." in outsider.get("/projects/other/sources").text
