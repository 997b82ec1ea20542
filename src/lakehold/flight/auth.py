"""Who is calling: every Flight SQL call is authenticated before its handler runs.

A server middleware (:class:`Authentication`) reads each call's headers:

- ``authorization: Bearer <token>``: a Lakehold API token, checked by the same
  ``SecurityService.authenticate`` as the HTTP API's (revocation, expiry, deactivated users,
  the per-process cache; ``scim`` and ``metrics`` tokens are refused, PERMISSION_DENIED);
- ``authorization: Basic <user:password>`` on the handshake only: exchanged for a short-lived
  token (:mod:`lakehold.security.password_tokens`, the portal's failed sign-in limits), which
  the handshake answers in its own ``authorization: Bearer`` header for the client to send on
  every later call;
- ``x-lakehold-project``: the project statements act in (bare table names resolve there; its
  grants are read) and whose grants the catalog calls list;
- ``x-request-id``: the call's request id (answered in the same header), else a new one.

No credential, or a bad one, is UNAUTHENTICATED before anything else runs. The middleware also
counts each call by method and gRPC status when it ends (``lakehold_flight_calls_total``) and
logs it, as uvicorn logs an HTTP request.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

import pyarrow.flight as flight

from lakehold.errors import Unauthorized
from lakehold.flight.errors import attempt, status_of
from lakehold.kernel import requests
from lakehold.observability import instruments, request_context
from lakehold.redaction import Redactor
from lakehold.security.principal import Principal

if TYPE_CHECKING:
    from lakehold.runtime import Runtime

log = logging.getLogger(__name__)

MIDDLEWARE = "lakehold"
"""The key of :class:`CallState` in a call's context (``context.get_middleware``)."""
PROJECT_HEADER = "x-lakehold-project"
REQUEST_ID_HEADER = "x-request-id"
CLIENT = "flight sql"
"""The client named in the tokens issued for a password (``flight sql sign-in``)."""
ONE_AUTHORIZATION = "send one authorization header, not several"
BASIC_ON_HANDSHAKE = (
    "send the user name and password in the Flight handshake only, then the bearer token it answers"
)

_METHODS = {
    flight.FlightMethod.HANDSHAKE: "handshake",
    flight.FlightMethod.LIST_FLIGHTS: "list_flights",
    flight.FlightMethod.GET_FLIGHT_INFO: "get_flight_info",
    flight.FlightMethod.GET_SCHEMA: "get_schema",
    flight.FlightMethod.DO_GET: "do_get",
    flight.FlightMethod.DO_PUT: "do_put",
    flight.FlightMethod.DO_EXCHANGE: "do_exchange",
    flight.FlightMethod.DO_ACTION: "do_action",
    flight.FlightMethod.LIST_ACTIONS: "list_actions",
}


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one RPC."""

    principal: Principal
    project: str | None
    request_id: str


class CallState(flight.ServerMiddleware):
    """One call's caller; its answer headers; its metrics when it ends."""

    def __init__(self, caller: Caller, method: str, started: float, issued: str | None) -> None:
        self.caller = caller
        self.method = method
        self.started = started
        self.issued = issued

    def sending_headers(self) -> dict[str, str]:
        headers = {REQUEST_ID_HEADER: self.caller.request_id}
        if self.issued is not None:
            headers["authorization"] = f"Bearer {self.issued}"
        return headers

    def call_completed(self, exception: BaseException | None) -> None:
        seconds = perf_counter() - self.started
        status = status_of(exception)
        instruments.flight_call(self.method, status, seconds)
        with serving_caller(self.caller):  # the access line, with the call's id, user, project
            log.info("Flight SQL %s %s %.1f ms", self.method, status, seconds * 1000)


class Authentication(flight.ServerMiddlewareFactory):
    """Authenticates every call (see the module's docstring)."""

    def __init__(self, runtime: Runtime, redactor: Redactor) -> None:
        self.runtime = runtime
        self.redactor = redactor

    def start_call(self, info: flight.CallInfo, headers: Mapping[str, list[Any]]) -> CallState:
        method = _METHODS.get(info.method, "other")
        started = perf_counter()
        found, error = attempt(self.redactor, self._caller, info.method, headers)
        if error is not None:
            instruments.flight_call(method, status_of(error), perf_counter() - started)
            raise error
        caller, issued = found
        return CallState(caller, method, started, issued)

    def _caller(
        self, method: flight.FlightMethod, headers: Mapping[str, list[Any]]
    ) -> tuple[Caller, str | None]:
        request_id = requests.new_request_id(_header(headers, REQUEST_ID_HEADER))
        project = _header(headers, PROJECT_HEADER) or None
        scheme, _, credential = _authorization(headers).partition(" ")
        with serving(request_id, project):
            if scheme.lower() == "basic":
                if method != flight.FlightMethod.HANDSHAKE:
                    raise Unauthorized(BASIC_ON_HANDSHAKE)
                username, password = _basic(credential)
                exchange = self.runtime.password_tokens.exchange
                token = exchange(username, password, client=CLIENT)
                return Caller(token.principal, project, request_id), token.value
            bearer = credential.strip() if scheme.lower() == "bearer" else None
            principal = self.runtime.security.authenticate(bearer)
            return Caller(principal, project, request_id), None


def _header(headers: Mapping[str, list[Any]], name: str) -> str | None:
    values = headers.get(name) or []
    value = values[0] if values else None
    return value if isinstance(value, str) else None


def _authorization(headers: Mapping[str, list[Any]]) -> str:
    """The call's one ``authorization`` value ("" without one); Unauthorized for two that
    differ (which one a proxy checked, and which one is meant, is anyone's guess)."""
    values = {value for value in headers.get("authorization") or [] if isinstance(value, str)}
    if len(values) > 1:
        raise Unauthorized(ONE_AUTHORIZATION)
    return values.pop() if values else ""


def _basic(credential: str) -> tuple[str, str]:
    """The user name and password of Basic credentials (RFC 7617; padding optional, as Go's
    Flight client leaves it out)."""
    text = credential.strip()
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Basic credentials are not base64 of UTF-8 text") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise Unauthorized("the Basic credentials are not user-name:password")
    return username, password


@contextmanager
def serving(request_id: str, project: str | None, username: str | None = None) -> Iterator[None]:
    """Serve a call in this thread's context: its request id, user and project in the audit
    log and every log line."""
    token = requests.begin(request_id)
    try:
        if username is not None:
            request_context.identify(username, project)
        else:
            request_context.in_project(project)
        yield
    finally:
        requests.end(token)


@contextmanager
def serving_caller(caller: Caller) -> Iterator[None]:
    """:func:`serving` for an authenticated caller."""
    with serving(caller.request_id, caller.project, caller.principal.username):
        yield


class HandshakeAccepted(flight.ServerAuthHandler):
    """Lets the Flight handshake through (pyarrow answers UNIMPLEMENTED without a handler):
    its credentials are read by :class:`Authentication` from its headers."""

    def authenticate(self, outgoing: Any, incoming: Any) -> None:
        return None

    def is_valid(self, token: bytes) -> str:
        return ""
