"""``GET /api/v1/statements/socket`` against a real ``lakehold serve``, read with the
``websockets`` client: pushed state changes, the API's authentication (header or subprotocol),
isolation between users, client messages, and the close when the server stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from lakehold.runtime import Runtime
from tests.servers import served

FINAL = {"FINISHED", "FAILED", "ABORTED"}
SLOW = "select count(*) as n from range(100000000)"
ENDLESS = "select count(*) as n from range(100000000000)"
WAIT_S = 120


def socket_url(http_url: str, query: str = "") -> str:
    return http_url.replace("http://", "ws://", 1) + "/api/v1/statements/socket" + query


@contextmanager
def opened(
    url: str, token: str | None = None, *, subprotocols: list[str] | None = None, query: str = ""
) -> Iterator[ClientConnection]:
    """A socket (the token in the Authorization header, if given) that says it listens."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with connect(
        socket_url(url, query),
        additional_headers=headers,
        subprotocols=subprotocols,
        open_timeout=60,
    ) as ws:
        assert receive(ws) == {"type": "ready"}
        yield ws


def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message but heartbeats."""
    while True:
        message = json.loads(ws.recv(timeout=WAIT_S))
        if message["type"] != "heartbeat":
            return message


def states_until_end(ws: ClientConnection, statement_id: str) -> list[dict[str, Any]]:
    """The statements pushed for ``statement_id`` until it ends; fails on another's."""
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["status"] not in FINAL:
        message = receive(ws)
        assert message["type"] == "statement", message
        assert message["statement"]["id"] == statement_id, message
        seen.append(message["statement"])
    return seen


def submit(url: str, token: str, sql: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/statements",
        json={"sql": sql},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_each_state_is_pushed_until_the_statement_finishes(server) -> None:
    with opened(server.url, server.admin_token) as ws:
        assert ws.subprotocol is None  # none offered, none selected
        submitted = submit(server.url, server.admin_token, SLOW)
        message = receive(ws)
        assert message["type"] == "statement" and message["event_id"]
        assert message["statement"]["status"] == "SUBMITTED"
        pushed = [message["statement"], *states_until_end(ws, submitted["id"])]
        assert [s["status"] for s in pushed] == ["SUBMITTED", "STARTED", "FINISHED"]
        done = pushed[-1]
        assert done["result_rows"] == 1 and done["has_result_set"] and done["error"] is None
        assert done["ended_at"].endswith("Z")
        described = httpx.get(
            f"{server.url}/api/v1/statements/{submitted['id']}",
            headers={"Authorization": f"Bearer {server.admin_token}"},
        ).json()
        assert done == described  # the same fields as GET /statements/{id}


def test_failed_and_cancelled_statements_are_pushed(server) -> None:
    with opened(server.url, server.admin_token) as ws:
        failing = submit(server.url, server.admin_token, "select cast('x' as integer) as n")
        failed = states_until_end(ws, failing["id"])[-1]
        assert failed["status"] == "FAILED" and failed["error"]

        endless = submit(server.url, server.admin_token, ENDLESS)
        pushed = [receive(ws)["statement"]]
        while pushed[-1]["status"] != "STARTED":
            pushed.append(receive(ws)["statement"])
        cancelled = httpx.post(
            f"{server.url}/api/v1/statements/{endless['id']}/cancel",
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=60,
        )
        assert cancelled.status_code == 200, cancelled.text
        assert states_until_end(ws, endless["id"])[-1]["status"] == "ABORTED"


def test_a_browser_passes_the_token_as_a_subprotocol(server) -> None:
    token = server.new_user("browser")
    offered = ["lakehold.v1", f"lakehold.bearer.{token}"]
    with opened(server.url, subprotocols=offered) as ws:
        assert ws.subprotocol == "lakehold.v1"  # never the one that carries the token
        assert token not in str(ws.response.headers)
        submitted = submit(server.url, token, "select 42 as answer")
        assert receive(ws)["statement"]["id"] == submitted["id"]


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [
        (None, None),
        ({"Authorization": "Bearer lh_0000000000000000_nope"}, None),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, None),
        (None, ["lakehold.v1", "lakehold.bearer.lh_0000000000000000_nope"]),
        (None, ["lakehold.v1"]),
    ],
)
def test_no_valid_token_is_refused_before_the_upgrade(server, headers, subprotocols) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(
            socket_url(server.url),
            additional_headers=headers,
            subprotocols=subprotocols,
            open_timeout=60,
        )
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(response.body)["error"] == "unauthorized"


