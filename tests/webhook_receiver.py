"""A real HTTP endpoint for webhook tests: records every POST; can fail the next N.

Signatures are checked with the ``standardwebhooks`` package, as a receiver would."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


def whsec(secret: str) -> str:
    """The Standard Webhooks form of a secret given to Lakehold (``whsec_...`` stays as is; any
    other secret is used as its UTF-8 bytes)."""
    if secret.startswith("whsec_"):
        return secret
    return "whsec_" + base64.b64encode(secret.encode()).decode()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["x-lakehold-event"]

    def verify(self, secret: str) -> Any:
        """The body as the Standard Webhooks verifier accepts it (signature and a timestamp
        within five minutes of now); WebhookVerificationError otherwise."""
        return Webhook(whsec(secret)).verify(self.body, self.headers)

    def signed_with(self, secret: str) -> bool:
        try:
            self.verify(secret)
        except WebhookVerificationError:
            return False
        return True


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.failures_left = 0
        self.failure_status = 500
        self.lock = threading.Lock()
        self.url = ""

    def fail(self, times: int, status: int = 500) -> None:
        with self.lock:
            self.failures_left, self.failure_status = times, status

    def events(self, event_type: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if event_type is None or r.event == event_type]


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 (``.url``) while the block runs."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                failing = state.failures_left > 0
                if failing:
                    state.failures_left -= 1
            self.send_response(state.failure_status if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
