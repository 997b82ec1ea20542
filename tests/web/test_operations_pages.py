"""A project's sources page (connections, data sources, sync jobs with their runs, webhooks
with their deliveries) and the audit log, through the portal as the signed-in principal:
secrets never in a page, refusals as the API gives them, field errors with nothing written,
CSRF. Real services on SQLite; the sync job reads a real PostgreSQL source."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.governance.events import SUBSCRIPTION_REQUESTED, emit
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from tests import store_templates
from tests.sharing import add_member
from tests.sources.conftest import NETWORK_ALLOW, SourceDb, _pg_schema
from tests.web import markup
from tests.web.browsers import form_token, signed_in

PASSWORDS = {
    "owner": "owner's long password",
    "viewer": "viewer's long password",
    "outsider": "outsider's long password",
    "boss": "the boss's long password",
}
DB_PASSWORD = "hunter2-never-shown-again"
HOOK_SECRET = "a-webhook-signing-secret-never-shown"
SOURCES = "/projects/sales/sources"
HOOK_URL = "http://127.0.0.1:1/hook"  # a closed port: every attempt fails


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return store_templates.sqlite_url(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        source_roots=[tmp_path],
        network_allow=NETWORK_ALLOW,
        webhook_max_attempts=1,
    )


@pytest.fixture
def accounts() -> Iterator[SourceDb]:
    with _pg_schema(
        "lh_web",
        "CREATE TABLE {schema}.account (id int, name text)",
        "INSERT INTO {schema}.account VALUES (1, 'Acme'), (2, 'Globex'), (3, 'Initech')",
    ) as source:
        yield source


@dataclass
class World:
    runtime: Runtime
    admin: Principal
    users: dict[str, Principal]
    crm_file: Path


@pytest.fixture
def world(runtime: Runtime, admin: Principal, tmp_path: Path, accounts: SourceDb) -> World:
    """Project sales (owner; viewer a member) with connections ``crm`` (a SQLite file, with a
    password) and ``pg`` (PostgreSQL), data source ``crawl`` and sync job ``accounts``;
    project elsewhere (outsider)."""
    rt = runtime
    users = {
        name: rt.security.create_user(admin, name, password=pw, is_admin=name == "boss")
        for name, pw in PASSWORDS.items()
    }
    owner = users["owner"]
    rt.catalog.create_domain(admin, "Sales")
    rt.catalog.create_project(owner, "sales", "Sales")
    rt.catalog.create_project(users["outsider"], "elsewhere", "Sales")
    add_member(rt, "sales", users["viewer"], "viewer")
    crm = tmp_path / "crm.sqlite"
    with sqlite3.connect(crm) as conn:
        conn.executescript(
            "CREATE TABLE leads (id INTEGER, name TEXT); INSERT INTO leads VALUES (1, 'a');"
        )
    rt.connections.create(owner, "sales", "crm", "sqlite", {"path": str(crm)}, password=DB_PASSWORD)
    rt.connections.create(owner, "sales", "pg", "postgresql", dict(accounts.params))
    rt.data_sources.create(owner, "sales", "crawl", "crm")
    rt.sync_jobs.create(
        owner,
        "sales",
        "accounts",
        connection="pg",
        source_table=f"{accounts.schema}.account",
        target_table="account",
        mode="full",
    )
    return World(rt, admin, users, crm)


@pytest.fixture
def app(world: World) -> FastAPI:
    return create_app(world.runtime)


def _browser(app: FastAPI, username: str) -> Iterator[TestClient]:
    return signed_in(app, username, PASSWORDS[username])


@pytest.fixture
def owner(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "owner")


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "viewer")


@pytest.fixture
def outsider(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "outsider")


@pytest.fixture
def boss(app: FastAPI) -> Iterator[TestClient]:
    yield from _browser(app, "boss")


def _get(browser: TestClient, path: str, status: int = 200) -> httpx.Response:
    page = browser.get(path)
    assert page.status_code == status, page.text
    assert markup.read(page.text).inline == []  # nothing the CSP would block
    return page


def _post(browser: TestClient, path: str, data: dict | None = None, page: str = SOURCES):
    token = form_token(_get(browser, page))
    return browser.post(path, data={"csrf_token": token, **(data or {})})


# -- connections -------------------------------------------------------------------------------


def test_connections_are_listed_with_set_secrets_never_their_values(owner, world) -> None:
    page = _get(owner, SOURCES)
    assert ">crm<" in page.text and ">pg<" in page.text
    crm_row = page.text.split(">crm<", 1)[1].split("</tr>", 1)[0]
    assert ">set<" in crm_row
    assert DB_PASSWORD not in page.text
    tested = _post(owner, f"{SOURCES}/connections/crm/test")
    assert tested.status_code == 200, tested.text
    assert "crm answered: sqlite" in tested.text and "1 tables" in tested.text
    assert DB_PASSWORD not in tested.text


def test_creating_a_connection_keeps_the_password_secret(owner, world, tmp_path) -> None:
    data = {"name": "more", "kind": "sqlite", "path": str(world.crm_file), "password": "pw-XYZ-123"}
    made = _post(owner, f"{SOURCES}/connections", data)
    assert made.status_code == 303
    [view] = [
        c for c in world.runtime.connections.list(world.users["owner"], "sales") if c.name == "more"
    ]
    assert view.has_secret and view.params == {"path": str(world.crm_file)}
    assert "pw-XYZ-123" not in _get(owner, SOURCES).text
    # refused field by field: the password is not sent back, nothing is written
    bad = {"name": "bad", "kind": "sqlite", "path": "relative/x.db", "password": "pw-ABC-987"}
    refused = _post(owner, f"{SOURCES}/connections", bad)
    assert refused.status_code == 400
    assert 'id="connection-path-error"' in refused.text
    assert 'value="bad"' in refused.text and "pw-ABC-987" not in refused.text
    names = {c.name for c in world.runtime.connections.list(world.users["owner"], "sales")}
    assert names == {"crm", "pg", "more"}


def test_non_owners_see_the_refusals_the_api_gives(viewer, outsider, world) -> None:
    page = _get(viewer, SOURCES)
    assert "crm" not in page.text and DB_PASSWORD not in page.text
    assert "New connection" not in page.text  # no form to owners-only changes
    made = _post(viewer, f"{SOURCES}/connections", {"name": "mine", "kind": "sqlite", "path": "/x"})
    assert made.status_code == 403
    _get(outsider, SOURCES, status=404)  # not a member: not found, as the API says
    assert outsider.get(f"{SOURCES}/sync-jobs/accounts").status_code == 404


# -- data sources and sync jobs ------------------------------------------------------------------


def test_a_sync_job_run_is_listed_with_its_rows(owner, world) -> None:
    page = _get(owner, SOURCES)
    assert f'href="{SOURCES}/sync-jobs/accounts"' in page.text
    runs_page = f"{SOURCES}/sync-jobs/accounts"
    assert "No runs yet" in _get(owner, runs_page).text
    ran = _post(owner, f"{runs_page}/runs", page=runs_page)
    assert ran.status_code == 303 and ran.headers["location"] == runs_page
    [run] = world.runtime.sync_jobs.runs(world.users["owner"], "sales", "accounts", 10)
    assert (run.status, run.rows_read, run.rows_inserted) == ("succeeded", 3, 3)
    shown = _get(owner, runs_page).text
    row = shown.split('class="run status-succeeded"', 1)[1].split("</tr>", 1)[0]
    assert "<td>3</td>" in row and "manual (owner)" in row


def test_a_failed_sync_run_shows_its_error(owner, world, accounts) -> None:
    accounts.execute("DROP TABLE {schema}.account")
    runs_page = f"{SOURCES}/sync-jobs/accounts"
    failed = _post(owner, f"{runs_page}/runs", page=runs_page)
    assert failed.status_code >= 400 and failed.status_code != 500
    assert 'class="form-error"' in failed.text
    assert 'class="run status-failed"' in _get(owner, runs_page).text


def test_a_crawl_is_run_and_listed(owner, world) -> None:
    runs_page = f"{SOURCES}/data-sources/crawl"
    ran = _post(owner, f"{runs_page}/runs", page=runs_page)
    assert ran.status_code == 303
    shown = _get(owner, runs_page).text
    row = shown.split('class="run status-succeeded"', 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in row  # one table added
    assert world.runtime.data_sources.get(world.users["owner"], "sales", "crawl").last_run_at


def test_running_needs_the_csrf_token(owner, world) -> None:
    refused = owner.post(f"{SOURCES}/sync-jobs/accounts/runs")
    assert refused.status_code == 403
    assert world.runtime.sync_jobs.runs(world.users["owner"], "sales", "accounts", 10) == []
    wrong = owner.post(f"{SOURCES}/connections", data={"name": "x", "csrf_token": "nope"})
    assert wrong.status_code == 403


# -- webhooks ------------------------------------------------------------------------------------


def _webhook(owner: TestClient, world: World) -> str:
    data = {"url": HOOK_URL, "secret": HOOK_SECRET, "event_types": SUBSCRIPTION_REQUESTED}
    assert _post(owner, "/projects/sales/webhooks", data).status_code == 303
    [hook] = world.runtime.webhooks.list_webhooks(world.users["owner"], project="sales")
    assert hook.event_types == [SUBSCRIPTION_REQUESTED]
    return hook.id


def test_webhook_deliveries_are_listed_and_redelivered(owner, outsider, world) -> None:
    hook_id = _webhook(owner, world)
    page = _get(owner, SOURCES)
    assert HOOK_URL in page.text and HOOK_SECRET not in page.text
    with world.runtime.store.session() as session:
        emit(session, SUBSCRIPTION_REQUESTED, {"project": "sales"})
    world.runtime.webhooks.deliver_due()  # the closed port refuses: failed after one attempt
    here = f"/projects/sales/webhooks/{hook_id}"
    shown = _get(owner, here).text
    row = shown.split('class="delivery status-failed"', 1)[1].split("</tr>", 1)[0]
    assert SUBSCRIPTION_REQUESTED in row and "<td>1</td>" in row and "Redeliver" in row
    assert HOOK_SECRET not in shown
    [delivery] = world.runtime.webhooks.deliveries(world.users["owner"], hook_id)
    again = _post(owner, f"{here}/deliveries/{delivery.id}/redeliver", page=here)
    assert again.status_code == 303
    [delivery] = world.runtime.webhooks.deliveries(world.users["owner"], hook_id)
    assert delivery.status == "pending"
    assert "No deliveries failed" in _get(owner, f"{here}?status=failed").text
    _get(outsider, here, status=404)
    assert outsider.get(f"/projects/elsewhere/webhooks/{hook_id}").status_code == 404


def test_a_bad_webhook_is_refused_by_field_and_not_made(owner, world) -> None:
    data = {"url": "ftp://example.com/x", "secret": HOOK_SECRET, "description": "<b>x</b>"}
    refused = _post(owner, "/projects/sales/webhooks", data)
    assert refused.status_code == 400
    assert 'id="webhook-url-error"' in refused.text
    assert HOOK_SECRET not in refused.text  # the secret is not sent back
    assert "&lt;b&gt;x&lt;/b&gt;" in refused.text
    assert world.runtime.webhooks.list_webhooks(world.users["owner"], project="sales") == []


# -- the audit log -------------------------------------------------------------------------------


def test_audit_filters_narrow_the_log(boss, world) -> None:
    everything = _get(boss, "/audit").text
    assert "connection.create" in everything and "sync_job.create" in everything
    narrowed = _get(boss, "/audit?action=connection.*&project=sales").text
    events = narrowed.split("<tbody>", 1)[1]
    assert "connection.create" in events and "sync_job.create" not in events
    by_user = _get(boss, "/audit?username=outsider").text.split("<tbody>", 1)[1]
    assert "elsewhere" in by_user and ">owner<" not in by_user
    assert "No events match" in _get(boss, "/audit?allowed=false&action=connection.*").text
    future = _get(boss, "/audit?since=2999-01-01T00:00").text
    assert "No events match" in future
    bad = _get(boss, "/audit?since=yesterday", status=400).text
    assert 'id="audit-since-error"' in bad


def test_audit_pages(boss, world, monkeypatch) -> None:
    from lakehold.web.routes import audit

    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    first = _get(boss, "/audit").text
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = _get(boss, "/audit?page=2").text
    assert 'rel="prev"' in second
    rows = lambda html: html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]  # noqa: E731
    assert rows(first) != rows(second)


def test_a_non_admin_sees_what_the_api_shows_them(owner, world) -> None:
    refused = _get(owner, "/audit?project=sales", status=403).text
    assert "administrator" in refused.lower() or "not allowed" in refused.lower()
    assert "<tbody>" not in refused  # no events
