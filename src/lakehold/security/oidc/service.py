"""Single sign-on with OpenID Connect providers (ADR 0031): what the adapters call.

- the portal: :meth:`OidcService.begin` (where to send the browser, and the binding its
  cookie keeps), then :meth:`OidcService.complete` on the callback (state, code exchange, ID
  token, user): the adapter then opens a web session for the principal;
- the CLI: :meth:`OidcService.verify_cli` checks an ID token the CLI obtained with the
  provider's public client (device grant or loopback redirect); the adapter then issues a
  short-lived API token expiring at :meth:`OidcService.cli_token_expiry`.

Every refusal is audited (``oidc.login``, with the reason) before it is raised, and counted
against the address and, once known, the person (:mod:`~lakehold.security.oidc.limits`):
past the limits a sign-in is refused (429) before the provider is asked anything. An ID token
the CLI sends is exchanged once (:mod:`~lakehold.security.oidc.replay`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from lakehold.config import OidcProvider
from lakehold.errors import LakeholdError, NotFound
from lakehold.security import policy
from lakehold.security.login_limits import LoginLimits
from lakehold.security.network_limits import RateLimited
from lakehold.security.oidc.accounts import OidcAccounts
from lakehold.security.oidc.claims import identity_of, with_userinfo
from lakehold.security.oidc.discovery import ProviderDirectory
from lakehold.security.oidc.flow import Binding, authorization_url, exchange_code
from lakehold.security.oidc.limits import SignInLimits, subject_key
from lakehold.security.oidc.refusals import (
    BAD_STATE,
    PROVIDER_ERROR,
    WRONG_ISSUER,
    is_refusal,
    refused,
)
from lakehold.security.oidc.replay import ExchangedTokens
from lakehold.security.oidc.tokens import validate_id_token
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import utcnow

CLI_TOKEN_SECONDS = 12 * 3600
"""Lifetime of a CLI sign-in's API token when the security policy sets no default."""
CLI_ID_TOKEN_MAX_AGE = 600
"""An ID token the CLI exchanges must have been issued at most this long ago (seconds)."""


