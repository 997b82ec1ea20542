"""Who may call the Flight SQL endpoint: Lakehold API tokens (bad, expired, revoked, confined
ones refused), service principals' tokens, basic auth exchanging a password for a short-lived
token under the portal's failed sign-in limits; calls counted by method and status. SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import adbc_driver_manager
import pyarrow.flight as flight
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from lakehold.flight.auth import BASIC_ON_HANDSHAKE
from lakehold.runtime import Runtime
from lakehold.security.network_limits import RateLimited
from lakehold.security.principal import Principal
from lakehold.security.service import METRICS_ONLY, SCIM_ONLY
from lakehold.store.models import ApiToken, LoginFailure
from tests.flight.conftest import SCENARIO, Retail, connect, uri
from tests.scenarios.helpers import ok
from tests.sharing import client_for, new_user

PASSWORD = "correct horse battery staple"


def _refused(server, token: str | None = None, **credentials: str) -> str:
    with (
        pytest.raises(adbc_driver_manager.Error) as refused,
        connect(server, token, **credentials) as connection,
    ):
        connection.cursor().execute("select 1")
    return str(refused.value)


def _calls(method: str, status: str) -> float:
    labels = {"method": method, "status": status}
    return REGISTRY.get_sample_value("lakehold_flight_calls_total", labels) or 0.0


def test_tokens_are_checked_as_over_http(server, runtime: Runtime, admin: Principal) -> None:
    user, token = new_user(runtime, admin, "ana")
    with connect(server, token) as connection:
        cursor = connection.cursor()
        cursor.execute("select 41 + 1 as answer")
        assert cursor.fetchall() == [(42,)]

    assert _refused(server).startswith("UNAUTHENTICATED: [FlightSQL] a valid API token")
    assert _refused(server, "lh_nope_nope").startswith("UNAUTHENTICATED: [FlightSQL] a valid")
    refused_before = _calls("list_actions", "UNAUTHENTICATED")
    answered_before = _calls("list_actions", "OK")
    raw = flight.connect(uri(server))
    with pytest.raises(flight.FlightUnauthenticatedError):
        list(raw.list_actions())
    bearer = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
    assert {a.type for a in raw.list_actions(bearer)} >= {"CreatePreparedStatement"}
    assert _calls("list_actions", "UNAUTHENTICATED") == refused_before + 1  # by method, status
    assert _calls("list_actions", "OK") == answered_before + 1

    expiring = runtime.security.create_token(admin, "short", username="ana")
    with runtime.store.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == expiring.id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert expiring.value is not None
    message = _refused(server, expiring.value)
    assert message.startswith("UNAUTHENTICATED: [FlightSQL] the API token has expired")

    revoked = next(t for t in runtime.security.list_tokens(user) if t.name == "test")
    runtime.security.revoke_token(user, revoked.id)
    message = _refused(server, token)
    assert message.startswith("UNAUTHENTICATED: [FlightSQL] the API token has been revoked")

    metrics = runtime.security.create_token(admin, "prometheus", scopes=["metrics"])
    assert metrics.value is not None
    assert _refused(server, metrics.value).startswith(f"UNAUTHORIZED: [FlightSQL] {METRICS_ONLY}")
    scim = runtime.security.create_token(admin, "okta", scopes=["scim"], identity_provider="okta")
    assert scim.value is not None
    assert _refused(server, scim.value).startswith(f"UNAUTHORIZED: [FlightSQL] {SCIM_ONLY}")


def test_a_service_principals_token_works(server, retail: Retail, runtime: Runtime) -> None:
    with client_for(runtime, retail.analyst_token) as http:
        created = ok(
            http.post(
                "/api/v1/projects/analysts/service-principals",
                json={"name": "dashboards", "role": "viewer"},
            ),
            201,
        )
        basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode())
        exchanged = ok(
            http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic.decode()}"},
            )
        )
    with connect(server, exchanged["access_token"], project="analysts") as connection:
        cursor = connection.cursor()
        cursor.execute(SCENARIO)
        assert len(cursor.fetchall()) == 7  # the analysts' grants, filters included


def test_basic_auth_exchanges_a_password_for_a_short_lived_token(
    server, runtime: Runtime, admin: Principal, client
) -> None:
    pat = runtime.security.create_user(admin, "pat", password=PASSWORD)
    with connect(server, username="pat", password=PASSWORD) as connection:
        cursor = connection.cursor()
        cursor.execute("select 'hello' as greeting")
        assert cursor.fetchall() == [("hello",)]

    raw = flight.connect(uri(server))
    header, value = raw.authenticate_basic_token("pat", PASSWORD)
    assert header == b"authorization" and value.startswith(b"Bearer lh_")
    issued = [t for t in runtime.security.list_tokens(pat) if t.name == "flight sql sign-in"]
    assert len(issued) == 2 and all(t.expires_at is not None for t in issued)
    lifetime = runtime.settings.flight_token_seconds
    for token in issued:
        assert token.expires_at is not None and token.created_at is not None
        expires, created = token.expires_at, token.created_at
        assert abs((expires - created).total_seconds() - lifetime) < 5
    token = value.decode().removeprefix("Bearer ")
    with connect(server, token) as connection:  # an ordinary token from now on
        cursor = connection.cursor()
        cursor.execute("select 1 as one")
        assert cursor.fetchall() == [(1,)]

    # Basic credentials only in the handshake
    options = flight.FlightCallOptions(headers=[(b"authorization", b"Basic cGF0Onh4eA==")])
    with pytest.raises(flight.FlightUnauthenticatedError, match=BASIC_ON_HANDSHAKE):
        list(raw.list_actions(options))

    events = ok(client.get("/api/v1/audit", params={"action": "token.password"}))
    assert [e["allowed"] for e in events] == [True, True]


def test_a_wrong_password_is_refused_and_counted(
    server, runtime: Runtime, admin: Principal, client
) -> None:
    runtime.security.create_user(admin, "pat", password=PASSWORD)
    message = _refused(server, username="pat", password="guess")
    assert message.startswith("UNAUTHENTICATED: [FlightSQL] wrong username or password")
    with runtime.store.session() as session:
        counted = session.scalar(
            select(LoginFailure.failures).where(LoginFailure.key == "user:pat")
        )
    assert counted == 1  # the portal's failed sign-in window of the user name
    events = ok(client.get("/api/v1/audit", params={"action": "token.password"}))
    assert [(e["allowed"], e["reason"]) for e in events] == [(False, "bad password")]
    assert PASSWORD not in str(events) and "guess" not in str(events)

    for _ in range(runtime.settings.login_max_failures_per_user - 1):
        _refused(server, username="pat", password="guess")
    message = _refused(server, username="pat", password=PASSWORD)  # even the right one, now
    assert message.startswith("UNAUTHENTICATED: [FlightSQL] too many failed sign-ins")
    with pytest.raises(RateLimited):  # the portal's sign-in shares the window
        runtime.sessions.login("pat", PASSWORD)
