"""An ID token the CLI exchanges for a Lakehold token is exchanged once (ADR 31): a replay,
on any API process, is refused (401) and audited; its jti (with the issuer), or the token
itself when it has none, is remembered in the store for as long as it could be accepted. The
real provider's keys; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lakehold.api.app import create_app
from lakehold.config import Settings
from lakehold.errors import Unauthorized
from lakehold.runtime import Runtime
from lakehold.security.oidc.replay import fingerprint
from lakehold.store.models import AuditEvent, LoginFailure, as_utc
from tests.identity.provider import CLI_CLIENT, OpenIdProvider
from tests.security.identity_helpers import other_process


@pytest.fixture
def api(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as http:
        yield http


def exchange(api: TestClient, token: str):
    return api.post("/api/v1/auth/oidc/local/token", json={"id_token": token})


def refusals(runtime: Runtime) -> list[str | None]:
    with runtime.store.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.reason)
                .where(AuditEvent.action == "oidc.login", AuditEvent.allowed.is_(False))
                .order_by(AuditEvent.at)
            )
        )


def test_an_id_token_is_exchanged_once(
    api: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    token = op.id_token(CLI_CLIENT, subject="bob")  # no jti: the token itself is remembered
    first = exchange(api, token)
    assert first.status_code == 201, first.text

    replayed = exchange(api, token)

    assert replayed.status_code == 401
    assert replayed.json()["error"] == "unauthorized"
    assert "already exchanged" in replayed.json()["message"]
    assert refusals(runtime) == ["token already exchanged"]
    # the first token still works; a new ID token of the same person is a new sign-in
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {first.json()['value']}"})
    assert me.status_code == 200
    time.sleep(1)  # another iat: another token
    assert exchange(api, op.id_token(CLI_CLIENT, subject="bob")).status_code == 201


def test_a_token_with_the_same_jti_is_the_same_token(
    api: TestClient, runtime: Runtime, op: OpenIdProvider
) -> None:
    now = int(time.time())
    assert exchange(api, op.id_token(CLI_CLIENT, jti="id-1", iat=now - 5)).status_code == 201
    again = exchange(api, op.id_token(CLI_CLIENT, jti="id-1", iat=now))  # re-signed, same jti
    assert again.status_code == 401
    assert exchange(api, op.id_token(CLI_CLIENT, jti="id-2", iat=now)).status_code == 201
    assert refusals(runtime) == ["token already exchanged"]


def test_a_replay_on_another_process_is_refused_and_remembered_until_too_old(
    api: TestClient, runtime: Runtime, settings: Settings, op: OpenIdProvider
) -> None:
    token = op.id_token(CLI_CLIENT, jti="shared")
    assert exchange(api, token).status_code == 201
    with (
        other_process(settings) as (other, _),
        pytest.raises(Unauthorized, match="already exchanged"),
    ):
        other.oidc.verify_cli("local", token, address="10.0.0.9")
    key = f"idtoken:{fingerprint({'iss': op.issuer, 'jti': 'shared'}, token)}"
    with runtime.store.session() as session:
        row = session.get(LoginFailure, key)
        assert row is not None and row.failures == 2
        # remembered while the token could pass the 10-minute freshness check (and leeway)
        assert runtime.oidc.exchanged.window.window == timedelta(seconds=600 + 2 * 60)
        assert abs(as_utc(row.window_start) - datetime.now(UTC)) < timedelta(minutes=1)
