"""A synchronous statement (``POST /query``) whose client goes away is cancelled: it ends
ABORTED at once instead of running on to its timeout (Ctrl-C on ``lakehold sql``)."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

from lakehold.runtime import Runtime
from tests.scenarios.helpers import ok
from tests.servers import served

ENDLESS = "select count(*) as n from range(1000000000) a, range(1000000000) b"


def _statements(client) -> list[dict]:
    return ok(client.get("/api/v1/statements"))


def test_a_client_that_disconnects_cancels_its_statement(
    runtime: Runtime, client, admin_token: str
) -> None:
    with served(runtime) as url:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1.5)
        body = json.dumps({"sql": ENDLESS, "timeout_seconds": 3600})
        headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
        connection.request("POST", "/api/v1/query", body=body, headers=headers)
        try:
            connection.getresponse()
            raise AssertionError("the endless statement answered")
        except TimeoutError:
            pass
        connection.close()  # the client goes away while the statement runs
        deadline = time.monotonic() + 60
        while True:
            ended = [s for s in _statements(client) if s["sql"] == ENDLESS]
            if ended and ended[0]["status"] != "STARTED":
                break
            assert time.monotonic() < deadline, f"still running: {ended}"
            time.sleep(0.1)
    assert ended[0]["status"] == "ABORTED"
    assert ended[0]["error"] == "the statement was cancelled"


def test_a_connected_client_gets_its_answer(runtime: Runtime, admin_token: str) -> None:
    with served(runtime) as url:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        body = json.dumps({"sql": "select count(*) as n from range(30000000)"})
        headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
        connection.request("POST", "/api/v1/query", body=body, headers=headers)
        answer = json.loads(connection.getresponse().read())
        connection.close()
    assert answer["rows"] == [{"n": 30000000}]
