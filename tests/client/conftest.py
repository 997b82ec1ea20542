"""A real ``lakehold serve`` in another process, and the CLI and SDK pointed at it.

``server`` (one per test module): a fresh home with SQLite metadata, served on a free port;
``server.new_user(name)`` creates a user and returns a token of theirs. ``remote_cli(*args,
code=0, token=...)`` runs a ``lakehold`` command in this process with ``LAKEHOLD_URL`` set (and
no ``LAKEHOLD_HOME``): it reaches the server over HTTP only. ``sdk(token)`` is a
``lakehold.client.Client`` for that server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app
from lakehold.client import Client
from tests.servers import free_port, serve_process


@dataclass
class Server:
    url: str
    home: Path
    admin_token: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def new_user(self, username: str, *, admin: bool = False) -> str:
        """Create ``username`` (through the API, as the admin); a token of theirs."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        created = httpx.post(
            f"{self.url}/api/v1/users",
            json={"username": username, "is_admin": admin},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        token = httpx.post(
            f"{self.url}/api/v1/tokens",
            json={"name": f"{username}-test", "username": username},
            headers=headers,
        )
        assert token.status_code == 201, token.text
        return token.json()["value"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``lakehold serve`` on 127.0.0.1, stopped after the module's tests."""
    home = tmp_path_factory.mktemp("served") / "home"
    port = free_port()
    env = {**os.environ, "LAKEHOLD_HOME": str(home), "LAKEHOLD_PORT": str(port)}
    for name in ("LAKEHOLD_DATABASE_URL", "LAKEHOLD_URL", "LAKEHOLD_TOKEN", "LAKEHOLD_PROFILE"):
        env.pop(name, None)
    with serve_process(env, home.parent / "serve.log") as (url, _process):
        yield Server(url, home, (home / "admin_token").read_text().strip())
    errors = (home.parent / "serve.log").read_text().splitlines()
    internal = [line for line in errors if "Traceback" in line or "internal error" in line]
    assert not internal, "\n".join(errors[-80:])  # a 500 in any test of the module


@pytest.fixture
def remote_cli(server: Server, tmp_path: Path) -> Callable[..., str]:
    """``remote_cli(*args, code=0, token=None)``: a CLI command against ``server`` (as the
    admin unless ``token`` says otherwise); asserts the exit code, returns the output."""
    runner = CliRunner()
    env = {
        "LAKEHOLD_URL": server.url,
        "LAKEHOLD_HOME": "",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "200",
    }

    def invoke(*args: str, code: int = 0, token: str | None = None) -> str:
        result = runner.invoke(
            app, list(args), env={**env, "LAKEHOLD_TOKEN": token or server.admin_token}
        )
        assert result.exit_code == code, result.output
        return result.output

    return invoke


@pytest.fixture
def sdk(server: Server) -> Callable[..., Client]:
    """``sdk(token=None)``: a client of ``server`` (the admin's by default)."""
    clients: list[Client] = []

    def make(token: str | None = None) -> Client:
        client = Client(server.url, token or server.admin_token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
