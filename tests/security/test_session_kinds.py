"""Service principals (users of kind ``service``, ADR 32) never get or use a web session,
whatever their row holds (defence in depth: today they have no password): password sign-in,
a sign-in verified elsewhere and an existing session are all refused, and audited. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from lakehold.api.app import create_app
from lakehold.errors import Unauthorized
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.security.tokens import hash_secret
from lakehold.store.models import AuditEvent, LoginFailure, User, WebSession, utcnow
from tests.web.browsers import sign_in

PASSWORD = "a password it should never have"


@pytest.fixture
def robot(runtime: Runtime, admin: Principal) -> str:
    """A user turned service principal, with a password (as a broken or tampered row)."""
    user = runtime.security.create_user(admin, "robot", password=PASSWORD)
    with runtime.store.session() as session:
        session.execute(update(User).where(User.id == user.user_id).values(kind="service"))
    return user.user_id


def refusals(runtime: Runtime) -> list[tuple[str | None, str | None]]:
    with runtime.store.session() as session:
        rows = session.execute(
            select(AuditEvent.reason, AuditEvent.resource)
            .where(AuditEvent.action == "session.login", AuditEvent.allowed.is_(False))
            .order_by(AuditEvent.at)
        )
        return [tuple(row) for row in rows]


def test_password_sign_in_is_refused_with_the_right_password(runtime: Runtime, robot: str) -> None:
    with pytest.raises(Unauthorized, match="wrong username or password"):
        runtime.sessions.login("robot", PASSWORD, address="192.0.2.1")
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as browser:
        assert sign_in(browser, "robot", PASSWORD).status_code == 401
        assert "lakehold_session" not in browser.cookies
    assert refusals(runtime) == [("service principal", f"user:{robot}")] * 2
    with runtime.store.session() as session:  # counted as failed sign-ins
        assert session.get(LoginFailure, "user:robot").failures == 2
        assert session.scalars(select(WebSession)).all() == []


def test_a_sign_in_verified_elsewhere_is_refused(runtime: Runtime, robot: str) -> None:
    with pytest.raises(Unauthorized, match="service principal cannot sign in"):
        runtime.sessions.start_verified(robot, address="192.0.2.1")
    assert refusals(runtime) == [("service principal", f"user:{robot}")]
    with runtime.store.session() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_an_existing_session_of_a_service_principal_is_refused(
    runtime: Runtime, admin: Principal
) -> None:
    ana = runtime.security.create_user(admin, "ana", password=PASSWORD)
    signed_in = runtime.sessions.login("ana", PASSWORD)
    assert runtime.sessions.authenticate(signed_in.secret).principal.username == "ana"
    with runtime.store.session() as session:  # the row becomes a service principal's
        session.execute(update(User).where(User.id == ana.user_id).values(kind="service"))
        now = utcnow()
        session.add(  # and a session row made by hand
            WebSession(
                user_id=ana.user_id,
                secret_hash=hash_secret("hand-made"),
                created_at=now + timedelta(seconds=1),
                last_seen_at=now,
                idle_expires_at=now + timedelta(hours=1),
                expires_at=now + timedelta(hours=1),
            )
        )
    for secret in (signed_in.secret, "hand-made"):
        with pytest.raises(Unauthorized, match="the session has ended"):
            runtime.sessions.authenticate(secret)
