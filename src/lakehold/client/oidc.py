"""The SDK's single sign-on endpoints: the OpenID Connect providers a server accepts, and
the exchange of a provider's ID token for a Lakehold API token (``lakehold login
--provider``)."""

from __future__ import annotations

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment


class SingleSignOn(Resource):
    """Sign-in with OpenID Connect providers; no token needed."""

    def providers(self) -> list[m.OidcProviderOut]:
        """The providers the server signs people in with."""
        return self._get("/api/v1/auth/oidc/providers", list[m.OidcProviderOut])

    def exchange(
        self,
        provider: str,
        id_token: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> m.TokenInfo:
        """A short-lived Lakehold API token for an ID token the provider issued to its CLI
        client (returned once)."""
        body = m.OidcTokenIn(id_token=id_token, access_token=access_token, nonce=nonce)
        return self._post(f"/api/v1/auth/oidc/{segment(provider)}/token", m.TokenInfo, json=body)
