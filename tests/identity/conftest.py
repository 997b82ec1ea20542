"""The identity tests' OpenID provider (one per test process) and a Lakehold configured to
sign in with it: ``local`` creates users and maps the ``analysts`` group claim; ``strict``
(the same provider) creates no one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.config import OidcProvider, Settings
from lakehold.runtime import Runtime
from tests.identity.provider import (
    CLI_CLIENT,
    WEB_CLIENT,
    WEB_SECRET,
    OpenIdProvider,
    running_provider,
)


@pytest.fixture(scope="session")
def op() -> Iterator[OpenIdProvider]:
    """oidc-provider on 127.0.0.1, for the whole test process."""
    with running_provider(web_providers=("local", "strict")) as provider:
        yield provider


def providers(op: OpenIdProvider) -> list[OidcProvider]:
    local = OidcProvider(
        name="local",
        display_name="Local test provider",
        issuer=op.issuer,
        client_id=WEB_CLIENT,
        client_secret=WEB_SECRET,
        cli_client_id=CLI_CLIENT,
        scopes=["openid", "profile", "email", "groups"],
        group_mapping={"analysts": "analysts", "admins": "platform-admins"},
        create_users=True,
    )
    strict = local.model_copy(update={"name": "strict", "create_users": False})
    return [local, strict]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, op: OpenIdProvider) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        oidc_providers=providers(op),
    )


@pytest.fixture
def portal(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    """A browser of the portal (HTTPS, so that it keeps the Secure cookies; redirects not
    followed). The admin exists (``admin_token``), as on any real server."""
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as http:
        yield http
