"""The sign-in session service, on SQLite and PostgreSQL: sign-in, expiry, revocation, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehold.errors import Forbidden, NotFound, Unauthorized
from lakehold.security.sessions import SessionService, csrf_matches, csrf_token


class Clock:
    """A clock the tests move."""

    def __init__(self) -> None:
        self.now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(runtime, admin, clock) -> SessionService:
    runtime.security.create_user(admin, "ana", password="correct horse battery")
    runtime.security.create_user(admin, "bob", password="bob's long password")
    runtime.security.create_user(admin, "nopass")  # a user without a password (token only)
    sessions = runtime.sessions
    sessions.clock = clock
    return sessions


def test_sign_in_and_each_request(service) -> None:
    signed = service.login("ana", "correct horse battery", user_agent="Firefox", address="::1")
    again = service.authenticate(signed.secret)
    assert again.principal.username == "ana" and again.session_id == signed.session_id
    assert csrf_matches(signed.secret, again.csrf_token)
    assert not csrf_matches(signed.secret, csrf_token("another secret"))
    assert not csrf_matches(signed.secret, None) and not csrf_matches(signed.secret, "é")
    (listed,) = service.list_sessions(signed.principal, current_id=signed.session_id)
    assert (listed.user_agent, listed.address, listed.current) == ("Firefox", "::1", True)


def test_wrong_username_or_password_look_the_same(runtime, service, admin) -> None:
    refusals = []
    for username, password in [
        ("ana", "wrong password"),
        ("nobody", "correct horse battery"),
        ("nopass", ""),
        ("x" * 500, "long"),
    ]:
        with pytest.raises(Unauthorized) as refused:
            service.login(username, password)
        refusals.append(refused.value.to_dict())
    assert all(
        r == {"error": "unauthorized", "message": "wrong username or password"} for r in refusals
    )
    events = runtime.audit.events(admin, action="session.login")
    assert [e.allowed for e in events] == [False] * 4
    assert {e.details["username"] for e in events} == {"ana", "nobody", "nopass", "x" * 64}
    assert all(e.username is None for e in events)  # the audit log says why (ADR 0029)
    reasons = {e.details["username"]: e.reason for e in events}
    assert reasons == {
        "ana": "bad password",
        "nobody": "unknown user",
        "nopass": "bad password",
        "x" * 64: "unknown user",
    }
    service.login("ana", "correct horse battery", address="10.0.0.1")
    (ok,) = runtime.audit.events(admin, action="session.login", allowed=True)
    assert ok.username == "ana" and ok.details["address"] == "10.0.0.1"


def test_idle_expiry_moves_with_use(service, clock) -> None:
    signed = service.login("ana", "correct horse battery")
    for _ in range(3):  # active: every 29 minutes, for longer than the idle limit
        clock.advance(minutes=29)
        service.authenticate(signed.secret)
    clock.advance(minutes=30)
    with pytest.raises(Unauthorized, match="ended"):
        service.authenticate(signed.secret)
    assert service.list_sessions(signed.principal) == []


def test_absolute_expiry_however_active(service, clock) -> None:
    signed = service.login("ana", "correct horse battery")
    for _ in range(12 * 4 - 1):
        clock.advance(minutes=15)
        service.authenticate(signed.secret)
    clock.advance(minutes=15)  # twelve hours after sign-in
    with pytest.raises(Unauthorized):
        service.authenticate(signed.secret)


def test_last_seen_written_at_most_once_a_minute(service, clock) -> None:
    signed = service.login("ana", "correct horse battery")
    start = clock.now
    clock.advance(seconds=50)
    service.authenticate(signed.secret)
    (listed,) = service.list_sessions(signed.principal)
    assert listed.last_seen_at == start and listed.idle_expires_at == start + timedelta(minutes=30)
    clock.advance(seconds=20)
    service.authenticate(signed.secret)
    (listed,) = service.list_sessions(signed.principal)
    assert listed.last_seen_at == clock.now
    assert listed.idle_expires_at == clock.now + timedelta(minutes=30)


def test_tiny_limits_from_settings(runtime, admin) -> None:
    tiny = SessionService(runtime.store, idle_seconds=2, absolute_seconds=5, clock=Clock())
    runtime.security.create_user(admin, "cy", password="cy's long password")
    signed = tiny.login("cy", "cy's long password")
    assert tiny.touch_every == timedelta(seconds=0.5)
    tiny.clock.advance(seconds=1.5)  # type: ignore[attr-defined]
    tiny.authenticate(signed.secret)
    tiny.clock.advance(seconds=1.5)  # type: ignore[attr-defined]
    tiny.authenticate(signed.secret)  # 3 s after sign-in: the idle limit moved on
    tiny.clock.advance(seconds=2)  # type: ignore[attr-defined]
    with pytest.raises(Unauthorized):
        tiny.authenticate(signed.secret)


def test_new_session_at_each_sign_in_and_the_old_one_ends(service) -> None:
    first = service.login("ana", "correct horse battery")
    second = service.login("ana", "correct horse battery", replacing=first.secret)
    assert second.session_id != first.session_id and second.secret != first.secret
    with pytest.raises(Unauthorized):
        service.authenticate(first.secret)
    assert service.authenticate(second.secret).session_id == second.session_id


def test_logout_ends_the_session_server_side(runtime, service, admin) -> None:
    signed = service.login("ana", "correct horse battery")
    service.logout(signed)
    with pytest.raises(Unauthorized):
        service.authenticate(signed.secret)
    (event,) = runtime.audit.events(admin, action="session.logout")
    assert event.allowed and event.username == "ana"
    assert event.details["session"] == signed.session_id


def test_revoking_own_and_others(runtime, service, admin) -> None:
    ana = service.login("ana", "correct horse battery")
    ana2 = service.login("ana", "correct horse battery")
    bob = service.login("bob", "bob's long password")
    with pytest.raises(NotFound):  # another user's session is not found to non-admins
        service.revoke(bob.principal, ana.session_id)
    with pytest.raises(Forbidden):
        service.list_sessions(bob.principal, username="ana")
    with pytest.raises(Forbidden):  # unknown or not: the same answer to non-admins
        service.list_sessions(bob.principal, username="nobody")
    service.authenticate(ana.secret)
    service.revoke(ana.principal, ana2.session_id)
    with pytest.raises(Unauthorized):
        service.authenticate(ana2.secret)
    assert [s.id for s in service.list_sessions(admin, username="ana")] == [ana.session_id]
    service.revoke(admin, ana.session_id)
    with pytest.raises(Unauthorized):
        service.authenticate(ana.secret)
    with pytest.raises(NotFound):
        service.list_sessions(admin, username="nobody")
    events = runtime.audit.events(admin, action="session.revoke")
    assert sorted((e.username, e.allowed) for e in events) == [
        ("admin", True),
        ("ana", True),
        ("bob", False),
    ]
    assert service.authenticate(bob.secret).principal.username == "bob"


def test_unknown_and_empty_cookies_are_refused(service) -> None:
    for secret in (None, "", "not-a-session"):
        with pytest.raises(Unauthorized):
            service.authenticate(secret)