class OidcService:
    """The configured providers, their cached metadata and keys, and sign-in."""

    def __init__(
        self,
        store: Store,
        providers: list[OidcProvider],
        *,
        timeout_seconds: float,
        limits: LoginLimits | None = None,
    ) -> None:
        self.store = store
        self._providers = {provider.name: provider for provider in providers}
        self.timeout = timeout_seconds
        self.directory = ProviderDirectory(timeout_seconds=timeout_seconds)
        self.accounts = OidcAccounts(store)
        self.limits = SignInLimits(store, limits or LoginLimits())
        self.exchanged = ExchangedTokens(store, max_age_seconds=CLI_ID_TOKEN_MAX_AGE)

    def providers(self) -> list[OidcProvider]:
        """The configured providers, in configuration order."""
        return list(self._providers.values())

    def provider(self, name: str) -> OidcProvider:
        found = self._providers.get(name)
        if found is None:
            raise NotFound(f"no sign-in provider '{name}' is configured", field="provider")
        return found

    # -- the portal ---------------------------------------------------------------------------

    def begin(self, name: str, next_path: str, redirect_uri: str) -> tuple[str, Binding]:
        """The provider's authorization URL for a new sign-in, and its browser binding."""
        provider = self.provider(name)
        metadata = self.directory.metadata(provider)
        binding = Binding.start(provider.name, next_path)
        url = authorization_url(provider, metadata, binding, redirect_uri, self.timeout)
        return url, binding

    def complete(
        self,
        name: str,
        binding: Binding | None,
        params: Mapping[str, str],
        redirect_uri: str,
        *,
        address: str | None = None,
    ) -> Principal:
        """The principal of a callback's ``params`` (``state``, ``code``, ``iss`` or
        ``error``) for the sign-in ``binding`` (the browser's cookie) started; refused and
        audited otherwise (RateLimited past the failed sign-in limits)."""
        provider = self.provider(name)
        try:
            self.limits.check(address=address)
            if binding is None:
                raise refused(
                    BAD_STATE,
                    "no sign-in was started in this browser (or its cookie expired): start "
                    "again from the sign-in page",
                )
            binding.check(provider.name, params.get("state"))
            error = params.get("error")
            if error:
                description = params.get("error_description", "")
                raise refused(
                    PROVIDER_ERROR,
                    f"{provider.label} did not sign you in ({error[:100]}"
                    + (f": {description[:200]}" if description else "")
                    + ")",
                )
            issuer = params.get("iss")
            if issuer is not None and issuer != provider.issuer:
                raise refused(WRONG_ISSUER, "the sign-in answer came from another issuer")
            code = params.get("code")
            if not code:
                raise refused(PROVIDER_ERROR, f"{provider.label} sent no authorization code")
            metadata = self.directory.metadata(provider)
            tokens = exchange_code(
                provider, metadata, code, binding.code_verifier, redirect_uri, self.timeout
            )
            claims = validate_id_token(
                tokens["id_token"],
                issuer=provider.issuer,
                client_id=provider.client_id,
                keys=lambda kid: self.directory.keys(provider, kid),
                nonce=binding.nonce,
            )
            claims = with_userinfo(
                provider, metadata, claims, tokens.get("access_token"), self.timeout
            )
        except LakeholdError as error:
            self._refused(provider.name, error, via="web", address=address)
            raise
        return self._sign_in(provider, claims, via="web", address=address)

    # -- the CLI ------------------------------------------------------------------------------

    def verify_cli(
        self,
        name: str,
        id_token: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        address: str | None = None,
    ) -> Principal:
        """The principal of an ID token issued to the provider's CLI client at most
        :data:`CLI_ID_TOKEN_MAX_AGE` seconds ago, with ``nonce`` when the CLI sent one (a
        loopback redirect; the device grant has none), never exchanged before; refused and
        audited otherwise (RateLimited past the failed sign-in limits)."""
        provider = self.provider(name)
        try:
            self.limits.check(address=address)
            client_id = provider.cli_client
            if client_id is None:
                raise NotFound(
                    f"sign-in provider '{name}' has no CLI client (cli_client_id)",
                    field="provider",
                )
            claims = validate_id_token(
                id_token,
                issuer=provider.issuer,
                client_id=client_id,
                keys=lambda kid: self.directory.keys(provider, kid),
                nonce=nonce,
                max_age_seconds=CLI_ID_TOKEN_MAX_AGE,
            )
            self.exchanged.use(claims, id_token)
            metadata = self.directory.metadata(provider)
            claims = with_userinfo(provider, metadata, claims, access_token, self.timeout)
        except LakeholdError as error:
            self._refused(provider.name, error, via="cli", address=address)
            raise
        return self._sign_in(provider, claims, via="cli", address=address)

    # -- both ---------------------------------------------------------------------------------

    def _sign_in(
        self, provider: OidcProvider, claims: dict[str, Any], *, via: str, address: str | None
    ) -> Principal:
        """The user of verified ``claims``, unless the person is over the failed sign-in
        limit; a refusal counts, a success clears the person's count."""
        identity = identity_of(provider, claims)
        subject = subject_key(provider.name, identity.subject)
        try:
            self.limits.check(address=address, subject=subject)
        except RateLimited as error:
            self.accounts.fail(
                provider.name, error, via=via, address=address, subject=identity.subject
            )
            raise
        try:
            principal = self.accounts.sign_in(provider, identity, via=via, address=address)
        except LakeholdError as error:  # audited by sign_in
            if is_refusal(error):
                self.limits.failed(address=address, subject=subject)
            raise
        self.limits.succeeded(subject)
        return principal

    def _refused(
        self, provider: str, error: LakeholdError, *, via: str, address: str | None
    ) -> None:
        """Audit a sign-in refused before the person was known; count it unless it was
        refused for the count itself (or failed for want of the provider)."""
        if is_refusal(error) and not isinstance(error, RateLimited):
            self.limits.failed(address=address)
        self.accounts.fail(provider, error, via=via, address=address)

    def cli_token_expiry(self, now: datetime | None = None) -> datetime:
        """When a CLI sign-in's API token expires: the security policy's default lifetime
        (or its maximum), else :data:`CLI_TOKEN_SECONDS` from ``now``."""
        now = now or utcnow()
        with self.store.session() as session:
            expiry = policy.token_expiry(policy.current(session), None, now)
        return expiry or now + timedelta(seconds=CLI_TOKEN_SECONDS)
