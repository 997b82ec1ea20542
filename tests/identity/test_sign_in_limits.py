"""Failed OpenID Connect sign-ins are limited as password sign-ins are (ADR 29, 31): per
address, one budget with password sign-in, and per person the provider vouched for
(``subject:<provider>:<subject>``); past a limit, 429 with Retry-After before the provider is
asked anything, audited ``rate limited``. The real provider; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.errors import Forbidden
from lakehold.runtime import Runtime
from lakehold.security.network_limits import RateLimited
from lakehold.security.principal import Principal
from lakehold.store.models import LoginFailure
from tests.identity.conftest import providers
from tests.identity.provider import CLI_CLIENT, WEB_CLIENT, OpenIdProvider
from tests.identity.test_web_sign_in import logins, sign_in

PER_ADDRESS = 3
PER_PERSON = 2


@pytest.fixture
def settings(tmp_path: Path, database_url: str, op: OpenIdProvider) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        statement_timeout_seconds=30,
        oidc_providers=providers(op),
        login_max_failures_per_address=PER_ADDRESS,
        login_max_failures_per_user=PER_PERSON,
    )


@pytest.fixture
def api(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    """A program without a token, at address ``testclient``."""
    with TestClient(create_app(runtime)) as http:
        yield http


def id_token(op: OpenIdProvider, subject: str = "alice", **claims) -> str:
    """A fresh ID token of the CLI client (its own jti: each may be exchanged once)."""
    return op.id_token(CLI_CLIENT, subject=subject, jti=uuid.uuid4().hex, **claims)


def exchange(http: TestClient, token: str, provider: str = "local"):
    return http.post(f"/api/v1/auth/oidc/{provider}/token", json={"id_token": token})


def test_failed_exchanges_from_one_address_end_in_429(
    api: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    for _ in range(PER_ADDRESS):  # ID tokens of the portal's client: not the CLI's
        assert exchange(api, op.id_token(WEB_CLIENT)).status_code == 401

    limited = exchange(api, id_token(op))  # a good one, too late

    assert limited.status_code == 429, limited.text
    assert limited.json()["error"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 900
    events = logins(runtime)
    assert [e.reason for e in events] == ["invalid token"] * PER_ADDRESS + ["rate limited"]
    assert events[-1].details["address"] == "testclient"
    # one budget with password sign-in from that address
    with pytest.raises(RateLimited):
        runtime.sessions.login("admin", "any password", address="testclient")
    # another address is not limited
    with TestClient(create_app(runtime), client=("198.51.100.7", 4000)) as elsewhere:
        assert exchange(elsewhere, id_token(op)).status_code == 201


def test_password_failures_count_against_single_sign_on_too(
    api: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    for name in ("ana", "bea", "cid"):
        with pytest.raises(Exception):  # noqa: B017 - unknown users: wrong username or password
            runtime.sessions.login(name, "guess", address="testclient")
    assert exchange(api, id_token(op)).status_code == 429


def test_a_person_refused_again_and_again_is_limited_from_any_address(
    runtime: Runtime, op: OpenIdProvider
) -> None:
    oidc = runtime.oidc
    for i in range(PER_PERSON):  # bob has no account and "strict" creates no one
        with pytest.raises(Forbidden):
            oidc.verify_cli("strict", id_token(op, "bob"), address=f"10.0.0.{i}")

    with pytest.raises(RateLimited) as limited:
        oidc.verify_cli("strict", id_token(op, "bob"), address="10.0.1.1")

    assert limited.value.retry_after > 0
    event = logins(runtime)[-1]
    assert (event.allowed, event.reason) == (False, "rate limited")
    assert event.details["subject"] == "bob" and event.details["provider"] == "strict"
    with runtime.store.session() as session:
        keys = set(session.scalars(select(LoginFailure.key)))
    assert "subject:strict:bob" in keys and "address:10.0.0.0" in keys
    # alice, from the same addresses, is not bob
    assert oidc.verify_cli("local", id_token(op), address="10.0.1.1").username == "alice"


def test_a_success_clears_the_persons_count_not_the_addresses(
    runtime: Runtime, op: OpenIdProvider, admin: Principal
) -> None:
    oidc = runtime.oidc
    assert oidc.verify_cli("local", id_token(op), address="10.0.0.1").username == "alice"
    runtime.revocation.deactivate(admin, "alice")
    with pytest.raises(Forbidden, match="deactivated"):
        oidc.verify_cli("local", id_token(op), address="10.0.0.2")
    runtime.revocation.activate(admin, "alice")
    assert oidc.verify_cli("local", id_token(op), address="10.0.0.3").username == "alice"
    runtime.revocation.deactivate(admin, "alice")
    for address in ("10.0.0.4", "10.0.0.5"):  # two failures since the success: both counted
        with pytest.raises(Forbidden, match="deactivated"):
            oidc.verify_cli("local", id_token(op), address=address)
    with pytest.raises(RateLimited):
        oidc.verify_cli("local", id_token(op), address="10.0.0.6")
    with runtime.store.session() as session:
        assert session.get(LoginFailure, "address:10.0.0.2") is not None  # kept


def test_the_portal_answers_429_with_retry_after(
    portal: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    for _ in range(PER_ADDRESS):  # callbacks this browser never started
        refused = portal.get("/login/oidc/local/callback", params={"state": "s", "code": "c"})
        assert refused.status_code == 401

    limited = sign_in(portal, "alice")

    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 900
    assert "too many failed sign-ins" in limited.text
    assert "lakehold_session" not in portal.cookies
    assert [e.reason for e in logins(runtime)] == ["bad state"] * PER_ADDRESS + ["rate limited"]
