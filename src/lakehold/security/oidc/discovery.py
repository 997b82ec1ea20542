"""An OpenID provider's metadata (OpenID Connect Discovery) and signing keys (its JWKS),
fetched over HTTP and cached per process (ADR 0031).

Metadata is read from ``<issuer>/.well-known/openid-configuration`` and kept for
:data:`METADATA_SECONDS`; its ``issuer`` must be the configured one, exactly. The key set is
kept until a token names a key id it does not hold: then it is fetched again (a rotation at
the provider), at most once every :data:`REFETCH_SECONDS`, so that tokens with made-up key
ids cannot make Lakehold hammer the provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from lakehold.config import OidcProvider
from lakehold.errors import SourceUnavailable

METADATA_SECONDS = 3600.0
REFETCH_SECONDS = 10.0
_MAX_DOCUMENT_BYTES = 512 * 1024


class ProviderUnavailable(SourceUnavailable):
    """The identity provider could not be reached, or answered something unusable."""

    code = "identity_provider_unavailable"


@dataclass(frozen=True)
class ProviderMetadata:
    """What Lakehold uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    code_challenge_methods: tuple[str, ...] = ()

    @classmethod
    def of(cls, document: dict[str, Any], issuer: str) -> ProviderMetadata:
        """The metadata of a discovery ``document``, checked against the configured
        ``issuer`` (ProviderUnavailable when it names another one or lacks an endpoint)."""
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(
                f"the discovery document of {issuer} names another issuer "
                f"({document.get('issuer')!r}); check the provider's issuer setting",
                field="issuer",
            )
        missing = [
            key
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(key), str)
        ]
        if missing:
            raise ProviderUnavailable(f"the discovery document of {issuer} has no {missing[0]}")
        methods = document.get("code_challenge_methods_supported") or ()
        return cls(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            userinfo_endpoint=_optional(document, "userinfo_endpoint"),
            device_authorization_endpoint=_optional(document, "device_authorization_endpoint"),
            code_challenge_methods=tuple(m for m in methods if isinstance(m, str)),
        )


def _optional(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) else None


def discovery_url(issuer: str) -> str:
    """Where an issuer's discovery document is (OpenID Connect Discovery 1.0, section 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def get_json(http: httpx.Client, url: str, what: str) -> dict[str, Any]:
    """A JSON object from ``url`` (ProviderUnavailable on any failure, naming ``what``)."""
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise ProviderUnavailable(f"could not fetch {what} from {url}: {error}") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{url} answered HTTP {response.status_code} for {what}")
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"{what} from {url} is larger than {_MAX_DOCUMENT_BYTES} bytes")
    try:
        value = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{what} from {url} is not JSON") from None
    if not isinstance(value, dict):
        raise ProviderUnavailable(f"{what} from {url} is not a JSON object")
    return value


@dataclass
class _Keys:
    keys: KeySet
    fetched_at: float


class ProviderDirectory:
    """Metadata and keys of the configured providers, cached (thread-safe). ``clock`` is
    monotonic seconds; tests move it."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[ProviderMetadata, float]] = {}
        self._keys: dict[str, _Keys] = {}
        self.key_fetches = 0
        """How many times a key set was fetched (for tests and diagnostics)."""

    def http(self) -> httpx.Client:
        """A client for one exchange with a provider (no redirects followed)."""
        return httpx.Client(timeout=self.timeout, follow_redirects=False)

    def metadata(self, provider: OidcProvider) -> ProviderMetadata:
        """The provider's metadata, from the cache when fetched less than an hour ago."""
        now = self.clock()
        with self._lock:
            cached = self._metadata.get(provider.name)
        if cached is not None and now - cached[1] < METADATA_SECONDS:
            return cached[0]
        with self.http() as http:
            document = get_json(http, discovery_url(provider.issuer), "the discovery document")
        found = ProviderMetadata.of(document, provider.issuer)
        with self._lock:
            self._metadata[provider.name] = (found, now)
        return found

    def keys(self, provider: OidcProvider, kid: str | None) -> KeySet:
        """The provider's signing keys, fetched again when ``kid`` is not among the cached
        ones (and the last fetch is at least :data:`REFETCH_SECONDS` old)."""
        now = self.clock()
        with self._lock:
            cached = self._keys.get(provider.name)
        if cached is not None and (
            _holds(cached.keys, kid) or now - cached.fetched_at < REFETCH_SECONDS
        ):
            return cached.keys
        jwks_uri = self.metadata(provider).jwks_uri
        with self.http() as http:
            document = get_json(http, jwks_uri, "the signing keys (JWKS)")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise ProviderUnavailable(f"the key set at {jwks_uri} is not usable: {error}") from None
        with self._lock:
            self._keys[provider.name] = _Keys(keys, now)
            self.key_fetches += 1
        return keys

    def remember_keys(self, provider: OidcProvider, keys: KeySet) -> None:
        """Put ``keys`` in the cache as fetched a while ago (tests: the keys a provider had
        before a rotation)."""
        with self._lock:
            self._keys[provider.name] = _Keys(keys, self.clock() - REFETCH_SECONDS)


def _holds(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return True  # a key set of one key, or the token's algorithm picks the key
    return any(key.kid == kid for key in keys)
