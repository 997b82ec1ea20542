"""``lakehold login --provider`` with a provider that offers no device authorization: the CLI
falls back to the loopback redirect by itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests.identity.conftest import providers
from tests.identity.provider import OpenIdProvider, ProviderBrowser, running_provider
from tests.identity.test_cli_login import Login, saved_token
from tests.servers import served


@pytest.fixture(scope="module")
def op_without_device() -> Iterator[OpenIdProvider]:
    with running_provider(device_flow=False) as provider:
        yield provider


@pytest.fixture
def settings(tmp_path: Path, database_url: str, op_without_device: OpenIdProvider) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        oidc_providers=providers(op_without_device)[:1],
    )


def test_auto_uses_a_loopback_redirect_without_a_device_grant(
    runtime: Runtime, admin_token: str, tmp_path: Path
) -> None:
    with served(runtime) as server:
        login = Login(["login", "--provider", "local", "--url", server, "--no-browser"], tmp_path)
        url = login.sign_in_url()
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url and "code_challenge=" in url
        with ProviderBrowser("alice") as person:
            person.visit(url)
        code, out, errors = login.finish()
        assert code == 0, (out, errors)
        token = saved_token(tmp_path)["token"]
        me = httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "alice"
