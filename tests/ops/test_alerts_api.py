"""Alerts through the HTTP API, the SDK and the CLI (against the app on a real socket), and the
periodic evaluation of a real ``lakehold serve`` reaching a project's webhook; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.client import Client
from lakehold.config import Settings
from lakehold.errors import Forbidden, NotFound
from lakehold.governance.events import ALERT_OPENED
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import utcnow
from tests.ops.alert_history import seed_statements
from tests.servers import free_port, serve_process, served
from tests.sharing import add_member, client_for, new_user
from tests.webhook_receiver import receiver

SECRET = "retail-alerts-signing-secret"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home", database_url=database_url, network_allow=["127.0.0.1:*"]
    )


@dataclass
class World:
    runtime: Runtime
    admin_token: str
    owner: Principal
    tokens: dict[str, str]


@pytest.fixture
def world(runtime: Runtime, admin: Principal, admin_token: str) -> World:
    """Project retail (owner; viewer a viewer) with a week of 5% failures and an hour at 75%;
    project other (outsider)."""
    users = {name: new_user(runtime, admin, name) for name in ("owner", "viewer", "outsider")}
    runtime.catalog.create_domain(admin, "Ops")
    runtime.catalog.create_project(users["owner"][0], "retail", "Ops")
    runtime.catalog.create_project(users["outsider"][0], "other", "Ops")
    add_member(runtime, "retail", users["viewer"][0], "viewer")
    now = utcnow()
    seed_statements(runtime, "retail", users["owner"][0], now)
    seed_statements(
        runtime, "retail", users["owner"][0], now, windows=[0], per_window=40, failing=lambda w: 30
    )
    tokens = {name: token for name, (_, token) in users.items()}
    return World(runtime, admin_token, users["owner"][0], tokens)


def test_the_api_evaluates_for_administrators_and_lists_for_members(
    world: World, client: TestClient
) -> None:
    rt = world.runtime
    with client_for(rt, world.tokens["owner"]) as owner:
        refused = owner.post("/api/v1/alerts/evaluate")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert owner.get("/api/v1/alerts").status_code == 403
    evaluated = client.post("/api/v1/alerts/evaluate")
    assert evaluated.status_code == 200, evaluated.text
    body = evaluated.json()
    assert body["open"] == 1 and body["resolved"] == []
    (opened,) = body["opened"]
    assert opened["project"] == "retail" and opened["signal"] == "statement_failure_rate"
    assert opened["observed"] == 0.75 and opened["opened_at"].endswith("Z")
    assert client.post("/api/v1/alerts/evaluate").json()["opened"] == []

    with client_for(rt, world.tokens["viewer"]) as viewer:
        listed = viewer.get("/api/v1/projects/retail/alerts", params={"state": "open"})
        assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [opened["id"]]
        assert viewer.get("/api/v1/projects/retail/alerts?state=resolved").json() == []
        bad = viewer.get("/api/v1/projects/retail/alerts?state=closed")
        assert bad.status_code == 400 and bad.json()["field"] == "state"
    with client_for(rt, world.tokens["outsider"]) as outsider:
        hidden = outsider.get("/api/v1/projects/retail/alerts")
        assert hidden.status_code == 404 and "retail" in hidden.json()["message"]
        assert outsider.get("/api/v1/projects/other/alerts").json() == []
    everything = client.get("/api/v1/alerts", params={"project": "retail", "limit": 5})
    assert [a["id"] for a in everything.json()] == [opened["id"]]
    assert client.get("/api/v1/alerts?limit=0").json()["field"] == "limit"


def test_the_sdk_and_the_cli_over_http(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    with served(world.runtime) as url:
        env = {"LAKEHOLD_URL": url, "LAKEHOLD_HOME": "", "COLUMNS": "200"}
        env["XDG_CONFIG_HOME"] = str(tmp_path / "config")

        def cli(*args: str, token: str, code: int = 0) -> str:
            result = runner.invoke(app, list(args), env={**env, "LAKEHOLD_TOKEN": token})
            assert result.exit_code == code, result.output
            return result.output

        evaluated = cli("alert", "evaluate", token=world.admin_token)
        assert "opened: 30 of 40 statements of project 'retail' failed" in evaluated
        assert "1 opened, 0 resolved, 1 open" in evaluated
        listed = json.loads(
            cli("alert", "list", "--project", "retail", "--json", token=world.tokens["viewer"])
        )
        assert [(a["project"], a["state"]) for a in listed] == [("retail", "open")]
        table = cli("alert", "list", "--all", "--state", "open", token=world.admin_token)
        assert "statement_failure_rate" in table and "retail" in table
        assert "name a project" in cli("alert", "list", token=world.admin_token, code=2)
        cli("alert", "list", "--project", "retail", token=world.tokens["outsider"], code=4)
        cli("alert", "list", "--all", token=world.tokens["owner"], code=3)

        with Client(url, world.tokens["owner"]) as sdk:
            (alert,) = sdk.alerts.list("retail", state="open")
            assert alert.signal == "statement_failure_rate" and alert.threshold == 0.25
            with pytest.raises(Forbidden):
                sdk.alerts.evaluate()
            with pytest.raises(Forbidden):
                sdk.alerts.list_all()
        with Client(url, world.tokens["outsider"]) as sdk, pytest.raises(NotFound):
            sdk.alerts.list("retail")
        with Client(url, world.admin_token) as sdk:
            assert [a.id for a in sdk.alerts.list_all(project="retail")] == [alert.id]
            assert sdk.alerts.evaluate().open == 1


@pytest.fixture
def serving(world: World, settings: Settings) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``lakehold serve`` on the test's home and store, evaluating every half second."""
    port = free_port()
    env = {
        **os.environ,
        "LAKEHOLD_HOME": str(settings.home),
        "LAKEHOLD_DATABASE_URL": str(settings.database_url),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_NETWORK_ALLOW": "127.0.0.1:*",
        "LAKEHOLD_ALERT_INTERVAL_SECONDS": "0.5",
    }
    for name in ("LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE"):
        env.pop(name, None)
    with serve_process(env, settings.home.parent / "serve.log") as running:
        yield running
    logged = (settings.home.parent / "serve.log").read_text()
    assert "lakehold-alerts failed" not in logged, logged[-4000:]  # lakehold.periodic's


def test_lakehold_serve_evaluates_periodically_and_delivers_to_the_projects_webhook(
    world: World, request: pytest.FixtureRequest
) -> None:
    with receiver() as rx:
        world.runtime.webhooks.create(world.owner, rx.url, SECRET, project="retail")
        _, process = request.getfixturevalue("serving")
        deadline = time.monotonic() + 90
        while not rx.events(ALERT_OPENED):  # the monitor's first evaluation, then the dispatcher
            assert process.poll() is None, "lakehold serve stopped"
            assert time.monotonic() < deadline, "no alert.opened delivery within 90 s"
            time.sleep(0.1)
        (sent,) = rx.events(ALERT_OPENED)
        assert sent.signed_with(SECRET)
        data = sent.json["data"]
        assert (data["project"], data["signal"], data["state"]) == (
            "retail",
            "statement_failure_rate",
            "open",
        )
    admin = world.runtime.security.authenticate(world.admin_token)
    assert len(world.runtime.alerts.list_all(admin)) == 1
