"""The portal's authorization code flow with PKCE, bound to the browser that started it
(ADR 0031).

Starting a sign-in makes a random secret that the browser keeps in a short-lived cookie
(:class:`Binding`, with the provider, the page to return to and the start time). The
``state``, the ``nonce`` and the PKCE ``code_verifier`` are HMACs of that secret over those
values: nothing is stored on the server, a callback is accepted only from the browser that
holds the cookie, and changing any value the cookie carries changes the state it must match.
The code is exchanged with Authlib's OAuth 2 client over httpx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import OAuth2Client

from lakehold.config import OidcProvider
from lakehold.errors import LakeholdError
from lakehold.security.oidc.discovery import ProviderMetadata
from lakehold.security.oidc.refusals import BAD_STATE, EXCHANGE_FAILED, refused

BINDING_SECONDS = 600
"""How long a started sign-in may take (the cookie's lifetime)."""
_MAX_COOKIE_CHARS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Binding:
    """A sign-in in progress, as the browser's cookie holds it."""

    secret: str
    provider: str
    next_path: str
    started: int
    """Seconds since the epoch."""

    @classmethod
    def start(cls, provider: str, next_path: str, now: float | None = None) -> Binding:
        return cls(secrets.token_urlsafe(32), provider, next_path, int(now or time.time()))

    def _derive(self, purpose: str) -> str:
        message = json.dumps([purpose, self.provider, self.next_path, self.started]).encode()
        return _b64(hmac.new(self.secret.encode(), message, hashlib.sha256).digest())

    @property
    def state(self) -> str:
        return self._derive("state")

    @property
    def nonce(self) -> str:
        return self._derive("nonce")

    @property
    def code_verifier(self) -> str:
        """43 characters of base64url (RFC 7636: 43 to 128 unreserved characters)."""
        return self._derive("pkce")

    def cookie_value(self) -> str:
        body = json.dumps([self.secret, self.provider, self.next_path, self.started])
        return _b64(body.encode())

    @classmethod
    def parse(cls, value: str | None) -> Binding | None:
        """The binding of a cookie's value (None: none, or not one)."""
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        try:
            fields = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            secret, provider, next_path, started = fields
        except (ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (secret, provider, next_path)):
            return None
        if not isinstance(started, int) or isinstance(started, bool):
            return None
        return cls(secret, provider, next_path, started)

    def check(self, provider: str, state: str | None, now: float | None = None) -> None:
        """Refused (``bad state``) unless ``state`` is this binding's, for ``provider``,
        within :data:`BINDING_SECONDS` of its start."""
        at = now or time.time()
        if (
            provider != self.provider
            or not state
            or not hmac.compare_digest(state.encode(), self.state.encode())
        ):
            raise refused(
                BAD_STATE,
                "this sign-in did not start in this browser (or was started again elsewhere): "
                "start it again from the sign-in page",
            )
        if not self.started <= at + 60 or at - self.started > BINDING_SECONDS:
            raise refused(BAD_STATE, "this sign-in took too long: start it again")


def oauth_client(provider: OidcProvider, redirect_uri: str, timeout: float) -> OAuth2Client:
    """Authlib's client for ``provider``'s portal client: confidential with a secret (HTTP
    Basic), else public; PKCE S256."""
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=secret,
        token_endpoint_auth_method="none" if secret is None else "client_secret_basic",
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=timeout,
        follow_redirects=False,
    )


def authorization_url(
    provider: OidcProvider,
    metadata: ProviderMetadata,
    binding: Binding,
    redirect_uri: str,
    timeout: float,
) -> str:
    """Where to send the browser: the provider's authorization endpoint with the binding's
    state, nonce and code challenge."""
    with oauth_client(provider, redirect_uri, timeout) as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint,
            state=binding.state,
            code_verifier=binding.code_verifier,
            nonce=binding.nonce,
        )
    return url


def exchange_code(
    provider: OidcProvider,
    metadata: ProviderMetadata,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    timeout: float,
) -> dict[str, Any]:
    """The provider's token response for ``code`` (refused, ``code exchange failed``, when the
    provider refuses it or answers no ID token)."""
    try:
        with oauth_client(provider, redirect_uri, timeout) as client:
            token = client.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
    except (AuthlibBaseError, httpx.HTTPError, ValueError) as error:
        raise _exchange_failed(str(error)) from None
    if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
        raise _exchange_failed("the provider's answer has no ID token")
    return dict(token)


def _exchange_failed(detail: str) -> LakeholdError:
    return refused(EXCHANGE_FAILED, f"the provider did not accept the sign-in: {detail[:300]}")
