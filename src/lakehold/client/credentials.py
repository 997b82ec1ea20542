"""A service principal's client credentials in the SDK (ADR 32): its client id and secret are
exchanged at ``POST /oauth/token`` (the client credentials grant) for a short-lived token,
taken again shortly before that one expires, or at once when the server refuses it."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import quote_plus, urlencode

from lakehold import __version__
from lakehold.client.errors import APIError
from lakehold.client.transport import Request, Transport
from lakehold.errors import Invalid, LakeholdError, Unauthorized

TOKEN_PATH = "/oauth/token"
REFRESH_MARGIN = 60.0
"""Seconds before its expiry a token is replaced (at most a fifth of its lifetime)."""


class ClientCredentials:
    """A client id and secret, and the token they were last exchanged for (thread-safe)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise Invalid("client credentials need a client id and a secret", field="client_id")
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the secret
        return f"ClientCredentials(client_id={self.client_id!r})"

    def token(self, transport: Transport) -> str:
        """A token that is not about to expire: exchanged now if needed."""
        with self._lock:
            if self._token is None or self.clock() >= self._renew_at:
                self._exchange(transport)
            assert self._token is not None  # just exchanged
            return self._token

    def forget(self, token: str) -> None:
        """The server refused ``token``: the next request exchanges again."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _exchange(self, transport: Transport) -> None:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        body = urlencode(form).encode()
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
            "Accept": "application/json",
            "User-Agent": f"lakehold-client/{__version__}",
        }
        started = self.clock()
        response = transport.send(Request("POST", TOKEN_PATH, headers, body))
        try:
            answer = json.loads(response.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise APIError(
                f"the token endpoint answered HTTP {response.status} without JSON",
                status=response.status,
                code="http_error",
            )
        if response.status != 200 or not isinstance(answer.get("access_token"), str):
            raise _refused(response.status, answer)
        lifetime = float(answer.get("expires_in") or 0) or 3600.0
        self._token = answer["access_token"]
        self._renew_at = started + lifetime - min(REFRESH_MARGIN, lifetime / 5)


def _refused(status: int, answer: dict) -> LakeholdError:
    """The typed error of an OAuth error response (RFC 6749 §5.2)."""
    code = str(answer.get("error") or "error")
    message = f"client credentials refused: {answer.get('error_description') or code}"
    if status == 401:
        return Unauthorized(message, oauth_error=code)
    if status == 400:
        return Invalid(message, field="client_credentials", oauth_error=code)
    return APIError(message, status=status, code=code)