def test_a_revoked_token_is_refused_and_closes_an_open_socket(server) -> None:
    server.new_user("carol")
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    made = httpx.post(
        f"{server.url}/api/v1/tokens", json={"name": "c", "username": "carol"}, headers=admin
    )
    assert made.status_code == 201, made.text
    token = made.json()
    with opened(server.url, token["value"]) as ws:
        revoked = httpx.delete(f"{server.url}/api/v1/tokens/{token['id']}", headers=admin)
        assert revoked.status_code == 204
        ws.send(json.dumps({"type": "ping"}))  # checked again on every message
        with pytest.raises(ConnectionClosed) as closed:
            receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with pytest.raises(InvalidStatus) as refused:
        connect(
            socket_url(server.url), additional_headers={"Authorization": f"Bearer {token['value']}"}
        )
    assert refused.value.response.status_code == 401


def test_each_user_hears_only_of_their_own_statements(server) -> None:
    alice, bob = server.new_user("alice"), server.new_user("bob")
    with opened(server.url, alice) as alices, opened(server.url, bob) as bobs:
        hers = submit(server.url, alice, SLOW)
        assert states_until_end(alices, hers["id"])[-1]["status"] == "FINISHED"
        # Hers were never queued for bob: everything he hears is of his own (else it fails).
        his = submit(server.url, bob, "select 2 as n")
        assert states_until_end(bobs, his["id"])[-1]["status"] == "FINISHED"
        again = submit(server.url, alice, "select 3 as n")
        assert states_until_end(alices, again["id"])[-1]["status"] == "FINISHED"

        # Subscribing to another user's statement is refused as GET /statements/{id} is.
        bobs.send(json.dumps({"type": "subscribe", "statement_id": hers["id"]}))
        refused = receive(bobs)
        assert refused["type"] == "error" and refused["error"] == "not_found"
        assert hers["id"] in refused["message"]
        after = submit(server.url, bob, "select 4 as n")
        assert states_until_end(bobs, after["id"])[-1]["status"] == "FINISHED"


def test_a_subscribe_answers_the_state_now_then_follows_that_statement_only(server) -> None:
    token = server.new_user("dave")
    with opened(server.url, token) as ws:
        other = submit(server.url, token, SLOW)
        followed = submit(server.url, token, SLOW)
        ws.send(json.dumps({"type": "subscribe", "statement_id": followed["id"]}))
        message = receive(ws)
        while message["event_id"] is not None:  # events from before the subscribe
            message = receive(ws)
        assert message["type"] == "statement" and message["statement"]["id"] == followed["id"]
        ranks = {"SUBMITTED": 0, "STARTED": 1}
        seen = [message["statement"]]
        while seen[-1]["status"] not in FINAL:
            pushed = receive(ws)
            assert pushed["statement"]["id"] == followed["id"]  # never the other statement's
            seen.append(pushed["statement"])
        statuses = [ranks.get(s["status"], 2) for s in seen]
        assert statuses == sorted(set(statuses))  # no state twice, none backwards
        assert seen[-1]["status"] == "FINISHED"
        # Subscribing to one that ended answers with its end at once.
        ws.send(json.dumps({"type": "subscribe", "statement_id": other["id"]}))
        answer = receive(ws)
        while answer["event_id"] is not None:
            assert answer["statement"]["id"] == other["id"]
            answer = receive(ws)
        assert answer["statement"]["id"] == other["id"]


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        (b"\x00binary", "message"),
        ("not json", "message"),
        ("x" * 5000, "message"),
        (json.dumps({"type": "dance"}), "type"),
        (json.dumps({"kind": "ping"}), "type"),
        (json.dumps({"type": "subscribe"}), "statement_id"),
        (json.dumps({"type": "subscribe", "statement_id": ""}), "statement_id"),
        (json.dumps({"type": "ping", "extra": 1}), "extra"),
        (json.dumps(["ping"]), "message"),
    ],
)
def test_a_bad_message_gets_an_error_and_the_socket_stays_open(server, sent, field) -> None:
    with opened(server.url, server.admin_token) as ws:
        ws.send(sent)
        error = receive(ws)
        assert error["type"] == "error" and error["error"] == "invalid", error
        assert error["field"] == field and error["message"]
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws) == {"type": "pong"}


def test_a_socket_resumes_after_the_last_event_it_got(server) -> None:
    token = server.new_user("erin")
    with opened(server.url, token) as ws:
        submitted = submit(server.url, token, SLOW)
        first = receive(ws)
        assert first["statement"]["status"] == "SUBMITTED"
        states_until_end(ws, submitted["id"])
    with opened(server.url, token, query=f"?last_event_id={first['event_id']}") as resumed:
        replayed = states_until_end(resumed, submitted["id"])
    assert [s["status"] for s in replayed] == ["STARTED", "FINISHED"]


def test_the_socket_closes_when_the_server_stops(runtime: Runtime, admin_token: str) -> None:
    with ExitStack() as sockets:
        with served(runtime) as url:
            ws = sockets.enter_context(opened(url, admin_token))
        # The server has stopped: the socket got a close frame, not a dropped connection.
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
