"""Statement completion without polling: the long-poll (``?wait_seconds=``) and the event
stream (``GET /statements/events``, read with httpx over a real socket)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from lakehold.runtime import Runtime
from tests.scenarios.helpers import ok
from tests.servers import served as serve

FINAL = {"FINISHED", "FAILED", "ABORTED"}
SLOW = "select count(*) as n from range(100000000)"


def _token(client, username: str) -> str:
    ok(client.post("/api/v1/users", json={"username": username}), 201)
    made = client.post("/api/v1/tokens", json={"name": f"{username}-t", "username": username})
    return ok(made, 201)["value"]


@pytest.fixture
def served(runtime: Runtime, admin_token: str) -> Iterator[str]:
    """The app on a real socket (uvicorn in a thread): its URL."""
    with serve(runtime) as url:
        yield url


def _submit(http, sql: str) -> dict:
    return ok(http.post("/api/v1/statements", json={"sql": sql}), 201)


def test_long_poll_answers_each_change_until_the_end(client) -> None:
    submitted = _submit(client, SLOW)
    seen, states = submitted["status"], [submitted["status"]]
    while seen not in FINAL:
        params = {"wait_seconds": 60, "seen_status": seen}
        view = ok(client.get(f"/api/v1/statements/{submitted['id']}", params=params))
        assert view["status"] != seen  # it answered on a change, not on its deadline
        seen = view["status"]
        states.append(seen)
    assert states[-1] == "FINISHED" and len(states) <= 3
    assert states == [s for s in ("SUBMITTED", "STARTED", "FINISHED") if s in states]
    page = ok(client.get(f"/api/v1/statements/{submitted['id']}/result"))
    assert page["rows"] == [{"n": 100_000_000}]


def test_one_long_poll_can_wait_out_several_states(client) -> None:
    submitted = _submit(client, SLOW)
    params = {"wait_seconds": 60, "seen_status": ["SUBMITTED", "STARTED"]}
    done = ok(client.get(f"/api/v1/statements/{submitted['id']}", params=params))
    assert done["status"] == "FINISHED" and done["result_rows"] == 1


def test_a_finished_statement_is_answered_at_once(client) -> None:
    submitted = _submit(client, "select 42 as answer")
    done = ok(client.get(f"/api/v1/statements/{submitted['id']}", params={"wait_seconds": 60}))
    while done["status"] not in FINAL:  # at most twice: STARTED, then FINISHED
        done = ok(client.get(f"/api/v1/statements/{submitted['id']}", params={"wait_seconds": 60}))
    assert done["status"] == "FINISHED" and done["result_rows"] == 1
    started = time.monotonic()
    again = ok(client.get(f"/api/v1/statements/{submitted['id']}", params={"wait_seconds": 60}))
    assert again == done
    assert time.monotonic() - started < 30  # not held until the deadline
    # Without wait_seconds: the record, as before.
    assert ok(client.get(f"/api/v1/statements/{submitted['id']}")) == done


def test_a_state_other_than_the_one_seen_is_answered_at_once(client) -> None:
    submitted = _submit(client, "select 1")
    params = {"wait_seconds": 0.2, "seen_status": "ABORTED"}
    view = ok(client.get(f"/api/v1/statements/{submitted['id']}", params=params))
    assert view["id"] == submitted["id"]  # differs from ABORTED: answered at once
    bad = client.get(f"/api/v1/statements/{submitted['id']}", params={"wait_seconds": 61})
    assert bad.status_code == 400


def test_another_users_statement_is_not_found_through_a_wait(client, anonymous) -> None:
    theirs = _submit(client, SLOW)
    token = _token(client, "mallory")
    response = anonymous.get(
        f"/api/v1/statements/{theirs['id']}",
        params={"wait_seconds": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def _events(lines: Iterator[str]) -> Iterator[dict]:
    """The statements of ``event: statement`` events, in order."""
    kind, data, event_id = None, None, None
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("id: "):
            event_id = line.removeprefix("id: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and kind is not None:
            assert kind == "statement" and data is not None
            yield {**json.loads(data), "_event_id": event_id}
            kind, data = None, None


def _open(http: httpx.Client, token: str, **headers: str):
    auth = {"Authorization": f"Bearer {token}", **headers}
    return http.stream("GET", "/api/v1/statements/events", headers=auth)


def test_the_event_stream_pushes_each_state_of_ones_own_statements(
    served: str, admin_token: str, client
) -> None:
    bob = _token(client, "bob")
    with httpx.Client(base_url=served, timeout=30) as http:
        with _open(http, admin_token) as mine, _open(http, bob) as bobs:
            assert mine.status_code == 200 and bobs.status_code == 200
            assert mine.headers["content-type"].startswith("text/event-stream")
            my_lines, bob_lines = mine.iter_lines(), bobs.iter_lines()
            assert next(my_lines).startswith(":") and next(bob_lines).startswith(":")

            statement = ok(
                http.post(
                    "/api/v1/statements",
                    json={"sql": SLOW},
                    headers={"Authorization": f"Bearer {admin_token}"},
                ),
                201,
            )
            states = []
            for event in _events(my_lines):
                assert event["id"] == statement["id"]
                states.append(event["status"])
                if event["status"] in FINAL:
                    break
            assert states == ["SUBMITTED", "STARTED", "FINISHED"]
            assert event["result_rows"] == 1 and event["has_result_set"]

            own = ok(
                http.post(
                    "/api/v1/statements",
                    json={"sql": "select 2"},
                    headers={"Authorization": f"Bearer {bob}"},
                ),
                201,
            )
            first = next(_events(bob_lines))  # the admin's events were never queued for bob
            assert first["id"] == own["id"] and first["status"] == "SUBMITTED"
            resume_from = first["_event_id"]

        # Resuming with Last-Event-ID replays what came after it.
        with _open(http, bob, **{"Last-Event-ID": resume_from}) as resumed:
            lines = resumed.iter_lines()
            assert next(lines).startswith(":")
            replayed: list[str] = []
            for event in _events(lines):
                assert event["id"] == own["id"]
                replayed.append(event["status"])
                if event["status"] in FINAL:
                    break
            assert replayed == ["STARTED", "FINISHED"]


def test_the_event_stream_needs_a_token(served: str) -> None:
    response = httpx.get(f"{served}/api/v1/statements/events", timeout=10)
    assert response.status_code == 401
