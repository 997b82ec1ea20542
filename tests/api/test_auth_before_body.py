"""A request with a body is authenticated before any of it is read (``api.bodies.BodyLimits``).

Against a real server (uvicorn on a free port, in a thread), over a raw socket: a request
declares a large JSON body and sends only its first bytes. Without a valid token the 401
arrives at once, though the server could not have read the body (it was never all sent);
with one, the server waits for the rest, and answers when it comes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.servers import served

DECLARED = 8 * 1024**2  # under LAKEHOLD_MAX_JSON_BYTES (10 MiB): never a 413
FIRST = b'{"name": "' + b"x" * 4096


@pytest.fixture
def address(runtime, admin_token) -> Iterator[tuple[str, int]]:
    """A server of ``runtime``: its host and port."""
    with served(runtime) as url:
        host, _, port = url.removeprefix("http://").partition(":")
        yield host, int(port)


def _begin(
    address: tuple[str, int], path: str, token: str | None, length: int, first: bytes = FIRST
) -> socket.socket:
    """A connection that has sent ``POST path``'s headers (declaring ``length`` bytes of JSON)
    and the ``first`` bytes of the body."""
    sock = socket.create_connection(address, timeout=10)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address[0]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{auth}\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the response on ``sock`` (raises TimeoutError if none)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(65536)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    "path", ["/api/v1/domains", "/api/v1/statements", "/api/v1/lineage/batch", "/api/v1/lineage"]
)
@pytest.mark.parametrize("token", [None, "lh_not_a_token"])
def test_no_valid_token_is_refused_before_the_body(address, path, token) -> None:
    with _begin(address, path, token, DECLARED) as sock:
        status, headers, body = _answer(sock)  # the rest of the body is never sent
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    error = json.loads(body)
    assert error["error"] == "unauthorized" and error["request_id"] == headers["x-request-id"]


def test_a_valid_token_reads_the_body(address, admin_token) -> None:
    body = json.dumps({"name": "Sales", "description": "x" * 5000}).encode()
    with _begin(address, "/api/v1/domains", admin_token, len(body), body[:100]) as sock:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):  # authenticated: the server waits for the body
            _answer(sock)
        sock.settimeout(10)
        sock.sendall(body[100:])
        status, _, answer = _answer(sock)
    assert status == 201, answer
    assert json.loads(answer)["name"] == "Sales"


def test_authenticated_bodies_still_work(client) -> None:
    created = client.post("/api/v1/domains", json={"name": "Finance"})
    assert created.status_code == 201, created.text
    events = client.post("/api/v1/lineage/batch", json=[])
    assert events.status_code == 200 and events.json() == {"accepted": 0, "duplicates": 0}


def test_open_paths_and_bodyless_requests_are_as_before(anonymous) -> None:
    assert anonymous.post("/health", json={"a": 1}).status_code == 405
    assert anonymous.get("/api/v1/domains").status_code == 401
