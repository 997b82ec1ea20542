"""How ``lakehold login --provider`` gets an ID token from an OpenID provider with its public
CLI client (ADR 0031): the device authorization grant (RFC 8628) when the provider offers
it, else the authorization code flow with PKCE to a loopback redirect (RFC 8252:
``http://127.0.0.1:<random port>/callback``). The server validates the ID token and
exchanges it for a Lakehold token; this module only talks to the provider."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from lakehold.errors import Invalid, SourceUnavailable, Timeout, Unauthorized

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
"""Seconds between polls when the provider names none (RFC 8628, section 3.2)."""
LOOPBACK_SECONDS = 300.0
"""How long the loopback redirect waits for the browser."""


@dataclass(frozen=True)
class ProviderTokens:
    """What the provider issued: the ID token (and the access token, for UserInfo), and the
    nonce sent with the request (None with the device grant)."""

    id_token: str
    access_token: str | None = None
    nonce: str | None = None


@dataclass(frozen=True)
class Endpoints:
    """The provider's endpoints the CLI uses, from its discovery document."""

    issuer: str
    authorization: str
    token: str
    device_authorization: str | None


def discover(issuer: str, timeout: float) -> Endpoints:
    """The endpoints of ``issuer`` (its discovery document must name it exactly)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = httpx.get(url, timeout=timeout).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as error:
        raise SourceUnavailable(f"could not read {url}: {error}") from None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise SourceUnavailable(f"{url} does not describe the issuer {issuer}")
    authorization, token = document.get("authorization_endpoint"), document.get("token_endpoint")
    if not isinstance(authorization, str) or not isinstance(token, str):
        raise SourceUnavailable(f"{url} names no authorization or token endpoint")
    device = document.get("device_authorization_endpoint")
    return Endpoints(
        issuer=issuer,
        authorization=authorization,
        token=token,
        device_authorization=device if isinstance(device, str) else None,
    )


def _tokens(answer: dict[str, Any], nonce: str | None) -> ProviderTokens:
    id_token = answer.get("id_token")
    if not isinstance(id_token, str):
        raise Unauthorized("the provider issued no ID token (is 'openid' among the scopes?)")
    access = answer.get("access_token")
    return ProviderTokens(id_token, access if isinstance(access, str) else None, nonce)


# -- the device authorization grant -------------------------------------------------------------


class DeviceGrantRefused(Unauthorized):
    """The provider does not let this client use the device grant."""


def device_flow(
    endpoints: Endpoints,
    client_id: str,
    scopes: list[str],
    show: Callable[[str, str], None],
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> ProviderTokens:
    """Ask for a device code, ``show(url, user_code)`` to the person, poll until they
    approve (or refuse, or the code expires)."""
    assert endpoints.device_authorization is not None
    with httpx.Client(timeout=timeout) as http:
        started = http.post(
            endpoints.device_authorization,
            data={"client_id": client_id, "scope": " ".join(scopes)},
        )
        answer = _json(started)
        if started.status_code != 200:
            error = answer.get("error", f"HTTP {started.status_code}")
            raise DeviceGrantRefused(f"the provider refused the device grant: {error}")
        url = answer.get("verification_uri_complete") or answer["verification_uri"]
        show(url, answer["user_code"])
        interval = float(answer.get("interval") or DEFAULT_INTERVAL)
        deadline = time.monotonic() + float(answer.get("expires_in") or 600)
        while time.monotonic() < deadline:
            sleep(interval)
            polled = http.post(
                endpoints.token,
                data={
                    "grant_type": DEVICE_GRANT,
                    "device_code": answer["device_code"],
                    "client_id": client_id,
                },
            )
            result = _json(polled)
            if polled.status_code == 200:
                return _tokens(result, None)
            error = result.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5
                continue
            raise Unauthorized(f"the provider did not sign you in: {error or polled.status_code}")
    raise Timeout("the device code expired before it was approved; run the command again")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- the authorization code flow to a loopback redirect -----------------------------------------


class _Callback(BaseHTTPRequestHandler):
    """Takes the one redirect the provider sends the browser to."""

    received: dict[str, str] | None = None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        type(self).received = query
        ok = "code" in query
        body = (
            "<!doctype html><title>Lakehold</title><p>"
            + ("Signed in: you may close this window." if ok else "Sign-in failed.")
            + "</p>"
        ).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


def loopback_flow(
    endpoints: Endpoints,
    client_id: str,
    scopes: list[str],
    show: Callable[[str], None],
    *,
    timeout: float,
    wait_seconds: float = LOOPBACK_SECONDS,
) -> ProviderTokens:
    """Listen on 127.0.0.1 (a random port), ``show(url)`` the authorization URL (state,
    nonce, PKCE S256), take the browser's redirect, exchange the code."""
    handler: type[_Callback] = type("Callback", (_Callback,), {"received": None})
    server = HTTPServer(("127.0.0.1", 0), handler)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    client = OAuth2Client(
        client_id=client_id,
        token_endpoint_auth_method="none",
        scope=" ".join(scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=timeout,
    )
    with client, server:
        url, _ = client.create_authorization_url(
            endpoints.authorization, state=state, code_verifier=verifier, nonce=nonce
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=_serve_until_received, args=(server, handler, stop), daemon=True
        )
        thread.start()
        show(url)
        thread.join(wait_seconds)
        stop.set()
        thread.join(1)
        received = handler.received
        if received is None:
            raise Timeout(f"no sign-in came back within {int(wait_seconds)} seconds")
        if not hmac.compare_digest(received.get("state", "").encode(), state.encode()):
            raise Unauthorized("the sign-in answer is not for this request (state)")
        if "error" in received:
            raise Unauthorized(f"the provider did not sign you in: {received['error']}")
        if "iss" in received and received["iss"] != endpoints.issuer:
            raise Unauthorized("the sign-in answer came from another issuer")
        if "code" not in received:
            raise Invalid("the provider sent no authorization code", field="code")
        try:
            answer = client.fetch_token(
                endpoints.token,
                grant_type="authorization_code",
                code=received["code"],
                code_verifier=verifier,
            )
        except (AuthlibBaseError, httpx.HTTPError) as error:
            raise Unauthorized(f"the provider did not accept the code: {error}") from None
    return _tokens(dict(answer), nonce)


def _serve_until_received(
    server: HTTPServer, handler: type[_Callback], stop: threading.Event
) -> None:
    server.timeout = 0.2
    while handler.received is None and not stop.is_set():
        server.handle_request()
