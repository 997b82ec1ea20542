"""The SDK and the CLI acting as a service principal against a real server (uvicorn on a
socket, ``tests.servers.served``): client credentials from arguments, the environment or a
profile are exchanged at ``POST /oauth/token`` and renewed before the token expires; a
refused token is replaced once. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lakehold.catalog.tables import DataSource
from lakehold.cli.main import app
from lakehold.client import Client
from lakehold.client.profiles import Profile, save_profile
from lakehold.errors import Forbidden, Unauthorized
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import ApiToken, User
from tests.conftest import SCENARIOS
from tests.servers import served
from tests.sharing import new_user

COUNT = "select count(*) as n from retail.customer"


@pytest.fixture
def server(runtime: Runtime, admin: Principal) -> Iterator[tuple[str, str]]:
    """A served runtime with project retail (owner ana, table customer): URL, ana's token."""
    ana, ana_token = new_user(runtime, admin, "ana")
    runtime.catalog.create_domain(admin, "Sales")
    runtime.catalog.create_project(ana, "retail", "Sales")
    customers = DataSource(SCENARIOS / "retail_customer.csv")
    runtime.table_service.create_table(ana, "retail", "customer", customers)
    with served(runtime) as url:
        yield url, ana_token


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (
        "LAKEHOLD_URL",
        "LAKEHOLD_TOKEN",
        "LAKEHOLD_PROFILE",
        "LAKEHOLD_HOME",
        "LAKEHOLD_CLIENT_ID",
        "LAKEHOLD_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


def _tokens_of(runtime: Runtime, username: str) -> int:
    with runtime.store.session() as session:
        user = session.scalar(select(User.id).where(User.username == username))
        return session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user)
        )


def test_the_sdk_exchanges_renews_and_replaces_refused_tokens(
    runtime: Runtime, server: tuple[str, str], admin_token: str
) -> None:
    url, ana_token = server
    with Client(url, ana_token) as ana:
        created = ana.service_principals.create("retail", "etl", role="viewer")
        assert created.client_secret.startswith("lhsps_")
        assert [p.name for p in ana.service_principals.list("retail")] == ["etl"]
    runtime.client_credentials.token_seconds = 2  # renewed 0.4 s before it expires

    with Client(url, client_id=created.client_id, client_secret=created.client_secret) as sp:
        assert repr(sp.session.credentials) == f"ClientCredentials(client_id='{created.client_id}')"
        assert sp.me().username == "sp-retail-etl"
        assert sp.sql(COUNT).to_arrow().column("n")[0].as_py() > 0
        assert _tokens_of(runtime, "sp-retail-etl") == 1
        sp.sql(COUNT)  # still the same token
        assert _tokens_of(runtime, "sp-retail-etl") == 1
        time.sleep(1.8)
        assert sp.sql(COUNT).to_arrow().num_rows == 1  # renewed before it expired
        assert _tokens_of(runtime, "sp-retail-etl") == 2

        with Client(url, admin_token) as admin:  # an administrator revokes its token
            (current,) = [t for t in admin.tokens.list() if t.username == "sp-retail-etl"][-1:]
            admin.tokens.revoke(current.id)
        assert sp.me().username == "sp-retail-etl"  # refused once, exchanged again
        assert _tokens_of(runtime, "sp-retail-etl") == 3
        with pytest.raises(Forbidden):
            sp.tokens.create("forever")

        with Client(url, ana_token) as ana:
            ana.service_principals.delete("retail", "etl")
        with pytest.raises(Unauthorized, match="client credentials refused"):
            sp.me()


def test_environment_profiles_and_the_cli(
    runtime: Runtime, server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ana_token = server
    runner = CliRunner()
    base = {"LAKEHOLD_URL": url, "LAKEHOLD_HOME": "", "COLUMNS": "200"}

    def cli(*args: str, **env: str) -> str:
        result = runner.invoke(app, list(args), env={**base, "LAKEHOLD_TOKEN": "", **env})
        assert result.exit_code == 0, result.output
        return result.output

    group = ("project", "service-principal")
    made = cli(*group, "create", "retail", "ci", "--role", "contributor", LAKEHOLD_TOKEN=ana_token)
    client_id = re.search(r"LAKEHOLD_CLIENT_ID=(\S+)", made).group(1)
    secret = re.search(r"LAKEHOLD_CLIENT_SECRET=(\S+)", made).group(1)
    assert "sp-retail-ci" in made and "contributor" in made

    as_sp = {"LAKEHOLD_CLIENT_ID": client_id, "LAKEHOLD_CLIENT_SECRET": secret}
    rows = len((SCENARIOS / "retail_customer.csv").read_text().splitlines()) - 1
    assert f" {rows} " in cli("sql", COUNT, **as_sp)
    listed = cli(*group, "list", "retail", **as_sp)  # a member lists
    assert client_id in listed and secret not in listed

    rotated = cli(
        *group, "rotate", "retail", "ci", "--overlap-seconds", "0", LAKEHOLD_TOKEN=ana_token
    )
    fresh = re.search(r"LAKEHOLD_CLIENT_SECRET=(\S+)", rotated).group(1)
    states = cli(*group, "secrets", "retail", "ci", LAKEHOLD_TOKEN=ana_token)
    assert "expired" in states and "active" in states
    first_id = re.search(r"│ ([0-9a-f]{32}) │ expired", states).group(1)
    cli(*group, "revoke-secret", "retail", "ci", first_id, LAKEHOLD_TOKEN=ana_token)
    assert "revoked" in cli(*group, "secrets", "retail", "ci", LAKEHOLD_TOKEN=ana_token)

    # the environment, then a profile
    monkeypatch.setenv("LAKEHOLD_URL", url)
    monkeypatch.setenv("LAKEHOLD_CLIENT_ID", client_id)
    monkeypatch.setenv("LAKEHOLD_CLIENT_SECRET", fresh)
    with Client() as from_env:
        assert from_env.me().username == "sp-retail-ci"
    monkeypatch.delenv("LAKEHOLD_URL")
    monkeypatch.delenv("LAKEHOLD_CLIENT_ID")
    monkeypatch.delenv("LAKEHOLD_CLIENT_SECRET")
    save_profile(Profile(url, None, "ci", client_id, fresh))
    with Client(profile="ci") as from_profile:
        assert from_profile.me().username == "sp-retail-ci"
        assert from_profile.sql(COUNT).to_arrow().num_rows == 1

    cli(*group, "delete", "retail", "ci", LAKEHOLD_TOKEN=ana_token)
    refused = runner.invoke(app, ["sql", "select 1"], env={**base, "LAKEHOLD_TOKEN": "", **as_sp})
    assert refused.exit_code == 3 and "client credentials refused" in refused.output
