"""Failed sign-ins limited per user and per address, in the metadata store (every process sees
the same count), and every sign-in audited with its outcome and reason -- never the password
(ADR 0029)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.errors import Unauthorized
from lakehold.security.network_limits import RateLimited
from tests.security.identity_helpers import PASSWORD, other_process
from tests.web.browsers import sign_in

WRONG = "not the password"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def users(runtime, admin) -> None:
    runtime.security.create_user(admin, "ana", password=PASSWORD)
    runtime.security.create_user(admin, "bob", password="bob's long password")


def _login_events(runtime, admin) -> list[tuple[bool, str | None, str]]:
    """(allowed, reason, username) of each sign-in, oldest first."""
    events = runtime.audit.events(admin, action="session.login", limit=1000)
    return [
        (e.allowed, e.reason, e.details.get("username") or e.username or "")
        for e in reversed(events)
    ]


def test_five_failures_then_429_before_the_password_is_checked(
    runtime, settings, admin, users
) -> None:
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as browser:
        for _ in range(5):
            assert sign_in(browser, "ana", WRONG).status_code == 401
        limited = sign_in(browser, "ana", PASSWORD)  # the right one, too late
        assert limited.status_code == 429
        assert 890 <= int(limited.headers["retry-after"]) <= 900
        assert "Too many failed sign-ins" in limited.text
        assert sign_in(browser, "bob", "bob's long password").status_code == 303  # not bob
    with other_process(settings) as (other, _):  # the count is shared
        with pytest.raises(RateLimited) as refused:
            other.sessions.login("ana", PASSWORD, address="10.1.1.1")
        assert refused.value.status_code == 429 and refused.value.retry_after > 0
    events = _login_events(runtime, admin)
    assert events[:5] == [(False, "bad password", "ana")] * 5
    assert events[5] == (False, "rate limited", "ana")
    assert events[6][0] is True and events[6][2] == "bob"
    assert events[7] == (False, "rate limited", "ana")
    logged = str(runtime.audit.events(admin, action="session.login", limit=1000))
    assert WRONG not in logged and PASSWORD not in logged


def test_the_window_ends_and_a_success_resets_the_users_count(runtime, users) -> None:
    clock = Clock()
    sessions = runtime.sessions
    sessions.clock = clock
    for _ in range(4):
        with pytest.raises(Unauthorized):
            sessions.login("ana", WRONG)
    sessions.login("ana", PASSWORD)  # resets ana's count
    for _ in range(4):
        with pytest.raises(Unauthorized):
            sessions.login("ana", WRONG)
    sessions.login("ana", PASSWORD)  # still allowed: 4 since the success
    for _ in range(5):
        with pytest.raises(Unauthorized):
            sessions.login("ana", WRONG)
    with pytest.raises(RateLimited):
        sessions.login("ana", PASSWORD)
    clock.now += timedelta(minutes=15)  # the window is over
    assert sessions.login("ana", PASSWORD).principal.username == "ana"


def test_twenty_failures_from_one_address(runtime, admin, users) -> None:
    sessions = runtime.sessions
    for i in range(20):  # a password spray: many names, one address
        with pytest.raises(Unauthorized):
            sessions.login(f"user{i}", WRONG, address="203.0.113.9")
    with pytest.raises(RateLimited):
        sessions.login("ana", PASSWORD, address="203.0.113.9")
    assert sessions.login("ana", PASSWORD, address="198.51.100.1").principal.username == "ana"
    reasons = [reason for _, reason, _ in _login_events(runtime, admin)]
    assert reasons[:20] == ["unknown user"] * 20 and reasons[20] == "rate limited"


def test_every_outcome_is_audited_with_its_reason(runtime, admin, users) -> None:
    sessions = runtime.sessions
    with pytest.raises(Unauthorized, match="wrong username or password"):
        sessions.login("nobody", PASSWORD, address="::1")
    with pytest.raises(Unauthorized, match="wrong username or password"):
        sessions.login("ana", WRONG, address="::1")
    runtime.revocation.deactivate(admin, "bob")
    with pytest.raises(Unauthorized, match="the user is deactivated"):
        sessions.login("bob", "bob's long password", address="::1")
    with pytest.raises(Unauthorized, match="wrong username or password"):
        sessions.login("bob", WRONG, address="::1")  # a deactivated user's wrong password
    sessions.login("ana", PASSWORD, address="::1", user_agent="Firefox")
    assert _login_events(runtime, admin) == [
        (False, "unknown user", "nobody"),
        (False, "bad password", "ana"),
        (False, "deactivated", "bob"),
        (False, "bad password", "bob"),
        (True, None, "ana"),
    ]
    [success] = runtime.audit.events(admin, action="session.login", allowed=True)
    assert success.username == "ana" and success.details["address"] == "::1"
    assert success.resource and success.resource.startswith("user:")


def _guesses_at_once(runtime, count: int) -> dict[str, int]:
    """``count`` wrong passwords of ana's at once, from as many addresses: how many were
    checked ("wrong") and how many refused before ("limited")."""
    import threading
    from collections import Counter

    outcomes: list[str] = []
    start = threading.Barrier(count)

    def guess(number: int) -> None:
        start.wait()
        try:
            runtime.sessions.login("ana", f"guess {number}", address=f"10.0.0.{number}")
        except RateLimited:
            outcomes.append("limited")
        except Unauthorized:
            outcomes.append("wrong")

    guesses = [threading.Thread(target=guess, args=(n,)) for n in range(count)]
    for thread in guesses:
        thread.start()
    for thread in guesses:
        thread.join()
    return dict(Counter(outcomes))


def test_guesses_at_once_pass_the_limit_no_more_often_than_one_by_one(runtime, users) -> None:
    """30 guesses at once: exactly the limit's number are checked and the rest refused."""
    limit = runtime.settings.login_max_failures_per_user
    assert _guesses_at_once(runtime, 30) == {"wrong": limit, "limited": 30 - limit}
    with pytest.raises(RateLimited):
        runtime.sessions.login("ana", PASSWORD, address="10.0.1.1")


def test_guesses_in_several_processes_pass_the_limit_no_more_often(
    runtime, users, monkeypatch
) -> None:
    """Each server process takes turns per user name only among its own requests: guesses
    racing from several processes (here: no turns at all) are each counted before their
    password is checked, so exactly the limit's number are checked, as one by one."""
    import contextlib

    from lakehold.security import sessions

    monkeypatch.setattr(sessions, "password_turn", lambda _name: contextlib.nullcontext())
    limit = runtime.settings.login_max_failures_per_user
    assert _guesses_at_once(runtime, 20) == {"wrong": limit, "limited": 20 - limit}
    with pytest.raises(RateLimited):
        runtime.sessions.login("ana", PASSWORD, address="10.0.1.1")


def test_a_success_takes_back_the_attempt_counted_under_its_address(runtime, users) -> None:
    """An attempt is counted before its password is checked; a success takes it back: one
    good account signing in from an address neither adds to nor clears its count."""
    sessions = runtime.sessions
    for i in range(19):
        with pytest.raises(Unauthorized):
            sessions.login(f"user{i}", WRONG, address="203.0.113.7")
    for _ in range(3):
        assert sessions.login("ana", PASSWORD, address="203.0.113.7").principal.username == "ana"
    with pytest.raises(Unauthorized):  # the address's 20th failure
        sessions.login("user19", WRONG, address="203.0.113.7")
    with pytest.raises(RateLimited):
        sessions.login("ana", PASSWORD, address="203.0.113.7")
